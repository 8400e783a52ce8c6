//! PostgreSQL access: a diesel-async pool whose connections live in the service's own schema,
//! migrations run without libpq, and a transaction helper.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::bb8;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolableConnection, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use futures_util::future::BoxFuture;
use std::sync::Arc;

pub use diesel_async::AsyncPgConnection as Connection;

pub use crate::db_pool::{Pool, PoolState};
pub type PoolError = bb8::RunError;
pub type Pooled<'a> = bb8::PooledConnection<'a, AsyncPgConnection>;

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("schema name {0:?} must be lower-case letters, digits and underscores")]
    BadSchema(String),
    #[error("database connection failed: {0}")]
    Connect(String),
    #[error("migrations failed: {0}")]
    Migrate(String),
}

/// A schema name goes into SQL and a URL, so only a plain identifier is allowed.
pub fn check_schema(schema: &str) -> Result<(), DbSetupError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(DbSetupError::BadSchema(schema.to_string()))
    }
}

/// The database URL with `search_path` set to the service's schema, so every connection of the
/// pool sees its own tables (and only them) without qualifying names in `schema.rs`.
pub fn url_with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// What every pooled connection's server session starts with, beside its schema: a service's
/// statements are index lookups, so the planner may not read a table whole where an index serves.
/// A prepared statement keeps the generic plan it settled on after five runs until the table's
/// statistics change; planned while a table was empty or a few rows (a new deployment before
/// autovacuum's first ANALYZE, a table the retention job emptied), that plan is a Seq Scan, which
/// then reads every row on every call while the table grows, until the next ANALYZE: `make bench`'s
/// first purchase flows after a fresh seed scanned earning counters, customers, purchases and
/// stripe events row by row (docs/performance.md, round 15). A statement with no index to use
/// still scans (the setting only prices a scan above any index path); a statement meant to read a
/// whole table says so ([`reading_whole_tables`]). That price is past `jit_above_cost`, so `jit = off`
/// too: JIT would compile such a statement on every run (milliseconds of CPU for microseconds of
/// work), and a service's statements are too short to gain from it anyway. Migrations run
/// without either.
const POOL_SESSION_OPTIONS: &str = "%20-c%20enable_seqscan%3Doff%20-c%20jit%3Doff";

/// Run `read`, which reads tables whole by design (a business gauge, a report), on a connection
/// of `pool` with sequential and parallel scans priced as the server's defaults price them; the
/// session's setting ([`POOL_SESSION_OPTIONS`]) is back before the connection returns to the
/// pool. Without it such a read loses its parallel workers, and walks a whole index instead of the
/// table wherever one covers its columns, its order or its filter (a count through the primary
/// key, a total through a partial index whose predicate the filter implies).
pub async fn reading_whole_tables<T, E>(
    pool: &Pool,
    read: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error> + From<PoolError>,
{
    let mut session = WholeTableSession(None);
    let conn = session.0.insert(pool.get().await?);
    diesel::sql_query("SET enable_seqscan = on").execute(conn).await?;
    let result = read(conn).await;
    let reset = diesel::sql_query(RESET_WHOLE_TABLE_READS).execute(conn).await;
    // Back to the pool: reset, or its error is the caller's (a connection that lost its server,
    // or whose transaction the read left failed, is one the pool discards).
    drop(session.0.take());
    // The read's own error first: a failed reset on its heels says less about what went wrong.
    let value = result?;
    reset?;
    Ok(value)
}

const RESET_WHOLE_TABLE_READS: &str = "RESET enable_seqscan";

/// A connection whose session reads tables whole. Dropped before the reset (its caller went away
/// half way: a report whose client disconnected), it goes back to the pool only after a task has
/// reset the setting, so no request is handed a connection without the guard.
struct WholeTableSession(Option<Pooled<'static>>);

impl Drop for WholeTableSession {
    fn drop(&mut self) {
        let Some(mut conn) = self.0.take() else { return };
        // Without a runtime the process is going away, and its pool with it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = diesel::sql_query(RESET_WHOLE_TABLE_READS).execute(&mut *conn).await;
            });
        }
    }
}

/// [`url_with_schema`] plus [`POOL_SESSION_OPTIONS`]: the URL a pool's connections open.
pub fn pool_url(url: &str, schema: &str) -> String {
    format!("{}{POOL_SESSION_OPTIONS}", url_with_schema(url, schema))
}

/// How long a checkout waits for a free connection by default (see `ServiceConfig::database_pool_wait_ms`).
pub const DEFAULT_POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(9);

/// A pool of connections to `url` in `schema`, waiting up to [`DEFAULT_POOL_WAIT`] for a free one.
pub async fn connect(url: &str, schema: &str, size: u32) -> Result<Pool, DbSetupError> {
    connect_with_wait(url, schema, size, DEFAULT_POOL_WAIT).await
}

