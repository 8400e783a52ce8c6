//! `db::Prepared` against the real PostgreSQL: statements diesel sends unprepared (an `UPDATE`, an
//! upsert) become prepared statements of the session, cached by their text, with the same
//! effects; and two texts of one builder (different changesets) stay two statements.

use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::db::PreparedDsl;
use platform::problem::Problem;

diesel::table! {
    counters (id) {
        id -> Int4,
        n -> Int8,
        note -> Nullable<Text>,
    }
}

/// How many of the session's prepared statements contain `fragment`.
async fn prepared_like(conn: &mut AsyncPgConnection, fragment: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%' || $1 || '%'")
        .bind::<diesel::sql_types::Text, _>(fragment)
        .get_result::<N>(conn)
        .await
        .unwrap()
        .n
}

async fn counter(conn: &mut AsyncPgConnection, id: i32) -> (i64, Option<String>) {
    counters::table.find(id).select((counters::n, counters::note)).first(conn).await.unwrap()
}

#[tokio::test]
async fn updates_and_upserts_run_as_prepared_statements_with_the_same_effects() {
    let tables = ["CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL, note text)"];
    let (env, pool) = crate::support::migrated("prepared", 1, &tables).await;
    let mut conn = pool.get().await.unwrap();
    let conn = &mut *conn;
    let upsert = |id: i32, by: i64| {
        diesel::insert_into(counters::table)
            .values((counters::id.eq(id), counters::n.eq(by)))
            .on_conflict(counters::id)
            .do_update()
            .set(counters::n.eq(counters::n + excluded(counters::n)))
    };

    // Diesel's own way: run, but never kept as a prepared statement of the session.
    upsert(1, 5).execute(conn).await.unwrap();
    diesel::update(counters::table.find(1)).set(counters::n.eq(counters::n + 1)).execute(conn).await.unwrap();
    assert_eq!(prepared_like(conn, "counters").await, 0, "diesel prepares neither the upsert nor the update");

    // Wrapped: prepared once, then reused, with the same effects.
    for _ in 0..3 {
        upsert(1, 10).prepared().execute(conn).await.unwrap();
        diesel::update(counters::table.find(1))
            .set(counters::n.eq(counters::n + 1))
            .prepared()
            .execute(conn)
            .await
            .unwrap();
    }
    assert_eq!(counter(conn, 1).await, (5 + 1 + 3 * 11, None));
    assert_eq!(prepared_like(conn, "ON CONFLICT").await, 1, "one upsert statement, reused");
    assert_eq!(prepared_like(conn, "UPDATE \"counters\"").await, 1, "one update statement, reused");

    // A changeset whose text differs (a `Some` note is a column more) is a statement of its own;
    // the `None` one renders the text of the update above and reuses its statement.
    for note in [None, Some("gift"), None, Some("again")] {
        diesel::update(counters::table.find(1))
            .set((counters::n.eq(counters::n + 100), note.map(|v| counters::note.eq(v))))
            .prepared()
            .execute(conn)
            .await
            .unwrap();
    }
    assert_eq!(counter(conn, 1).await, (39 + 400, Some("again".to_string())));
    assert_eq!(prepared_like(conn, "\"note\" = ").await, 1, "the variant with the note");
    assert_eq!(prepared_like(conn, "UPDATE \"counters\"").await, 2, "two update texts, one statement each");

    // RETURNING through the wrapper reads rows as the statement would.
    let n: i64 = upsert(2, 7).returning(counters::n).prepared().get_result(conn).await.unwrap();
    assert_eq!(n, 7);
    let n: i64 = upsert(2, 7).returning(counters::n).prepared().get_result(conn).await.unwrap();
    assert_eq!(n, 14);
    env.cleanup(&["prepared"]).await;
}

/// Rows read sequentially from `counters` by five lookups of a prepared statement whose session
/// first ran it ten times while the table was empty (and analysed so), then saw 5,000 rows added.
async fn rows_scanned_after_the_table_grew(conn: &mut AsyncPgConnection) -> i64 {
    diesel::sql_query("TRUNCATE counters").execute(conn).await.unwrap();
    diesel::sql_query("ANALYZE counters").execute(conn).await.unwrap();
    // Past the custom plans PostgreSQL tries first: from here the session keeps its generic plan.
    for id in 0..10 {
        let none = counters::table.find(id).select(counters::n).first::<i64>(conn).await.optional().unwrap();
        assert!(none.is_none());
    }
    diesel::sql_query("INSERT INTO counters (id, n) SELECT i, i FROM generate_series(1, 5000) AS i")
        .execute(conn)
        .await
        .unwrap();
    diesel::sql_query("BEGIN").execute(conn).await.unwrap();
    // The last rows inserted: a scan stops at its row, so it reads (almost) the whole table.
    for id in 4996..=5000 {
        assert_eq!(counters::table.find(id).select(counters::n).first::<i64>(conn).await.unwrap(), i64::from(id));
    }
    let read = testkit::plan::rows_read_sequentially_in_transaction(conn, "counters").await;
    diesel::sql_query("COMMIT").execute(conn).await.unwrap();
    read
}

