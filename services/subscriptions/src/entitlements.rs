//! What a user may use, answered from an in-process cache. Every change this service makes (its
//! handlers, consumer and scheduler all run in-process) invalidates the user's entry at once; the
//! tables the answer is computed from also notify every replica on commit (triggers calling
//! `cache_notify`, heard by `platform::invalidation::Listener`), so another replica's change
//! reaches this cache within the notification lag. The TTL is only the last line of defence.

use crate::domain::entitlement::{effective, Candidate, Source};
use crate::domain::lifecycle::Status;
use crate::store::{grants, subscriptions, tiers};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct Entitlement {
    pub tier: String,
    /// Absent on Free: nothing grants it.
    pub source: Option<Source>,
    pub features: BTreeSet<String>,
    /// When the answer changes with no write (a grant ends, a queued one starts): a cached copy
    /// must not outlive it.
    #[serde(skip)]
    pub valid_until: Option<DateTime<Utc>>,
}

pub struct FeatureCache {
    ttl: Duration,
    /// Each answer with the instant it expires.
    entries: Mutex<HashMap<Uuid, (Entitlement, Instant)>>,
    generations: Mutex<Generations>,
    metrics: Option<platform::metrics::CacheMetrics>,
}

/// Bumped by every invalidation: an answer computed before a change committed must not be cached
/// after it, so a reader stores only if the user's generation (and the epoch, bumped when the
/// whole cache is invalidated) did not move meanwhile.
#[derive(Default)]
struct Generations {
    epoch: u64,
    per_user: HashMap<Uuid, u64>,
}

/// What [`FeatureCache::generation`] hands a reader: compared again by [`FeatureCache::put`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    epoch: u64,
    user: u64,
}

/// Name of the cache in `cache_notify` triggers (`features:<user id>`).
pub const FEATURES: &str = "features";

const MAX_ENTRIES: usize = 200_000;

