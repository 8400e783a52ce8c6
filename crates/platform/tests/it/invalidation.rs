//! `cache_notify` triggers and `platform::invalidation::Listener` on the real PostgreSQL: what a
//! committed change tells the caches, and what a rolled-back one does not.

use diesel_async::{AsyncConnection, RunQueryDsl};
use platform::db::Pool;
use platform::invalidation::{Invalidate, Listener};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Every call, in order: a key, or `*` for the whole cache.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Invalidate for Recorder {
    fn invalidate(&self, key: &str) {
        self.0.lock().unwrap().push(key.to_string());
    }
    fn invalidate_all(&self) {
        self.0.lock().unwrap().push("*".to_string());
    }
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// Wait until `n` calls arrived; take them.
    async fn expect(&self, n: usize) -> Vec<String> {
        testkit::eventually(&format!("{n} invalidations"), Duration::from_secs(5), || async {
            (self.0.lock().unwrap().len() >= n).then_some(())
        })
        .await;
        self.take()
    }
}

async fn setup() -> (testkit::TestEnv, Pool) {
    crate::support::migrated(
        "platform",
        4,
        &[
            "CREATE TABLE prices (sku TEXT PRIMARY KEY, amount BIGINT NOT NULL)",
            "CREATE TRIGGER prices_cache AFTER INSERT OR UPDATE OR DELETE ON prices
             FOR EACH ROW EXECUTE FUNCTION cache_notify('prices', 'sku')",
            "CREATE TABLE settings (name TEXT PRIMARY KEY)",
            "CREATE TRIGGER settings_cache AFTER INSERT OR UPDATE OR DELETE ON settings
             FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('settings')",
        ],
    )
    .await
}

async fn run(pool: &Pool, statement: &str) {
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query(statement).execute(&mut conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_changes_name_their_keys_and_rolled_back_ones_say_nothing() {
    let (env, pool) = setup().await;
    let (prices, settings) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let (stop, shutdown) = watch::channel(false);
    let listener =
        Listener::new(pool.clone()).cache("prices", prices.clone()).cache("settings", settings.clone()).spawn(shutdown);
    // Listening starts from empty caches.
    assert_eq!(prices.expect(1).await, ["*"]);
    assert_eq!(settings.expect(1).await, ["*"]);

    run(&pool, "INSERT INTO prices VALUES ('a', 1), ('b', 2)").await;
    let mut keys = prices.expect(2).await;
    keys.sort();
    assert_eq!(keys, ["a", "b"]);
    run(&pool, "UPDATE prices SET sku = 'c' WHERE sku = 'a'").await;
    assert_eq!(prices.expect(2).await, ["a", "c"], "a changed key names the old and the new");
    run(&pool, "DELETE FROM prices WHERE sku = 'b'").await;
    assert_eq!(prices.expect(1).await, ["b"]);
    run(&pool, "INSERT INTO settings VALUES ('x'), ('y')").await;
    assert_eq!(settings.expect(1).await, ["*"], "a statement-level trigger empties the whole cache, once");

    let mut conn = pool.get().await.unwrap();
    let rolled_back = conn
        .transaction::<(), diesel::result::Error, _>(async |c| {
            diesel::sql_query("UPDATE prices SET amount = 5 WHERE sku = 'c'").execute(c).await?;
            Err(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(rolled_back.is_err());
    // A later commit's notification arrives; nothing came before it.
    run(&pool, "UPDATE prices SET amount = 6 WHERE sku = 'c'").await;
    assert_eq!(prices.expect(1).await, ["c"]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(prices.take(), Vec::<String>::new(), "the rolled-back update notified");
    assert_eq!(settings.take(), Vec::<String>::new());

    let _ = stop.send(true);
    listener.await.unwrap();
    drop(conn);
    env.cleanup(&["platform"]).await;
}
