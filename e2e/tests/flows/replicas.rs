//! Exactly-once effects at two replicas: every service runs twice (same schema, same queue, same
//! clock) behind two gateways, so both replicas' relays, consumers and schedulers race for the
//! same work. Each effect must happen once — one charge per renewal, one expiry per license, one
//! token award per purchase — and the work must be shared, not done by one replica while the
//! other idles. Which replica did what is read from each process's own metrics registry.

use crate::subscription::{me, period_end, subscribe};
use crate::support::{str_of, unique_word, Platform, User};
use chrono::Duration;
use platform::metrics::sample;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// `name{labels}` in each replica of `service`, in replica order (0 where absent).
async fn per_replica(p: &Platform, service: &str, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    let mut values = Vec::new();
    for replica in p.replicas_of(service) {
        values.push(sample(&replica.metrics.render().await, name, labels).unwrap_or(0.0));
    }
    values
}

fn both_did_some(what: &str, split: &[f64]) {
    assert_eq!(split.len(), 2, "{what}: two replicas");
    assert!(split.iter().all(|n| *n > 0.0), "{what}: one replica did all the work: {split:?}");
}

/// How many distinct events (envelopes) of `event_type` each value of `field` has.
fn per_key(p: &Platform, event_type: &str, field: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in p.events.distinct(event_type, |_| true) {
        *counts.entry(e.data[field].as_str().unwrap_or_default().to_string()).or_insert(0) += 1;
    }
    counts
}

/// Let both replicas' schedulers and consumers run many more rounds: a second effect of anything
/// already done would show after this.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
}

