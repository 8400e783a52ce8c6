//! Health in Kubernetes' meaning and draining shutdown, on a bare service booted by the runtime
//! against the real PostgreSQL (and, for the outage, a broker address nobody listens on); and what
//! `runtime::start` refuses to start with, the service's own retention rules, and a background
//! task that ignores the shutdown signal.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use actix_web::{web, HttpResponse};
use runtime::{RunningService, ServiceSpec, Wiring};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::TestEnv;
use tokio::sync::Notify;

const SPEC: ServiceSpec = ServiceSpec { name: "probe", migrations: &events::MIGRATIONS, openapi: runtime::no_api };

async fn start(
    env: &TestEnv,
    tweak: impl FnOnce(&mut platform::config::ServiceConfig),
    routes: runtime::Routes,
) -> RunningService {
    let mut config = env.service_config(SPEC.name);
    tweak(&mut config);
    runtime::migrate(&SPEC, &config).await.expect("migrate");
    runtime::start(&SPEC, config, move |_| Ok(Wiring { routes, handler: None, background: Vec::new() }))
        .await
        .expect("service starts")
}

/// An AMQP URL whose port refuses connections: the port was free a moment ago and nothing binds it.
fn unreachable_broker() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    format!("amqp://guest:guest@127.0.0.1:{port}/%2f")
}

#[tokio::test]
async fn readiness_stays_ok_while_the_broker_is_unreachable_and_reports_it() {
    testkit::init_logs();
    let env = TestEnv::new();
    let svc = start(&env, |c| c.amqp_url = platform::config::Secret::new(unreachable_broker()), Arc::new(|_| {})).await;
    let http = testkit::http();

    // Give the relay time to fail its first connection attempts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = http.get(format!("{}/health/ready", svc.url())).send().await.expect("ready");
    assert_eq!(res.status(), 200, "a broker outage must not take the pod out of its Service");
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    assert_eq!(body["checks"]["broker"], "unavailable", "the outage stays visible: {body}");

    let live = http.get(format!("{}/health/live", svc.url())).send().await.expect("live");
    assert_eq!(live.status(), 200);

    let metrics = http.get(svc.metrics_url().expect("metrics listener")).send().await.expect("metrics");
    let text = metrics.text().await.expect("text");
    assert_eq!(platform::metrics::sample(&text, "monetization_broker_connected", &[]), Some(0.0), "{text}");

    svc.stop().await;
    env.cleanup(&[SPEC.name]).await;
}

#[tokio::test]
async fn shutdown_drains_readiness_first_finishes_in_flight_requests_and_refuses_new_connections() {
    testkit::init_logs();
    let env = TestEnv::new();
    let entered = Arc::new(Notify::new());
    let routes: runtime::Routes = {
        let entered = entered.clone();
        Arc::new(move |cfg| {
            let entered = entered.clone();
            cfg.route(
                "/slow",
                web::get().to(move || {
                    let entered = entered.clone();
                    async move {
                        entered.notify_one();
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        HttpResponse::Ok().body("done")
                    }
                }),
            );
        })
    };
    let svc = start(
        &env,
        |c| {
            c.shutdown_delay_secs = 1;
            c.shutdown_grace_secs = 10;
        },
        routes,
    )
    .await;
    let addr = svc.addr;
    let base = svc.url();
    // Before shutdown: ready.
    let ready = testkit::http().get(format!("{base}/health/ready")).send().await.expect("ready");
    assert_eq!(ready.status(), 200);

    let slow = tokio::spawn({
        let url = format!("{base}/slow");
        async move {
            let res = testkit::http().get(url).send().await.expect("slow request answered");
            (res.status().as_u16(), res.text().await.expect("body"))
        }
    });
    tokio::time::timeout(Duration::from_secs(5), entered.notified())
        .await
        .expect("the slow request reached its handler");

    let started = Instant::now();
    let stopping = tokio::spawn(svc.stop());

    // Within the delay: still serving, but readiness says to send nothing new; liveness unchanged.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ready = testkit::http().get(format!("{base}/health/ready")).send().await.expect("ready while draining");
    assert_eq!(ready.status(), 503, "readiness goes 503 before the listener closes");
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "draining", "{body}");
    let live = testkit::http().get(format!("{base}/health/live")).send().await.expect("live while draining");
    assert_eq!(live.status(), 200);

    // After the delay: the listener is closed while the slow request is still running.
    let refused = loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) => break e,
            Ok(_) if started.elapsed() < Duration::from_secs(3) => tokio::time::sleep(Duration::from_millis(50)).await,
            Ok(_) => panic!("new connections still accepted {:?} after shutdown began", started.elapsed()),
        }
    };
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused, "{refused}");
    assert!(!slow.is_finished(), "the listener should close while the request is in flight");

    let (status, body) = tokio::time::timeout(Duration::from_secs(10), slow).await.expect("in time").expect("task");
    assert_eq!((status, body.as_str()), (200, "done"), "the in-flight request completes during shutdown");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("stop within the grace").expect("task");
    env.cleanup(&[SPEC.name]).await;
}

