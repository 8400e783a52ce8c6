//! Prometheus metrics: one registry per running service, served on a listener of its own.
//!
//! Why `prometheus-client` (the Prometheus project's Rust client) and one [`Metrics`] value per
//! service rather than the `metrics` facade's global recorder: the e2e suite runs every service
//! in one process, several stacks at once, and each test reads each service's own `/metrics`. A
//! process-global recorder would mix them; a registry handed down from the runtime cannot.
//!
//! Every subsystem (HTTP, pool, outbox relay, consumer, Stripe client, schedulers, business
//! gauges) registers its families here by name; registering a name twice returns the family
//! already there, so two relays of one service share their counters. Values that live elsewhere
//! (pool state, outbox backlog, queue depth, business numbers in the database) are read by
//! refreshers run at scrape time, each bounded by a timeout so a slow database never stalls a
//! scrape; the expensive ones throttle themselves with [`Metrics::on_scrape_every`].
//!
//! Label values must come from a bounded set: route templates, event types, outcomes, tiers,
//! currencies. Never a user, course or payment id.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, HttpServer};
use futures_util::future::BoxFuture;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The Content-Type Prometheus negotiates for the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds: 2.5 ms .. 10 s, dense around the 100-500 ms SLO thresholds.
pub const LATENCY_BUCKETS: &[f64] = &[0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How long one refresher may take before the scrape goes on without it.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);

type Labels = Vec<(&'static str, String)>;
type Refresh = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

struct Refresher {
    run: Refresh,
    every: Duration,
    last: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Inner {
    registry: Mutex<Registry>,
    families: Mutex<HashMap<String, Box<dyn Any + Send>>>,
    refreshers: Mutex<Vec<Arc<Refresher>>>,
}

/// A service's metric registry. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a metrics lock leaves plain data behind: keep serving it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn family<M>(&self, name: &str, help: &str, make: impl FnOnce() -> M) -> M
    where
        M: prometheus_client::registry::Metric + Clone + Send + 'static,
    {
        let mut families = lock(&self.inner.families);
        if let Some(existing) = families.get(name).and_then(|f| f.downcast_ref::<M>()) {
            return existing.clone();
        }
        let metric = make();
        lock(&self.inner.registry).register(name, help, metric.clone());
        families.insert(name.to_string(), Box::new(metric.clone()));
        metric
    }

    /// A counter family. `name` without `_total` (the encoder appends it).
    pub fn counter(&self, name: &str, help: &str, labels: &'static [&'static str]) -> CounterVec {
        let family = self.family(name, help, Family::<Labels, Counter>::default);
        CounterVec { labels, family }
    }

    /// A gauge family holding floats (money converted at this edge, counts, timestamps).
    pub fn gauge(&self, name: &str, help: &str, labels: &'static [&'static str]) -> GaugeVec {
        let family = self.family(name, help, Family::<Labels, Gauge<f64, AtomicU64>>::default);
        GaugeVec { labels, family }
    }

    /// A histogram family with [`LATENCY_BUCKETS`] (seconds).
    pub fn histogram(&self, name: &str, help: &str, labels: &'static [&'static str]) -> HistogramVec {
        let family = self.family(name, help, || {
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram)
        });
        HistogramVec { labels, family }
    }

    /// Run `refresh` before every scrape (pool state, queue depth: cheap reads).
    pub fn on_scrape<F>(&self, refresh: F)
    where
        F: Fn() -> BoxFuture<'static, ()> + Send + Sync + 'static,
    {
        self.on_scrape_every(Duration::ZERO, refresh)
    }

    /// Run `refresh` at a scrape when the last run is older than `every` (database aggregates:
    /// several Prometheus replicas scraping every 15 s must not multiply the queries).
    pub fn on_scrape_every<F>(&self, every: Duration, refresh: F)
    where
        F: Fn() -> BoxFuture<'static, ()> + Send + Sync + 'static,
    {
        lock(&self.inner.refreshers).push(Arc::new(Refresher {
            run: Arc::new(refresh),
            every,
            last: Mutex::new(None),
        }));
    }

    /// Run the due refreshers, then encode every family in the OpenMetrics text format.
    pub async fn render(&self) -> String {
        let due: Vec<Arc<Refresher>> = lock(&self.inner.refreshers)
            .iter()
            .filter(|r| {
                let mut last = lock(&r.last);
                let due = last.is_none_or(|t| t.elapsed() >= r.every);
                if due {
                    *last = Some(Instant::now());
                }
                due
            })
            .cloned()
            .collect();
        let runs = due.iter().map(|r| tokio::time::timeout(REFRESH_TIMEOUT, (r.run)()));
        for outcome in futures_util::future::join_all(runs).await {
            if outcome.is_err() {
                tracing::warn!("a metrics refresher timed out; serving its previous values");
            }
        }
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &lock(&self.inner.registry)) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// The HTTP server families, registered once per service.
    pub fn http(&self) -> HttpMetrics {
        HttpMetrics {
            duration: self.family(
                "http_server_request_duration_seconds",
                "Duration of HTTP server requests, by route template, method and status code",
                || Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            ),
            active: self.family("http_server_active_requests", "HTTP requests being served now", Gauge::default),
        }
    }

    /// The database pool: refreshed from bb8's own state at each scrape.
    pub fn watch_pool(&self, pool: &crate::db::Pool) {
        let size = self.gauge("db_pool_connections", "Connections the pool holds, by state", &["state"]);
        let max = self.gauge("db_pool_max_connections", "Configured pool size", &[]);
        let waiting = self.gauge("db_pool_pending_requests", "Checkouts waiting for a connection", &[]);
        let gets = self.counter("db_pool_checkouts", "Connection checkouts, by how they completed", &["outcome"]);
        let wait = self.gauge("db_pool_checkout_wait_seconds", "Total time checkouts spent waiting since start", &[]);
        let pool = pool.clone();
        self.on_scrape(move || {
            let state = pool.state();
            size.set(&["idle"], f64::from(state.idle_connections));
            size.set(&["in_use"], f64::from(state.connections.saturating_sub(state.idle_connections)));
            max.set(&[], f64::from(state.max_size));
            waiting.set(&[], state.pending_gets as f64);
            gets.advance_to(&["direct"], state.gets_direct);
            gets.advance_to(&["waited"], state.gets_waited);
            gets.advance_to(&["timed_out"], state.gets_timed_out);
            wait.set(&[], state.wait_time.as_secs_f64());
            Box::pin(async {})
        });
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS.iter().copied())
}

