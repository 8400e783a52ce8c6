use super::schema::customers;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub async fn find(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<String>> {
    customers::table.find(user_id).select(customers::stripe_customer_id).first(conn).await.optional()
}

/// Remember the user's Stripe customer; the first writer wins and everyone gets its id.
pub async fn remember(conn: &mut AsyncPgConnection, user_id: Uuid, stripe_id: &str) -> QueryResult<String> {
    diesel::insert_into(customers::table)
        .values((customers::user_id.eq(user_id), customers::stripe_customer_id.eq(stripe_id)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    customers::table.find(user_id).select(customers::stripe_customer_id).first(conn).await
}

/// The saved card renewals charge.
pub async fn default_payment_method(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<String>> {
    Ok(customers::table
        .find(user_id)
        .select(customers::default_payment_method)
        .first::<Option<String>>(conn)
        .await
        .optional()?
        .flatten())
}

/// Sets (or, with `None`, clears) the card renewals charge.
pub async fn save_payment_method(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    method: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(customers::table.find(user_id)).set(customers::default_payment_method.eq(method)).execute(conn).await
}