/// A pool of connections to `url` in `schema`; a checkout waits up to `wait` for a free connection
/// (then the request is answered 503 with `Retry-After`, see `Problem::from(PoolError)`). The URL's
/// `sslmode` and `sslrootcert` choose TLS ([`crate::db_tls`]); they are read (and the CA file
/// loaded) once, here, so a wrong setting fails the start instead of every checkout.
pub async fn connect_with_wait(
    url: &str,
    schema: &str,
    size: u32,
    wait: std::time::Duration,
) -> Result<Pool, DbSetupError> {
    let make = pool_maker(url, schema, wait)?;
    Ok(Pool::single(size, make))
}

/// [`connect_with_wait`] for a service: its `size` connections split between the event loop that
/// calls this (the background jobs: relay, consumers, schedulers) and up to `http_loops` others
/// (the HTTP workers), each opening its own on demand (see [`crate::db_pool`] for why).
pub async fn connect_per_event_loop(
    url: &str,
    schema: &str,
    size: u32,
    wait: std::time::Duration,
    http_loops: usize,
) -> Result<Pool, DbSetupError> {
    let make = pool_maker(url, schema, wait)?;
    Ok(Pool::per_event_loop(size, http_loops, make))
}

/// What builds one bb8 pool of `size` for `url` and `schema`: checked once, cheap to call again.
fn pool_maker(
    url: &str,
    schema: &str,
    wait: std::time::Duration,
) -> Result<impl Fn(u32) -> crate::db_pool::Bb8Pool + Send + Sync + 'static, DbSetupError> {
    check_schema(schema)?;
    let url = pool_url(url, schema);
    let target = Arc::new(crate::db_tls::Target::parse(&url).map_err(|e| DbSetupError::Connect(e.to_string()))?);
    Ok(move |size: u32| {
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::CustomFunction(Box::new(|conn| Box::pin(check_out(conn))));
        let target = target.clone();
        config.custom_setup = Box::new(move |_url| {
            let target = target.clone();
            Box::pin(async move { target.connect().await })
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url.clone(), config);
        // Nothing is opened here: a connection is made by the first checkout that finds none free.
        bb8::Pool::builder().max_size(size.max(1)).connection_timeout(wait).build_unchecked(manager)
    })
}

/// The check a pooled connection passes before it is handed out. The default (`SELECT 1`) costs a
/// round trip on every checkout, which was a third of a simple read's database work. A connection
/// whose server went away is known without asking: its socket closed and the client marked itself
/// closed, so it is dropped and another one taken. A server that vanished without closing the
/// socket fails the one request that finds it (a problem response; nothing was written), and
/// the connection is dropped when it returns.
async fn check_out(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    if PoolableConnection::is_broken(conn) {
        return Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection,
            Box::new("the pooled connection was closed".to_string()),
        ));
    }
    Ok(())
}

/// Create the schema if needed and run pending migrations in it.
///
/// Runs through diesel-async's sync wrapper on a blocking thread: no libpq needed, and
/// `AsyncMigrationHarness` would panic on actix's current-thread runtime.
pub async fn migrate(url: &str, schema: &str, migrations: &'static EmbeddedMigrations) -> Result<(), DbSetupError> {
    migrate_with(url, schema, migrations, &[]).await
}

/// [`migrate`] with session settings on the migration connection (`set_config`, bound as
/// parameters), e.g. `monetization.code_hash_key` for the migrations that hash plaintext codes.
pub async fn migrate_with(
    url: &str,
    schema: &str,
    migrations: &'static EmbeddedMigrations,
    settings: &[(&str, &crate::config::Secret)],
) -> Result<(), DbSetupError> {
    check_schema(schema)?;
    {
        let mut conn = crate::db_tls::establish(url).await.map_err(|e| DbSetupError::Connect(e.to_string()))?;
        diesel::sql_query(format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&mut conn)
            .await
            .map_err(|e| DbSetupError::Migrate(e.to_string()))?;
    }
    // Connected here (with TLS as the URL says), then driven synchronously on a blocking thread.
    let mut conn = crate::db_tls::establish(&url_with_schema(url, schema))
        .await
        .map_err(|e| DbSetupError::Connect(e.to_string()))?;
    for (name, value) in settings {
        diesel::sql_query("SELECT set_config($1, $2, false)")
            .bind::<diesel::sql_types::Text, _>(*name)
            .bind::<diesel::sql_types::Text, _>(value.expose())
            .execute(&mut conn)
            .await
            .map_err(|e| DbSetupError::Migrate(format!("setting {name}: {e}")))?;
    }
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        conn.run_pending_migrations(Source(migrations)).map(|_| ()).map_err(|e| DbSetupError::Migrate(e.to_string()))
    })
    .await
    .map_err(|e| DbSetupError::Migrate(e.to_string()))?
}

/// Run `f` in one transaction on a pooled connection: committed when it returns `Ok`, rolled back
/// otherwise.
pub async fn transaction<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, E>> + Send,
    E: From<diesel::result::Error> + From<PoolError> + Send,
    T: Send,
{
    let mut conn = pool.get().await?;
    conn.transaction(async move |c| f(c).await).await
}

/// Run `f` in a read-only `REPEATABLE READ` transaction: every query in it sees the same snapshot,
/// so a report made of several queries adds up even while writes commit meanwhile.
pub async fn snapshot<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<T, E>> + Send,
    E: From<diesel::result::Error> + From<PoolError> + Send,
    T: Send,
{
    let mut conn = pool.get().await?;
    conn.build_transaction().read_only().repeatable_read().run(async move |c| f(c).await).await
}

