//! Two replicas' schedulers on the same due renewals, with billing slow to answer: a renewal out
//! at billing is leased to the replica that sent it, so the other one does not charge it again.

use crate::support::Stack;
use chrono::{DateTime, Duration, Utc};
use platform::metrics::sample;
use serde_json::Value;
use std::time::Duration as StdDuration;
use uuid::Uuid;

fn period_end(me: &Value) -> DateTime<Utc> {
    me["subscription"]["current_period_end"].as_str().unwrap().parse().unwrap()
}

async fn renewals_handled(replica: &runtime::RunningService) -> f64 {
    let text = replica.metrics.render().await;
    sample(&text, "monetization_scheduler_items_total", &[("scheduler", "renewals")]).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_out_at_billing_is_not_taken_again_by_the_other_replica() {
    let s = Stack::start().await;
    let second = s.start_replica().await;
    let users: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let mut ends = Vec::new();
    for user in &users {
        ends.push(period_end(&s.subscribe_and_pay(*user, "pro", "pm_card_visa").await));
    }
    // Every Stripe call of the renewals takes 600 ms: each renewal is out at billing while the
    // other replica's scheduler (every 100 ms) comes round several times.
    s.fake.delay_next(4 * users.len(), StdDuration::from_millis(600));
    s.clock.set(*ends.iter().max().unwrap() + Duration::seconds(1));
    for (user, end) in users.iter().zip(&ends) {
        testkit::eventually("the renewal", StdDuration::from_secs(30), || async {
            (period_end(&s.me(*user).await) > *end).then_some(())
        })
        .await;
    }
    // Both schedulers go on ticking for a while: nothing is due any more.
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let split = [renewals_handled(&s.svc).await, renewals_handled(&second).await];
    assert_eq!(split.iter().sum::<f64>(), users.len() as f64, "each renewal handled by one replica: {split:?}");
    let paid = s.fake.payment_intents().iter().filter(|pi| pi["status"] == "succeeded").count();
    assert_eq!(paid, 2 * users.len(), "one first payment and one renewal each");
    s.fake.clear_faults();
    second.stop().await;
    s.stop().await;
}
