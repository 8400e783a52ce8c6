//! `payment_voids`: one row per payment another service gave up on, and the worker's queue.
//! The table is declared here rather than in `schema.rs` because only this module reads it.

use super::schema::refunds;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::db::PreparedDsl;
use uuid::Uuid;

diesel::table! {
    payment_voids (payment_id) {
        payment_id -> Uuid,
        reason -> Text,
        source_event_type -> Text,
        source_event_id -> Uuid,
        requested_at -> Timestamptz,
        state -> Text,
        refund_id -> Nullable<Uuid>,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

pub const PENDING: &str = "pending";
pub const CANCELED: &str = "canceled";
pub const REFUND_REQUESTED: &str = "refund_requested";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = payment_voids)]
pub struct Void {
    pub payment_id: Uuid,
    pub reason: String,
    pub source_event_type: String,
    pub source_event_id: Uuid,
    pub requested_at: DateTime<Utc>,
    pub state: String,
    pub refund_id: Option<Uuid>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewVoid<'a> {
    pub payment_id: Uuid,
    pub reason: &'a str,
    pub source_event_type: &'a str,
    pub source_event_id: Uuid,
    pub requested_at: DateTime<Utc>,
    /// `pending`, or `failed` with `last_error` for a request billing refuses to act on.
    pub state: &'a str,
    pub last_error: Option<&'a str>,
}

/// Record a void request; `false` when the payment already has one (the first request stands).
pub async fn insert(conn: &mut AsyncPgConnection, new: &NewVoid<'_>) -> QueryResult<bool> {
    let n = diesel::insert_into(payment_voids::table)
        .values((
            payment_voids::payment_id.eq(new.payment_id),
            payment_voids::reason.eq(new.reason),
            payment_voids::source_event_type.eq(new.source_event_type),
            payment_voids::source_event_id.eq(new.source_event_id),
            payment_voids::requested_at.eq(new.requested_at),
            payment_voids::state.eq(new.state),
            payment_voids::last_error.eq(new.last_error),
        ))
        .on_conflict(payment_voids::payment_id)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

pub async fn find(conn: &mut AsyncPgConnection, payment_id: Uuid) -> QueryResult<Option<Void>> {
    payment_voids::table.find(payment_id).select(Void::as_select()).first(conn).await.optional()
}

/// The void, locked until the end of the transaction.
pub async fn lock(conn: &mut AsyncPgConnection, payment_id: Uuid) -> QueryResult<Option<Void>> {
    payment_voids::table.find(payment_id).for_update().select(Void::as_select()).first(conn).await.optional()
}

/// Take up to `limit` due voids for this worker: each is pushed `lease_ms` into the future, so no
/// other worker (another replica, or this one's next pass) takes it while Stripe is being called,
/// and a worker that dies mid-way only delays it by the lease. Rows another worker is claiming at
/// this moment are skipped, not waited for.
pub async fn claim_due(conn: &mut AsyncPgConnection, lease_ms: i64, limit: i64) -> QueryResult<Vec<Void>> {
    diesel::sql_query(
        "UPDATE payment_voids SET attempts = attempts + 1, \
             next_attempt_at = now() + $1 * interval '1 millisecond', updated_at = now() \
         WHERE payment_id IN ( \
             SELECT payment_id FROM payment_voids \
             WHERE state IN ('pending', 'refund_requested') AND next_attempt_at <= now() \
             ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind::<BigInt, _>(lease_ms)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// Move the void to `state`, clearing the error.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    payment_id: Uuid,
    state: &str,
    refund_id: Option<Uuid>,
) -> QueryResult<usize> {
    diesel::update(payment_voids::table.find(payment_id))
        .set((
            payment_voids::state.eq(state),
            payment_voids::refund_id.eq(refund_id),
            payment_voids::last_error.eq(None::<String>),
            payment_voids::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Try again after `delay_ms` (the state stays what it was), remembering why.
pub async fn retry_later(
    conn: &mut AsyncPgConnection,
    payment_id: Uuid,
    delay_ms: i64,
    error: &str,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE payment_voids SET next_attempt_at = now() + $2 * interval '1 millisecond', \
             last_error = $3, updated_at = now() WHERE payment_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(payment_id)
    .bind::<BigInt, _>(delay_ms)
    .bind::<diesel::sql_types::Text, _>(error)
    .execute(conn)
    .await
}

/// Give up: a person has to look (`last_error` says why).
pub async fn fail(conn: &mut AsyncPgConnection, payment_id: Uuid, error: &str) -> QueryResult<usize> {
    diesel::update(payment_voids::table.find(payment_id))
        .set((
            payment_voids::state.eq(FAILED),
            payment_voids::last_error.eq(error),
            payment_voids::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// The payment succeeded after its void was recorded: whatever the worker concluded before (the
/// intent looked cancelable, or it gave up), the money is now captured and must go back. States
/// past a refund are left alone: a payment succeeds once.
pub async fn reopen_for_refund(conn: &mut AsyncPgConnection, payment_id: Uuid) -> QueryResult<usize> {
    diesel::update(
        payment_voids::table.find(payment_id).filter(payment_voids::state.eq_any([PENDING, CANCELED, FAILED])),
    )
    .set((
        payment_voids::state.eq(PENDING),
        payment_voids::next_attempt_at.eq(diesel::dsl::now),
        payment_voids::last_error.eq(None::<String>),
        payment_voids::updated_at.eq(diesel::dsl::now),
    ))
    .prepared()
    .execute(conn)
    .await
}

/// The id of the refund row Stripe's refund `stripe_id` is recorded as, if any (another worker
/// that got the same refund back from Stripe's idempotency replay must not record it twice).
pub async fn refund_by_stripe_id(conn: &mut AsyncPgConnection, stripe_id: &str) -> QueryResult<Option<Uuid>> {
    refunds::table.filter(refunds::stripe_refund_id.eq(stripe_id)).select(refunds::id).first(conn).await.optional()
}

pub async fn stripe_refund_id(conn: &mut AsyncPgConnection, refund_id: Uuid) -> QueryResult<Option<String>> {
    let found: Option<Option<String>> =
        refunds::table.find(refund_id).select(refunds::stripe_refund_id).first(conn).await.optional()?;
    Ok(found.flatten())
}

/// Stripe settled a refund the worker saw pending.
pub async fn set_refund_status(conn: &mut AsyncPgConnection, refund_id: Uuid, status: &str) -> QueryResult<usize> {
    diesel::update(refunds::table.find(refund_id)).set(refunds::status.eq(status)).execute(conn).await
}
