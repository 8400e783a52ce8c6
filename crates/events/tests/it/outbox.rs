use crate::support::{count, pool, start_relay, Ping, BROKER};
use diesel_async::AsyncConnection;
use std::time::Duration;
use testkit::bus::Capture;
use testkit::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_event_is_published_exactly_once() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut capture = Capture::bind(&env, &["test.#"]).await;
    let mut conn = pool.get().await.unwrap();
    let written = conn.transaction(async |c| events::outbox::enqueue(c, &Ping { n: 7 }).await).await.unwrap();
    let (stop, relay) = start_relay(&env, &pool);

    let got = capture.expect("test.ping.v1", Duration::from_secs(10)).await;
    assert_eq!(got.id, written.id);
    assert_eq!(got.data_as::<Ping>().unwrap(), Ping { n: 7 });
    assert_eq!(got.source, "/services/test");
    assert_eq!(got.specversion, "1.0");
    assert_eq!(got.dataschema, "events/test/ping.v1.json");
    assert!(capture.drain(Duration::from_millis(700)).await.is_empty(), "published twice");
    let pending = count(&mut conn, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").await;
    assert_eq!(pending, 0);

    stop.send(true).unwrap();
    relay.await.unwrap();
    env.cleanup(&["events"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_back_transaction_publishes_nothing() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut capture = Capture::bind(&env, &["#"]).await;
    let (stop, relay) = start_relay(&env, &pool);
    let mut conn = pool.get().await.unwrap();
    let result: Result<(), diesel::result::Error> = conn
        .transaction(async |c| {
            events::outbox::enqueue(c, &Ping { n: 1 }).await?;
            Err(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(result.is_err());
    assert!(capture.drain(Duration::from_millis(800)).await.is_empty(), "a rolled-back event was published");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM outbox").await, 0);
    stop.send(true).unwrap();
    relay.await.unwrap();
    env.cleanup(&["events"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_events_keep_their_order() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut capture = Capture::bind(&env, &["test.ping.v1"]).await;
    let mut conn = pool.get().await.unwrap();
    for n in 0..50 {
        conn.transaction(async |c| events::outbox::enqueue(c, &Ping { n }).await).await.unwrap();
    }
    let (stop, relay) = start_relay(&env, &pool);
    for n in 0..50 {
        let e = capture.expect("test.ping.v1", Duration::from_secs(10)).await;
        assert_eq!(e.data_as::<Ping>().unwrap().n, n, "out of order");
    }
    stop.send(true).unwrap();
    relay.await.unwrap();
    env.cleanup(&["events"]).await;
}

/// The relay is woken by the outbox trigger's NOTIFY, not by its poll: with the fallback poll
/// set to a minute, an event committed while the relay idles is still published at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_wakes_the_idle_relay() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut capture = Capture::bind(&env, &["test.ping.v1"]).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut relay = events::relay::Relay::new(
        pool.clone(),
        &testkit::amqp_url(),
        &env.exchange,
        "test",
        events::broker::BrokerStatus::default(),
    );
    relay.fallback_poll = Duration::from_secs(60);
    let relay = relay.spawn(rx);
    // Let it connect, find the outbox empty and go to sleep.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut conn = pool.get().await.unwrap();
    conn.transaction(async |c| events::outbox::enqueue(c, &Ping { n: 42 }).await).await.unwrap();
    let got = capture.expect("test.ping.v1", Duration::from_secs(5)).await;
    assert_eq!(got.data_as::<Ping>().unwrap(), Ping { n: 42 });
    stop.send(true).unwrap();
    relay.await.unwrap();
    env.cleanup(&["events"]).await;
}

/// Shutdown flushes: an event committed while the relay idles, and that nothing woke it for
/// (the trigger is off here, the poll a minute away), is published when the relay is stopped,
/// not left for the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_relay_publishes_what_is_left_in_the_outbox() {
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut conn = pool.get().await.unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("ALTER TABLE outbox DISABLE TRIGGER outbox_notify"),
        &mut conn,
    )
    .await
    .unwrap();
    let mut capture = Capture::bind(&env, &["test.ping.v1"]).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut relay = events::relay::Relay::new(
        pool.clone(),
        &testkit::amqp_url(),
        &env.exchange,
        "test",
        events::broker::BrokerStatus::default(),
    );
    relay.fallback_poll = Duration::from_secs(60);
    let relay = relay.spawn(rx);
    // Let it connect, find the outbox empty and go to sleep.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    conn.transaction(async |c| events::outbox::enqueue(c, &Ping { n: 9 }).await).await.unwrap();
    assert!(capture.drain(Duration::from_millis(500)).await.is_empty(), "nothing should have woken the relay");

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), relay).await.expect("the relay stops").unwrap();
    let got = capture.expect("test.ping.v1", Duration::from_secs(5)).await;
    assert_eq!(got.data_as::<Ping>().unwrap(), Ping { n: 9 });
    let pending = count(&mut conn, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").await;
    assert_eq!(pending, 0);
    env.cleanup(&["events"]).await;
}

/// The trigger skips the notification when a row is already pending ahead (NOTIFY serialises
/// commits database-wide), and the relay, after publishing a batch, keeps polling briefly: a row
/// whose writer skipped the notification and committed just after the relay's batch is still
/// published at once, with the fallback poll a minute away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_committed_while_the_relay_is_busy_needs_no_notification() {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let _shared = BROKER.read().await;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let schema = env.schema("events");
    let mut capture = Capture::bind(&env, &["test.ping.v1"]).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut relay = events::relay::Relay::new(
        pool.clone(),
        &testkit::amqp_url(),
        &env.exchange,
        "test",
        events::broker::BrokerStatus::default(),
    );
    relay.fallback_poll = Duration::from_secs(60);
    let relay = relay.spawn(rx);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Row 1 pending, and nothing woke the relay for it yet.
    let mut first = pool.get().await.unwrap();
    diesel::sql_query("ALTER TABLE outbox DISABLE TRIGGER outbox_notify").execute(&mut first).await.unwrap();
    first.transaction(async |c| events::outbox::enqueue(c, &Ping { n: 1 }).await).await.unwrap();
    diesel::sql_query("ALTER TABLE outbox ENABLE TRIGGER outbox_notify").execute(&mut first).await.unwrap();
    // Row 2's writer sees row 1 pending: no notification (checked on a listening connection).
    let mut listener =
        platform::db_tls::establish(&platform::db::url_with_schema(&testkit::database_url(), &schema)).await.unwrap();
    diesel::sql_query(format!("LISTEN outbox_{schema}")).execute(&mut listener).await.unwrap();
    let mut second = pool.get().await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut second).await.unwrap();
    events::outbox::enqueue(&second, &Ping { n: 2 }).await.unwrap();
    // The notification row 1's writer would have sent: the relay publishes row 1, finds nothing
    // more (row 2 is not committed) and goes on polling for a while.
    diesel::sql_query(format!("NOTIFY outbox_{schema}")).execute(&mut first).await.unwrap();
    let got = capture.expect("test.ping.v1", Duration::from_secs(5)).await;
    assert_eq!(got.data_as::<Ping>().unwrap(), Ping { n: 1 });
    tokio::time::sleep(Duration::from_millis(20)).await;
    diesel::sql_query("COMMIT").execute(&mut second).await.unwrap();
    let got = capture.expect("test.ping.v1", Duration::from_secs(2)).await;
    assert_eq!(got.data_as::<Ping>().unwrap(), Ping { n: 2 });
    let mut heard = std::pin::pin!(listener.notifications_stream());
    let explicit = tokio::time::timeout(Duration::from_secs(2), futures_util::StreamExt::next(&mut heard)).await;
    assert!(matches!(explicit, Ok(Some(Ok(_)))), "the explicit NOTIFY is heard");
    let more = tokio::time::timeout(Duration::from_millis(500), futures_util::StreamExt::next(&mut heard)).await;
    assert!(more.is_err(), "row 2's commit sent no notification: {more:?}");
    stop.send(true).unwrap();
    relay.await.unwrap();
    env.cleanup(&["events"]).await;
}

