//! The gateway's own families: upstream calls by service and outcome, JWT refusals by reason,
//! rate-limit refusals by limiter. The HTTP server families come from `platform::metrics`.

use platform::metrics::{CounterVec, HistogramVec, Metrics};

#[derive(Clone)]
pub struct GatewayMetrics {
    pub upstream: CounterVec,
    pub upstream_duration: HistogramVec,
    pub failovers: CounterVec,
    pub jwt_failures: CounterVec,
    pub rate_limited: CounterVec,
}

impl GatewayMetrics {
    pub fn new(metrics: &Metrics) -> Self {
        let gateway = Self {
            upstream: metrics.counter(
                "monetization_gateway_upstream_requests",
                "Requests forwarded, by service and outcome (2xx, 3xx, 4xx, 5xx, timeout, unavailable)",
                &["service", "outcome"],
            ),
            upstream_duration: metrics.histogram(
                "monetization_gateway_upstream_duration_seconds",
                "Time until the upstream's answer headers, by service",
                &["service"],
            ),
            failovers: metrics.counter(
                "monetization_gateway_upstream_failovers",
                "Calls moved to the next replica of a service because one refused the connection",
                &["service"],
            ),
            jwt_failures: metrics.counter(
                "monetization_gateway_jwt_failures",
                "Client tokens refused, by reason",
                &["reason"],
            ),
            rate_limited: metrics.counter(
                "monetization_gateway_rate_limited",
                "Requests answered 429, by limiter (ip, user, expensive)",
                &["limiter"],
            ),
        };
        // Every limiter exported at 0 from the start: a first 429 is then a rate, not a series
        // appearing out of nothing (which rate() and the dashboards would miss).
        for limiter in ["ip", "user", "expensive"] {
            gateway.rate_limited.inc_by(&[limiter], 0);
        }
        // And every refusal reason: a first forged or expired token is a rate too.
        for reason in JWT_REASONS.iter().map(|(_, r)| *r).chain([JWT_OTHER]) {
            gateway.jwt_failures.inc_by(&[reason], 0);
        }
        // The same for failovers, per service: the first refused replica shows as a rate.
        for service in crate::route_table::services() {
            gateway.failovers.inc_by(&[service], 0);
        }
        gateway
    }
}

/// A bounded reason for a refused token, from the verifier's fixed messages (the label never
/// carries anything the client wrote).
pub fn jwt_reason(message: &str) -> &'static str {
    JWT_REASONS.iter().find(|(needle, _)| message.contains(needle)).map(|(_, r)| *r).unwrap_or(JWT_OTHER)
}

/// (what the verifier's message contains, the reason label); first match wins.
const JWT_REASONS: &[(&str, &str)] = &[
    ("malformed", "malformed"),
    ("algorithm is not accepted", "algorithm"),
    ("does not match", "algorithm"),
    ("no kid", "unknown_key"),
    ("unknown signing key", "unknown_key"),
    ("expired", "expired"),
    ("not yet valid", "not_yet_valid"),
    ("wrong issuer", "issuer"),
    ("wrong audience", "audience"),
    ("bad signature", "signature"),
    ("missing a required claim", "missing_claim"),
    ("sub must be", "subject"),
    ("Bearer", "malformed"),
];
/// The reason of a message none of [`JWT_REASONS`] matches.
const JWT_OTHER: &str = "invalid";

/// The outcome label of an upstream answer.
pub fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_bounded_words() {
        assert_eq!(jwt_reason("token rejected: expired"), "expired");
        assert_eq!(jwt_reason("unknown signing key"), "unknown_key");
        assert_eq!(jwt_reason("something a client made up"), "invalid");
    }

    #[tokio::test]
    async fn every_refusal_reason_is_exported_at_zero_before_the_first() {
        let metrics = Metrics::new();
        GatewayMetrics::new(&metrics);
        let text = metrics.render().await;
        for reason in ["malformed", "algorithm", "unknown_key", "expired", "signature", "invalid"] {
            let series = format!("monetization_gateway_jwt_failures_total{{reason=\"{reason}\"}} 0");
            assert!(text.contains(&series), "{series} missing from:\n{text}");
        }
    }
}