/// One HTTP/1.1 request on `stream` (kept alive unless the server says otherwise); the answer's
/// head, lower-cased.
async fn exchange(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(b"GET /health/live HTTP/1.1\r\nHost: probe\r\n\r\n").await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.expect("answer").expect("read");
    String::from_utf8_lossy(&buf[..n]).to_lowercase()
}

#[tokio::test]
async fn draining_closes_kept_alive_connections_after_their_next_answer() {
    use tokio::io::AsyncReadExt;
    testkit::init_logs();
    let env = TestEnv::new();
    let svc = start(
        &env,
        |c| {
            c.shutdown_delay_secs = 2;
            c.shutdown_grace_secs = 10;
        },
        Arc::new(|_| {}),
    )
    .await;
    // A pooled connection, as the gateway keeps one to every replica.
    let mut pooled = tokio::net::TcpStream::connect(svc.addr).await.expect("connect");
    let before = exchange(&mut pooled).await;
    assert!(before.starts_with("http/1.1 200"), "{before}");
    assert!(!before.contains("connection: close"), "kept alive before shutdown: {before}");

    let started = Instant::now();
    let stopping = tokio::spawn(svc.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Draining: answered, and told not to come back on this connection, which the server closes.
    let during = exchange(&mut pooled).await;
    assert!(during.starts_with("http/1.1 200"), "{during}");
    assert!(during.contains("connection: close"), "{during}");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), pooled.read_to_end(&mut rest)).await;
    assert!(read.is_ok_and(|r| r.is_ok()), "the server closes the connection after that answer");

    // With no connection left open, the drain ends after the delay, long before the grace period.
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("stop within the grace").expect("task");
    assert!(started.elapsed() < Duration::from_secs(5), "drained in {:?}", started.elapsed());
    env.cleanup(&[SPEC.name]).await;
}

