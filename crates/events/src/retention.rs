//! What the outbox and inbox keep (run by `platform::retention` with the service's other rules).
//!
//! - A published outbox row is only history: kept `RETENTION_OUTBOX_HOURS` for inspecting what
//!   was sent. Unpublished rows are never pruned, whatever their age: they are the relay's work.
//! - An inbox row is what makes a redelivered event a no-op, so it must outlive every
//!   redelivery: the consumers' retry horizon, and an operator's replay from the dead-letter
//!   queue. `RETENTION_INBOX_HOURS` may not be shorter than twice the retry horizon, nor than
//!   7 days (how long a message may wait in a DLQ before someone replays it).

use platform::config::ServiceConfig;
use platform::retention::{hours, Rule};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

/// The outbox and inbox rules from the service's configuration; an error names the variable.
pub fn rules(config: &ServiceConfig) -> Result<Vec<Rule>, String> {
    let outbox = hours("RETENTION_OUTBOX_HOURS", config.retention_outbox_hours, Duration::from_secs(3600))?;
    let inbox_minimum = DAY.mul_f64(7.0).max(Duration::from_secs(config.event_retry_horizon_secs.saturating_mul(2)));
    let inbox = hours("RETENTION_INBOX_HOURS", config.retention_inbox_hours, inbox_minimum)?;
    Ok(vec![
        Rule {
            table: "outbox",
            time_column: "published_at",
            condition: Some("published_at IS NOT NULL"),
            keep: outbox,
        },
        Rule { table: "inbox", time_column: "processed_at", condition: None, keep: inbox },
    ])
}
