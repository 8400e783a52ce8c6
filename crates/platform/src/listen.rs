//! A `LISTEN` connection that stays up: PostgreSQL notifications on one channel of the service's
//! schema (`<prefix>_<schema>`: channels are per database, schemas share one), delivered to a
//! [`Subscriber`]. Used by the outbox relay (`outbox_<schema>`, wakes it) and by cache
//! invalidation (`cache_<schema>`, see [`crate::invalidation`]).
//!
//! The connection is a dedicated one (a pooled one would be held forever) with the pool's URL and
//! schema. Notifications sent while nobody listens are lost, so the subscriber is told when
//! listening (re)starts and when the connection is lost; it is told "lost" again at each failed
//! attempt while the database cannot be reached.

use crate::db::Pool;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What a listener reports to.
pub trait Subscriber: Send + Sync {
    /// Listening (again): what was sent before this was not heard.
    fn listening(&self);
    /// A notification's payload.
    fn notified(&self, payload: &str);
    /// The connection failed (or could not be made); another attempt follows after [`RETRY`].
    fn lost(&self, error: &str);
}

/// How long a quiet listener waits before proving its connection alive: a connection cut without
/// a FIN (a network partition) is noticed within this plus [`PING_TIMEOUT`].
pub const QUIET_CHECK: Duration = Duration::from_secs(5);
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Between connection attempts.
pub const RETRY: Duration = Duration::from_millis(500);

/// The channel `<prefix>_<schema>` (what triggers send to).
pub fn channel(prefix: &str, schema: &str) -> String {
    format!("{prefix}_{schema}")
}

/// Listen on `<prefix>_<schema of the pool>` until shutdown. The session is named after the
/// channel (`application_name`), so an operator finds it in `pg_stat_activity`.
pub fn spawn(
    pool: Pool,
    prefix: &'static str,
    subscriber: Arc<dyn Subscriber>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listen_until_failure(&pool, prefix, subscriber.as_ref(), &mut shutdown).await {
                Ok(()) => return,
                Err(e) => subscriber.lost(&e),
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

#[derive(diesel::QueryableByName)]
struct CurrentSchema {
    #[diesel(sql_type = diesel::sql_types::Text)]
    schema: String,
}

/// Returns `Ok` on shutdown, `Err` when the connection failed.
async fn listen_until_failure(
    pool: &Pool,
    prefix: &str,
    subscriber: &dyn Subscriber,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let mut conn = pool.dedicated_connection().await.map_err(|e| e.to_string())?;
    let CurrentSchema { schema } = diesel::sql_query("SELECT current_schema() AS schema")
        .get_result(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    // The schema name was checked to be a plain identifier when the pool was built.
    let channel = channel(prefix, &schema);
    conn.batch_execute(&format!("SET application_name = '{channel}'; LISTEN {channel}"))
        .await
        .map_err(|e| e.to_string())?;
    subscriber.listening();
    loop {
        let next = {
            let mut notifications = std::pin::pin!(conn.notifications_stream());
            tokio::select! {
                n = notifications.next() => Some(n),
                _ = tokio::time::sleep(QUIET_CHECK) => None,
                _ = shutdown.changed() => return Ok(()),
            }
        };
        match next {
            Some(Some(Ok(n))) => subscriber.notified(&n.payload),
            Some(Some(Err(e))) => return Err(e.to_string()),
            Some(None) => return Err("notification stream ended".into()),
            None => {
                let ping = diesel::sql_query("SELECT 1").execute(&mut conn);
                match tokio::time::timeout(PING_TIMEOUT, ping).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err("the connection stopped answering".into()),
                }
            }
        }
    }
}