/// What `start` refuses, with the message an operator reads at boot: a bad setting names the
/// variable with the service's prefix, a failing setup its own reason, a taken port the bind.
#[tokio::test]
async fn start_refuses_bad_settings_a_failing_setup_and_a_taken_port_with_the_cause_named() {
    testkit::init_logs();
    let env = TestEnv::new();
    let mut config = env.service_config(SPEC.name);
    runtime::migrate(&SPEC, &config).await.expect("migrate");
    let none = || Ok(Wiring { routes: Arc::new(|_| {}), handler: None, background: Vec::new() });

    let mut bad_retry = config.clone();
    bad_retry.event_retry_initial_ms = 0;
    let Err(e) = runtime::start(&SPEC, bad_retry, |_| none()).await else { panic!("a zero retry delay started") };
    assert_eq!(e.to_string(), "setup failed: PROBE_EVENT_RETRY_INITIAL_MS must be at least 1");

    let mut short_outbox = config.clone();
    short_outbox.retention_outbox_hours = 0;
    let Err(e) = runtime::start(&SPEC, short_outbox, |_| none()).await else { panic!("a zero retention started") };
    assert!(matches!(e, runtime::StartError::Setup(_)), "{e:?}");
    assert!(e.to_string().contains("PROBE_RETENTION_OUTBOX_HOURS=0 is shorter than the minimum of 1 hours"), "{e}");

    let Err(e) = runtime::start(&SPEC, config.clone(), |_| Err("the signing key is missing".into())).await else {
        panic!("a failing setup started")
    };
    assert_eq!(e.to_string(), "setup failed: the signing key is missing");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    config.port = taken.local_addr().expect("addr").port();
    let Err(e) = runtime::start(&SPEC, config, |_| none()).await else { panic!("started on a taken port") };
    assert!(matches!(e, runtime::StartError::Bind(ref io) if io.kind() == std::io::ErrorKind::AddrInUse), "{e:?}");
    env.cleanup(&[SPEC.name]).await;
}

/// A rule a service adds with `Context::retain` runs in the same job as the shared ones and
/// deletes only its table's rows older than the rule keeps; without `<SVC>_METRICS_PORT` there is
/// no metrics listener.
#[tokio::test]
async fn the_services_own_retention_rule_prunes_its_expired_rows_beside_the_shared_ones() {
    use diesel_async::RunQueryDsl;
    testkit::init_logs();
    let env = TestEnv::new();
    let mut config = env.service_config(SPEC.name);
    config.metrics_port = None;
    runtime::migrate(&SPEC, &config).await.expect("migrate");
    let rule = platform::retention::Rule {
        table: "probe_sessions",
        time_column: "ended_at",
        condition: None,
        keep: Duration::from_secs(3600),
    };
    let svc = runtime::start(&SPEC, config, |ctx| {
        ctx.retain(rule.clone());
        Ok(Wiring { routes: Arc::new(|_| {}), handler: None, background: Vec::new() })
    })
    .await
    .expect("service starts");
    assert_eq!(svc.metrics_url(), None);
    assert_eq!(svc.metrics_addr, None);
    assert!(!svc.consumes, "no handler, no queue");
    let tables: Vec<&str> = svc.retention.rules().iter().map(|r| r.table).collect();
    assert_eq!(tables, ["idempotency_keys", "outbox", "inbox", "probe_sessions"]);

    let mut conn = svc.pool.get().await.expect("conn");
    for sql in [
        "CREATE TABLE probe_sessions (id int PRIMARY KEY, ended_at timestamptz NOT NULL)",
        "INSERT INTO probe_sessions VALUES (1, now() - interval '2 hours'), (2, now() - interval '3 days'), \
         (3, now() - interval '10 minutes')",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.expect(sql);
    }
    drop(conn);
    let report = svc.retention.run_once().await;
    assert!(report.contains(&("probe_sessions", 2)), "{report:?}");
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
    }
    let mut conn = svc.pool.get().await.expect("conn");
    let left: Vec<Row> =
        diesel::sql_query("SELECT id FROM probe_sessions ORDER BY id").load(&mut conn).await.expect("select");
    assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), [3], "only the row younger than an hour stays");
    drop(conn);
    svc.stop().await;
    env.cleanup(&[SPEC.name]).await;
}

