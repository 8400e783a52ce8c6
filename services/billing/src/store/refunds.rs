use super::schema::refunds;
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
    pub stripe_refund_id: String,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
}

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

/// Refunds that count against the captured amount (all but failed and canceled ones).
pub async fn total_active(conn: &mut AsyncPgConnection, payment_id: Uuid) -> QueryResult<Decimal> {
    let total: Option<Decimal> = refunds::table
        .filter(refunds::payment_id.eq(payment_id))
        .filter(refunds::status.ne_all(["failed", "canceled"]))
        .select(sum(refunds::amount))
        .first(conn)
        .await?;
    Ok(total.unwrap_or(Decimal::ZERO))
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewRefund<'_>) -> QueryResult<Refund> {
    diesel::insert_into(refunds::table).values(new).returning(Refund::as_returning()).get_result(conn).await
}

pub async fn for_payment(conn: &mut AsyncPgConnection, payment_id: Uuid) -> QueryResult<Vec<Refund>> {
    refunds::table
        .filter(refunds::payment_id.eq(payment_id))
        .order(refunds::created_at.asc())
        .select(Refund::as_select())
        .load(conn)
        .await
}
