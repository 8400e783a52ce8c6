//! A service's connection pool, kept per event loop.
//!
//! Why: a connection's socket is driven by a task on the event loop (tokio runtime) that opened
//! it, and every query is handed to that task. A service runs two kinds of loop: its HTTP workers
//! (one per CPU, each a single-threaded loop) and the runtime of its background jobs (relay,
//! consumers, schedulers). With one pool for both, a request on an HTTP worker often got a
//! connection a background job had opened, so each of its queries woke a background thread to
//! write the query and read the answer, and that thread woke the worker back: two thread
//! switches per query on a busy machine, measured as 16 % of rewards' CPU at 5,000 balance reads/s
//! spent on the background runtime's threads doing nothing but relaying a request's socket
//! (docs/performance.md, round 18). Here each loop checks out connections it opened itself.
//!
//! The configured size stays the most connections a replica opens: a quarter (at least two) for
//! the background jobs, the rest divided between the HTTP workers. A loop beyond those (a test's
//! own runtime, a worker restarted after a panic) shares the background jobs' pool.

use diesel_async::pooled_connection::bb8;
use diesel_async::AsyncPgConnection;
use std::sync::{Arc, PoisonError, RwLock};
use tokio::runtime::{Handle, Id};

pub type Bb8Pool = bb8::Pool<AsyncPgConnection>;

/// Below this size a pool is not split: too few connections to share out.
const SPLIT_FROM: u32 = 6;

#[derive(Clone)]
pub struct Pool(Arc<Loops>);

struct Loops {
    /// The pool of the event loop that built this one (a service's background jobs), and of any
    /// loop past `max_loops`.
    home: Bb8Pool,
    home_loop: Option<Id>,
    size: u32,
    split: Option<Split>,
}

struct Split {
    per_loop: u32,
    max_loops: usize,
    make: Box<dyn Fn(u32) -> Bb8Pool + Send + Sync>,
    loops: RwLock<Vec<(Id, Bb8Pool)>>,
}

/// How many connections the pool holds and how checkouts went, summed over its event loops.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolState {
    pub max_size: u32,
    pub connections: u32,
    pub idle_connections: u32,
    pub pending_gets: u64,
    pub gets_direct: u64,
    pub gets_waited: u64,
    pub gets_timed_out: u64,
    pub wait_time: std::time::Duration,
}

impl Pool {
    /// One pool of `size` for every loop (tools, tests and small pools).
    pub fn single(size: u32, make: impl FnOnce(u32) -> Bb8Pool) -> Self {
        Self(Arc::new(Loops { home: make(size), home_loop: current_loop(), size, split: None }))
    }

    /// `size` connections shared out between the calling loop and up to `http_loops` others;
    /// `make(n)` builds a pool of `n` connections (opened on demand, on the loop that asks).
    pub fn per_event_loop(size: u32, http_loops: usize, make: impl Fn(u32) -> Bb8Pool + Send + Sync + 'static) -> Self {
        let http_loops = http_loops.max(1);
        let home_size = (size / 4).max(2);
        let loops = u32::try_from(http_loops).unwrap_or(u32::MAX);
        let per_loop = size.saturating_sub(home_size) / loops;
        if size < SPLIT_FROM || per_loop < 2 {
            return Self::single(size, make);
        }
        Self(Arc::new(Loops {
            home: make(home_size),
            home_loop: current_loop(),
            // What the shares add up to: `size`, or a little less where it does not divide evenly.
            size: home_size + per_loop * loops,
            split: Some(Split {
                per_loop,
                max_loops: http_loops,
                make: Box::new(make),
                loops: RwLock::new(Vec::new()),
            }),
        }))
    }

    /// A connection opened by the calling event loop, once one is free. It owns its place in the
    /// pool (`'static`), so it may outlive the borrow of `self`.
    pub async fn get(&self) -> Result<super::db::Pooled<'static>, super::db::PoolError> {
        self.for_this_loop().get_owned().await
    }

    /// A connection outside the pool's count, on the calling loop (a `LISTEN` session).
    pub async fn dedicated_connection(&self) -> Result<AsyncPgConnection, diesel_async::pooled_connection::PoolError> {
        self.for_this_loop().dedicated_connection().await
    }

    pub fn state(&self) -> PoolState {
        let mut total = PoolState { max_size: self.0.size, ..PoolState::default() };
        let mut add = |pool: &Bb8Pool| {
            let s = pool.state();
            total.connections += s.connections;
            total.idle_connections += s.idle_connections;
            let stats = &s.statistics;
            total.pending_gets += stats.pending_gets();
            total.gets_direct += stats.get_direct;
            total.gets_waited += stats.get_waited;
            total.gets_timed_out += stats.get_timed_out;
            total.wait_time += stats.get_wait_time;
        };
        add(&self.0.home);
        if let Some(split) = &self.0.split {
            for (_, pool) in split.loops.read().unwrap_or_else(PoisonError::into_inner).iter() {
                add(pool);
            }
        }
        total
    }

    /// How many event loops have a pool of their own (the home loop's included).
    pub fn loops(&self) -> usize {
        1 + self.0.split.as_ref().map_or(0, |s| s.loops.read().unwrap_or_else(PoisonError::into_inner).len())
    }

    fn for_this_loop(&self) -> Bb8Pool {
        let loops = &self.0;
        let (Some(split), Some(id)) = (&loops.split, current_loop()) else {
            return loops.home.clone();
        };
        if Some(id) == loops.home_loop {
            return loops.home.clone();
        }
        if let Some(pool) = pool_of(&split.loops.read().unwrap_or_else(PoisonError::into_inner), id) {
            return pool;
        }
        // First checkout on this loop: look again under the write lock (another thread of a
        // multi-threaded loop may have made it meanwhile), then make it.
        let mut all = split.loops.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pool_of(&all, id) {
            return pool;
        }
        if all.len() >= split.max_loops {
            return loops.home.clone();
        }
        let pool = (split.make)(split.per_loop);
        all.push((id, pool.clone()));
        pool
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("max_size", &self.0.size).field("loops", &self.loops()).finish()
    }
}

fn pool_of(loops: &[(Id, Bb8Pool)], id: Id) -> Option<Bb8Pool> {
    loops.iter().find(|(l, _)| *l == id).map(|(_, pool)| pool.clone())
}

fn current_loop() -> Option<Id> {
    Handle::try_current().ok().map(|h| h.id())
}