impl FeatureCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()), generations: Mutex::default(), metrics: None }
    }

    /// Count every lookup as a hit or a miss.
    pub fn with_metrics(mut self, metrics: platform::metrics::CacheMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn get(&self, user: Uuid) -> Option<Entitlement> {
        let found = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            entries.get(&user).filter(|(_, expires)| now < *expires).map(|(e, _)| e.clone())
        };
        if let Some(m) = &self.metrics {
            m.record(found.is_some());
        }
        found
    }

    /// Read before computing an answer; pass to [`FeatureCache::put`].
    pub fn generation(&self, user: Uuid) -> Generation {
        let generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        Generation { epoch: generations.epoch, user: generations.per_user.get(&user).copied().unwrap_or(0) }
    }

    /// Cache `e`, computed as of `now`, for the TTL or until its `valid_until` if sooner; unless
    /// the user was invalidated since `generation` was read.
    pub fn put(&self, user: Uuid, e: Entitlement, generation: Generation, now: DateTime<Utc>) {
        let life = match e.valid_until {
            Some(until) => self.ttl.min((until - now).to_std().unwrap_or(Duration::ZERO)),
            None => self.ttl,
        };
        if life.is_zero() {
            return;
        }
        let generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        let current =
            Generation { epoch: generations.epoch, user: generations.per_user.get(&user).copied().unwrap_or(0) };
        if current != generation {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let stored_at = Instant::now();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, expires)| stored_at < *expires);
        }
        entries.insert(user, (e, stored_at + life));
    }

    pub fn invalidate(&self, user: Uuid) {
        let mut generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        if generations.per_user.len() >= MAX_ENTRIES {
            // Every user changed anywhere is counted here (other replicas' changes too): start
            // over under a new epoch, which refuses every answer computed before it.
            generations.epoch += 1;
            generations.per_user.clear();
        }
        *generations.per_user.entry(user).or_insert(0) += 1;
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&user);
    }

    /// Forget every answer, and refuse those being computed.
    pub fn clear(&self) {
        let mut generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        generations.epoch += 1;
        generations.per_user.clear();
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Notifications from other replicas (and this one's own, heard again: harmless).
impl platform::invalidation::Invalidate for FeatureCache {
    fn invalidate(&self, key: &str) {
        match Uuid::parse_str(key) {
            Ok(user) => FeatureCache::invalidate(self, user),
            Err(_) => {
                tracing::warn!(key, "feature cache notification with a key that is not a user id: clearing");
                self.clear();
            }
        }
    }

    fn invalidate_all(&self) {
        self.clear();
    }
}

/// Tiers' ranks and features: data changed only by a migration or an operator's SQL, yet read by
/// every cache miss (two of its four queries), so it is kept per process. Triggers on `tiers` and
/// `tier_features` invalidate it (and every feature answer) on every replica; [`TIER_TABLE_TTL`]
/// bounds it only while that notification is lost.
#[derive(Debug)]
pub struct TierTable {
    ranks: HashMap<String, i32>,
    /// (tier, feature) pairs.
    features: Vec<(String, String)>,
}

/// The longest a tier table is kept, even with no notification.
pub const TIER_TABLE_TTL: Duration = Duration::from_secs(60);

/// The one cached tier table (a cache of a single key).
pub type TierTableCache = platform::cache::TtlCache<Arc<TierTable>>;

pub fn tier_table_cache() -> TierTableCache {
    TierTableCache::new(TIER_TABLE_TTL, 1)
}

const TIER_TABLE_KEY: &str = "tiers";

/// Name of the tier table in `cache_notify` triggers.
pub const TIERS: &str = "tiers";

async fn tier_table(
    conn: &mut AsyncPgConnection,
    cache: &TierTableCache,
) -> Result<Arc<TierTable>, diesel::result::Error> {
    if let Some(table) = cache.get(TIER_TABLE_KEY) {
        return Ok(table);
    }
    let read_at = Instant::now();
    let ranks = tiers::all(conn).await?.into_iter().map(|t| (t.code, t.rank)).collect();
    let table = Arc::new(TierTable { ranks, features: tiers::features(conn).await? });
    cache.put(TIER_TABLE_KEY, table.clone(), read_at);
    Ok(table)
}

/// The user's entitlement computed from the database, as of `now` (the service's clock).
///
/// A subscription counts by its status alone, never by its period end, so a subscription on a
/// test clock needs no clock here: its status changes (renewal, past due, expiry, cancel at the
/// period end) are written by the scheduler's pass for that clock, and each write invalidates the
/// cached answer. Grants are judged against `now`: they are not attached to clocks (docs/api.md,
/// "Test clocks").
pub async fn compute(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    now: DateTime<Utc>,
    tier_tables: &TierTableCache,
) -> Result<Entitlement, diesel::result::Error> {
    Ok(compute_with_subscription(conn, user, now, tier_tables).await?.0)
}

/// [`compute`], also handing back the user's most recent subscription it read (live or not), for
/// a caller that shows it beside the entitlement without reading it a second time.
pub async fn compute_with_subscription(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    now: DateTime<Utc>,
    tier_tables: &TierTableCache,
) -> Result<(Entitlement, Option<subscriptions::Subscription>), diesel::result::Error> {
    let table = tier_table(conn, tier_tables).await?;
    let rank_of = |code: &str| table.ranks.get(code).copied().unwrap_or(0);
    let mut candidates = Vec::new();
    // Independent reads: pipelined, one round trip.
    let shared: &AsyncPgConnection = conn;
    let (latest, windows) =
        futures_util::try_join!(subscriptions::latest(shared, user), grants::current_and_upcoming(shared, user, now))?;
    if let Some(sub) = &latest {
        if Status::parse(&sub.status).is_some_and(|s| s.grants_access()) {
            candidates.push(Candidate {
                rank: rank_of(&sub.tier),
                tier: sub.tier.clone(),
                source: Source::Subscription,
            });
        }
    }
    let mut valid_until: Option<DateTime<Utc>> = None;
    for g in windows {
        let change = if g.starts_at > now { Some(g.starts_at) } else { g.ends_at };
        valid_until = match (valid_until, change) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if g.starts_at <= now {
            let source = if g.source == "license" { Source::License } else { Source::Reward };
            candidates.push(Candidate { tier: g.tier, rank: g.rank, source });
        }
    }
    let (tier, source) = match effective(&candidates) {
        Some(c) => (c.tier.clone(), Some(c.source)),
        None => ("free".to_string(), None),
    };
    let features = table.features.iter().filter(|(t, _)| *t == tier).map(|(_, f)| f.clone()).collect();
    Ok((Entitlement { tier, source, features, valid_until }, latest))
}
