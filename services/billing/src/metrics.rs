//! Billing's own metrics: Stripe calls (through the client's observer), webhooks by result,
//! payment outcomes by decline code, and payment totals from the database.

use platform::metrics::{CounterVec, Metrics};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct BillingMetrics {
    /// Webhooks by result: applied, ignored, duplicate, refused (facts disagree), bad_signature,
    /// stale, not_yet_recorded, error.
    pub webhooks: CounterVec,
    /// Payment outcomes applied from Stripe's notifications: succeeded / failed, with the decline code.
    pub payments: CounterVec,
    /// Rows the reconcile job re-read from Stripe, by kind (payment, refunds) and result
    /// (applied: a lost webhook made good; unchanged; failed).
    pub reconciliations: CounterVec,
}

impl BillingMetrics {
    pub fn new(metrics: &Metrics, pool: &platform::db::Pool, every: Duration) -> Self {
        metrics.gauge_from_query(
            pool,
            every,
            ("monetization_billing_payments", "Payments recorded, by status and currency", &["status", "currency"]),
            "SELECT status AS l1, currency AS l2, count(*)::float8 AS value FROM payments GROUP BY 1, 2",
        );
        metrics.gauge_from_query(
            pool,
            every,
            (
                "monetization_billing_captured_amount",
                "Money captured net of refunds, by currency (major units)",
                &["currency"],
            ),
            "SELECT currency AS l1, '' AS l2, sum(amount - amount_refunded)::float8 AS value \
             FROM payments WHERE status = 'succeeded' GROUP BY 1",
        );
        let billing = Self {
            webhooks: metrics.counter(
                "monetization_billing_webhooks",
                "Stripe webhooks received, by result",
                &["result"],
            ),
            payments: metrics.counter(
                "monetization_billing_payment_outcomes",
                "Payment outcomes applied from Stripe (succeeded, failed), failed ones by decline code",
                &["outcome", "decline_code"],
            ),
            reconciliations: metrics.counter(
                "monetization_billing_reconciliations",
                "Payments and refunds re-read from Stripe by the reconcile job, by kind and result",
                &["kind", "result"],
            ),
        };
        // Every (kind, result) of a reconcile pass exported at 0 from the start (the labels
        // `reconcile::settle` uses), so the first webhook the job has to make up for is a rate.
        for kind in ["payment", "refunds"] {
            for result in ["applied", "unchanged", "failed"] {
                billing.reconciliations.inc_by(&[kind, result], 0);
            }
        }
        billing
    }

    /// Counts every Stripe call the client makes by operation and outcome, with its latency.
    pub fn stripe_observer(metrics: &Metrics) -> stripe::Observer {
        let calls = metrics.counter(
            "monetization_billing_stripe_requests",
            "Stripe API calls (retries included in one call), by operation and outcome",
            &["operation", "outcome"],
        );
        let latency = metrics.histogram(
            "monetization_billing_stripe_request_duration_seconds",
            "Stripe API call latency, retries included, by operation",
            &["operation"],
        );
        Arc::new(move |operation, outcome, took| {
            calls.inc(&[operation, outcome]);
            latency.observe(&[operation], took.as_secs_f64());
        })
    }

    /// Count a payment's outcome once its notification is applied.
    pub fn payment_outcome(&self, intent: &stripe::PaymentIntent) {
        match (&intent.status, &intent.last_payment_error) {
            (stripe::PaymentIntentStatus::Succeeded, _) => self.payments.inc(&["succeeded", ""]),
            (_, Some(error)) => {
                let code = error.decline_code.as_deref().or(error.code.as_deref()).unwrap_or("unknown");
                self.payments.inc(&["failed", bounded_code(code)]);
            }
            _ => {}
        }
    }
}

/// Stripe's codes are lower-case words; anything else is not a code and must not become a series.
fn bounded_code(code: &str) -> &str {
    if code.len() <= 48 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        code
    } else {
        "other"
    }
}

/// The result label of a refused webhook.
pub fn refusal(e: &stripe::WebhookError) -> &'static str {
    match e {
        stripe::WebhookError::TimestampOutsideTolerance { .. } => "stale",
        stripe::WebhookError::InvalidPayload(_) => "invalid_payload",
        _ => "bad_signature",
    }
}
