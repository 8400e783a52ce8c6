//! The one-call credit: `credit_tokens` and `earn_once` (migrations 2026-12-16-100001_credit_tokens
//! and 2026-12-17-100001_credit_from_envelope) lock the account, repay a clawback debt first, move
//! the global and weekly scores and their histogram rows, write the ledger entry and
//! `rewards.tokens.awarded.v1`, in one round trip inside the caller's transaction; `earn_once`
//! first applies the earning rule's once-only and daily-cap checks.
//!
//! The statement takes the event's envelope and writes the ledger entry from its `data`, so the
//! entry and its event cannot disagree; it sets the event's `amount` (capped) and `balance_after`.
//! Beside the envelope it takes only what the event does not carry: the posting and the boards.

use crate::domain::week::IsoWeek;
use crate::store::leaderboard::Board;
use diesel::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::catalog::rewards::TokensAwarded;

mod sql {
    use diesel::sql_types::{BigInt, Jsonb, Nullable, Text};
    diesel::define_sql_function! {
        fn credit_tokens(envelope: Jsonb, source: Text, idempotency_ref: Text,
                         iso_week: Text, global_board: Text, week_board: Text) -> BigInt;
    }
    diesel::define_sql_function! {
        fn earn_once(envelope: Jsonb, source: Text, idempotency_ref: Text, daily_cap: Nullable<BigInt>,
                     iso_week: Text, global_board: Text, week_board: Text) -> Nullable<BigInt>;
    }
}

/// Who posts a credit and under which reference: the ledger's unique (source, idempotency_ref).
pub struct Posting<'a> {
    pub source: &'a str,
    pub idempotency_ref: &'a str,
}

/// The statement's arguments that come from the event: its envelope, and the boards a credit at
/// `awarded_at` moves on (the global one and that ISO week's).
struct Call {
    envelope: serde_json::Value,
    iso_week: String,
    global_board: String,
    week_board: String,
}

impl Call {
    fn of(event: &TokensAwarded) -> QueryResult<Self> {
        let envelope = serde_json::to_value(events::outbox::cloud_event(event)?)
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        let week = IsoWeek::of(event.awarded_at);
        Ok(Call {
            envelope,
            iso_week: week.to_string(),
            global_board: Board::Global.key(),
            week_board: Board::Week(week).key(),
        })
    }
}

/// Credit `event.amount` (> 0) as `event` describes; returns the balance after. The caller has
/// checked that `posting` is new (the ledger's unique key fails the statement otherwise).
pub async fn credit_tokens(
    conn: &mut AsyncPgConnection,
    event: &TokensAwarded,
    posting: &Posting<'_>,
) -> QueryResult<i64> {
    let c = Call::of(event)?;
    diesel::select(sql::credit_tokens(
        c.envelope,
        posting.source,
        posting.idempotency_ref,
        c.iso_week,
        c.global_board,
        c.week_board,
    ))
    .get_result(conn)
    .await
}

/// An earning rule's occurrence: `event.kind` is `earn`, `event.rule` names the rule and
/// `event.amount` is what it asks for. `None` when `posting` was already posted; else the tokens
/// granted within `daily_cap` on `event.awarded_at`'s UTC day (0: the cap left nothing, and
/// nothing was written).
pub async fn earn_once(
    conn: &mut AsyncPgConnection,
    event: &TokensAwarded,
    posting: &Posting<'_>,
    daily_cap: Option<i64>,
) -> QueryResult<Option<i64>> {
    let c = Call::of(event)?;
    diesel::select(sql::earn_once(
        c.envelope,
        posting.source,
        posting.idempotency_ref,
        daily_cap,
        c.iso_week,
        c.global_board,
        c.week_board,
    ))
    .get_result(conn)
    .await
}
