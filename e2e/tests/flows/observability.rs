//! Metrics with live values: a purchase through the gateway, then each process's own `/metrics`
//! listener shows it (request counters by route template, outbox, consumers, Stripe, webhooks,
//! business gauges), and the gateway never routes `/metrics`.

use crate::support::*;
use platform::metrics::sample;

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(text, name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_shows_in_every_services_metrics() {
    let p = Platform::start().await;
    let instructor = User::instructor();
    let learner = User::learner();
    let course = p.publish_course(&instructor, &format!("{} metrics", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);
    p.buy(&learner, &course_id).await;
    // A refused token, for the gateway's JWT failure counter.
    let refused = reqwest::Client::new()
        .get(p.url("/api/tokens/balance"))
        .header("Authorization", "Bearer not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // The gateway routes /api/** only: its metrics are on the metrics port, never the API port.
    for path in ["/metrics", "/api/metrics", "/api/billing/metrics"] {
        let res = reqwest::Client::new().get(p.url(path)).send().await.unwrap();
        let body = res.text().await.unwrap_or_default();
        assert!(!body.contains("# TYPE"), "{path} served metrics through the gateway");
    }

    let gw = p.metrics("gateway").await;
    let seen = [("http_route", "/api/courses"), ("http_request_method", "POST")];
    assert!(value(&gw, "http_server_request_duration_seconds_count", &seen) >= 1.0);
    assert!(
        value(&gw, "monetization_gateway_upstream_requests_total", &[("service", "marketplace"), ("outcome", "2xx")])
            >= 1.0
    );
    assert!(value(&gw, "monetization_gateway_jwt_failures_total", &[("reason", "malformed")]) >= 1.0);

    // Billing: the Stripe call, the webhook applied, the payment outcome.
    let billing = p.metrics("billing").await;
    let create = [("operation", "POST payment_intents"), ("outcome", "ok")];
    assert!(value(&billing, "monetization_billing_stripe_requests_total", &create) >= 1.0);
    assert!(value(&billing, "monetization_billing_webhooks_total", &[("result", "applied")]) >= 1.0);
    assert!(value(&billing, "monetization_billing_payment_outcomes_total", &[("outcome", "succeeded")]) >= 1.0);
    assert!(value(&billing, "monetization_billing_payments", &[("status", "succeeded"), ("currency", "USD")]) >= 1.0);
    let succeeded = [("event_type", "billing.payment.succeeded.v1"), ("result", "confirmed")];
    assert!(value(&billing, "monetization_outbox_published_total", &succeeded) >= 1.0);
    assert!(billing.contains("db_pool_connections{"), "{billing}");
    assert!(billing.contains("monetization_outbox_oldest_pending_age_seconds "), "{billing}");

    // Marketplace: the request by route TEMPLATE, the event consumed, the business gauges.
    let market = p.metrics("marketplace").await;
    let purchase = [("http_route", "/api/courses/purchase"), ("http_request_method", "POST")];
    assert!(value(&market, "http_server_request_duration_seconds_count", &purchase) >= 1.0);
    let consumed = [("event_type", "billing.payment.succeeded.v1"), ("outcome", "ok")];
    assert!(value(&market, "monetization_events_consumed_total", &consumed) >= 1.0);
    assert!(value(&market, "monetization_event_handler_duration_seconds_count", &consumed[..1]) >= 1.0);
    assert!(value(&market, "monetization_marketplace_purchases", &[("status", "completed")]) >= 1.0);
    assert!(value(&market, "monetization_marketplace_gmv", &[("currency", "USD")]) >= 20.0);
    assert_eq!(value(&market, "monetization_queue_messages", &[("kind", "dlq")]), 0.0);
    let purchased = [("event_type", "marketplace.course.purchased.v1"), ("result", "confirmed")];
    assert!(value(&market, "monetization_outbox_published_total", &purchased) >= 1.0);
    assert!(!market.contains(&course_id) && !market.contains(&learner.id.to_string()), "ids must never become labels");

    // Rewards: the purchase event consumed, the tokens on the books.
    let rewards = p.metrics("rewards").await;
    let consumed = [("event_type", "marketplace.course.purchased.v1"), ("outcome", "ok")];
    assert!(value(&rewards, "monetization_events_consumed_total", &consumed) >= 1.0);
    assert!(value(&rewards, "monetization_rewards_tokens_outstanding", &[]) > 0.0);

    // Caches: the same catalogue page, feature answer and board twice; the first read loads
    // (a miss), the second is served from memory (a hit).
    for _ in 0..2 {
        assert_eq!(p.get(None, "/api/courses/list?q=metricscache").await.status, 200);
        assert_eq!(p.get(Some(&learner), "/api/features/course_creation").await.status, 200);
        assert_eq!(p.get(Some(&learner), "/api/leaderboard/global").await.status, 200);
    }
    let market = p.metrics("marketplace").await;
    let lookups = "monetization_cache_lookups_total";
    assert!(value(&market, lookups, &[("cache", "catalog"), ("result", "miss")]) >= 1.0);
    assert!(value(&market, lookups, &[("cache", "catalog"), ("result", "hit")]) >= 1.0);
    let rewards = p.metrics("rewards").await;
    assert!(value(&rewards, lookups, &[("cache", "leaderboard"), ("result", "miss")]) >= 1.0);
    let age = value(&rewards, "monetization_rewards_leaderboard_snapshot_age_seconds", &[("board", "global")]);
    assert!((0.0..60.0).contains(&age), "snapshot age {age}");
    let subs = p.metrics("subscriptions").await;
    assert!(value(&subs, lookups, &[("cache", "features"), ("result", "miss")]) >= 1.0);
    assert!(value(&subs, lookups, &[("cache", "features"), ("result", "hit")]) >= 1.0);
    assert!(value(&subs, lookups, &[("cache", "tiers"), ("result", "miss")]) >= 1.0);

    // The two services this flow does not touch still serve their families.
    assert!(subs.contains("monetization_outbox_pending "), "{subs}");
    let licensing = p.metrics("licensing").await;
    let ran = value(&licensing, "monetization_scheduler_last_success_timestamp_seconds", &[("scheduler", "licensing")]);
    assert!(ran > 1.7e9, "the licensing scheduler has run: {ran}");
    p.stop().await;
}