/// A background loop that never looks at the shutdown signal does not hold the process past the
/// grace period: `stop` abandons (aborts) it at the deadline.
#[tokio::test]
async fn a_background_task_ignoring_shutdown_is_abandoned_when_the_grace_period_ends() {
    testkit::init_logs();
    let env = TestEnv::new();
    /// Set when the task's future is dropped, which is what aborting it does.
    struct Dropped(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut config = env.service_config(SPEC.name);
    config.shutdown_grace_secs = 1;
    runtime::migrate(&SPEC, &config).await.expect("migrate");
    let svc = runtime::start(&SPEC, config, |_| {
        let guard = Dropped(dropped.clone());
        let stubborn = tokio::spawn(async move {
            let _guard = guard;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        Ok(Wiring { routes: Arc::new(|_| {}), handler: None, background: vec![stubborn] })
    })
    .await
    .expect("service starts");
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), svc.stop()).await.expect("stop ends despite the stubborn task");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "stop waited for the grace period first: {took:?}");
    assert!(took < Duration::from_secs(5), "stop ended at the grace deadline: {took:?}");
    testkit::eventually("the task to be aborted", Duration::from_secs(2), || {
        let done = dropped.load(std::sync::atomic::Ordering::SeqCst);
        async move { done.then_some(()) }
    })
    .await;
    env.cleanup(&[SPEC.name]).await;
}

/// The API document a service enforces and publishes carries the audit log's read endpoint, which
/// every service serves, beside its own operations.
#[test]
fn every_services_api_document_includes_the_audit_log() {
    let doc = runtime::openapi(&SPEC);
    let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
    assert_eq!(paths, ["/api/admin/audit/probe"]);
    assert!(runtime::no_api().paths.paths.is_empty());
}

/// A service whose wiring has an event handler gets its queue (bound to the handler's types) and
/// its dead-letter queue, consumes each event once however often the broker delivers it, and
/// reports both queues' depth on its metrics listener.
#[tokio::test]
async fn a_handler_in_the_wiring_consumes_its_events_once_and_its_queues_are_measured() {
    use events::{CloudEvent, DomainEvent, EventHandler, HandlerError};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Probed {
        n: i64,
    }
    impl DomainEvent for Probed {
        const TYPE: &'static str = "test.probed.v1";
        const SOURCE: &'static str = "test";
        fn subject(&self) -> String {
            self.n.to_string()
        }
    }
    #[derive(Default)]
    struct Counting(AtomicUsize);
    impl EventHandler for Counting {
        fn subscriptions(&self) -> Vec<&'static str> {
            vec![Probed::TYPE]
        }
        fn handle<'a>(
            &'a self,
            _conn: &'a mut diesel_async::AsyncPgConnection,
            _event: &'a CloudEvent,
        ) -> futures_util::future::BoxFuture<'a, Result<(), HandlerError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
    }

    testkit::init_logs();
    let env = TestEnv::new();
    let config = env.service_config(SPEC.name);
    runtime::migrate(&SPEC, &config).await.expect("migrate");
    let counting = Arc::new(Counting::default());
    let handler: Arc<dyn EventHandler> = counting.clone();
    let svc = runtime::start(&SPEC, config, move |_| {
        Ok(Wiring { routes: Arc::new(|_| {}), handler: Some(handler), background: Vec::new() })
    })
    .await
    .expect("service starts");
    assert!(svc.consumes, "a handler, a queue");
    let queue = env.topology().queue(SPEC.name);
    testkit::eventually("the service's queue", Duration::from_secs(10), || {
        let q = queue.clone();
        async move { testkit::bus::queue_depth(&q).await }
    })
    .await;

    let event = CloudEvent::new(&Probed { n: 1 }, None).expect("an envelope");
    testkit::bus::publish_raw(&env, &event).await;
    testkit::bus::publish_raw(&env, &event).await;
    testkit::eventually("both copies consumed", Duration::from_secs(10), || {
        let q = queue.clone();
        async move { (testkit::bus::queue_depth(&q).await == Some(0)).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(counting.0.load(Ordering::SeqCst), 1, "a redelivery is a duplicate, not a second effect");

    let http = testkit::http();
    let text = http.get(svc.metrics_url().expect("metrics")).send().await.expect("metrics").text().await.expect("text");
    for kind in ["queue", "dlq"] {
        assert_eq!(
            platform::metrics::sample(&text, "monetization_queue_messages", &[("kind", kind)]),
            Some(0.0),
            "{kind} depth: {text}"
        );
    }
    svc.stop().await;
    env.cleanup(&[SPEC.name]).await;
}
