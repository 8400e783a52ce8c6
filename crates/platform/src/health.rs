//! `/health/live` (the process answers) and `/health/ready` (it can serve requests now).
//!
//! Kubernetes' meaning: a failing liveness probe restarts the container, a failing readiness probe
//! takes the pod out of its Service. So readiness fails only on what makes requests fail: the
//! database pool ([`Readiness::with`]). The broker is reported ([`Readiness::report`]) but never
//! fails it: every event goes through the transactional outbox, so requests keep succeeding while
//! RabbitMQ is away and the relay publishes the backlog when it is back. Failing readiness on a
//! broker outage would take every pod of every service out of its Service at once, turning a
//! delay in event delivery into a full outage. While the process shuts down
//! ([`Readiness::drain`]), readiness answers 503 so load balancers stop sending new requests.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One dependency check.
pub type Probe = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

#[derive(Clone, Default)]
pub struct Readiness {
    /// `(name, probe, required)`: only required probes fail readiness.
    probes: Vec<(&'static str, Probe, bool)>,
    draining: Arc<AtomicBool>,
}

impl Readiness {
    /// A dependency requests cannot be served without: readiness fails when it does.
    pub fn with(mut self, name: &'static str, probe: Probe) -> Self {
        self.probes.push((name, probe, true));
        self
    }

    /// A dependency shown in the body (and alerted on through metrics) whose failure requests
    /// survive: readiness stays 200.
    pub fn report(mut self, name: &'static str, probe: Probe) -> Self {
        self.probes.push((name, probe, false));
        self
    }

    /// From now on readiness answers 503 `draining` (shutdown has begun). Shared by every clone.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

/// Middleware: while the process drains, every answer closes its connection (`Connection: close`).
/// A client that pools connections (the gateway) then opens a new one for its next request, which
/// the closed listener refuses, so that request goes to another replica at once; without this, the
/// client keeps reusing its kept-alive connections to the draining process, which stays busy until
/// the grace period runs out and then cuts whatever is in flight.
pub async fn close_connections_when_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let readiness = req.app_data::<web::Data<Readiness>>().cloned();
    let mut res = next.call(req).await?;
    if readiness.is_some_and(|r| r.is_draining()) {
        res.response_mut().head_mut().set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Resources, so another method is a 405 with `Allow` even where no fallback is registered (the gateway).
    let wrap = || actix_web::middleware::from_fn(crate::http::method_not_allowed);
    cfg.service(web::resource("/health/live").route(web::get().to(live)).wrap(wrap()))
        .service(web::resource("/health/ready").route(web::get().to(ready)).wrap(wrap()));
}

/// No dependency is checked: a database or broker outage must not restart healthy processes.
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    for (name, probe, required) in &readiness.probes {
        let result = tokio::time::timeout(std::time::Duration::from_secs(2), probe()).await;
        let status = match result {
            Ok(Ok(())) => "ok",
            Ok(Err(e)) => {
                tracing::warn!(dependency = name, error = %e, required, "dependency unavailable");
                "unavailable"
            }
            Err(_) => "timeout",
        };
        if status != "ok" && *required {
            ok = false;
        }
        checks.insert(name.to_string(), json!(status));
    }
    let status = if readiness.is_draining() {
        "draining"
    } else if ok {
        "ok"
    } else {
        "unavailable"
    };
    let body = json!({"status": status, "checks": checks});
    if status == "ok" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
