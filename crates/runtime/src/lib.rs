//! Starting a domain service: configuration, telemetry, database + migrations, outbox relay,
//! event consumer, HTTP server with the platform middleware, and graceful shutdown. Each
//! service's `main.rs` and its tests go through here, so every service boots the same way.

pub mod cli;

use actix_web::{middleware::from_fn, web, App, HttpResponse, HttpServer};
use diesel_migrations::EmbeddedMigrations;
use events::broker::BrokerStatus;
use events::consumer::Consumer;
use events::relay::Relay;
use events::topology::Topology;
use events::{EventHandler, RetryPolicy};
use platform::auth::{InternalAuth, Principal};
use platform::config::ServiceConfig;
use platform::db::Pool;
use platform::health::Readiness;
use platform::retention::{Pruner, Rule};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What a service is: its name (schema, queue, token audience), its migrations and its part of the
/// public API document (which query parameters each operation takes: the rest are refused).
pub struct ServiceSpec {
    pub name: &'static str,
    pub migrations: &'static EmbeddedMigrations,
    pub openapi: fn() -> utoipa::openapi::OpenApi,
}

/// The service's public API document with the parts every service has (the audit log's read
/// endpoint), as the service enforces and the contracts publish it.
pub fn openapi(spec: &ServiceSpec) -> utoipa::openapi::OpenApi {
    let mut doc = (spec.openapi)();
    doc.merge(platform::audit::openapi(spec.name));
    doc
}

/// For a service with no public API (tests' stand-ins): no query parameter is checked.
pub fn no_api() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new().build()
}

/// What a service's setup gets to build its routes and handlers from.
#[derive(Clone)]
pub struct Context {
    pub name: &'static str,
    pub pool: Pool,
    pub config: ServiceConfig,
    pub auth: InternalAuth,
    pub broker: BrokerStatus,
    pub shutdown: watch::Receiver<bool>,
    /// The service's metric registry: services register their own families (webhooks,
    /// schedulers, business gauges) here; `/metrics` on `<SVC>_METRICS_PORT` serves it.
    pub metrics: platform::metrics::Metrics,
    /// Retention rules for the service's own tables, beside the shared ones (idempotency keys,
    /// outbox, inbox): add with [`Context::retain`]; one job runs them all.
    retention: Arc<std::sync::Mutex<Vec<Rule>>>,
}

impl Context {
    /// Have the retention job prune one of the service's own tables too.
    pub fn retain(&self, rule: Rule) {
        self.retention.lock().unwrap_or_else(|e| e.into_inner()).push(rule);
    }
}

/// The retention rules every service has, from its configuration (an error names the variable,
/// without the service's prefix).
pub fn shared_retention_rules(config: &ServiceConfig) -> Result<Vec<Rule>, String> {
    let idempotency = platform::retention::hours(
        "RETENTION_IDEMPOTENCY_HOURS",
        config.retention_idempotency_hours,
        Duration::from_secs(24 * 3600),
    )?;
    let mut rules = vec![platform::retention::idempotency_rule(idempotency)];
    rules.extend(events::retention::rules(config)?);
    Ok(rules)
}

/// The routes (and app data) of a service, registered on every HTTP worker.
pub type Routes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// What a service's setup returns.
pub struct Wiring {
    pub routes: Routes,
    pub handler: Option<Arc<dyn EventHandler>>,
    /// Background loops (schedulers) to run beside the server; each gets the shutdown signal.
    pub background: Vec<tokio::task::JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] platform::db::DbSetupError),
    #[error("binding the HTTP port failed: {0}")]
    Bind(#[from] std::io::Error),
    #[error("setup failed: {0}")]
    Setup(String),
    #[error("{0}")]
    Command(String),
}

fn schema(spec: &ServiceSpec, config: &ServiceConfig) -> String {
    config.database_schema.clone().unwrap_or_else(|| spec.name.to_string())
}

/// Run the shared migrations (idempotency, outbox, inbox) and the service's own, in its schema.
pub async fn migrate(spec: &ServiceSpec, config: &ServiceConfig) -> Result<(), StartError> {
    migrate_with_code_hash_key(spec, config, None).await
}

/// Session setting through which migrations that hash plaintext codes (license keys, voucher
/// codes: `platform::code_hash`) read the key; see platform's `migration_code_hash_key()`.
pub const CODE_HASH_KEY_SETTING: &str = "monetization.code_hash_key";

