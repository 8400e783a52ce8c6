//! Waiting for the stack to settle between scenarios. A write scenario leaves work behind it:
//! unpublished outbox rows and events in the consumers' queues. Measured next, that backlog's CPU
//! lands on the next scenario's operations (round 3 of docs/performance.md: subscriptions still
//! applying the seat scenario's events showed up as 2 ms of "subscriptions" CPU per purchase).
//! And the dead rows it leaves: on a server running without autovacuum, they are vacuumed here, as
//! autovacuum would in production, so one scenario's dead rows do not slow the next one's scans.

use std::process::Command;
use std::time::{Duration, Instant};

/// Schemas with an outbox.
const SCHEMAS: &[&str] = &["billing", "subscriptions", "marketplace", "rewards", "licensing", "webhooks"];

/// What is still to be delivered: unpublished outbox rows plus messages in the consumers' main
/// queues (`<prefix><service>.events`; retry queues hold delayed messages, the dead-letter
/// queues keep theirs). `None` when it cannot tell (no psql or rabbitmqctl here).
fn backlog(database_url: &str, queue_prefix: &str) -> Option<u64> {
    let sql = SCHEMAS
        .iter()
        .map(|s| format!("(SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL)"))
        .collect::<Vec<_>>()
        .join(" + ");
    let out = Command::new("psql").args(["-Atq", database_url, "-c", &format!("SELECT {sql}")]).output().ok()?;
    let outbox: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let out = Command::new("rabbitmqctl").args(["-q", "list_queues", "name", "messages"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let queued: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(name, _)| name.starts_with(queue_prefix) && name.ends_with(".events"))
        .filter_map(|(_, n)| n.trim().parse::<u64>().ok())
        .sum();
    Some(outbox + queued)
}

/// Wait until nothing is left to deliver, at most `limit`. Returns how long it waited and what was
/// left (0 when drained; `None`: could not tell, nothing waited).
pub fn settle(database_url: &str, queue_prefix: &str, limit: Duration) -> (Duration, Option<u64>) {
    let started = Instant::now();
    loop {
        let left = backlog(database_url, queue_prefix);
        if left.is_none_or(|n| n == 0) || started.elapsed() >= limit {
            return (started.elapsed(), left);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `VACUUM (ANALYZE)` the bench database when the server runs with `autovacuum = off` (this
/// machine's PostgreSQL does, `conf.d/90-ci.conf`), so scenarios do not inherit the previous ones'
/// dead rows: without it, every relay's pending-rows probe walked the index entries of every row
/// published since the run began (licensing's, after the seat scenario: 1.8 ms a probe instead of
/// 0.04), and the ledgers' and outboxes' updates bloated the tables the next scenario reads.
/// Returns how long it took; `None` when autovacuum is on (nothing to do) or psql failed.
pub fn vacuum_if_autovacuum_off(database_url: &str) -> Option<Duration> {
    let out = Command::new("psql").args(["-Atq", database_url, "-c", "SHOW autovacuum"]).output().ok()?;
    if String::from_utf8_lossy(&out.stdout).trim() != "off" {
        return None;
    }
    let started = Instant::now();
    let status = Command::new("psql").args(["-q", database_url, "-c", "VACUUM (ANALYZE)"]).status().ok()?;
    status.success().then(|| started.elapsed())
}
