//! The gateway: verifies clients' JWTs, rate-limits, and forwards `/api/**` to the owning service
//! with a short-lived internal token. It keeps no state beyond caches.

mod audit;
pub mod cidr;
pub mod config;
pub mod cors;
pub mod dev_token;
mod export;
mod fanout;
pub mod jwks;
pub mod jwt;
pub mod metrics;
pub mod path;
pub mod probe;
pub mod proxy;
pub mod rate_limit;
pub mod route_table;

use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpRequest, HttpServer};
use config::{split_list, GatewayConfig};
use platform::auth::InternalAuth;
use platform::health::Readiness;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

pub struct State {
    pub routes: route_table::RouteTable,
    pub verifier: jwt::Verifier,
    pub limits: rate_limit::Limits,
    pub internal: InternalAuth,
    pub client: reqwest::Client,
    pub timeout: Duration,
    pub body_limit: usize,
    pub upload_timeout: Duration,
    pub upload_body_limit: usize,
    pub trusted_proxies: Vec<cidr::Cidr>,
    pub metrics: metrics::GatewayMetrics,
}

impl State {
    /// The body limit and upstream timeout of one route: generous on the upload routes only.
    pub fn budget(&self, method: &str, path: &str) -> (usize, Duration) {
        if route_table::is_upload(method, path) {
            (self.upload_body_limit, self.upload_timeout)
        } else {
            (self.body_limit, self.timeout)
        }
    }

    /// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the
    /// right-most `X-Forwarded-For` hop that is not itself a trusted proxy. Trusting the header
    /// from anyone would let every client pick its own rate-limit bucket.
    pub fn client_ip(&self, req: &HttpRequest) -> IpAddr {
        let peer = req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(*ip));
        if !trusted(&peer) {
            return peer;
        }
        req.headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').filter_map(|hop| hop.trim().parse::<IpAddr>().ok()).find(|ip| !trusted(ip)))
            .unwrap_or(peer)
    }
}

pub struct RunningGateway {
    pub addr: SocketAddr,
    /// `GATEWAY_METRICS_PORT`'s listener: never reachable through the API port.
    pub metrics_server: Option<platform::metrics::MetricsServer>,
    server: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Readiness polling of the upstream replicas (`probe`).
    probes: Vec<tokio::task::JoinHandle<()>>,
    readiness: Readiness,
    /// `GATEWAY_SHUTDOWN_DELAY_SECS`: serving on with readiness 503 before the listener closes.
    delay: Duration,
}

impl RunningGateway {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful stop, as the domain services do (`runtime::RunningService::stop`): readiness
    /// answers 503 at once, requests are still served for the delay so load balancers notice,
    /// then the listener closes and in-flight requests finish within what is left of
    /// `GATEWAY_SHUTDOWN_GRACE_SECS` (the server's shutdown timeout).
    pub async fn stop(self) {
        self.readiness.drain();
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.server.stop(true).await;
        let _ = self.task.await;
        for p in &self.probes {
            p.abort();
        }
        if let Some(m) = self.metrics_server {
            m.stop().await;
        }
    }

    /// `http://host:port/metrics`, when the metrics listener runs.
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_server.as_ref().map(|m| m.url())
    }
}