const SCHEDULER_ITEMS: &str = "monetization_scheduler_items_total";
const CONSUMED: &str = "monetization_events_consumed_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_at_two_replicas_award_tokens_once_each_and_both_consumers_share_them() {
    let p = Platform::start_replicated(2).await;
    let instructor = User::instructor();
    let course = p.publish_course(&instructor, &format!("{} replicas", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    let buyers: Vec<User> = (0..8).map(|_| User::learner()).collect();
    for buyer in &buyers {
        p.buy(buyer, &course_id).await;
    }
    settle().await;
    for buyer in &buyers {
        assert_eq!(p.owned(buyer, &course_id).await.len(), 1, "one purchase, one access");
        assert_eq!(p.transactions(buyer, "earn").await.len(), 1, "one token credit per purchase");
    }
    let awards = per_key(&p, "rewards.tokens.awarded.v1", "user_id");
    assert_eq!(awards.len(), buyers.len());
    assert!(awards.values().all(|n| *n == 1), "an award published twice: {awards:?}");
    let purchased = per_key(&p, "marketplace.course.purchased.v1", "purchase_id");
    assert_eq!(purchased.len(), buyers.len());
    assert!(purchased.values().all(|n| *n == 1), "a purchase announced twice: {purchased:?}");

    // Competing consumers: RabbitMQ hands the purchases to both rewards replicas.
    let consumed = [("event_type", "marketplace.course.purchased.v1"), ("outcome", "ok")];
    let split = per_replica(&p, "rewards", CONSUMED, &consumed).await;
    both_did_some("rewards consuming purchases", &split);
    assert_eq!(split.iter().sum::<f64>(), buyers.len() as f64, "each purchase event handled once: {split:?}");
    let succeeded = [("event_type", "billing.payment.succeeded.v1"), ("outcome", "ok")];
    both_did_some("marketplace consuming payments", &per_replica(&p, "marketplace", CONSUMED, &succeeded).await);

    // The harness itself: both gateways forwarded calls, both replicas answered them.
    for gw in p.gateways() {
        let text = testkit::http().get(gw.metrics_url().unwrap()).send().await.unwrap().text().await.unwrap();
        let forwarded = [("service", "rewards"), ("outcome", "2xx")];
        assert!(sample(&text, "monetization_gateway_upstream_requests_total", &forwarded).unwrap_or(0.0) > 0.0);
    }
    let balance =
        [("http_route", "/api/tokens/balance"), ("http_request_method", "GET"), ("http_response_status_code", "200")];
    both_did_some(
        "rewards answering balances",
        &per_replica(&p, "rewards", "http_server_request_duration_seconds_count", &balance).await,
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_at_two_replicas_charge_each_subscription_once_and_both_schedulers_share_them() {
    let p = Platform::start_replicated(2).await;
    let mut subscribed = Vec::new();
    for _ in 0..12 {
        let user = User::learner();
        let m = subscribe(&p, &user, "pro", "pm_card_visa").await;
        subscribed.push((user, m));
    }
    let ids: BTreeSet<String> = subscribed.iter().map(|(_, m)| str_of(&m["subscription"]["id"])).collect();
    let last_end = subscribed.iter().map(|(_, m)| period_end(m)).max().unwrap();

    // Every subscription falls due at once; both replicas' schedulers see all of them.
    p.subscriptions_clock.set(last_end + Duration::seconds(1));
    p.eventually("every subscription renewed", || async {
        let renewed = per_key(&p, "subscriptions.subscription.renewed.v1", "subscription_id");
        (ids.iter().all(|id| renewed.contains_key(id))).then_some(())
    })
    .await;
    settle().await;

    let renewed = per_key(&p, "subscriptions.subscription.renewed.v1", "subscription_id");
    assert_eq!(renewed.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(renewed.values().all(|n| *n == 1), "a renewal announced twice: {renewed:?}");
    // Stripe saw one first payment and one renewal per subscription, nothing more.
    let intents = p.fake.payment_intents();
    let paid = intents.iter().filter(|pi| pi["status"] == "succeeded").count();
    assert_eq!(paid, 2 * ids.len(), "charges at Stripe: {intents:#?}");
    assert_eq!(intents.len(), 2 * ids.len(), "no renewal charge was even attempted twice");
    for (user, before) in &subscribed {
        let after = me(&p, user).await;
        assert_eq!(after["subscription"]["status"], "active");
        let (from, to) = (period_end(before), period_end(&after));
        assert!(to > from && to < from + Duration::days(32), "one period added: {from} -> {to}");
    }
    let split = per_replica(&p, "subscriptions", SCHEDULER_ITEMS, &[("scheduler", "renewals")]).await;
    both_did_some("renewals", &split);
    // Each renewal taken by one replica: none charged again by the other while billing answered.
    assert_eq!(split.iter().sum::<f64>(), ids.len() as f64, "renewals handled per replica: {split:?}");
    println!("renewals per subscriptions replica: {split:?}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licenses_at_two_replicas_expire_once_each() {
    let p = Platform::start_replicated(2).await;
    let admin = User::admin();
    let now = platform::clock::Clock::now(&p.licensing_clock);
    // Each license expires an hour after the previous one: the clock then moves an hour at a
    // time, so every expiry is a separate round that either replica may take.
    let mut licenses = Vec::new();
    for i in 1..=8 {
        let suffix = &Uuid::new_v4().simple().to_string()[..10];
        let body = json!({
            "organization": {"name": format!("Replica {suffix}"), "domain": format!("r-{suffix}.example.com")},
            "seats": 2,
            "tier": "enterprise",
            "starts_at": now - Duration::hours(1),
            "expires_at": now + Duration::hours(i),
        });
        let created = p.post_key(&admin, "/api/enterprise/licenses/create", body, &Uuid::new_v4().to_string()).await;
        assert_eq!(created.status, 201, "{}", created.body);
        licenses.push(str_of(&created.body["id"]));
    }
    let expired_of = |p: &Platform| per_key(p, "licensing.license.expired.v1", "license_id");
    for (i, license) in licenses.iter().enumerate() {
        p.licensing_clock.set(now + Duration::hours(i as i64 + 1) + Duration::seconds(1));
        p.eventually(&format!("license {license} expired"), || async {
            expired_of(&p).contains_key(license).then_some(())
        })
        .await;
    }
    settle().await;
    let expired = expired_of(&p);
    assert_eq!(expired.keys().cloned().collect::<BTreeSet<_>>(), licenses.iter().cloned().collect());
    assert!(expired.values().all(|n| *n == 1), "a license expired twice: {expired:?}");
    let split = per_replica(&p, "licensing", SCHEDULER_ITEMS, &[("scheduler", "licensing")]).await;
    assert_eq!(split.iter().sum::<f64>(), licenses.len() as f64, "each expiry applied by one replica: {split:?}");
    println!("license expiries per licensing replica: {split:?}");
    p.stop().await;
}