fn labels(names: &'static [&'static str], values: &[&str]) -> Labels {
    debug_assert_eq!(names.len(), values.len(), "label values do not match the family's labels");
    names.iter().zip(values).map(|(n, v)| (*n, (*v).to_string())).collect()
}

#[derive(Clone)]
pub struct CounterVec {
    labels: &'static [&'static str],
    family: Family<Labels, Counter>,
}

impl CounterVec {
    pub fn inc(&self, values: &[&str]) {
        self.family.get_or_create(&labels(self.labels, values)).inc();
    }
    pub fn inc_by(&self, values: &[&str], n: u64) {
        self.family.get_or_create(&labels(self.labels, values)).inc_by(n);
    }
    /// Catch up with a total counted elsewhere (bb8's statistics): counters only go up.
    pub fn advance_to(&self, values: &[&str], total: u64) {
        let counter = self.family.get_or_create(&labels(self.labels, values));
        let now = counter.get();
        if total > now {
            counter.inc_by(total - now);
        }
    }
    /// The current value (tests).
    pub fn get(&self, values: &[&str]) -> u64 {
        self.family.get_or_create(&labels(self.labels, values)).get()
    }
}

#[derive(Clone)]
pub struct GaugeVec {
    labels: &'static [&'static str],
    family: Family<Labels, Gauge<f64, AtomicU64>>,
}

impl GaugeVec {
    pub fn set(&self, values: &[&str], v: f64) {
        self.family.get_or_create(&labels(self.labels, values)).set(v);
    }
    pub fn inc(&self, values: &[&str]) {
        self.family.get_or_create(&labels(self.labels, values)).inc();
    }
    pub fn dec(&self, values: &[&str]) {
        self.family.get_or_create(&labels(self.labels, values)).dec();
    }
    /// Forget every series, before a refresher sets the current set (a tier nobody holds any
    /// more must not keep its last value forever).
    pub fn clear(&self) {
        self.family.clear();
    }
}

#[derive(Clone)]
pub struct HistogramVec {
    labels: &'static [&'static str],
    family: Family<Labels, Histogram, fn() -> Histogram>,
}

impl HistogramVec {
    pub fn observe(&self, values: &[&str], v: f64) {
        self.family.get_or_create(&labels(self.labels, values)).observe(v);
    }
    /// Observe the seconds elapsed since `started`.
    pub fn observe_since(&self, values: &[&str], started: Instant) {
        self.observe(values, started.elapsed().as_secs_f64());
    }
}

/// The HTTP server families; app data for [`track_requests`]. Every request observes them, so
/// their label key is three words that are copied, not three strings allocated per request.
#[derive(Clone)]
pub struct HttpMetrics {
    duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    active: Gauge,
}

