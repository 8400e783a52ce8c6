//! Retention: delete rows nobody needs any more (published outbox rows, old inbox rows, expired
//! idempotency keys, processed Stripe events), each table by its own rule and age.
//!
//! Deletes go in small batches, each its own short transaction, so no lock is held for long and
//! the service keeps writing meanwhile. Rows are picked `FOR UPDATE SKIP LOCKED`: two replicas
//! running the job at once delete disjoint batches and never wait on each other. Every deleted
//! row is counted in `monetization_retention_pruned_rows_total{table}`.

use crate::db::Pool;
use crate::metrics::{CounterVec, Metrics};
use diesel::sql_types::{BigInt, Double};
use diesel_async::RunQueryDsl;
use std::time::Duration;
use tokio::sync::watch;

/// What one table keeps: rows whose `time_column` is older than `keep` (and that match
/// `condition`, when given) are deleted. Names are the code's constants, never input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub table: &'static str,
    pub time_column: &'static str,
    /// An extra SQL condition a row must meet to be deleted (e.g. `published_at IS NOT NULL`).
    pub condition: Option<&'static str>,
    pub keep: Duration,
}

impl Rule {
    fn delete_batch_sql(&self) -> String {
        let extra = self.condition.map(|c| format!("({c}) AND ")).unwrap_or_default();
        format!(
            "DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} \
             WHERE {extra}{col} < now() - make_interval(secs => $1) LIMIT $2 FOR UPDATE SKIP LOCKED))",
            table = self.table,
            col = self.time_column,
        )
    }
}

/// The rule every service has: idempotency keys live `keep`, which the API promises is at
/// least 24 hours (Stripe's semantics).
pub fn idempotency_rule(keep: Duration) -> Rule {
    Rule { table: "idempotency_keys", time_column: "created_at", condition: None, keep }
}

/// Hours from the environment as a duration, refusing one shorter than `minimum` with a
/// message that names the variable (without the service's prefix).
pub fn hours(variable: &str, value: u64, minimum: Duration) -> Result<Duration, String> {
    let keep = Duration::from_secs(value.saturating_mul(3600));
    if keep < minimum {
        return Err(format!(
            "{variable}={value} is shorter than the minimum of {} hours",
            minimum.as_secs().div_ceil(3600)
        ));
    }
    Ok(keep)
}

/// Runs rules against one schema's pool.
#[derive(Clone)]
pub struct Pruner {
    pool: Pool,
    rules: Vec<Rule>,
    batch: i64,
    pruned: CounterVec,
}

impl Pruner {
    pub fn new(pool: Pool, rules: Vec<Rule>, batch: i64, metrics: &Metrics) -> Self {
        let pruned = metrics.counter(
            "monetization_retention_pruned_rows",
            "Rows deleted by the retention job, by table",
            &["table"],
        );
        Self { pool, rules, batch: batch.max(1), pruned }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Prune every table once, until no expired row is left; the rows deleted per table.
    pub async fn run_once(&self) -> Vec<(&'static str, u64)> {
        let mut report = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            match self.prune(rule).await {
                Ok(n) => report.push((rule.table, n)),
                Err(e) => {
                    tracing::warn!(table = rule.table, error = %e, "retention: pruning failed, retried next run");
                    report.push((rule.table, 0));
                }
            }
        }
        report
    }

    async fn prune(&self, rule: &Rule) -> Result<u64, String> {
        let sql = rule.delete_batch_sql();
        let mut total = 0_u64;
        loop {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            let n = diesel::sql_query(&sql)
                .bind::<Double, _>(rule.keep.as_secs_f64())
                .bind::<BigInt, _>(self.batch)
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())? as u64;
            drop(conn);
            self.pruned.inc_by(&[rule.table], n);
            total += n;
            if n < self.batch as u64 {
                return Ok(total);
            }
            // Let the service's own writes through between batches.
            tokio::task::yield_now().await;
        }
    }

    /// Run every `every` until `shutdown` turns true.
    pub fn spawn(self, every: Duration, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.changed() => return,
                }
                for (table, n) in self.run_once().await {
                    if n > 0 {
                        tracing::info!(table, rows = n, "retention: pruned");
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_deletes_a_bounded_batch_of_expired_rows_only() {
        let rule = Rule {
            table: "outbox",
            time_column: "published_at",
            condition: Some("published_at IS NOT NULL"),
            keep: Duration::from_secs(3600),
        };
        let sql = rule.delete_batch_sql();
        assert!(sql.contains("WHERE (published_at IS NOT NULL) AND published_at < now() - make_interval(secs => $1)"));
        assert!(sql.contains("LIMIT $2 FOR UPDATE SKIP LOCKED"));
    }

    #[test]
    fn ages_below_the_minimum_are_refused() {
        let day = Duration::from_secs(86_400);
        assert_eq!(hours("RETENTION_IDEMPOTENCY_HOURS", 48, day), Ok(2 * day));
        let err = hours("RETENTION_IDEMPOTENCY_HOURS", 12, day).expect_err("too short");
        assert!(err.contains("RETENTION_IDEMPOTENCY_HOURS=12") && err.contains("24 hours"), "{err}");
    }
}