/// [`migrate`], with the service's code hash key (`<SVC>_CODE_HASH_KEY`) available to the
/// migrations that convert plaintext codes to their keyed hashes.
pub async fn migrate_with_code_hash_key(
    spec: &ServiceSpec,
    config: &ServiceConfig,
    code_hash_key: Option<&platform::config::Secret>,
) -> Result<(), StartError> {
    let url = config.database_connect_url();
    let schema = schema(spec, config);
    let settings: Vec<(&str, &platform::config::Secret)> =
        code_hash_key.map(|k| (CODE_HASH_KEY_SETTING, k)).into_iter().collect();
    for migrations in [&platform::MIGRATIONS, &events::MIGRATIONS, spec.migrations] {
        platform::db::migrate_with(url.expose(), &schema, migrations, &settings).await?;
    }
    Ok(())
}

/// A started service. Dropping it does not stop it; call [`RunningService::stop`].
pub struct RunningService {
    pub addr: SocketAddr,
    /// The metrics listener, when `<SVC>_METRICS_PORT` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub metrics: platform::metrics::Metrics,
    pub pool: Pool,
    /// The retention job (tests call `run_once` instead of waiting for its interval).
    pub retention: Pruner,
    /// Whether it consumes events (tests wait for its queue before publishing to it).
    pub consumes: bool,
    shutdown: watch::Sender<bool>,
    server: actix_web::dev::ServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
    metrics_server: Option<platform::metrics::MetricsServer>,
    readiness: Readiness,
    /// The whole drain's budget (`<SVC>_SHUTDOWN_GRACE_SECS`).
    grace: Duration,
    /// Serving on with readiness 503 before the listener closes (`<SVC>_SHUTDOWN_DELAY_SECS`).
    delay: Duration,
}

impl RunningService {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://host:port/metrics`, when the metrics listener runs.
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_server.as_ref().map(|m| m.url())
    }

    /// Graceful stop, all within the grace period: readiness answers 503 (and, for the configured
    /// delay, requests are still served so load balancers notice), the listener closes and
    /// in-flight requests finish; then the consumer finishes the messages it started (acked) and
    /// closes its channel, so the ones it prefetched but never started go back to the queue; the
    /// relay publishes what the last requests committed to the outbox. What is still running at
    /// the deadline is abandoned: the kubelet's SIGKILL would come next anyway, and the outbox and
    /// the broker's redelivery make an interrupted drain safe.
    pub async fn stop(self) {
        let deadline = tokio::time::Instant::now() + self.grace;
        self.readiness.drain();
        if !self.delay.is_zero() {
            tokio::time::sleep_until((tokio::time::Instant::now() + self.delay).min(deadline)).await;
        }
        // Closes the listener at once; waits for in-flight requests up to `shutdown_timeout`.
        self.server.stop(true).await;
        let _ = self.shutdown.send(true);
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!("shutdown grace period over: abandoning a background task");
                task.abort();
            }
        }
        let _ = self.server_task.await;
        // Last, so the final values stay scrapable while the rest drains.
        if let Some(m) = self.metrics_server {
            m.stop().await;
        }
    }

    /// Serve until SIGTERM / Ctrl-C, then stop gracefully.
    pub async fn run_until_signal(self) {
        platform::server::shutdown_signal().await;
        tracing::info!("shutdown requested");
        self.stop().await;
    }
}