/// A row written already published (the physical-limit baseline of `make bench` writes a
/// redemption's rows as they stand once relayed) wakes no relay: with a notification, every such
/// commit took PostgreSQL's database-wide NOTIFY lock and the baseline was capped by it. An
/// unpublished row on the same, otherwise empty, outbox still notifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_written_already_published_notifies_no_one() {
    use diesel_async::RunQueryDsl;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let schema = env.schema("events");
    let mut listener =
        platform::db_tls::establish(&platform::db::url_with_schema(&testkit::database_url(), &schema)).await.unwrap();
    diesel::sql_query(format!("LISTEN outbox_{schema}")).execute(&mut listener).await.unwrap();
    let mut heard = std::pin::pin!(listener.notifications_stream());
    let mut conn = pool.get().await.unwrap();
    let insert = |published: &str| {
        format!(
            "INSERT INTO outbox (event_id, event_type, envelope, published_at) \
             VALUES (gen_random_uuid(), 'test.ping.v1', '{{}}', {published})"
        )
    };
    diesel::sql_query(insert("now()")).execute(&mut conn).await.unwrap();
    let got = tokio::time::timeout(Duration::from_millis(500), futures_util::StreamExt::next(&mut heard)).await;
    assert!(got.is_err(), "a published row sent a notification: {got:?}");
    diesel::sql_query(insert("NULL")).execute(&mut conn).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(2), futures_util::StreamExt::next(&mut heard)).await;
    assert!(matches!(got, Ok(Some(Ok(_)))), "a pending row on an idle outbox notifies: {got:?}");
    env.cleanup(&["events"]).await;
}

