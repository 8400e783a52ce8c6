//! `platform::db_pool`: a service's connections kept per event loop, within its configured size.

use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;
use platform::db::{Pool, PoolError};
use std::future::Future;
use std::time::Duration;

#[derive(diesel::QueryableByName)]
struct Backend {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

async fn backend_pid(pool: &Pool) -> Result<i32, PoolError> {
    let mut conn = pool.get().await?;
    let row: Backend = diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(&mut conn).await.expect("pid");
    Ok(row.pid)
}

/// Run `work` on an event loop of its own (as an HTTP worker runs), on its own thread; the loop
/// is gone when this returns.
async fn on_another_loop<T, F>(work: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a loop");
        runtime.block_on(work())
    })
    .await
    .expect("the other loop")
}

/// A service's pool of `size` for one HTTP worker, built on this (the "background") loop; at 8,
/// 2 connections for this loop and 6 for the worker.
async fn service_pool(name: &str, size: u32) -> (testkit::TestEnv, Pool, String) {
    let (env, pool) = crate::support::migrated(name, 1, &[]).await;
    drop(pool);
    let url = testkit::database_url();
    let schema = env.schema(name);
    let pool = platform::db::connect_per_event_loop(&url, &schema, size, Duration::from_millis(300), 1).await.unwrap();
    (env, pool, url)
}

async fn backend_alive(url: &str, pid: i32) -> bool {
    let mut conn = platform::db_tls::establish(url).await.expect("connect");
    let row: Backend = diesel::sql_query("SELECT count(*)::int AS pid FROM pg_stat_activity WHERE pid = $1")
        .bind::<Integer, _>(pid)
        .get_result(&mut conn)
        .await
        .expect("pg_stat_activity");
    row.pid == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_loop_is_handed_connections_it_opened_itself() {
    let (env, pool, url) = service_pool("pool_loops", 8).await;
    let theirs = pool.clone();
    let worker_pid = on_another_loop(move || async move {
        let first = backend_pid(&theirs).await.expect("a connection");
        // The same loop gets the same (now idle) connection back.
        assert_eq!(backend_pid(&theirs).await.expect("again"), first);
        first
    })
    .await;
    // This loop's pool had nothing idle: the worker's connection is not handed out here.
    let home_pid = backend_pid(&pool).await.expect("a connection here");
    assert_ne!(home_pid, worker_pid);
    assert_eq!(pool.loops(), 2);
    let state = pool.state();
    assert_eq!((state.max_size, state.connections), (8, 2), "{state:?}");
    // The worker's connection was driven by the worker's loop: with the loop gone, its session
    // ended, while this loop's is still there.
    testkit::eventually("the worker's session to end with its loop", Duration::from_secs(10), || async {
        (!backend_alive(&url, worker_pid).await).then_some(())
    })
    .await;
    assert!(backend_alive(&url, home_pid).await);
    drop(pool);
    env.cleanup(&["pool_loops"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_on_a_worker_cannot_take_the_background_jobs_connections() {
    let (env, pool, _url) = service_pool("pool_budget", 8).await;
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let theirs = pool.clone();
    let worker = tokio::spawn(on_another_loop(move || async move {
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(theirs.get().await.expect("one of the worker's six"));
        }
        let seventh = theirs.get().await.map(|_| ());
        let _ = held_tx.send(seventh);
        let _ = done_rx.await;
        drop(held);
    }));
    let seventh = held_rx.await.expect("the worker's burst");
    assert!(matches!(seventh, Err(PoolError::TimedOut)), "the worker took a seventh connection");
    // The background loop still has both of its own, at once.
    let started = std::time::Instant::now();
    let a = pool.get().await.expect("the first background connection");
    let b = pool.get().await.expect("the second background connection");
    assert!(started.elapsed() < Duration::from_millis(250), "waited {:?}", started.elapsed());
    assert!(matches!(pool.get().await.map(|_| ()), Err(PoolError::TimedOut)), "a third beyond the split");
    assert_eq!(pool.state().connections, 8);
    drop((a, b));
    let _ = done_tx.send(());
    worker.await.expect("the worker");
    // A loop beyond the configured workers (a test's own runtime) shares the background pool.
    let theirs = pool.clone();
    on_another_loop(move || async move { backend_pid(&theirs).await.expect("from the background pool") }).await;
    assert_eq!(pool.loops(), 2);
    drop(pool);
    env.cleanup(&["pool_budget"]).await;
}

#[tokio::test]
async fn a_small_pool_is_not_split() {
    let (env, pool, _url) = service_pool("pool_small", 4).await;
    let theirs = pool.clone();
    on_another_loop(move || async move { backend_pid(&theirs).await.expect("a connection") }).await;
    assert_eq!(pool.loops(), 1);
    assert_eq!(pool.state().max_size, 4);
    drop(pool);
    env.cleanup(&["pool_small"]).await;
}
