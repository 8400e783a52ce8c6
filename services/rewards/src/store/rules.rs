//! Earning rules. The per-day counters behind their caps are kept by `store::credit`.

use super::schema::earning_rules;
use crate::domain::earning::Rule;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

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
