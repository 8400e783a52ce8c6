//! Display names for leaderboards.

use super::schema::profiles;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

pub async fn upsert(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    display_name: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::insert_into(profiles::table)
        .values((profiles::user_id.eq(user), profiles::display_name.eq(display_name), profiles::updated_at.eq(now)))
        .on_conflict(profiles::user_id)
        .do_update()
        .set((profiles::display_name.eq(display_name), profiles::updated_at.eq(now)))
        .execute(conn)
        .await
}

/// Display names of `users` that have one.
pub async fn names(mut conn: &AsyncPgConnection, users: &[Uuid]) -> QueryResult<HashMap<Uuid, String>> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, Option<String>)> = profiles::table
        .filter(profiles::user_id.eq_any(users))
        .select((profiles::user_id, profiles::display_name))
        .load(&mut conn)
        .await?;
    Ok(rows.into_iter().filter_map(|(id, name)| name.map(|n| (id, n))).collect())
}
