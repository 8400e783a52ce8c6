//! The fold job against the real PostgreSQL: it folds on its interval, skips a tick while another
//! replica folds (a waiting run waits for it instead), and folds once more when the service
//! stops, so a replica scaled down leaves no deltas waiting for another one's next tick.

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use platform::db::Pool;
use platform::fold::Fold;
use platform::metrics::Metrics;
use std::time::Duration;

/// Moves every pending row of `deltas` into the one counter row of `counter`.
fn fold_deltas(conn: &mut AsyncPgConnection) -> BoxFuture<'_, diesel::QueryResult<usize>> {
    Box::pin(async move {
        diesel::sql_query(
            "WITH taken AS (DELETE FROM deltas RETURNING delta) \
             UPDATE counter SET total = total + (SELECT coalesce(sum(delta), 0) FROM taken)",
        )
        .execute(conn)
        .await?;
        Ok(1)
    })
}

const TEST_FOLD: Fold = Fold { name: "test_fold", run: fold_deltas };

async fn setup() -> (testkit::TestEnv, Pool) {
    let tables = [
        "CREATE TABLE deltas (id bigserial PRIMARY KEY, delta bigint NOT NULL)",
        "CREATE TABLE counter (total bigint NOT NULL)",
        "INSERT INTO counter VALUES (0)",
    ];
    crate::support::migrated("fold", 4, &tables).await
}

async fn scalar(pool: &Pool, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query(sql).get_result::<N>(&mut conn).await.unwrap().n
}

async fn add(pool: &Pool, delta: i64) {
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query(format!("INSERT INTO deltas (delta) VALUES ({delta})")).execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn a_stopping_replica_folds_what_is_pending_before_it_goes() {
    let (env, pool) = setup().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // An interval no test waits for: only the fold at shutdown can move these.
    let job = TEST_FOLD.spawn(pool.clone(), Duration::from_secs(3600), stopped, Metrics::new().scheduler());
    add(&pool, 3).await;
    add(&pool, 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(scalar(&pool, "SELECT total AS n FROM counter").await, 0, "folded before its interval");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), job).await.expect("the fold job stops").unwrap();
    assert_eq!(scalar(&pool, "SELECT total AS n FROM counter").await, 7);
    assert_eq!(scalar(&pool, "SELECT count(*) AS n FROM deltas").await, 0);
    env.cleanup(&["fold"]).await;
}

#[tokio::test]
async fn a_fold_skips_while_another_replica_folds_a_waiting_one_waits_and_the_job_runs_on_its_interval() {
    let (env, pool) = setup().await;
    add(&pool, 5).await;
    // Another replica holds the fold's lock: this run skips, folding nothing.
    let mut other = pool.get().await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut other).await.unwrap();
    assert!(TEST_FOLD.lock(&mut other, false).await.unwrap());
    assert_eq!(TEST_FOLD.run_once(&pool).await, Ok(0));
    assert_eq!(scalar(&pool, "SELECT total AS n FROM counter").await, 0);
    // A fold that must see every delta waits for the other one instead, then folds.
    let waiting = tokio::spawn({
        let pool = pool.clone();
        async move { TEST_FOLD.run_waiting_on(&mut pool.get().await.unwrap()).await.map_err(|e| e.to_string()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the waiting fold ran while another replica held the lock");
    diesel::sql_query("COMMIT").execute(&mut other).await.unwrap();
    drop(other);
    assert_eq!(waiting.await.unwrap(), Ok(1));
    assert_eq!(scalar(&pool, "SELECT total AS n FROM counter").await, 5);
    // On its interval it folds.
    add(&pool, 6).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let job = TEST_FOLD.spawn(pool.clone(), Duration::from_millis(20), stopped, Metrics::new().scheduler());
    testkit::eventually("the fold on its interval", Duration::from_secs(10), || async {
        (scalar(&pool, "SELECT total AS n FROM counter").await == 11).then_some(())
    })
    .await;
    stop.send(true).unwrap();
    job.await.unwrap();
    env.cleanup(&["fold"]).await;
}

#[tokio::test]
async fn a_fold_in_another_schema_of_the_same_database_does_not_hold_this_one_up() {
    let (env, pool) = setup().await;
    let (other_env, other_pool) = setup().await;
    add(&pool, 2).await;
    // The other deployment's fold holds its lock (advisory locks are database-wide).
    let mut other = other_pool.get().await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut other).await.unwrap();
    assert!(TEST_FOLD.lock(&mut other, false).await.unwrap());
    assert_eq!(TEST_FOLD.run_once(&pool).await, Ok(1), "this schema's fold skipped for another schema's");
    assert_eq!(scalar(&pool, "SELECT total AS n FROM counter").await, 2);
    diesel::sql_query("COMMIT").execute(&mut other).await.unwrap();
    drop(other);
    env.cleanup(&["fold"]).await;
    other_env.cleanup(&["fold"]).await;
}
