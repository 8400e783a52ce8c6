use super::schema::billing_history;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = billing_history)]
pub struct HistoryLine {
    pub id: Uuid,
    pub user_id: Uuid,
    pub payment_id: Uuid,
    pub refund_id: Option<Uuid>,
    pub kind: String,
    pub amount: Decimal,
    pub currency: String,
    pub description: String,
    pub occurred_at: DateTime<Utc>,
}

/// Keyset position: newest first, ties broken by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

pub struct NewLine<'a> {
    pub user_id: Uuid,
    pub payment_id: Uuid,
    pub refund_id: Option<Uuid>,
    pub kind: &'a str,
    pub amount: Decimal,
    pub currency: &'a str,
    pub description: &'a str,
}

pub async fn insert(conn: &mut AsyncPgConnection, line: &NewLine<'_>) -> QueryResult<usize> {
    diesel::insert_into(billing_history::table)
        .values((
            billing_history::id.eq(Uuid::now_v7()),
            billing_history::user_id.eq(line.user_id),
            billing_history::payment_id.eq(line.payment_id),
            billing_history::refund_id.eq(line.refund_id),
            billing_history::kind.eq(line.kind),
            billing_history::amount.eq(line.amount),
            billing_history::currency.eq(line.currency),
            billing_history::description.eq(line.description),
        ))
        .execute(conn)
        .await
}

/// The buyer's history line for refund `refund_id` of `payment` (API, automatic or dashboard):
/// one place, so every refund path shows the same shape.
pub async fn insert_refund(
    conn: &mut AsyncPgConnection,
    payment: &super::payments::Payment,
    refund_id: Uuid,
    amount: Decimal,
    label: &str,
) -> QueryResult<usize> {
    insert(
        conn,
        &NewLine {
            user_id: payment.user_id,
            payment_id: payment.id,
            refund_id: Some(refund_id),
            kind: "refund",
            amount,
            currency: payment.currency.trim(),
            description: &format!("{label}: {}", payment.description),
        },
    )
    .await
}

/// One page of `user_id`'s history, newest first; fetches `limit + 1` to know if more exist.
pub async fn page(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<HistoryLine>> {
    let mut query = billing_history::table
        .filter(billing_history::user_id.eq(user_id))
        .select(HistoryLine::as_select())
        .order((billing_history::occurred_at.desc(), billing_history::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = after {
        query = query.filter(
            billing_history::occurred_at
                .lt(c.at)
                .or(billing_history::occurred_at.eq(c.at).and(billing_history::id.lt(c.id))),
        );
    }
    query.load(conn).await
}
