//! `/health/live` (the process answers) and `/health/ready` (its database and broker answer).

use actix_web::{web, HttpResponse};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::sync::Arc;

/// One dependency readiness depends on.
pub type Probe = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

#[derive(Clone, Default)]
pub struct Readiness {
    probes: Vec<(&'static str, Probe)>,
}

impl Readiness {
    pub fn with(mut self, name: &'static str, probe: Probe) -> Self {
        self.probes.push((name, probe));
        self
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Resources, so another method is a 405 with `Allow` even where no fallback is registered (the gateway).
    let wrap = || actix_web::middleware::from_fn(crate::http::method_not_allowed);
    cfg.service(web::resource("/health/live").route(web::get().to(live)).wrap(wrap()))
        .service(web::resource("/health/ready").route(web::get().to(ready)).wrap(wrap()));
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    for (name, probe) in &readiness.probes {
        let result = tokio::time::timeout(std::time::Duration::from_secs(2), probe()).await;
        let status = match result {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(e)) => {
                ok = false;
                tracing::warn!(dependency = name, error = %e, "not ready");
                "unavailable".to_string()
            }
            Err(_) => {
                ok = false;
                "timeout".to_string()
            }
        };
        checks.insert(name.to_string(), json!(status));
    }
    let body = json!({"status": if ok { "ok" } else { "unavailable" }, "checks": checks});
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