/// Start a service: pool, relay, consumer, HTTP server. Migrations are not run here (see [`migrate`]).
pub async fn start<F>(spec: &ServiceSpec, config: ServiceConfig, setup: F) -> Result<RunningService, StartError>
where
    F: FnOnce(&Context) -> Result<Wiring, String>,
{
    // The policy's messages name the variable without the service's prefix.
    let retry = RetryPolicy::from_config(&config)
        .map_err(|e| StartError::Setup(format!("{}_{e}", spec.name.to_uppercase())))?;
    let retention_rules =
        shared_retention_rules(&config).map_err(|e| StartError::Setup(format!("{}_{e}", spec.name.to_uppercase())))?;
    let pool = platform::db::connect_per_event_loop(
        config.database_connect_url().expose(),
        &schema(spec, &config),
        config.database_pool_size,
        std::time::Duration::from_millis(config.database_pool_wait_ms),
        config.http_workers.max(1),
    )
    .await?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let broker = BrokerStatus::default();
    let metrics = platform::metrics::Metrics::new();
    metrics.watch_pool(&pool);
    events::metrics::watch_outbox(&metrics, pool.clone());
    let event_metrics = events::metrics::EventMetrics::new(&metrics);
    let ctx = Context {
        name: spec.name,
        pool: pool.clone(),
        auth: InternalAuth::new(&config.internal_token_secret, spec.name)
            .with_previous(config.internal_token_previous_secret.as_ref()),
        config: config.clone(),
        broker: broker.clone(),
        shutdown: shutdown_rx.clone(),
        metrics: metrics.clone(),
        retention: Arc::new(std::sync::Mutex::new(retention_rules)),
    };
    let wiring = setup(&ctx).map_err(StartError::Setup)?;
    let retention = Pruner::new(
        pool.clone(),
        ctx.retention.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        config.retention_batch_size,
        &metrics,
    );
    let consumes = wiring.handler.is_some();

    let amqp = config.amqp_connect_url().expose().to_string();
    let mut tasks = wiring.background;
    tasks.push(
        Relay::new(pool.clone(), &amqp, &config.events_exchange, spec.name, broker.clone())
            .with_metrics(event_metrics.clone())
            .spawn(shutdown_rx.clone()),
    );
    if let Some(handler) = wiring.handler {
        let topology = Topology::new(&config.events_exchange, &config.queue_prefix);
        event_metrics.watch_queues(
            &metrics,
            vec![("queue", topology.queue(spec.name)), ("dlq", topology.dead_letter_queue(spec.name))],
        );
        let consumer = Consumer {
            pool: pool.clone(),
            amqp_url: amqp.clone(),
            topology: Topology::new(&config.events_exchange, &config.queue_prefix),
            service: spec.name.to_string(),
            prefetch: 32,
            handler,
            status: broker.clone(),
            retry,
            metrics: event_metrics,
        };
        tasks.push(consumer.spawn(shutdown_rx.clone()));
    }
    tasks
        .push(retention.clone().spawn(Duration::from_secs(config.retention_interval_secs.max(1)), shutdown_rx.clone()));

    let readiness = Readiness::default()
        .with("database", {
            let pool = pool.clone();
            Arc::new(move || {
                let pool = pool.clone();
                Box::pin(async move { platform::db::ping(&pool).await })
            })
        })
        // Reported, never failing readiness: the outbox absorbs a broker outage (platform::health).
        .report("broker", broker.probe());
    let broker_gauge = metrics.gauge(
        "monetization_broker_connected",
        "1 while the service holds a live RabbitMQ connection (readiness does not depend on it)",
        &[],
    );
    metrics.on_scrape({
        let broker = broker.clone();
        move || {
            broker_gauge.set(&[], if broker.is_up() { 1.0 } else { 0.0 });
            Box::pin(async {})
        }
    });
    let listener = platform::server::bind(&config.host, config.port)?;
    let addr = listener.local_addr()?;
    let routes = wiring.routes;
    let whoami_path = format!("/api/{}/whoami", spec.name);
    let auth = ctx.auth.clone();
    let operations = platform::http::Operations::from_openapi(&openapi(spec));
    let audit_routes = platform::audit::routes(spec.name, pool.clone());
    // Without a listener nobody reads them: requests are not timed (how `make bench` measures
    // what the instrumentation costs).
    let http_metrics = config.metrics_port.map(|_| metrics.http());
    let app_readiness = readiness.clone();
    let server = HttpServer::new(move || {
        let routes = routes.clone();
        App::new()
            .app_data(web::Data::new(auth.clone()))
            .app_data(operations.clone())
            .configure(|cfg| {
                if let Some(m) = &http_metrics {
                    cfg.app_data(web::Data::new(m.clone()));
                }
            })
            .app_data(web::Data::new(app_readiness.clone()))
            .configure(platform::http::configure_extractors)
            .configure(platform::health::routes)
            .route(&whoami_path, web::get().to(whoami))
            .configure(audit_routes.clone())
            .configure(move |cfg| routes(cfg))
            // Last: a wrong method is 405 with `Allow`, an unknown path 404.
            .configure(platform::http::fallback)
            .wrap(from_fn(platform::http::screen_input))
            .wrap(from_fn(platform::auth::internal_auth))
            .wrap(from_fn(platform::http::request_context))
            .wrap(from_fn(platform::health::close_connections_when_draining))
            // Outermost: times everything, the auth refusals included.
            .wrap(from_fn(platform::metrics::track_requests))
    })
    .workers(config.http_workers.max(1))
    // Answers are small and written at once: never hold the last segment back for an ACK.
    .tcp_nodelay(true)
    .shutdown_timeout(config.shutdown_grace_secs)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    tracing::info!(service = spec.name, %addr, "listening");
    let metrics_server = match config.metrics_port {
        Some(port) => Some(platform::metrics::serve(&config.host, port, metrics.clone())?),
        None => {
            tracing::warn!(
                service = spec.name,
                "no metrics listener: {}_METRICS_PORT is not set",
                spec.name.to_uppercase()
            );
            None
        }
    };
    Ok(RunningService {
        addr,
        metrics_addr: metrics_server.as_ref().map(|m| m.addr),
        metrics,
        pool,
        retention,
        consumes,
        shutdown: shutdown_tx,
        server: handle,
        tasks,
        server_task,
        metrics_server,
        readiness,
        grace: Duration::from_secs(config.shutdown_grace_secs),
        delay: Duration::from_secs(config.shutdown_delay_secs),
    })
}