/// The labels of one request's observation: the route template (interned, see [`intern_route`]),
/// the method (one of a fixed set) and the status code.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

impl EncodeLabelSet for RequestLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        ("http_route", self.route).encode(encoder.encode_label())?;
        ("http_request_method", self.method).encode(encoder.encode_label())?;
        ("http_response_status_code", self.status).encode(encoder.encode_label())
    }
}

/// The route label of a request, set by whoever learns the route first: the input screen (which
/// matches the path against the routes anyway), or a handler that serves many paths under one
/// name (the gateway's forwarding, by route-table prefix). Without it [`track_requests`] asks
/// actix for the match pattern, which walks the route table again.
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(pub &'static str);

/// The one `&'static str` of a route template. Templates come from the routes a service
/// registered (actix's match pattern, never the raw path), so the set is bounded by the route
/// table and each is leaked once for the life of the process.
pub fn intern_route(pattern: &str) -> &'static str {
    static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(RwLock::default);
    if let Some(route) = ROUTES.read().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return route;
    }
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    match routes.get(pattern) {
        Some(route) => route,
        None => {
            let route: &'static str = Box::leak(pattern.to_owned().into_boxed_str());
            routes.insert(route);
            route
        }
    }
}

/// Middleware: count and time every request by route TEMPLATE (actix's match pattern), never
/// the raw path, so `/api/payments/{id}` is one series however many payments there are.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(metrics) = req.app_data::<web::Data<HttpMetrics>>().cloned() else {
        return next.call(req).await;
    };
    let method = bounded_method(req.method().as_str());
    metrics.active.inc();
    let started = Instant::now();
    let result = next.call(req).await;
    metrics.active.dec();
    let (route, status) = match &result {
        Ok(res) => {
            let request = res.request();
            let label = request.extensions().get::<RouteLabel>().map(|l| l.0);
            (label.or_else(|| request.match_pattern().map(|p| intern_route(&p))), res.status().as_u16())
        }
        // An error that escaped every handler becomes a 500 further out.
        Err(e) => (None, e.as_response_error().status_code().as_u16()),
    };
    let labels = RequestLabels { route: route.unwrap_or("unmatched"), method, status };
    metrics.duration.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    result
}

fn bounded_method(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "_OTHER",
    }
}

async fn serve_metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(metrics.render().await)
}

/// A started metrics listener.
pub struct MetricsServer {
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl MetricsServer {
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

/// Serve `GET /metrics` on `host:port`, apart from the API listener: the gateway never routes
/// it and NetworkPolicies open it to the monitoring namespace only.
pub fn serve(host: &str, port: u16, metrics: Metrics) -> std::io::Result<MetricsServer> {
    let listener = TcpListener::bind((host, port))?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        actix_web::App::new().app_data(web::Data::new(metrics.clone())).route("/metrics", web::get().to(serve_metrics))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, "metrics listening");
    Ok(MetricsServer { addr, handle, task })
}

/// Parse one sample's value from a rendered exposition (tests): `name{a="b",...} value`, the
/// given labels being a subset of the sample's.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        if metric != name {
            return None;
        }
        let all_match = labels.iter().all(|(k, v)| {
            let pair = format!("{k}=\"{v}\"");
            rest.starts_with(&pair) || rest.contains(&format!(",{pair}"))
        });
        if all_match {
            value.parse().ok()
        } else {
            None
        }
    })
}

/// One row of a business query: up to two label values and the number.
#[derive(diesel::QueryableByName)]
struct GaugeRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    l1: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    l2: String,
    #[diesel(sql_type = diesel::sql_types::Double)]
    value: f64,
}

impl Metrics {
    /// A gauge computed by `sql` in the service's schema at most every `every`: the query returns
    /// columns `l1`, `l2` (text; the gauge's first and second label, `''` when it has fewer) and
    /// `value` (float8). Money is summed as NUMERIC in the query and cast to float8 last, so the
    /// only inexact step is the exposition's own float. The series are replaced as a whole, so a
    /// tier nobody holds any more disappears instead of keeping its last value.
    pub fn gauge_from_query(
        &self,
        pool: &crate::db::Pool,
        every: Duration,
        (name, help, labels): (&str, &str, &'static [&'static str]),
        sql: &'static str,
    ) {
        let gauge = self.gauge(name, help, labels);
        let pool = pool.clone();
        self.on_scrape_every(every, move || {
            let (pool, gauge) = (pool.clone(), gauge.clone());
            Box::pin(async move {
                // These aggregate whole tables: scanned, not walked through a primary key.
                let rows = crate::db::reading_whole_tables(&pool, async |conn| {
                    let rows = diesel_async::RunQueryDsl::load::<GaugeRow>(diesel::sql_query(sql), conn).await?;
                    Ok::<_, crate::problem::Problem>(rows)
                })
                .await;
                match rows {
                    Ok(rows) => {
                        gauge.clear();
                        for row in rows {
                            let values = [row.l1.as_str(), row.l2.as_str()];
                            gauge.set(&values[..gauge.labels.len()], row.value);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, sql, "metrics: business query failed"),
                }
            })
        });
    }
}