/// The trigger's look for a pending row ahead goes through the pending index even on a session
/// whose first insert met an empty outbox (where a plan made from its statistics would be a
/// Seq Scan, kept for the session and reading every published row on every later insert).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_check_never_reads_the_published_rows() {
    use diesel_async::RunQueryDsl;
    const PUBLISHED: i64 = 5000;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let schema = env.schema("events");
    diesel::sql_query("ANALYZE outbox").execute(&mut pool.get().await.unwrap()).await.unwrap();
    // A new session: its first insert plans the trigger's statements on an empty outbox.
    let mut conn =
        platform::db_tls::establish(&platform::db::url_with_schema(&testkit::database_url(), &schema)).await.unwrap();
    let insert_pending =
        "INSERT INTO outbox (event_id, event_type, envelope) VALUES (gen_random_uuid(), 'test.ping.v1', '{}')";
    let publish_last = "UPDATE outbox SET published_at = now() WHERE seq = (SELECT max(seq) FROM outbox)";
    diesel::sql_query(insert_pending).execute(&mut conn).await.unwrap();
    diesel::sql_query(publish_last).execute(&mut conn).await.unwrap();
    diesel::sql_query(format!(
        "INSERT INTO outbox (event_id, event_type, envelope, published_at) \
         SELECT gen_random_uuid(), 'test.ping.v1', '{{}}', now() FROM generate_series(1, {PUBLISHED})"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    // This transaction's own reads of the outbox, row by row, as the statistics count them.
    diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
    for _ in 0..5 {
        diesel::sql_query(insert_pending).execute(&mut conn).await.unwrap();
        diesel::sql_query(publish_last).execute(&mut conn).await.unwrap();
    }
    let read = count(
        &mut conn,
        "SELECT seq_tup_read AS n FROM pg_stat_xact_user_tables WHERE schemaname = current_schema() AND relname = 'outbox'",
    )
    .await;
    diesel::sql_query("COMMIT").execute(&mut conn).await.unwrap();
    assert!(read < PUBLISHED, "five inserts read {read} rows sequentially: the notification check scans the outbox");
    env.cleanup(&["events"]).await;
}

/// The trigger's look for a pending row ahead costs the same however many rows were published
/// since the outbox was last vacuumed (events migration 2026-12-22-100001): it reads the pending
/// index backwards from the new row, at most 1,000 sequence numbers deep. Published rows keep
/// their entries in that index until VACUUM; the look it replaced walked all of them from the
/// index's low end on every insert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_check_reads_the_same_few_pages_however_much_was_published() {
    use diesel_async::RunQueryDsl;
    const PUBLISHED: i64 = 20_000;
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let mut conn = pool.get().await.unwrap();
    // Written pending, then published: every row leaves a dead entry in `outbox_pending`.
    for sql in [
        format!(
            "INSERT INTO outbox (event_id, event_type, envelope) \
             SELECT gen_random_uuid(), 'test.ping.v1', '{{}}' FROM generate_series(1, {PUBLISHED})"
        ),
        "UPDATE outbox SET published_at = now() WHERE published_at IS NULL".to_string(),
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    // The pending index's pages read by one insert: its own entry and the trigger's look.
    let insert_pending =
        "INSERT INTO outbox (event_id, event_type, envelope) VALUES (gen_random_uuid(), 'test.ping.v1', '{}')";
    let index_pages = testkit::plan::index_pages(&mut conn, "outbox_pending").await;
    let mut reads = Vec::new();
    for _ in 0..3 {
        reads.push(testkit::plan::index_pages_read(&mut conn, "outbox_pending", insert_pending).await);
        diesel::sql_query("UPDATE outbox SET published_at = now() WHERE published_at IS NULL")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    assert!(index_pages > 40, "the published rows' entries fill {index_pages} pages of the pending index");
    assert!(
        reads.iter().all(|&r| (1..=12).contains(&r)),
        "an insert read {reads:?} pages of the pending index's {index_pages}: the check walks the published rows' entries"
    );
    env.cleanup(&["events"]).await;
}

/// The outbox is vacuumed after a fixed count of published rows, not a fifth of the table (events
/// migration 2026-12-19-200001; docs/scaling.md, hot spot 9): a migration that rebuilt the table
/// would silently drop that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_is_vacuumed_by_count_of_published_rows() {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Options {
        #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
        reloptions: Vec<String>,
    }
    let env = TestEnv::new();
    let pool = pool(&env).await;
    let options =
        diesel::sql_query("SELECT reloptions FROM pg_class WHERE oid = to_regclass(current_schema() || '.outbox')")
            .get_result::<Options>(&mut pool.get().await.unwrap())
            .await
            .unwrap()
            .reloptions;
    for wanted in ["autovacuum_vacuum_scale_factor=0", "autovacuum_vacuum_threshold=10000"] {
        assert!(options.iter().any(|o| o == wanted), "{wanted} missing from the outbox's options {options:?}");
    }
    env.cleanup(&["events"]).await;
}
