//! The operator commands as the service binaries run them (`runtime::cli`): `<service> outbox
//! replay --to <service> --since <time>` and `<service> audit verify`, from the parsed command
//! line to what they print, on the schema and queues the service's config names. The mechanisms
//! underneath have their own tests (outbox_replay.rs, platform's audit.rs); these prove the
//! commands reach them with the right schema, source and target, and report what they did.

use crate::support::{count, pool, start_relay, Ping, BROKER};
use diesel_async::{AsyncConnection, RunQueryDsl};
use lapin::options::QueueDeleteOptions;
use lapin::{Connection, ConnectionProperties};
use runtime::cli::{parse, run_audit_verify, run_outbox_replay, Command};
use std::time::Duration;
use testkit::TestEnv;

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_replay_command_republishes_the_services_published_events_to_the_named_queue() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut conn = pool.get().await.unwrap();
    for n in 0..3 {
        conn.transaction(async |c| events::outbox::enqueue(c, &Ping { n }).await).await.unwrap();
    }
    let (stop, relay) = start_relay(&env, &pool);
    testkit::eventually("the relay published them", Duration::from_secs(15), || {
        let pool = pool.clone();
        async move {
            let mut c = pool.get().await.ok()?;
            (count(&mut c, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").await == 0).then_some(())
        }
    })
    .await;
    stop.send(true).unwrap();
    relay.await.unwrap();

    let amqp = Connection::connect(&testkit::amqp_url(), ConnectionProperties::default()).await.unwrap();
    let channel = amqp.create_channel().await.unwrap();
    let topology = env.topology();
    topology.declare_service_queue(&channel, "target", &[]).await.unwrap();

    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let line =
        format!("outbox replay --to target --since {}", since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let Ok(Command::OutboxReplay { to, since }) = parse(&args(&line)) else { panic!("not an outbox replay: {line}") };
    let config = env.service_config("events");
    let out = run_outbox_replay("test", &config, &env.schema("events"), &to, since).await.expect("the replay");
    let queue = topology.queue("target");
    assert_eq!(out, format!("published 3 event(s) of test's outbox since {since} again to {queue}\n"));
    assert_eq!(testkit::bus::queue_depth(&queue).await, Some(3), "the three events, on the named queue");

    // A target without a queue is an error the operator sees, never "published 0".
    let err = run_outbox_replay("test", &config, &env.schema("events"), "nobody", since).await.expect_err("no queue");
    assert!(!err.is_empty());
    // A schema with no outbox (a typo in the service's schema) is an error too.
    let err = run_outbox_replay("test", &config, "no_such_schema", "target", since).await.expect_err("no outbox");
    assert!(!err.is_empty());

    let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
    let _ = amqp.close(200, "bye".into()).await;
    env.cleanup(&["events", "target"]).await;
}

#[tokio::test]
async fn audit_verify_command_reads_the_configured_schemas_chain_and_reports_a_broken_link() {
    let env = TestEnv::new();
    let pool = pool(&env).await;
    assert_eq!(parse(&args("audit verify")), Ok(Command::AuditVerify));
    let config = env.service_config("events");
    let schema = env.schema("events");

    let empty = run_audit_verify(&config, &schema).await.expect("an empty log verifies");
    assert_eq!((empty.checked, empty.broken.is_none()), (0, true), "{empty}");

    let ctx = platform::audit::AuditContext {
        actor_sub: "0192f0c4-0000-7000-8000-0000000000aa".into(),
        actor_roles: vec!["admin".into()],
        actor_org: None,
        request_id: None,
        trace_id: None,
        client_addr: None,
    };
    for n in 0..3 {
        let ctx = ctx.clone();
        platform::db::transaction::<_, platform::Problem, _>(&pool, move |conn| {
            Box::pin(async move {
                let action =
                    platform::audit::Action::new("payment.refund", format!("payment:{n}"), serde_json::json!({"n": n}));
                Ok(platform::audit::record(conn, &ctx, chrono::Utc::now(), action).await?)
            })
        })
        .await
        .unwrap();
    }
    let intact = run_audit_verify(&config, &schema).await.expect("verifies");
    assert_eq!((intact.checked, intact.broken.is_none()), (3, true), "{intact}");
    assert!(intact.to_string().starts_with("audit log intact: 3 entries"), "{intact}");

    // Someone with superuser rights rewrites an entry behind the triggers: the command says so.
    let mut conn = pool.get().await.unwrap();
    for sql in [
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "UPDATE audit_log SET changes = '{\"n\": 42}' WHERE seq = (SELECT min(seq) + 1 FROM audit_log)",
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    let broken = run_audit_verify(&config, &schema).await.expect("still readable");
    assert!(broken.broken.is_some(), "a rewritten entry breaks the chain: {broken}");

    // A schema without an audit log cannot be verified: an error, never "intact".
    assert!(run_audit_verify(&config, "no_such_schema").await.is_err());
    env.cleanup(&["events"]).await;
}
