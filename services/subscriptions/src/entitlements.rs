//! What a user may use, answered from an in-process cache. Every change this service makes (its
//! handlers, consumer and scheduler all run in-process) invalidates the user's entry at once; the
//! TTL only bounds staleness for changes made by other replicas.

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
}

pub struct FeatureCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, (Entitlement, Instant)>>,
    /// Bumped by every invalidation: an answer computed before a change committed must not be
    /// cached after it, so a reader stores only if the user's generation did not move meanwhile.
    generations: Mutex<HashMap<Uuid, u64>>,
    metrics: Option<platform::metrics::CacheMetrics>,
}

const MAX_ENTRIES: usize = 200_000;

impl FeatureCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()), generations: Mutex::new(HashMap::new()), metrics: None }
    }

    /// Count every lookup as a hit or a miss.
    pub fn with_metrics(mut self, metrics: platform::metrics::CacheMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn get(&self, user: Uuid) -> Option<Entitlement> {
        let found = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.get(&user).filter(|(_, at)| at.elapsed() < self.ttl).map(|(e, _)| e.clone())
        };
        if let Some(m) = &self.metrics {
            m.record(found.is_some());
        }
        found
    }

    /// Read before computing an answer; pass to [`FeatureCache::put`].
    pub fn generation(&self, user: Uuid) -> u64 {
        self.generations.lock().unwrap_or_else(|e| e.into_inner()).get(&user).copied().unwrap_or(0)
    }

    /// Cache `e`, unless the user was invalidated since `generation` was read.
    pub fn put(&self, user: Uuid, e: Entitlement, generation: u64) {
        let generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        if generations.get(&user).copied().unwrap_or(0) != generation {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        entries.insert(user, (e, Instant::now()));
    }

    pub fn invalidate(&self, user: Uuid) {
        let mut generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        *generations.entry(user).or_insert(0) += 1;
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&user);
    }
}

/// Tiers' ranks and features: data changed only by a migration or an operator's SQL, yet read by
/// every cache miss (two of its four queries), so it is kept per process for [`TIER_TABLE_TTL`].
#[derive(Debug)]
pub struct TierTable {
    ranks: HashMap<String, i32>,
    /// (tier, feature) pairs.
    features: Vec<(String, String)>,
}

/// How long an operator's change to tiers or features takes to reach every pod.
pub const TIER_TABLE_TTL: Duration = Duration::from_secs(60);

/// The one cached tier table (a cache of a single key).
pub type TierTableCache = platform::cache::TtlCache<Arc<TierTable>>;

pub fn tier_table_cache() -> TierTableCache {
    TierTableCache::new(TIER_TABLE_TTL, 1)
}

const TIER_TABLE_KEY: &str = "tiers";

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

/// The user's entitlement computed from the database.
pub async fn compute(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    now: DateTime<Utc>,
    tier_tables: &TierTableCache,
) -> Result<Entitlement, diesel::result::Error> {
    let table = tier_table(conn, tier_tables).await?;
    let rank_of = |code: &str| table.ranks.get(code).copied().unwrap_or(0);
    let mut candidates = Vec::new();
    if let Some(sub) = subscriptions::latest(conn, user).await? {
        if Status::parse(&sub.status).is_some_and(|s| s.grants_access()) {
            candidates.push(Candidate { rank: rank_of(&sub.tier), tier: sub.tier, source: Source::Subscription });
        }
    }
    for (tier, rank, source) in grants::active(conn, user, now).await? {
        let source = if source == "license" { Source::License } else { Source::Reward };
        candidates.push(Candidate { tier, rank, source });
    }
    let (tier, source) = match effective(&candidates) {
        Some(c) => (c.tier.clone(), Some(c.source)),
        None => ("free".to_string(), None),
    };
    let features = table.features.iter().filter(|(t, _)| *t == tier).map(|(_, f)| f.clone()).collect();
    Ok(Entitlement { tier, source, features })
}
