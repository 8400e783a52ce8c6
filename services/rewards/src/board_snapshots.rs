//! In-memory snapshots of the big boards (global and weekly): the score histogram, the top page
//! and its display names, read together in one repeatable-read transaction and kept for
//! `REWARDS_LEADERBOARD_SNAPSHOT_MS`.
//!
//! Why: every board request used to sum the histogram over all distinct scores above the caller
//! (25,000 rows for a median user among 1,000,000 accounts) and read the same top page again. With
//! a snapshot, the first page costs nothing and the caller's rank is a binary search; only the
//! caller's own entry and name are read per request. The price is staleness: the first page and
//! the ranks trail the ledger by up to the snapshot age (later pages stay exact, see
//! `routes::leaderboard`). A snapshot older than twice the age is never served: the reader waits
//! for a fresh one, so an idle replica does not answer with hours-old ranks.
//!
//! Scale limit: a refresh reads one row per distinct score (50,000 in the benchmark, ~15 ms of
//! database time per second per board and replica). Past a few hundred thousand distinct scores,
//! keep per-band counts in the ledger transaction instead.

use crate::domain::handle::Pseudonyms;
use crate::domain::ranking::Histogram;
use crate::store::leaderboard::{self, Board, Entry};
use crate::store::profiles;
use diesel_async::AsyncPgConnection;
use platform::db::Pool;
use platform::Problem;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How many entries of the first page a snapshot holds: the largest page (100) plus one, which
/// tells whether there is a next page.
pub const TOP: i64 = 101;

/// Boards with a snapshot at once (the global board, this week's and a few past weeks); beyond
/// that the map is emptied rather than grown by requests for arbitrary weeks.
const MAX_BOARDS: usize = 8;

pub struct Snapshot {
    /// When the read began: the snapshot shows the board as of at least this moment.
    pub taken: Instant,
    pub histogram: Histogram,
    /// The first `TOP` entries in board order.
    pub top: Vec<Entry>,
    /// Their handles, in the same order: an HMAC each, computed once per snapshot instead of a
    /// hundred times per first-page request.
    pub top_handles: Vec<String>,
    pub names: HashMap<Uuid, String>,
}

#[derive(Default)]
struct Slot {
    current: Mutex<Option<Arc<Snapshot>>>,
    /// Held while one task loads this board, so a burst of readers causes one load, not many.
    loading: Arc<tokio::sync::Mutex<()>>,
}

impl Slot {
    fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set(&self, snapshot: Arc<Snapshot>) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(snapshot);
    }
}

pub struct BoardSnapshots {
    max_age: Duration,
    pseudonyms: Pseudonyms,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// Where background refreshes run: the service's main runtime, not the HTTP worker that
    /// noticed the age. Turning 50,000 histogram rows into a snapshot takes milliseconds that
    /// would otherwise stall every request queued on that worker (the leaderboard's p99).
    background: Option<tokio::runtime::Handle>,
    metrics: Option<SnapshotMetrics>,
}

/// Hits (a snapshot served without loading) and misses (the reader loaded one), and the age of
/// the snapshot last served per kind of board: how far the first page trails the ledger.
struct SnapshotMetrics {
    lookups: platform::metrics::CacheMetrics,
    age: platform::metrics::GaugeVec,
}

/// A bounded label: every week's board is `weekly`.
fn kind(board: &Board) -> &'static str {
    match board {
        Board::Global => "global",
        Board::Week(_) => "weekly",
    }
}

impl BoardSnapshots {
    /// `max_age` zero turns caching off: every read loads a snapshot of its own (tests that
    /// check ranks right after a change use that).
    /// Call from the service's main runtime (setup): background refreshes are spawned there.
    pub fn new(max_age: Duration, pseudonyms: Pseudonyms) -> Self {
        let background = tokio::runtime::Handle::try_current().ok();
        Self { max_age, pseudonyms, slots: Mutex::new(HashMap::new()), background, metrics: None }
    }

    pub fn with_metrics(mut self, metrics: &platform::metrics::Metrics) -> Self {
        self.metrics = Some(SnapshotMetrics {
            lookups: metrics.cache("leaderboard"),
            age: metrics.gauge(
                "monetization_rewards_leaderboard_snapshot_age_seconds",
                "Age of the leaderboard snapshot last served, by board (global, weekly)",
                &["board"],
            ),
        });
        self
    }

    /// [`Self::load_or_reuse`], counted.
    pub async fn get(&self, pool: &Pool, board: Board) -> Result<Arc<Snapshot>, Problem> {
        let label = kind(&board);
        let (snapshot, hit) = self.load_or_reuse(pool, board).await?;
        if let Some(m) = &self.metrics {
            m.lookups.record(hit);
            m.age.set(&[label], snapshot.taken.elapsed().as_secs_f64());
        }
        Ok(snapshot)
    }

    /// A snapshot of `board` no older than `max_age`, or up to twice that while a fresh one loads
    /// in the background; and whether it was there already (`true`) or this reader loaded it.
    async fn load_or_reuse(&self, pool: &Pool, board: Board) -> Result<(Arc<Snapshot>, bool), Problem> {
        let slot = self.slot(&board.key());
        if let Some(snapshot) = slot.current() {
            let age = snapshot.taken.elapsed();
            if age < self.max_age {
                return Ok((snapshot, true));
            }
            if age < self.max_age * 2 {
                if let Ok(guard) = slot.loading.clone().try_lock_owned() {
                    let (pool, slot, pseudonyms) = (pool.clone(), slot.clone(), self.pseudonyms.clone());
                    let refresh = async move {
                        match load(&pool, board, &pseudonyms).await {
                            Ok(fresh) => slot.set(Arc::new(fresh)),
                            Err(e) => {
                                tracing::warn!(code = %e.code, detail = ?e.detail, "leaderboard snapshot refresh failed")
                            }
                        }
                        drop(guard);
                    };
                    match &self.background {
                        Some(runtime) => drop(runtime.spawn(refresh)),
                        None => drop(tokio::spawn(refresh)),
                    }
                }
                return Ok((snapshot, true));
            }
        }
        let _loading = slot.loading.lock().await;
        if let Some(snapshot) = slot.current().filter(|s| s.taken.elapsed() < self.max_age) {
            return Ok((snapshot, true)); // another reader loaded it while we waited
        }
        let fresh = Arc::new(load(pool, board, &self.pseudonyms).await?);
        slot.set(fresh.clone());
        Ok((fresh, false))
    }

    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if !slots.contains_key(key) && slots.len() >= MAX_BOARDS {
            slots.clear();
        }
        slots.entry(key.to_string()).or_default().clone()
    }
}

/// Histogram, top page and names in one repeatable-read snapshot, so they agree with each other.
async fn load(pool: &Pool, board: Board, pseudonyms: &Pseudonyms) -> Result<Snapshot, Problem> {
    let taken = Instant::now();
    let mut conn = pool.get().await?;
    let (rows, top, names) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, Problem, _>(async |conn: &mut AsyncPgConnection| {
            let rows = leaderboard::histogram(conn, board).await?;
            let top = leaderboard::page(conn, board, None, TOP).await?;
            let ids: Vec<Uuid> = top.iter().map(|e| e.user_id).collect();
            let names = profiles::names(conn, &ids).await?;
            Ok((rows, top, names))
        })
        .await?;
    let top_handles = top.iter().map(|e| pseudonyms.handle(e.user_id)).collect();
    Ok(Snapshot { taken, histogram: Histogram::new(rows), top, top_handles, names })
}
