//! The trials taken: one per user and tier, ever.

use super::schema::trial_claims;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Claim the user's trial of `tier` for `subscription_id` (created later in the same transaction:
/// the reference is checked at commit). `false`: the user has had that trial already. Two
/// concurrent claims wait on the key: one inserts, the other inserts nothing.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    tier: &str,
    subscription_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(trial_claims::table)
        .values((
            trial_claims::user_id.eq(user_id),
            trial_claims::tier.eq(tier),
            trial_claims::subscription_id.eq(subscription_id),
            trial_claims::claimed_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}
