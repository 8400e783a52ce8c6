//! Counters that many transactions would otherwise update in one row (a leaderboard's score row
//! that every learner earning the same tokens moves into, a course's purchase count at its
//! launch), kept as delta rows instead and folded into the counter by a background job.
//!
//! Inserting a delta waits for nobody, where updating the shared row queued every transaction
//! behind the one before it until that one committed. The fold then updates each counter row once
//! per run, however many transactions changed it. The service owns its delta table, the writes and
//! the statement that folds them ([`Fold::run`]); this module runs that statement: in a
//! transaction, one replica at a time (an advisory lock named after the fold and the schema: the
//! others skip the tick), every `every`, and once more when the service stops, recorded as the
//! scheduler job `name` (`monetization_scheduler_*{scheduler=name}`, so a fold that keeps failing
//! alerts as a stuck scheduler does).
//!
//! Readers that need the exact figure add the pending deltas themselves, in the same snapshot as
//! the counter (rewards' ranks do); those that tolerate the fold's interval read the counter.

use crate::db::Pool;
use crate::metrics::SchedulerMetrics;
use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::future::BoxFuture;
use std::time::Duration;
use tokio::sync::watch;

/// The statement(s) that move the committed deltas into their counters; the number of deltas
/// folded. Runs inside the fold's transaction: an error rolls the whole fold back and leaves the
/// deltas for the next run.
pub type FoldFn = for<'c> fn(&'c mut AsyncPgConnection) -> BoxFuture<'c, QueryResult<usize>>;

#[derive(Clone, Copy)]
pub struct Fold {
    /// The scheduler job's name, and (with the schema's) the advisory lock's.
    pub name: &'static str,
    pub run: FoldFn,
}

impl Fold {
    /// One run on `conn`: the deltas folded, or 0 when another replica is folding right now.
    pub async fn run_on(&self, conn: &mut AsyncPgConnection) -> QueryResult<usize> {
        self.run_locked(conn, false).await
    }

    /// One run on `conn` that waits for a fold running elsewhere instead of skipping it: when it
    /// returns `Ok`, every delta committed before the call is folded. For a caller that must know
    /// (a test, an operator's one-off); the periodic job skips, as another replica is folding.
    pub async fn run_waiting_on(&self, conn: &mut AsyncPgConnection) -> QueryResult<usize> {
        self.run_locked(conn, true).await
    }

    async fn run_locked(&self, conn: &mut AsyncPgConnection, wait: bool) -> QueryResult<usize> {
        let fold = *self;
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            if !fold.lock(conn, wait).await? {
                return Ok(0);
            }
            (fold.run)(conn).await
        })
        .await
    }

    /// Take this fold's advisory lock in the connection's schema (waiting for it, or `false` at
    /// once when another session holds it): another deployment in the same database (or another
    /// test's stack) folds its own deltas meanwhile rather than skipping a tick.
    pub async fn lock(&self, conn: &mut AsyncPgConnection, wait: bool) -> QueryResult<bool> {
        crate::db::schema_advisory_xact_lock(conn, &format!("fold:{}", self.name), wait).await
    }

    /// One run on a connection of `pool`.
    pub async fn run_once(&self, pool: &Pool) -> Result<usize, String> {
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        self.run_on(&mut conn).await.map_err(|e| e.to_string())
    }

    /// Run every `every` until `shutdown`, then once more (what this replica's requests recorded
    /// is folded before it goes, so a scale-down does not leave it to the next tick elsewhere).
    pub fn spawn(
        self,
        pool: Pool,
        every: Duration,
        mut shutdown: watch::Receiver<bool>,
        metrics: SchedulerMetrics,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.changed() => {
                        let _ = self.run_once(&pool).await;
                        return;
                    }
                }
                let folded = self.run_once(&pool).await;
                metrics.record(self.name, folded.as_ref().ok().copied());
                if let Err(error) = folded {
                    tracing::warn!(fold = self.name, %error, "fold failed; its deltas stay for the next one");
                }
            }
        })
    }
}
