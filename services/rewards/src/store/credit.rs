//! The one-call credit: `credit_tokens` and `earn_once` (migration 2026-12-16-100001_credit_tokens)
//! lock the account, repay a clawback debt first, move the global and weekly scores and their
//! histogram rows, write the ledger entry and `rewards.tokens.awarded.v1`, in one round trip inside
//! the caller's transaction; `earn_once` first applies the earning rule's once-only and daily-cap
//! checks. The event's `amount` (capped) and `balance_after` are set by the statement.

use crate::domain::week::IsoWeek;
use crate::store::leaderboard::Board;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::catalog::rewards::TokensAwarded;
use events::catalog::DomainEvent;

mod sql {
    use diesel::sql_types::{BigInt, Date, Nullable, Text, Timestamptz, Uuid};
    diesel::define_sql_function! {
        #[allow(clippy::too_many_arguments)]
        fn credit_tokens(
            user: Uuid, kind: Text, amount: BigInt, reason: Text, reference: Nullable<Text>, source: Text,
            idempotency_ref: Text, rule: Nullable<Text>, at: Timestamptz,
            iso_week: Text, global_board: Text, week_board: Text,
            transaction_id: Uuid, event_id: Uuid, event_type: Text, envelope: Text
        ) -> BigInt;
    }
    diesel::define_sql_function! {
        #[allow(clippy::too_many_arguments)]
        fn earn_once(
            user: Uuid, rule: Text, requested: BigInt, daily_cap: Nullable<BigInt>, day: Date, reason: Text,
            reference: Nullable<Text>, source: Text, idempotency_ref: Text, at: Timestamptz,
            iso_week: Text, global_board: Text, week_board: Text,
            transaction_id: Uuid, event_id: Uuid, event_type: Text, envelope: Text
        ) -> Nullable<BigInt>;
    }
}

/// Who posts a credit and under which reference: the ledger's unique (source, idempotency_ref).
pub struct Posting<'a> {
    pub source: &'a str,
    pub idempotency_ref: &'a str,
}

/// The boards a credit at `at` moves on: the global one and `at`'s ISO week.
fn boards(at: DateTime<Utc>) -> (String, String, String) {
    let week = IsoWeek::of(at);
    (week.to_string(), Board::Global.key(), Board::Week(week).key())
}

/// Credit `event.amount` (> 0) as `event` describes; returns the balance after. The caller has
/// checked that `posting` is new (the ledger's unique key fails the statement otherwise).
pub async fn credit_tokens(
    conn: &mut AsyncPgConnection,
    event: &TokensAwarded,
    posting: &Posting<'_>,
) -> QueryResult<i64> {
    let (envelope, text) = events::outbox::envelope(event)?;
    let (iso_week, global, week) = boards(event.awarded_at);
    diesel::select(sql::credit_tokens(
        event.user_id,
        &event.kind,
        event.amount,
        &event.reason,
        event.reference.as_deref(),
        posting.source,
        posting.idempotency_ref,
        event.rule.as_deref(),
        event.awarded_at,
        iso_week,
        global,
        week,
        event.transaction_id,
        envelope.id,
        TokensAwarded::TYPE,
        text,
    ))
    .get_result(conn)
    .await
}

/// An earning rule's occurrence: `event.amount` is what the rule asks for, `event.rule` names it.
/// `None` when `posting` was already posted; else the tokens granted within `daily_cap` on `day`
/// (0: the cap left nothing, and nothing was written).
pub async fn earn_once(
    conn: &mut AsyncPgConnection,
    event: &TokensAwarded,
    posting: &Posting<'_>,
    daily_cap: Option<i64>,
    day: NaiveDate,
) -> QueryResult<Option<i64>> {
    let (envelope, text) = events::outbox::envelope(event)?;
    let (iso_week, global, week) = boards(event.awarded_at);
    diesel::select(sql::earn_once(
        event.user_id,
        event.rule.as_deref().unwrap_or_default(),
        event.amount,
        daily_cap,
        day,
        &event.reason,
        event.reference.as_deref(),
        posting.source,
        posting.idempotency_ref,
        event.awarded_at,
        iso_week,
        global,
        week,
        event.transaction_id,
        envelope.id,
        TokensAwarded::TYPE,
        text,
    ))
    .get_result(conn)
    .await
}