/// Lookups in one in-process cache, by result: the hit ratio shows whether a TTL is worth its
/// staleness, and a miss rate tracks the database reads the cache lets through.
#[derive(Clone)]
pub struct CacheMetrics {
    cache: &'static str,
    lookups: CounterVec,
}

impl Metrics {
    /// The counters of the cache named `cache` (a fixed name: `catalog`, `tiers`, ...).
    pub fn cache(&self, cache: &'static str) -> CacheMetrics {
        CacheMetrics {
            cache,
            lookups: self.counter(
                "monetization_cache_lookups",
                "Lookups in an in-process cache, by cache and result (hit, miss)",
                &["cache", "result"],
            ),
        }
    }
}

impl CacheMetrics {
    pub fn record(&self, hit: bool) {
        self.lookups.inc(&[self.cache, if hit { "hit" } else { "miss" }]);
    }
}

/// Scheduler runs: when each job last succeeded (a stuck scheduler alerts on its age), items
/// each run handled, and failed runs.
#[derive(Clone)]
pub struct SchedulerMetrics {
    last_success: GaugeVec,
    items: CounterVec,
    failures: CounterVec,
}

impl Metrics {
    pub fn scheduler(&self) -> SchedulerMetrics {
        SchedulerMetrics {
            last_success: self.gauge(
                "monetization_scheduler_last_success_timestamp_seconds",
                "Unix time of the scheduler's last successful run (label `scheduler`: `job` is the scrape target's)",
                &["scheduler"],
            ),
            items: self.counter("monetization_scheduler_items", "Items the job's runs handled", &["scheduler"]),
            failures: self.counter("monetization_scheduler_failures", "Runs of the job that failed", &["scheduler"]),
        }
    }
}

impl SchedulerMetrics {
    /// Record one run of `job` that handled `items` (None: it failed).
    pub fn record(&self, job: &str, items: Option<usize>) {
        match items {
            Some(n) => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                self.last_success.set(&[job], now.as_secs_f64());
                self.items.inc_by(&[job], n as u64);
                // The failure counter exists at 0 from the first run on, so that rate() and
                // dashboards see a job's first failure as a change, not as a series appearing.
                self.failures.inc_by(&[job], 0);
            }
            None => self.failures.inc(&[job]),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use actix_web::middleware::from_fn;

    async fn item() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    /// The listener serves every family registered, with live values, and requests are counted
    /// by route template, never by raw path.
    #[tokio::test]
    async fn the_listener_serves_the_families_by_route_template() {
        let metrics = Metrics::new();
        let http = web::Data::new(metrics.http());
        metrics.counter("monetization_test_things", "things", &["kind"]).inc(&["a"]);
        metrics.scheduler().record("renewals", Some(3));
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .app_data(http)
                .route("/api/items/{id}", web::get().to(item))
                .wrap(from_fn(track_requests)),
        )
        .await;
        for id in ["1", "2"] {
            let req = actix_web::test::TestRequest::get().uri(&format!("/api/items/{id}")).to_request();
            actix_web::test::call_service(&app, req).await;
        }
        let server = serve("127.0.0.1", 0, metrics.clone()).unwrap();
        let text = reqwest::get(server.url()).await.unwrap().text().await.unwrap();
        server.stop().await;
        let route = [("http_route", "/api/items/{id}"), ("http_request_method", "GET")];
        assert_eq!(sample(&text, "http_server_request_duration_seconds_count", &route), Some(2.0), "{text}");
        assert!(!text.contains("/api/items/1"), "a raw path became a label: {text}");
        assert_eq!(sample(&text, "http_server_active_requests", &[]), Some(0.0));
        assert_eq!(sample(&text, "monetization_test_things_total", &[("kind", "a")]), Some(1.0));
        assert_eq!(sample(&text, "monetization_scheduler_items_total", &[("scheduler", "renewals")]), Some(3.0));
        assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
    }

    #[test]
    fn a_family_registered_twice_is_shared() {
        let metrics = Metrics::new();
        metrics.counter("x", "x", &["k"]).inc(&["a"]);
        assert_eq!(metrics.counter("x", "x", &["k"]).get(&["a"]), 1);
    }
}
