use super::schema::payments;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::db::PreparedDsl;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payments)]
pub struct Payment {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount: Decimal,
    pub currency: String,
    pub purpose: String,
    pub reference_id: String,
    pub description: String,
    pub status: String,
    pub stripe_payment_intent_id: String,
    pub client_secret: Option<String>,
    pub latest_charge_id: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub amount_refunded: Decimal,
    pub receipt_number: Option<String>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when a Stripe notification disagreed with this record (`amount_mismatch`): not applied.
    pub review_flag: Option<String>,
    pub review_detail: Option<String>,
    /// The trace of the request that created it; its webhook's effects continue that trace.
    pub traceparent: Option<String>,
    /// The tax within `amount` (which is what Stripe charges): the net is `amount - tax_amount`.
    pub tax_amount: Decimal,
    /// `domain::invoice::TaxApplied`, when a rate or reverse charge applied.
    pub tax: Option<serde_json::Value>,
    pub tax_country: Option<String>,
    /// The caller's `ChargeLine`s (net, or gross under an inclusive rate).
    pub lines: serde_json::Value,
    /// `domain::invoice::Party`: the customer's billing details when the payment was made.
    pub billed_to: Option<serde_json::Value>,
    /// `domain::invoice::Party`: the seller as configured when the payment was made.
    pub seller: Option<serde_json::Value>,
}

impl Payment {
    /// Revenue: what consumers of billing's events count.
    pub fn net_amount(&self) -> Decimal {
        self.amount - self.tax_amount
    }
}

/// Serialize: `store::payment_once` passes it to its SQL function as one JSON row.
#[derive(Debug, Insertable, serde::Serialize)]
#[diesel(table_name = payments)]
pub struct NewPayment<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount: Decimal,
    pub currency: &'a str,
    pub purpose: &'a str,
    pub reference_id: &'a str,
    pub description: &'a str,
    pub status: &'a str,
    pub stripe_payment_intent_id: &'a str,
    pub client_secret: Option<&'a str>,
    pub traceparent: Option<String>,
    pub tax_amount: Decimal,
    pub tax: Option<serde_json::Value>,
    pub tax_country: Option<&'a str>,
    pub lines: serde_json::Value,
    pub billed_to: Option<serde_json::Value>,
    pub seller: Option<serde_json::Value>,
}

pub async fn insert(mut conn: &AsyncPgConnection, new: &NewPayment<'_>) -> QueryResult<Payment> {
    diesel::insert_into(payments::table)
        .values(new)
        .returning(Payment::as_returning())
        .prepared()
        .get_result(&mut conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Payment>> {
    payments::table.find(id).select(Payment::as_select()).first(conn).await.optional()
}

/// The payment paid by `intent_id`, unlocked: what the webhook reads before it asks Stripe.
pub async fn find_by_intent(conn: &mut AsyncPgConnection, intent_id: &str) -> QueryResult<Option<Payment>> {
    payments::table
        .filter(payments::stripe_payment_intent_id.eq(intent_id))
        .select(Payment::as_select())
        .first(conn)
        .await
        .optional()
}

/// The payment, locked until the end of the transaction (refunds, webhook updates).
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Payment>> {
    payments::table.find(id).for_update().select(Payment::as_select()).first(conn).await.optional()
}

pub async fn lock_by_intent(conn: &mut AsyncPgConnection, intent_id: &str) -> QueryResult<Option<Payment>> {
    payments::table
        .filter(payments::stripe_payment_intent_id.eq(intent_id))
        .for_update()
        .select(Payment::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn mark_failed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: &str,
    code: Option<&str>,
    message: Option<&str>,
) -> QueryResult<Payment> {
    diesel::update(payments::table.find(id))
        .set((
            payments::status.eq(status),
            payments::failure_code.eq(code),
            payments::failure_message.eq(message),
            payments::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Payment::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_status(conn: &mut AsyncPgConnection, id: Uuid, status: &str) -> QueryResult<usize> {
    diesel::update(payments::table.find(id))
        .set((payments::status.eq(status), payments::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await
}

pub async fn set_amount_refunded(conn: &mut AsyncPgConnection, id: Uuid, amount: Decimal) -> QueryResult<Payment> {
    diesel::update(payments::table.find(id))
        .set((payments::amount_refunded.eq(amount), payments::updated_at.eq(diesel::dsl::now)))
        .returning(Payment::as_returning())
        .get_result(conn)
        .await
}

/// Flags the payment for a person (e.g. `amount_mismatch`); its status is left as it was.
pub async fn flag_for_review(conn: &mut AsyncPgConnection, id: Uuid, flag: &str, detail: &str) -> QueryResult<usize> {
    diesel::update(payments::table.find(id))
        .set((
            payments::review_flag.eq(flag),
            payments::review_detail.eq(detail),
            payments::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}
