//! The retention job against the real PostgreSQL: only expired rows go, in batches, counted per
//! table, and two replicas pruning at once delete each row once.

use diesel_async::RunQueryDsl;
use platform::db::Pool;
use platform::metrics::Metrics;
use platform::retention::{idempotency_rule, Pruner};
use std::time::Duration;

async fn setup() -> (testkit::TestEnv, Pool) {
    crate::support::migrated("retention", 6, &[]).await
}

/// `n` keys created `hours_ago`.
async fn keys(pool: &Pool, prefix: &str, n: usize, hours_ago: i64) {
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query(format!(
        "INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body, created_at) \
         SELECT 's', '{prefix}' || g, 'h', 201, '{{}}', now() - interval '{hours_ago} hours' FROM generate_series(1, {n}) g"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
}

async fn count(pool: &Pool) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query("SELECT count(*) AS n FROM idempotency_keys").get_result::<N>(&mut conn).await.unwrap().n
}

#[tokio::test]
async fn expired_idempotency_keys_are_pruned_in_batches_and_counted() {
    let (env, pool) = setup().await;
    keys(&pool, "old", 7, 49).await;
    keys(&pool, "fresh", 3, 47).await;
    let metrics = Metrics::new();
    let pruner = Pruner::new(pool.clone(), vec![idempotency_rule(Duration::from_secs(48 * 3600))], 2, &metrics);
    assert_eq!(pruner.run_once().await, vec![("idempotency_keys", 7)]);
    assert_eq!(count(&pool).await, 3, "keys younger than 48 hours stay");
    assert_eq!(pruner.run_once().await, vec![("idempotency_keys", 0)]);
    let text = metrics.render().await;
    assert_eq!(
        platform::metrics::sample(&text, "monetization_retention_pruned_rows_total", &[("table", "idempotency_keys")]),
        Some(7.0),
        "{text}"
    );
    env.cleanup(&["retention"]).await;
}

#[tokio::test]
async fn two_replicas_pruning_at_once_delete_each_row_once() {
    let (env, pool) = setup().await;
    keys(&pool, "old", 500, 100).await;
    let metrics = Metrics::new();
    let rule = idempotency_rule(Duration::from_secs(48 * 3600));
    let a = Pruner::new(pool.clone(), vec![rule.clone()], 25, &metrics);
    let b = Pruner::new(pool.clone(), vec![rule], 25, &metrics);
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    assert_eq!(ra[0].1 + rb[0].1, 500, "{ra:?} {rb:?}");
    assert_eq!(count(&pool).await, 0);
    env.cleanup(&["retention"]).await;
}
