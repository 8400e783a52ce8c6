use super::schema::customers;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::db::PreparedDsl;
use uuid::Uuid;

pub async fn find(mut conn: &AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<String>> {
    customers::table.find(user_id).select(customers::stripe_customer_id).first(&mut conn).await.optional()
}

/// Remember the user's Stripe customer; the first writer wins. Two requests racing for a new user
/// got the same customer from Stripe (its idempotency key is the user's), so the loser's id is the
/// winner's.
pub async fn remember(mut conn: &AsyncPgConnection, user_id: Uuid, stripe_id: &str) -> QueryResult<()> {
    diesel::insert_into(customers::table)
        .values((customers::user_id.eq(user_id), customers::stripe_customer_id.eq(stripe_id)))
        .on_conflict_do_nothing()
        .execute(&mut conn)
        .await
        .map(|_| ())
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
    diesel::update(customers::table.find(user_id))
        .set(customers::default_payment_method.eq(method))
        .prepared()
        .execute(conn)
        .await
}