mod sql {
    use diesel::sql_types::{BigInt, Text};
    diesel::define_sql_function! { fn hashtextextended(text: Text, seed: BigInt) -> BigInt; }
    diesel::define_sql_function! { fn current_schema() -> Text; }
    diesel::define_sql_function! { fn pg_try_advisory_xact_lock(key: BigInt) -> diesel::sql_types::Bool; }
    // Returns `void`, which has no diesel type: only ever executed, never read.
    diesel::define_sql_function! { fn pg_advisory_xact_lock(key: BigInt) -> diesel::sql_types::Bool; }
}

/// Wait for the transaction-scoped advisory lock named `name` (held until commit or rollback).
/// Written with the query builder rather than `sql_query`, so the statement is prepared once per
/// connection: a raw query is parsed and planned again on every call, in a second round trip.
pub async fn advisory_xact_lock(conn: &mut AsyncPgConnection, name: &str) -> diesel::QueryResult<()> {
    diesel::select(sql::pg_advisory_xact_lock(sql::hashtextextended(name, 0_i64))).execute(conn).await.map(|_| ())
}

/// Take the transaction-scoped advisory lock named `name` if nobody holds it; `false` if taken.
pub async fn try_advisory_xact_lock(conn: &mut AsyncPgConnection, name: &str) -> diesel::QueryResult<bool> {
    diesel::select(sql::pg_try_advisory_xact_lock(sql::hashtextextended(name, 0_i64))).get_result(conn).await
}

/// The transaction-scoped advisory lock named `name` in the connection's schema: waiting for it
/// (`true` once held), or `false` at once when `wait` is off and another session holds it.
/// Advisory locks are database-wide; a lock guarding the schema's own rows (a fold's deltas) is
/// named after the schema too, so another deployment or test stack in the database goes its way.
pub async fn schema_advisory_xact_lock(
    conn: &mut AsyncPgConnection,
    name: &str,
    wait: bool,
) -> diesel::QueryResult<bool> {
    use diesel::TextExpressionMethods;
    let key = sql::hashtextextended(sql::current_schema().concat(":").concat(name), 0_i64);
    if wait {
        diesel::select(sql::pg_advisory_xact_lock(key)).execute(conn).await.map(|_| true)
    } else {
        diesel::select(sql::pg_try_advisory_xact_lock(key)).get_result(conn).await
    }
}

/// A constant text written into the statement as an SQL literal rather than sent as a bound
/// parameter. For a filter that matches a partial index's predicate (`WHERE status = 'failed'`):
/// PostgreSQL's generic plan of a prepared statement, which it settles on after five runs, can
/// use such an index only when the value is in the statement's text; with `status = $3` it reads
/// the table whole, cheap on a small table and slower with every row (docs/performance.md,
/// round 5).
pub fn text_literal(value: &'static str) -> diesel::expression::SqlLiteral<diesel::sql_types::Text> {
    diesel::dsl::sql(&format!("'{}'", value.replace('\'', "''")))
}

/// A statement sent as a prepared statement that diesel would send unprepared: wrap it with
/// [`PreparedDsl::prepared`] and run it as usual (`.execute`, `.get_result`, ...).
///
/// Why: diesel 2 marks every `UPDATE`, every `ON CONFLICT ... DO UPDATE`, every insert of an
/// `Insertable` struct, every multi-row `INSERT` and every statement with an SQL literal in it
/// ([`text_literal`]) as unsafe to cache, because their text can vary from call to call (a
/// changeset's `None` fields are left out, a struct's `None` fields become `DEFAULT`, a batch has
/// as many rows as it has). diesel-async then sends each call unnamed: a round trip to
/// parse and describe it, a second to run it, and PostgreSQL plans it again every time
/// (`make bench` with `pg_stat_statements.track_planning`: `plans` equal to `calls` for exactly
/// those statements). The connection's statement cache is keyed by the SQL text and the bind
/// types, so caching such a statement is correct whatever text it renders to; the only cost of a
/// text that varies is one cached statement per variant. Wrap statements whose variants are few
/// (a fixed changeset, a batch of at most a few dozen rows), not ones built from user input.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(Q);

/// [`Prepared`] for any statement.
pub trait PreparedDsl: Sized {
    fn prepared(self) -> Prepared<Self> {
        Prepared(self)
    }
}

impl<Q: QueryFragment<Pg>> PreparedDsl for Q {}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: the cache keys the statement by its text (and bind types), so every variant
/// the inner statement renders to is a statement of its own.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

/// Lets several crates' `&'static` embedded migration sets run against one schema.
struct Source(&'static EmbeddedMigrations);

impl diesel::migration::MigrationSource<diesel::pg::Pg> for Source {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn diesel::migration::Migration<diesel::pg::Pg>>>> {
        diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(self.0)
    }
}

/// `SELECT 1` for readiness.
pub async fn ping(pool: &Pool) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await.map(|_| ()).map_err(|e| e.to_string())
}
