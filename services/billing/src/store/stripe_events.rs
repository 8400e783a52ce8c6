use super::schema::stripe_events;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Record a Stripe event id; false when it was already recorded (a duplicate delivery).
pub async fn record(conn: &mut AsyncPgConnection, id: &str, event_type: &str) -> QueryResult<bool> {
    let inserted = diesel::insert_into(stripe_events::table)
        .values((stripe_events::id.eq(id), stripe_events::event_type.eq(event_type)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Whether the event was applied already: read before asking Stripe anything, so a duplicate
/// delivery costs no Stripe call. `record` in the applying transaction stays the real guard.
pub async fn seen(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(stripe_events::table.find(id))).get_result(conn).await
}