async fn whoami(principal: Principal) -> HttpResponse {
    HttpResponse::Ok().json(principal)
}

/// The whole `main` of a service binary: `<bin> migrate`, `<bin> serve` (default), or the
/// dead-letter tools `<bin> dlq list` and `<bin> dlq replay [--type T] [--limit N]`, or
/// `<bin> audit verify`, or `<bin> outbox replay --to <service> --since <time>` ([`cli`]).
/// `T` is the service's own config struct, read with the same prefix as [`ServiceConfig`].
pub fn main<T, F>(spec: ServiceSpec, prefix: &str, setup: F) -> ExitCode
where
    T: DeserializeOwned,
    F: FnOnce(&Context, T) -> Result<Wiring, String>,
{
    let (config, own) = match platform::config::load_service::<T>(prefix) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {e}", spec.name);
            for p in &e.problems {
                eprintln!("  - {p}");
            }
            return ExitCode::from(2);
        }
    };
    if let Err(e) = platform::telemetry::Sampling::from_env() {
        eprintln!("{}: {e}", spec.name);
        return ExitCode::from(2);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {e}\n{}", spec.name, cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the async runtime: {e}", spec.name);
            return ExitCode::FAILURE;
        }
    };
    let _telemetry = runtime.block_on(async { platform::telemetry::init(spec.name, config.log_format) });
    let result: Result<(), StartError> = runtime.block_on(async {
        match command {
            cli::Command::Migrate => {
                // Read here, not in the service's config struct: only the migrations that
                // convert plaintext codes need it, and only when such rows exist.
                let key = std::env::var(format!("{prefix}CODE_HASH_KEY")).ok().map(platform::config::Secret::new);
                migrate_with_code_hash_key(&spec, &config, key.as_ref()).await?;
                tracing::info!(service = spec.name, "migrations applied");
                Ok(())
            }
            cli::Command::Serve => {
                start(&spec, config, |ctx| setup(ctx, own)).await?.run_until_signal().await;
                Ok(())
            }
            cli::Command::AuditVerify => {
                let report =
                    cli::run_audit_verify(&config, &schema(&spec, &config)).await.map_err(StartError::Command)?;
                println!("{}: {report}", spec.name);
                match report.broken {
                    None => Ok(()),
                    Some(_) => Err(StartError::Command("the audit log's hash chain is broken".into())),
                }
            }
            cli::Command::OutboxReplay { to, since } => {
                let schema = schema(&spec, &config);
                let out = cli::run_outbox_replay(spec.name, &config, &schema, &to, since)
                    .await
                    .map_err(StartError::Command)?;
                print!("{out}");
                Ok(())
            }
            cli::Command::Dlq(dlq) => {
                let out = cli::run_dlq(spec.name, &config, &dlq).await.map_err(StartError::Command)?;
                print!("{out}");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(service = spec.name, error = %e, "exiting");
            eprintln!("{}: {e}", spec.name);
            ExitCode::FAILURE
        }
    }
}

/// Service-specific config for services that have none yet.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NoConfig {}