pub async fn start(config: GatewayConfig) -> Result<RunningGateway, String> {
    let registry = platform::metrics::Metrics::new();
    let verifier = jwt::Verifier::from_config(&config, jwks::JwksMetrics::new(&registry)).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        // Below the services' keep-alive (actix: 5 s): the gateway drops an idle connection
        // before the service closes it, never sending a request down one at that very instant.
        .pool_idle_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let trusted_proxies = split_list(&config.trusted_proxies)
        .iter()
        .map(|s| cidr::Cidr::parse(s).map_err(|e| format!("GATEWAY_TRUSTED_PROXIES: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let state = web::Data::new(State {
        routes: route_table::RouteTable::from_config(&config)?,
        verifier,
        limits: rate_limit::Limits::new(
            config.rate_limit_ip_per_sec,
            config.rate_limit_ip_burst,
            config.rate_limit_user_per_sec,
            config.rate_limit_user_burst,
            config.rate_limit_replicas,
        )?
        .with_expensive(config.rate_limit_expensive_per_min, config.rate_limit_expensive_burst),
        internal: InternalAuth::new(&config.internal_token_secret, "gateway"),
        client,
        timeout: Duration::from_millis(config.upstream_timeout_ms),
        body_limit: config.body_limit_bytes,
        upload_timeout: Duration::from_millis(config.upload_timeout_ms),
        upload_body_limit: config.upload_body_limit_bytes,
        trusted_proxies,
        metrics: metrics::GatewayMetrics::new(&registry),
    });
    let probes = probe::spawn(&state.routes, &state.client, Duration::from_millis(config.upstream_probe_ms));
    // Weak: the pruner ends once the server (the last owner of the state) is gone, and with the
    // state the key ring, whose periodic refresh ends the same way.
    let pruner = std::sync::Arc::downgrade(&state.clone().into_inner());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let Some(state) = pruner.upgrade() else { return };
            state.limits.prune();
        }
    });
    let cors = web::Data::new(cors::CorsOrigins(split_list(&config.cors_origins)));
    let draining = Readiness::default();
    let readiness = web::Data::new(draining.clone());
    // The delay is part of the grace: in-flight requests get what is left of it.
    let delay = config.shutdown_delay_secs.min(config.shutdown_grace_secs);
    let listener = platform::server::bind(&config.host, config.port).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Without a listener nobody reads them: requests are not timed.
    let http_metrics = config.metrics_port.map(|_| web::Data::new(registry.http()));
    let server = HttpServer::new(move || {
        App::new()
            .configure(|cfg| {
                if let Some(m) = &http_metrics {
                    cfg.app_data(m.clone());
                }
            })
            .app_data(state.clone())
            .app_data(cors.clone())
            .app_data(readiness.clone())
            .app_data(web::PayloadConfig::new(usize::MAX))
            .configure(platform::health::routes)
            .service(
                web::resource("/api/openapi.json")
                    .route(web::get().to(openapi))
                    .wrap(from_fn(platform::http::method_not_allowed)),
            )
            .service(
                web::resource("/api/admin/audit")
                    .route(web::get().to(audit::merged))
                    .wrap(from_fn(platform::http::method_not_allowed)),
            )
            .service(
                web::resource(platform::privacy::ME_PATH)
                    .route(web::get().to(export::mine))
                    .wrap(from_fn(platform::http::method_not_allowed)),
            )
            .service(
                web::resource(platform::privacy::ADMIN_PATH)
                    .route(web::get().to(export::of_user))
                    .wrap(from_fn(platform::http::method_not_allowed)),
            )
            .default_service(web::to(proxy::forward))
            .wrap(from_fn(path::normal_paths_only))
            .wrap(from_fn(cors::cors))
            .wrap(from_fn(platform::http::request_context))
            .wrap(from_fn(platform::metrics::track_requests))
            // Every answer, the services' and the gateway's own: a browser never sniffs a JSON
            // body (or a problem) into HTML. Kept when the service already set it.
            .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
    })
    .workers(config.http_workers.max(1))
    // Answers are small and written at once: never hold the last segment back for an ACK.
    .tcp_nodelay(true)
    .shutdown_timeout(config.shutdown_grace_secs - delay)
    .disable_signals()
    .listen(listener)
    .map_err(|e| e.to_string())?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, "gateway listening");
    let metrics_server = match config.metrics_port {
        Some(port) => Some(platform::metrics::serve(&config.host, port, registry).map_err(|e| e.to_string())?),
        None => {
            tracing::warn!("no metrics listener: GATEWAY_METRICS_PORT is not set");
            None
        }
    };
    Ok(RunningGateway {
        addr,
        metrics_server,
        server: handle,
        task,
        probes,
        readiness: draining,
        delay: Duration::from_secs(delay),
    })
}

/// The public API document, generated from the services' code (`cargo run -p contracts`) and
/// built into the gateway, so it always matches the release it describes.
const OPENAPI: &str = include_str!("../../../proto-schemas/openapi.json");

async fn openapi() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(OPENAPI)
}

/// `gateway serve`.
pub fn main() -> ExitCode {
    let config = match platform::config::load::<GatewayConfig>("GATEWAY_") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gateway: {e}");
            for p in &e.problems {
                eprintln!("  - {p}");
            }
            return ExitCode::from(2);
        }
    };
    if let Err(e) = platform::telemetry::Sampling::from_env() {
        eprintln!("gateway: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gateway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _telemetry = runtime.block_on(async { platform::telemetry::init("gateway", config.log_format) });
    runtime.block_on(async {
        match start(config).await {
            Ok(gw) => {
                platform::server::shutdown_signal().await;
                tracing::info!("shutdown requested");
                gw.stop().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gateway: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
