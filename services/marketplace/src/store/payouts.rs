use super::schema::payouts;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

pub const REQUESTED: &str = "requested";
pub const PAID: &str = "paid";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payouts)]
pub struct Payout {
    pub id: Uuid,
    pub instructor_id: Uuid,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub paid_by: Option<String>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    instructor: Uuid,
    amount: Decimal,
    currency: &str,
    at: DateTime<Utc>,
) -> QueryResult<Payout> {
    diesel::insert_into(payouts::table)
        .values((
            payouts::id.eq(id),
            payouts::instructor_id.eq(instructor),
            payouts::amount.eq(amount),
            payouts::currency.eq(currency),
            payouts::status.eq(REQUESTED),
            payouts::requested_at.eq(at),
        ))
        .returning(Payout::as_returning())
        .get_result(conn)
        .await
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Payout>> {
    payouts::table.find(id).for_update().select(Payout::as_select()).first(conn).await.optional()
}

pub async fn mark_paid(conn: &mut AsyncPgConnection, id: Uuid, by: &str, at: DateTime<Utc>) -> QueryResult<Payout> {
    diesel::update(payouts::table.find(id))
        .set((payouts::status.eq(PAID), payouts::paid_at.eq(at), payouts::paid_by.eq(by)))
        .returning(Payout::as_returning())
        .get_result(conn)
        .await
}

/// A page of the instructor's payouts, newest first.
pub async fn for_instructor(
    conn: &mut AsyncPgConnection,
    instructor: Uuid,
    after: Option<super::Keyset>,
    limit: i64,
) -> QueryResult<Vec<Payout>> {
    let mut query = payouts::table
        .filter(payouts::instructor_id.eq(instructor))
        .order((payouts::requested_at.desc(), payouts::id.desc()))
        .limit(limit + 1)
        .select(Payout::as_select())
        .into_boxed();
    if let Some(c) = after {
        query =
            query.filter(payouts::requested_at.lt(c.at).or(payouts::requested_at.eq(c.at).and(payouts::id.lt(c.id))));
    }
    query.load(conn).await
}
