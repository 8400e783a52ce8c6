use crate::support::Stack;
use chrono::{DateTime, Utc};
use events::catalog::licensing::{LicenseReinstated, LicenseSuspended, SeatActivated, SeatReleaseReason, SeatReleased};
use events::catalog::rewards::TokensRedeemed;
use events::catalog::DomainEvent;
use events::CloudEvent;
use platform::clock::Clock;
use serde_json::json;
use uuid::Uuid;

/// The envelope as the producing service publishes it (its typed catalog entry, so the payload is
/// the contract's).
fn envelope<E: DomainEvent>(event: &E) -> CloudEvent {
    CloudEvent::new(event, None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_events_change_the_answer_at_once() {
    let s = Stack::start().await;
    let user = Uuid::now_v7();
    let (license, org, seat) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let now = Utc::now();
    let expires_at: DateTime<Utc> = "2099-01-01T00:00:00Z".parse().unwrap();
    // Cache a Free answer first: the seat must not wait for the cache to expire.
    assert_eq!(s.feature(user, "team.management").await["allowed"], false);
    let activated = envelope(&SeatActivated {
        seat_id: seat,
        user_id: user,
        license_id: license,
        organization_id: org,
        tier: "enterprise".into(),
        seat_number: 1,
        expires_at,
        activated_at: now,
        license_version: 1,
    });
    testkit::bus::publish_raw(&s.env, &activated).await;
    let f = s.wait_feature(user, "team.management", true).await;
    assert_eq!(f["source"], "license");
    assert_eq!(f["tier"], "enterprise");
    // Redelivery changes nothing.
    testkit::bus::publish_raw(&s.env, &activated).await;
    // A suspended license pauses its members' Enterprise features; reinstatement resumes them.
    let suspended = LicenseSuspended {
        license_id: license,
        organization_id: org,
        tier: "enterprise".into(),
        reason: Some("unpaid".into()),
        suspended_at: now,
        license_version: 2,
    };
    testkit::bus::publish_raw(&s.env, &envelope(&suspended)).await;
    s.wait_feature(user, "team.management", false).await;
    let reinstated = LicenseReinstated {
        license_id: license,
        organization_id: org,
        tier: "enterprise".into(),
        expires_at,
        reinstated_at: now,
        license_version: 3,
    };
    testkit::bus::publish_raw(&s.env, &envelope(&reinstated)).await;
    s.wait_feature(user, "team.management", true).await;
    let released = envelope(&SeatReleased {
        seat_id: seat,
        user_id: user,
        license_id: license,
        organization_id: org,
        reason: SeatReleaseReason::ReleasedByUser,
        released_at: now,
        license_version: 4,
    });
    testkit::bus::publish_raw(&s.env, &released).await;
    let f = s.wait_feature(user, "team.management", false).await;
    assert_eq!(f["tier"], "free");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_changes_the_answer_at_once_and_a_redeemed_month_gives_pro() {
    let s = Stack::start().await;
    let user = Uuid::now_v7();
    s.subscribe_and_pay(user, "pro", "pm_card_visa").await;
    assert_eq!(s.feature(user, "certificates").await["allowed"], true);
    let res = s.post(user, "/api/subscriptions/me/cancel", json!({"at_period_end": false}), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(s.feature(user, "certificates").await["allowed"], false, "no stale window after our own change");

    let redeemed = |item: &str| {
        envelope(&TokensRedeemed {
            redemption_id: Uuid::now_v7(),
            user_id: user,
            item: item.into(),
            cost: 500,
            transaction_id: Uuid::now_v7(),
            balance_after: 0,
            redeemed_at: Utc::now(),
        })
    };
    // A course voucher is not subscriptions' concern: settled without a transaction or inbox row.
    let voucher = redeemed("course_voucher");
    testkit::bus::publish_raw(&s.env, &voucher).await;
    let pro_month = redeemed("pro_month");
    testkit::bus::publish_raw(&s.env, &pro_month).await;
    let f = s.wait_feature(user, "certificates", true).await;
    assert_eq!(f["source"], "reward");
    let consumed = events::metrics::EventMetrics::new(&s.svc.metrics).consumed;
    testkit::eventually("the voucher's redemption settled as ignored", std::time::Duration::from_secs(15), || async {
        (consumed.get(&["rewards.tokens.redeemed.v1", events::metrics::outcome::IGNORED]) == 1).then_some(())
    })
    .await;
    assert!(!s.in_inbox(voucher.id).await, "a course voucher's redemption left a row in subscriptions' inbox");
    assert!(s.in_inbox(pro_month.id).await, "the Pro month's redemption was applied through the inbox");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_services_check_features_in_batch_and_users_cannot() {
    let s = Stack::start().await;
    let user = Uuid::now_v7();
    s.subscribe_and_pay(user, "pro", "pm_card_visa").await;
    let url = format!("{}/internal/features/check", s.svc.url());
    let body = json!({"user_id": user, "features": ["certificates", "analytics"]});
    let res = s
        .http
        .post(&url)
        .header("x-internal-token", testkit::service_token("marketplace", "subscriptions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(answer["data"][0]["allowed"], true);
    assert_eq!(answer["data"][1]["allowed"], false);
    let as_user = s.post(user, "/internal/features/check", body, None).await;
    assert_eq!(as_user.status(), 403);
    s.stop().await;
}

/// A seat ends with its license's end, with no write at all: the cached answer must not outlive
/// it (the cache keeps an answer until the nearest grant boundary when that is sooner than its TTL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_answer_does_not_outlive_the_grant_behind_it() {
    let s = Stack::start().await;
    let (user, license) = (Uuid::now_v7(), Uuid::now_v7());
    let start = s.clock.now();
    let end = start + chrono::Duration::seconds(1);
    s.publish_applied(
        "licensing.seat.activated.v1",
        serde_json::to_value(SeatActivated {
            seat_id: Uuid::now_v7(),
            user_id: user,
            license_id: license,
            organization_id: Uuid::now_v7(),
            tier: "enterprise".into(),
            seat_number: 1,
            expires_at: end,
            activated_at: start,
            license_version: 1,
        })
        .unwrap(),
    )
    .await;
    let f = s.feature(user, "team.management").await;
    assert_eq!(f["allowed"], true, "{f}");
    // The seat's end passes (on the service's clock and in real time): no event, no write.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    s.clock.set(end + chrono::Duration::seconds(1));
    let f = s.feature(user, "team.management").await;
    assert_eq!(f["allowed"], false, "the answer cached before the seat ended was served after it: {f}");
    assert_eq!(f["tier"], "free");
    s.stop().await;
}

/// A feature check that misses the cache reads the user's latest subscription: by an index on the
/// user, never the whole table (it did until `subscriptions_by_user`: 2 ms per check at 20,000
/// subscriptions in `make bench`, linear in the table; docs/performance.md, round 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_latest_subscription_is_found_by_index() {
    let s = Stack::start().await;
    let mut conn = s.svc.pool.get().await.unwrap();
    // The statement `store::subscriptions::latest` sends.
    let plan = testkit::plan::index_plan(
        &mut conn,
        &format!("SELECT id FROM subscriptions WHERE user_id = '{}' ORDER BY created_at DESC LIMIT 1", Uuid::now_v7()),
    )
    .await;
    assert!(plan.contains("subscriptions_by_user"), "the latest subscription is not read by its index:\n{plan}");
    assert!(!plan.contains("Sort"), "the index does not give the order either:\n{plan}");
    drop(conn);
    s.stop().await;
}
