//! Earning rules and the per-day counters behind their caps.

use super::schema::{earning_counters, earning_rules};
use crate::domain::earning::Rule;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

type RuleRow = (String, String, i64, i64, Option<String>, Option<i64>, bool);

pub async fn find(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<Option<Rule>> {
    use earning_rules as r;
    let row: Option<RuleRow> = r::table
        .find(id)
        .select((r::id, r::description, r::fixed_tokens, r::tokens_per_unit, r::unit_currency, r::daily_cap, r::active))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(id, description, fixed_tokens, tokens_per_unit, unit_currency, daily_cap, active)| Rule {
        id,
        description,
        fixed_tokens,
        tokens_per_unit,
        unit_currency,
        daily_cap,
        active,
    }))
}

/// Tokens `rule` granted `user` on `day`, with the counter row locked until the end of the
/// transaction so two events of the same day cannot both pass the cap.
pub async fn lock_counter(conn: &mut AsyncPgConnection, user: Uuid, rule: &str, day: NaiveDate) -> QueryResult<i64> {
    use earning_counters as c;
    diesel::insert_into(c::table)
        .values((c::user_id.eq(user), c::rule_id.eq(rule), c::day.eq(day), c::tokens.eq(0i64)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    c::table.find((user, rule, day)).for_update().select(c::tokens).first(conn).await
}

pub async fn add_to_counter(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    rule: &str,
    day: NaiveDate,
    tokens: i64,
) -> QueryResult<usize> {
    use earning_counters as c;
    diesel::update(c::table.find((user, rule, day))).set(c::tokens.eq(c::tokens + tokens)).execute(conn).await
}
