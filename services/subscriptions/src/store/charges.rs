use super::schema::charges;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

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
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    subscription_id: Uuid,
    kind: &str,
    tier: &str,
    amount: Decimal,
    currency: &str,
) -> QueryResult<Charge> {
    diesel::insert_into(charges::table)
        .values((
            charges::id.eq(id),
            charges::subscription_id.eq(subscription_id),
            charges::kind.eq(kind),
            charges::tier.eq(tier),
            charges::amount.eq(amount),
            charges::currency.eq(currency),
            charges::status.eq("pending"),
        ))
        .returning(Charge::as_returning())
        .get_result(conn)
        .await
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

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Charge>> {
    charges::table.find(id).for_update().select(Charge::as_select()).first(conn).await.optional()
}
