//! The audit log: who did what to which record, written in the same transaction as the action,
//! append-only (the database refuses UPDATE and DELETE) and hash-chained so that a change made by
//! someone who bypassed that (a superuser disabling the trigger) is found by [`verify`].
//!
//! A handler takes an [`AuditContext`] (the caller, request id, trace id and client address as
//! the gateway saw it) and, inside the action's transaction, calls [`record`] with the action's
//! name, its target and what changed. Every service has the table (platform migrations), the
//! verification command (`<service> audit verify`) and the admin read endpoint
//! (`GET /api/admin/audit/<service>`, [`routes`]).

mod chain;
mod context;
mod read;

pub use chain::{verify, Broken, Verification, GENESIS};
pub use context::AuditContext;
pub use read::{
    list, merged_openapi, openapi, path, routes, AuditEntryView, AuditFilter, Cursor, MergedAuditEntry,
    MergedAuditFilter,
};

use chain::Entry;
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        id -> Uuid,
        at -> Timestamptz,
        actor_sub -> Text,
        actor_roles -> Array<Text>,
        actor_org -> Nullable<Uuid>,
        action -> Text,
        target -> Text,
        request_id -> Nullable<Text>,
        trace_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        changes -> Jsonb,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_chain_head (one) {
        one -> Bool,
        seq -> BigInt,
        hash -> Text,
    }
}

/// One audited action, as the caller describes it.
#[derive(Debug, Clone)]
pub struct Action<'a> {
    /// A stable dotted name: `payment.refund`, `license.suspend`, `course.price.change`.
    pub action: &'a str,
    /// What it acted on: `payment:<uuid>`, `license:<uuid>`, `user:<uuid>`.
    pub target: String,
    /// What changed: the request's effective fields, or `{"before": .., "after": ..}`.
    pub changes: serde_json::Value,
}

impl<'a> Action<'a> {
    pub fn new(action: &'a str, target: impl Into<String>, changes: serde_json::Value) -> Self {
        Self { action, target: target.into(), changes }
    }
}

/// Append `action` to the audit log on `conn`, which must be inside the action's transaction:
/// the entry commits with the action or not at all. Appends are serialised by a row lock on the
/// chain head, held until that transaction ends.
pub async fn record(
    conn: &mut AsyncPgConnection,
    ctx: &AuditContext,
    at: DateTime<Utc>,
    action: Action<'_>,
) -> QueryResult<Uuid> {
    // Locks the head until commit; the next writer waits here and sees this entry's hash.
    let (seq, prev_hash): (i64, String) = diesel::update(audit_chain_head::table)
        .set(audit_chain_head::seq.eq(audit_chain_head::seq + 1))
        .returning((audit_chain_head::seq, audit_chain_head::hash))
        .get_result(conn)
        .await?;
    let entry = Entry {
        seq,
        id: Uuid::now_v7(),
        // PostgreSQL keeps microseconds: hash what is stored.
        at: at.trunc_subsecs(6),
        actor_sub: ctx.actor_sub.clone(),
        actor_roles: ctx.actor_roles.clone(),
        actor_org: ctx.actor_org,
        action: action.action.to_string(),
        target: action.target,
        request_id: ctx.request_id.clone(),
        trace_id: ctx.trace_id.clone(),
        client_addr: ctx.client_addr.clone(),
        changes: action.changes,
    };
    let hash = chain::link(&prev_hash, &entry);
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::seq.eq(entry.seq),
            audit_log::id.eq(entry.id),
            audit_log::at.eq(entry.at),
            audit_log::actor_sub.eq(&entry.actor_sub),
            audit_log::actor_roles.eq(&entry.actor_roles),
            audit_log::actor_org.eq(entry.actor_org),
            audit_log::action.eq(&entry.action),
            audit_log::target.eq(&entry.target),
            audit_log::request_id.eq(&entry.request_id),
            audit_log::trace_id.eq(&entry.trace_id),
            audit_log::client_addr.eq(&entry.client_addr),
            audit_log::changes.eq(&entry.changes),
            audit_log::prev_hash.eq(&prev_hash),
            audit_log::hash.eq(&hash),
        ))
        .execute(conn)
        .await?;
    diesel::update(audit_chain_head::table).set(audit_chain_head::hash.eq(&hash)).execute(conn).await?;
    Ok(entry.id)
}

/// Record that the caller read another user's data (`resource`, e.g. `billing_history`, of
/// `target`, e.g. `user:<uuid>`): a read has no transaction of its own, so the entry gets one.
pub async fn record_read(
    conn: &mut AsyncPgConnection,
    ctx: &AuditContext,
    at: DateTime<Utc>,
    resource: &str,
    target: String,
) -> QueryResult<Uuid> {
    use diesel_async::AsyncConnection;
    let changes = serde_json::json!({ "resource": resource });
    conn.transaction(async |c| record(c, ctx, at, Action::new("admin.read", target, changes)).await).await
}

/// For a read of `user`'s data: when the caller is someone else (an admin; the handler has
/// already decided they may), record it as an `admin.read` of `resource`. Reading one's own data
/// is not audited.
pub async fn audit_read_of(
    pool: &crate::db::Pool,
    req: &actix_web::HttpRequest,
    principal: &crate::auth::Principal,
    user: Uuid,
    resource: &str,
) -> Result<(), crate::Problem> {
    if principal.user_id().ok() == Some(user) {
        return Ok(());
    }
    let ctx = AuditContext::from_request(req, principal);
    let mut conn = pool.get().await?;
    record_read(&mut conn, &ctx, Utc::now(), resource, format!("user:{user}")).await?;
    Ok(())
}
