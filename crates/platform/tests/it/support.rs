//! What the platform tests share: a schema of their own with the platform's migrations.

use diesel_async::RunQueryDsl;
use platform::db::Pool;

/// A fresh test environment, its schema `name` migrated, a pool of `size` connections to it, and
/// `statements` (the test's own tables) run in order.
pub async fn migrated(name: &str, size: u32, statements: &[&str]) -> (testkit::TestEnv, Pool) {
    let env = testkit::TestEnv::new();
    let url = testkit::database_url();
    let schema = env.schema(name);
    platform::db::migrate(&url, &schema, &platform::MIGRATIONS).await.unwrap();
    let pool = platform::db::connect(&url, &schema, size).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    for statement in statements {
        diesel::sql_query(*statement).execute(&mut conn).await.unwrap();
    }
    drop(conn);
    (env, pool)
}
