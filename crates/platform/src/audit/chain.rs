//! The hash chain: each entry's hash is SHA-256 over the previous entry's hash and the entry in
//! a canonical form, so changing, removing or inserting an entry breaks every link after it.

use super::{audit_chain_head, audit_log};
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry as it is hashed (every stored column but the hashes).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub(super) struct Entry {
    pub seq: i64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_sub: String,
    pub actor_roles: Vec<String>,
    pub actor_org: Option<Uuid>,
    pub action: String,
    pub target: String,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    pub client_addr: Option<String>,
    pub changes: Value,
}

/// The canonical bytes of an entry: JSON with fixed field order, object keys sorted at every
/// depth (JSONB reorders keys, so the hash must not depend on their order), times in RFC 3339
/// with microseconds.
fn canonical(e: &Entry) -> Vec<u8> {
    #[derive(Serialize)]
    struct Canonical<'a> {
        seq: i64,
        id: Uuid,
        at: String,
        actor_sub: &'a str,
        actor_roles: &'a [String],
        actor_org: Option<Uuid>,
        action: &'a str,
        target: &'a str,
        request_id: Option<&'a str>,
        trace_id: Option<&'a str>,
        client_addr: Option<&'a str>,
        changes: Value,
    }
    let c = Canonical {
        seq: e.seq,
        id: e.id,
        at: e.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        actor_sub: &e.actor_sub,
        actor_roles: &e.actor_roles,
        actor_org: e.actor_org,
        action: &e.action,
        target: &e.target,
        request_id: e.request_id.as_deref(),
        trace_id: e.trace_id.as_deref(),
        client_addr: e.client_addr.as_deref(),
        changes: sorted(&e.changes),
    };
    serde_json::to_vec(&c).unwrap_or_default()
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The hash of `entry` chained to `prev_hash`.
pub(super) fn link(prev_hash: &str, entry: &Entry) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical(entry));
    hex::encode(h.finalize())
}

/// The first place the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    /// The entry at which verification failed (for a missing entry: the one after the gap).
    pub seq: i64,
    pub id: Option<Uuid>,
    pub reason: String,
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Entries whose links were checked before the first break (all of them when intact).
    pub checked: u64,
    pub broken: Option<Broken>,
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.broken {
            None => write!(f, "audit log intact: {} entries, every link verified", self.checked),
            Some(b) => {
                let id = b.id.map(|i| format!(" (id {i})")).unwrap_or_default();
                write!(
                    f,
                    "audit log BROKEN at entry {}{id}: {}; {} entries before it verified",
                    b.seq, b.reason, self.checked
                )
            }
        }
    }
}

const BATCH: i64 = 1000;

/// Walk the whole chain in `seq` order, recomputing every hash, and report the first broken
/// link: an entry whose content no longer matches its hash, whose `prev_hash` is not the previous
/// entry's hash, a gap in `seq` (an entry removed), or a chain head that is ahead of the last
/// entry (entries removed from the end).
pub async fn verify(conn: &mut AsyncPgConnection) -> QueryResult<Verification> {
    let mut prev_hash = GENESIS.to_string();
    let mut expected_seq = 1_i64;
    let mut checked = 0_u64;
    loop {
        let rows: Vec<(Entry, String, String)> = audit_log::table
            .filter(audit_log::seq.ge(expected_seq))
            .order(audit_log::seq.asc())
            .limit(BATCH)
            .select((Entry::as_select(), audit_log::prev_hash, audit_log::hash))
            .load(conn)
            .await?;
        let done = (rows.len() as i64) < BATCH;
        for (entry, stored_prev, stored_hash) in rows {
            let broken = |reason: String| Broken { seq: entry.seq, id: Some(entry.id), reason };
            let fault = if entry.seq != expected_seq {
                Some(broken(format!("entries {expected_seq}..{} are missing", entry.seq - 1)))
            } else if stored_prev != prev_hash {
                Some(broken("its prev_hash is not the previous entry's hash".into()))
            } else if link(&prev_hash, &entry) != stored_hash {
                Some(broken("its content does not match its hash (changed after it was written)".into()))
            } else {
                None
            };
            if let Some(b) = fault {
                return Ok(Verification { checked, broken: Some(b) });
            }
            prev_hash = stored_hash;
            expected_seq += 1;
            checked += 1;
        }
        if done {
            break;
        }
    }
    let (head_seq, head_hash): (i64, String) =
        audit_chain_head::table.select((audit_chain_head::seq, audit_chain_head::hash)).first(conn).await?;
    let broken = if head_seq != expected_seq - 1 {
        Some(Broken {
            seq: expected_seq,
            id: None,
            reason: format!("the chain head says {head_seq} entries were written, {checked} are left"),
        })
    } else if head_hash != prev_hash {
        Some(Broken { seq: head_seq, id: None, reason: "the chain head's hash is not the last entry's".into() })
    } else {
        None
    };
    Ok(Verification { checked, broken })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(changes: Value) -> Entry {
        Entry {
            seq: 1,
            id: Uuid::nil(),
            at: DateTime::from_timestamp(1_700_000_000, 123_456_000).expect("time"),
            actor_sub: "u".into(),
            actor_roles: vec!["admin".into()],
            actor_org: None,
            action: "payment.refund".into(),
            target: "payment:1".into(),
            request_id: Some("r".into()),
            trace_id: None,
            client_addr: Some("203.0.113.9".into()),
            changes,
        }
    }

    #[test]
    fn the_hash_ignores_key_order_but_not_content() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":2,"x":3}}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"a":{"x":3,"y":2},"b":1}"#).expect("json");
        assert_eq!(link(GENESIS, &entry(a.clone())), link(GENESIS, &entry(b)));
        assert_ne!(link(GENESIS, &entry(a.clone())), link(GENESIS, &entry(json!({"b": 2, "a": {"x": 3, "y": 2}}))));
        assert_ne!(link(GENESIS, &entry(a.clone())), link(&"1".repeat(64), &entry(a)), "chained to the previous");
    }

    #[test]
    fn every_field_is_covered() {
        let base = entry(json!({}));
        let h = link(GENESIS, &base);
        let mut variants = Vec::new();
        let mut e = base.clone();
        e.actor_sub = "v".into();
        variants.push(e);
        let mut e = base.clone();
        e.client_addr = None;
        variants.push(e);
        let mut e = base.clone();
        e.at += chrono::Duration::microseconds(1);
        variants.push(e);
        let mut e = base.clone();
        e.actor_roles = vec![];
        variants.push(e);
        let mut e = base;
        e.target = "payment:2".into();
        variants.push(e);
        for v in variants {
            assert_ne!(link(GENESIS, &v), h, "{v:?}");
        }
    }
}
