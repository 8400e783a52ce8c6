use super::schema::charges;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
/// Abandoned with its subscription: billing was asked to cancel (or refund) its payment.
pub const VOIDED: &str = "voided";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = charges)]
pub struct Charge {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub kind: String,
    pub tier: String,
    pub amount: Decimal,
    pub currency: String,
    pub payment_id: Option<Uuid>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Renewals and upgrades: the end of the period the charge pays for (its subscription's
    /// `current_period_end` when it was made). Null on charges made before it was recorded.
    pub period_end: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    /// Upgrades: the unused part of the old tier the charge was priced with (its invoice lines).
    pub proration_credit: Option<Decimal>,
}

/// What a new charge is for.
pub struct NewCharge<'a> {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub kind: &'a str,
    pub tier: &'a str,
    pub amount: Decimal,
    pub currency: &'a str,
    pub period_end: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, c: &NewCharge<'_>) -> QueryResult<Charge> {
    diesel::insert_into(charges::table)
        .values((
            charges::id.eq(c.id),
            charges::subscription_id.eq(c.subscription_id),
            charges::kind.eq(c.kind),
            charges::tier.eq(c.tier),
            charges::amount.eq(c.amount),
            charges::currency.eq(c.currency),
            charges::status.eq(PENDING),
            charges::period_end.eq(c.period_end),
        ))
        .returning(Charge::as_returning())
        .get_result(conn)
        .await
}

/// The charge with this id, locked, or a new one (a retry finds what an earlier attempt made).
pub async fn lock_or_insert(conn: &mut AsyncPgConnection, c: &NewCharge<'_>) -> QueryResult<Charge> {
    match lock(conn, c.id).await? {
        Some(existing) => Ok(existing),
        None => insert(conn, c).await,
    }
}

pub async fn settle(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    payment_id: Option<Uuid>,
    status: &str,
) -> QueryResult<usize> {
    diesel::update(charges::table.find(id))
        .set((charges::payment_id.eq(payment_id), charges::status.eq(status)))
        .execute(conn)
        .await
}

/// Keep an upgrade's credit for the unused old tier (the caller sets it once, when first priced,
/// as the amount is).
pub async fn set_proration_credit(conn: &mut AsyncPgConnection, id: Uuid, credit: Decimal) -> QueryResult<Charge> {
    diesel::update(charges::table.find(id))
        .set(charges::proration_credit.eq(Some(credit)))
        .returning(Charge::as_returning())
        .get_result(conn)
        .await
}

/// Note billing's payment for the charge, keeping whatever status its events already set.
pub async fn set_payment(conn: &mut AsyncPgConnection, id: Uuid, payment_id: Uuid) -> QueryResult<usize> {
    diesel::update(charges::table.find(id).filter(charges::payment_id.is_null()))
        .set(charges::payment_id.eq(payment_id))
        .execute(conn)
        .await
}

pub async fn set_status(conn: &mut AsyncPgConnection, id: Uuid, status: &str) -> QueryResult<usize> {
    diesel::update(charges::table.find(id)).set(charges::status.eq(status)).execute(conn).await
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Charge>> {
    charges::table.find(id).for_update().select(Charge::as_select()).first(conn).await.optional()
}

/// The subscription's charges not paid (pending or failed), locked: what closing it abandons.
pub async fn lock_unpaid(conn: &mut AsyncPgConnection, subscription_id: Uuid) -> QueryResult<Vec<Charge>> {
    charges::table
        .filter(charges::subscription_id.eq(subscription_id))
        .filter(charges::status.eq_any([PENDING, FAILED]))
        .order(charges::created_at.asc())
        .for_update()
        .select(Charge::as_select())
        .load(conn)
        .await
}

/// Mark a charge abandoned, with why.
pub async fn void(conn: &mut AsyncPgConnection, id: Uuid, reason: &str) -> QueryResult<usize> {
    diesel::update(charges::table.find(id))
        .set((charges::status.eq(VOIDED), charges::void_reason.eq(reason)))
        .execute(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Charge>> {
    charges::table.find(id).select(Charge::as_select()).first(conn).await.optional()
}
