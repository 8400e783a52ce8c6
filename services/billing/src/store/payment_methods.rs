//! The customer's saved cards. Which one renewals charge is `customers.default_payment_method`.

use super::schema::{customers, payment_methods};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payment_methods)]
pub struct SavedMethod {
    pub id: Uuid,
    pub user_id: Uuid,
    pub stripe_payment_method_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: Option<i32>,
    pub exp_year: Option<i32>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewMethod<'a> {
    pub user_id: Uuid,
    pub stripe_payment_method_id: &'a str,
    pub brand: &'a str,
    pub last4: &'a str,
    pub exp_month: Option<i32>,
    pub exp_year: Option<i32>,
    pub at: DateTime<Utc>,
}

/// Our id of a Stripe payment method: derived from it, so recording one twice (a webhook
/// delivered again, a payment and a setup naming the same card) is one row.
pub fn id_for(stripe_payment_method_id: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("payment_method:{stripe_payment_method_id}").as_bytes())
}

/// Records the card (once); returns its row.
pub async fn remember(conn: &mut AsyncPgConnection, new: &NewMethod<'_>) -> QueryResult<SavedMethod> {
    let id = id_for(new.stripe_payment_method_id);
    diesel::insert_into(payment_methods::table)
        .values((
            payment_methods::id.eq(id),
            payment_methods::user_id.eq(new.user_id),
            payment_methods::stripe_payment_method_id.eq(new.stripe_payment_method_id),
            payment_methods::brand.eq(new.brand),
            payment_methods::last4.eq(new.last4),
            payment_methods::exp_month.eq(new.exp_month),
            payment_methods::exp_year.eq(new.exp_year),
            payment_methods::created_at.eq(new.at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    payment_methods::table.find(id).select(SavedMethod::as_select()).first(conn).await
}

/// The user's cards, newest first (a customer has a handful: no pagination).
pub async fn list(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Vec<SavedMethod>> {
    payment_methods::table
        .filter(payment_methods::user_id.eq(user_id))
        .order((payment_methods::created_at.desc(), payment_methods::id.desc()))
        .limit(100)
        .select(SavedMethod::as_select())
        .load(conn)
        .await
}

/// One of the user's cards; another user's card is `None`, exactly like a missing one.
pub async fn find_own(conn: &mut AsyncPgConnection, user_id: Uuid, id: Uuid) -> QueryResult<Option<SavedMethod>> {
    payment_methods::table
        .find(id)
        .filter(payment_methods::user_id.eq(user_id))
        .select(SavedMethod::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(payment_methods::table.find(id)).execute(conn).await
}

/// The customer row, locked: default changes and removals of one user go one at a time.
pub async fn lock_customer(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Option<(String, Option<String>)>> {
    customers::table
        .find(user_id)
        .select((customers::stripe_customer_id, customers::default_payment_method))
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The user of a Stripe customer (a SetupIntent names the customer).
pub async fn user_of_customer(conn: &mut AsyncPgConnection, stripe_customer_id: &str) -> QueryResult<Option<Uuid>> {
    customers::table
        .filter(customers::stripe_customer_id.eq(stripe_customer_id))
        .select(customers::user_id)
        .first(conn)
        .await
        .optional()
}
