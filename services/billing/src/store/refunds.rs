use super::schema::{billing_history, refunds};
use chrono::{DateTime, Utc};
use diesel::dsl::sum;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds)]
pub struct Refund {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Decimal,
    pub currency: String,
    pub reason: String,
    pub status: String,
    /// `None` while the refund is reserved and Stripe has not answered yet.
    pub stripe_refund_id: Option<String>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub request_key: Option<String>,
    pub failure_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// Its `billing.payment.refunded.v1` is written and it counts in `payments.amount_refunded`.
    pub announced: bool,
}

/// A refund Stripe already made (billing's own automatic refunds, dashboard refunds).
#[derive(Debug, Insertable)]
#[diesel(table_name = refunds)]
pub struct NewRefund<'a> {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Decimal,
    pub currency: &'a str,
    pub reason: &'a str,
    pub status: &'a str,
    pub stripe_refund_id: &'a str,
    pub requested_by: &'a str,
}

/// A refund reserved before Stripe is asked for it: it counts against what is left at once, so
/// concurrent requests cannot together exceed the payment while none holds a lock across the call.
#[derive(Debug, Insertable)]
#[diesel(table_name = refunds)]
pub struct Reservation<'a> {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Decimal,
    pub currency: &'a str,
    pub reason: &'a str,
    pub status: &'a str,
    pub requested_by: &'a str,
    pub request_key: &'a str,
}

/// Refunds that count against the captured amount (all but failed and canceled ones, reserved
/// ones and those made in Stripe's dashboard included).
pub async fn total_active(conn: &mut AsyncPgConnection, payment_id: Uuid) -> QueryResult<Decimal> {
    let total: Option<Decimal> = refunds::table
        .filter(refunds::payment_id.eq(payment_id))
        .filter(refunds::status.ne_all(["failed", "canceled"]))
        .select(sum(refunds::amount))
        .first(conn)
        .await?;
    Ok(total.unwrap_or(Decimal::ZERO))
}

/// What the payment's announced refunds add up to: its `amount_refunded`.
pub async fn total_announced(conn: &mut AsyncPgConnection, payment_id: Uuid) -> QueryResult<Decimal> {
    let total: Option<Decimal> = refunds::table
        .filter(refunds::payment_id.eq(payment_id))
        .filter(refunds::announced.eq(true))
        .select(sum(refunds::amount))
        .first(conn)
        .await?;
    Ok(total.unwrap_or(Decimal::ZERO))
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewRefund<'_>) -> QueryResult<Refund> {
    diesel::insert_into(refunds::table).values(new).returning(Refund::as_returning()).get_result(conn).await
}

pub async fn reserve(conn: &mut AsyncPgConnection, new: &Reservation<'_>) -> QueryResult<Refund> {
    diesel::insert_into(refunds::table).values(new).returning(Refund::as_returning()).get_result(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Refund>> {
    refunds::table.find(id).select(Refund::as_select()).first(conn).await.optional()
}

pub async fn find_by_request_key(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<Option<Refund>> {
    refunds::table.filter(refunds::request_key.eq(key)).select(Refund::as_select()).first(conn).await.optional()
}

pub async fn find_by_stripe_id(conn: &mut AsyncPgConnection, stripe_id: &str) -> QueryResult<Option<Refund>> {
    refunds::table
        .filter(refunds::stripe_refund_id.eq(stripe_id))
        .select(Refund::as_select())
        .first(conn)
        .await
        .optional()
}

/// Gives a reservation back after Stripe refused to make the refund: the row and its history line
/// go, as if it had never been asked for. Only a reservation Stripe never answered can go.
pub async fn release(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(billing_history::table.filter(billing_history::refund_id.eq(id))).execute(conn).await?;
    diesel::delete(refunds::table.find(id).filter(refunds::stripe_refund_id.is_null())).execute(conn).await
}

/// What Stripe says about the refund now: its id and status.
pub async fn record_stripe_state(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    stripe_id: &str,
    status: &str,
    failure_reason: Option<&str>,
) -> QueryResult<Refund> {
    diesel::update(refunds::table.find(id))
        .set((
            refunds::stripe_refund_id.eq(stripe_id),
            refunds::status.eq(status),
            refunds::failure_reason.eq(failure_reason),
            refunds::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Refund::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_announced(conn: &mut AsyncPgConnection, id: Uuid, announced: bool) -> QueryResult<usize> {
    diesel::update(refunds::table.find(id))
        .set((refunds::announced.eq(announced), refunds::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await
}

pub async fn for_payment(conn: &mut AsyncPgConnection, payment_id: Uuid) -> QueryResult<Vec<Refund>> {
    refunds::table
        .filter(refunds::payment_id.eq(payment_id))
        .order(refunds::created_at.asc())
        .select(Refund::as_select())
        .load(conn)
        .await
}