/// A pooled session never keeps a plan that reads a table whole where an index serves: a plan
/// settled while the table was empty would otherwise scan every row on every later call, until
/// the next ANALYZE (`make bench`'s first flows after a fresh seed; docs/performance.md, round 15).
/// The same steps on a plain session of the same schema show the plan the pool's setting prevents.
#[tokio::test]
async fn a_pooled_session_keeps_to_the_index_of_a_table_that_grew_after_its_plan() {
    let tables = ["CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL, note text)"];
    let (env, pool) = crate::support::migrated("prepared_growth", 1, &tables).await;
    // The premise, on a fresh plain session per attempt. A kept plan is dropped whenever the
    // session's catalogue caches are reset, which the DDL of tests running beside this one can
    // cause (an overflowing invalidation queue); the re-plan then sees the grown table. So the
    // premise must hold once in a few attempts, not on the first.
    let url = platform::db::url_with_schema(&testkit::database_url(), &env.schema("prepared_growth"));
    let mut unguarded = Vec::new();
    for _ in 0..5 {
        let mut plain = platform::db_tls::establish(&url).await.unwrap();
        unguarded.push(rows_scanned_after_the_table_grew(&mut plain).await);
        if unguarded.last().is_some_and(|&rows| rows >= 5 * 4996) {
            break;
        }
    }
    assert!(
        unguarded.iter().any(|&rows| rows >= 5 * 4996),
        "the premise: a plain session's kept plan scans the grown table (rows per attempt: {unguarded:?})"
    );

    let mut pooled = pool.get().await.unwrap();
    let guarded = rows_scanned_after_the_table_grew(&mut pooled).await;
    assert_eq!(guarded, 0, "a pooled session's kept plan read {guarded} rows one by one");

    // A statement with no index to use still scans, priced above any index path: past
    // `jit_above_cost`, which would compile it to machine code on every run (milliseconds of CPU
    // for a statement of microseconds), were JIT not off in the pool's sessions too.
    let plan = testkit::plan::explain(&mut pooled, "SELECT count(*) FROM counters WHERE note = 'x'", true).await;
    assert!(plan.contains("Seq Scan on counters"), "{plan}");
    assert!(!plan.contains("JIT"), "a pooled session compiled a scan:\n{plan}");

    // What reads a table whole by design (gauges, reports) says so, and scans it instead of
    // walking its primary key; the session's guard is back afterwards (the pool's one connection).
    drop(pooled);
    let total = "SELECT count(*) FROM counters";
    let whole = platform::db::reading_whole_tables(&pool, async |c| {
        Ok::<_, Problem>(testkit::plan::explain(c, total, false).await)
    })
    .await
    .unwrap();
    assert!(whole.contains("Seq Scan on counters"), "{whole}");
    let guarded = testkit::plan::explain(&mut pool.get().await.unwrap(), total, false).await;
    assert!(guarded.contains("counters_pkey") && !guarded.contains("Seq Scan"), "{guarded}");
    env.cleanup(&["prepared_growth"]).await;
}

async fn seqscan_setting(conn: &mut AsyncPgConnection) -> String {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        enable_seqscan: String,
    }
    diesel::sql_query("SHOW enable_seqscan").get_result::<Setting>(conn).await.unwrap().enable_seqscan
}

/// A whole-table read dropped half way (a report whose client went away) hands the pool no
/// connection without the guard: the setting is reset before the connection goes back.
#[tokio::test]
async fn a_whole_table_read_dropped_half_way_leaves_no_unguarded_connection_in_the_pool() {
    let (env, pool) = crate::support::migrated("prepared_dropped", 1, &[]).await;
    let read = platform::db::reading_whole_tables(&pool, async |c| {
        assert_eq!(seqscan_setting(c).await, "on", "the read runs unguarded");
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok::<_, Problem>(())
    });
    assert!(tokio::time::timeout(std::time::Duration::from_millis(500), read).await.is_err(), "the read finished");
    // The pool has one connection: this is the same one, or its replacement.
    let mut next = pool.get().await.unwrap();
    assert_eq!(seqscan_setting(&mut next).await, "off", "the pool handed out a connection without its guard");
    drop(next);
    env.cleanup(&["prepared_dropped"]).await;
}
