//! Two replicas of subscriptions on one schema: a change made through replica A reaches replica
//! B's feature cache through PostgreSQL's notifications, within a bounded time, and still does
//! after B's listener lost its connection.

use crate::support::Stack;
use platform::auth::Role;
use runtime::RunningService;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

const FEATURE: &str = "team.management";
/// The issue's target is a p99 of 50 ms on this machine; the assertion leaves room for a loaded CI
/// runner (every other test of the binary runs beside this one) and the measured numbers print.
const P99_BOUND: Duration = Duration::from_millis(250);
/// One change never takes longer than this to reach the other replica.
const ONE_CHANGE_BOUND: Duration = Duration::from_secs(2);

async fn feature_at(http: &reqwest::Client, svc: &RunningService, user: Uuid, feature: &str) -> Value {
    let token = testkit::internal_token("subscriptions", &user.to_string(), &[Role::Learner]);
    let res = http
        .get(format!("{}/api/features/{feature}", svc.url()))
        .header("x-internal-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn allowed_at(http: &reqwest::Client, svc: &RunningService, user: Uuid) -> bool {
    feature_at(http, svc, user, FEATURE).await["allowed"].as_bool().unwrap()
}

/// Ask `svc` until it answers `allowed`; how long that took.
async fn time_until(http: &reqwest::Client, svc: &RunningService, user: Uuid, allowed: bool) -> Duration {
    let since = Instant::now();
    while allowed_at(http, svc, user).await != allowed {
        assert!(
            since.elapsed() < ONE_CHANGE_BOUND,
            "replica B still answers allowed={} after {ONE_CHANGE_BOUND:?}",
            !allowed
        );
    }
    since.elapsed()
}

/// A counter or gauge of `svc`, by its full series text (`name{labels}`); 0 when absent.
async fn series(svc: &RunningService, series: &str) -> f64 {
    let text = svc.metrics.render().await;
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

/// Give `user` an Enterprise seat of `license`, applied (by either replica's consumer).
async fn seat(s: &Stack, user: Uuid, license: Uuid) {
    s.publish_applied(
        "licensing.seat.activated.v1",
        json!({"seat_id": Uuid::now_v7(), "user_id": user, "license_id": license, "organization_id": Uuid::now_v7(),
               "tier": "enterprise", "seat_number": 1, "expires_at": "2099-01-01T00:00:00Z",
               "activated_at": "2026-01-01T00:00:00Z", "license_version": 1}),
    )
    .await;
}

/// The license's state, written the way the consumer writes it, on replica A's own pool.
async fn set_license(a: &RunningService, license: Uuid, status: &str, version: i64) {
    let mut conn = a.pool.get().await.unwrap();
    subscriptions::store::licenses::set_status(&mut conn, &license.to_string(), status, version).await.unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_replica_a_reaches_replica_b_within_the_notification_lag() {
    let s = Stack::start().await;
    let b = s.start_replica().await;
    let http = &s.http;

    // A cancellation through A's API: B had cached the Pro answer.
    let subscriber = Uuid::now_v7();
    s.subscribe_and_pay(subscriber, "pro", "pm_card_visa").await;
    assert_eq!(feature_at(http, &b, subscriber, "certificates").await["allowed"], true);
    let res = s.post(subscriber, "/api/subscriptions/me/cancel", json!({"at_period_end": false}), None).await;
    assert_eq!(res.status(), 200);
    let since = Instant::now();
    while feature_at(http, &b, subscriber, "certificates").await["allowed"] == true {
        assert!(since.elapsed() < ONE_CHANGE_BOUND, "B still lets a canceled subscriber in");
    }

    // A license suspended and reinstated 200 times, each time through replica A's connection,
    // with B's answer warm in its cache before each change.
    let (member, license) = (Uuid::now_v7(), Uuid::now_v7());
    seat(&s, member, license).await;
    let invalidations_before =
        series(&b, r#"monetization_cache_invalidations_total{cache="features",scope="key"}"#).await;
    let hits_before = series(&b, r#"monetization_cache_lookups_total{cache="features",result="hit"}"#).await;
    let mut staleness = Vec::new();
    for version in 2..202_i64 {
        let suspend = version % 2 == 0;
        assert_eq!(allowed_at(http, &b, member).await, suspend, "B's answer before change {version}");
        set_license(&s.svc, license, if suspend { "suspended" } else { "active" }, version).await;
        staleness.push(time_until(http, &b, member, !suspend).await);
    }
    staleness.sort();
    let (p50, p99, max) = (percentile(&staleness, 0.5), percentile(&staleness, 0.99), staleness[staleness.len() - 1]);
    println!(
        "cross-replica feature cache staleness over {} changes: p50 {p50:?}, p99 {p99:?}, max {max:?}",
        staleness.len()
    );
    assert!(p99 <= P99_BOUND, "p99 {p99:?} over {P99_BOUND:?} (p50 {p50:?}, max {max:?})");
    // B did answer from its cache, and what emptied it was the database's notifications.
    let hits = series(&b, r#"monetization_cache_lookups_total{cache="features",result="hit"}"#).await - hits_before;
    assert!(hits >= 150.0, "B answered only {hits} times from its cache: nothing was measured");
    let heard = series(&b, r#"monetization_cache_invalidations_total{cache="features",scope="key"}"#).await
        - invalidations_before;
    assert!(heard >= 200.0, "B heard {heard} notifications for 200 changes");
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_lost_its_connection_empties_the_cache_and_hears_again() {
    let s = Stack::start().await;
    let b = s.start_replica().await;
    let http = &s.http;
    let (member, license, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    seat(&s, member, license).await;
    assert!(allowed_at(http, &b, member).await);
    assert!(!allowed_at(http, &b, bystander).await);
    let reconnects = series(&b, "monetization_cache_listener_reconnects_total").await;

    // Cut both replicas' listeners, and change the license at once: B may not hear it.
    let channel = platform::invalidation::channel(&s.env.schema("subscriptions"));
    let cut = terminate_sessions(&channel).await;
    assert!(cut >= 2, "found {cut} listener sessions named {channel}");
    set_license(&s.svc, license, "suspended", 2).await;
    testkit::eventually("B's listener back", Duration::from_secs(10), || async {
        let back = series(&b, "monetization_cache_listener_reconnects_total").await > reconnects
            && series(&b, "monetization_cache_listener_connected").await == 1.0;
        back.then_some(())
    })
    .await;
    // Heard or not, the suspension shows, and every other entry was dropped with the rest.
    assert!(!allowed_at(http, &b, member).await, "a notification missed while reconnecting left a stale answer");
    let misses = series(&b, r#"monetization_cache_lookups_total{cache="features",result="miss"}"#).await;
    assert!(!allowed_at(http, &b, bystander).await);
    let after = series(&b, r#"monetization_cache_lookups_total{cache="features",result="miss"}"#).await;
    assert_eq!(after, misses + 1.0, "the reconnected listener emptied the cache");

    // Listening again: the next change through A reaches B's warm cache.
    assert!(!allowed_at(http, &b, member).await);
    set_license(&s.svc, license, "active", 3).await;
    let lag = time_until(http, &b, member, true).await;
    println!("after the reconnect, a change reached replica B in {lag:?}");
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_change_to_a_tiers_features_reaches_every_replica() {
    let s = Stack::start().await;
    let b = s.start_replica().await;
    let http = &s.http;
    let user = Uuid::now_v7();
    // Both replicas hold the tier table and the user's Free answer.
    for svc in [&s.svc, &b] {
        assert_eq!(feature_at(http, svc, user, "beta.reports").await["allowed"], false);
    }
    // Plain SQL, as an operator would run it: no service code involved.
    sql(&format!(
        "INSERT INTO {}.tier_features (tier, feature) VALUES ('free', 'beta.reports')",
        s.env.schema("subscriptions")
    ))
    .await;
    let since = Instant::now();
    for svc in [&s.svc, &b] {
        while feature_at(http, svc, user, "beta.reports").await["allowed"] != true {
            assert!(since.elapsed() < ONE_CHANGE_BOUND, "a replica still answers from the old tier table");
        }
    }
    println!("an operator's tier change reached both replicas in {:?}", since.elapsed());
    b.stop().await;
    s.stop().await;
}

async fn sql(statement: &str) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(&testkit::database_url()).await.unwrap();
    diesel::sql_query(statement).execute(&mut conn).await.unwrap();
}

/// Terminate the database sessions named `application_name`; how many there were.
async fn terminate_sessions(application_name: &str) -> i64 {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(&testkit::database_url()).await.unwrap();
    let count: Count = diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind::<diesel::sql_types::Text, _>(application_name)
    .get_result(&mut conn)
    .await
    .unwrap();
    count.n
}
