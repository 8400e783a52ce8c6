//! Leaderboard reads and the score bookkeeping behind them.
//!
//! A rank is `1 + users on a higher score`. That count comes from `score_histogram` (users per
//! score, per board), maintained in the ledger's transaction, so it costs a sum over the distinct
//! scores above the caller, never a count over the users; and pages come off the boards' b-tree
//! indexes in order, stopped by the LIMIT. No request scans a board.

use super::schema::{score_histogram, token_balances, weekly_scores};
use crate::domain::week::IsoWeek;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

pub const GLOBAL: &str = "global";

/// One user on a board.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Entry {
    #[diesel(sql_type = SqlUuid)]
    pub user_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub score: i64,
    #[diesel(sql_type = Timestamptz)]
    pub reached_at: DateTime<Utc>,
}

/// Keyset position in a board: score descending, then who reached it first, then user id.
/// Deliberately not serialisable: it holds a user id, and clients get it only masked
/// (`routes::leaderboard::WireCursor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub score: i64,
    pub at: DateTime<Utc>,
    pub user: Uuid,
}

const USERS_ABOVE: &str =
    "SELECT COALESCE(sum(users), 0)::bigint AS n FROM score_histogram WHERE board = $1 AND score > $2";

/// What `entry` sends for the global board (kept as text for the plan check).
const GLOBAL_ENTRY: &str = "SELECT user_id, lifetime_earned AS score, score_reached_at AS reached_at
      FROM token_balances WHERE user_id = $1";

const GLOBAL_FIRST: &str = "SELECT user_id, lifetime_earned AS score, score_reached_at AS reached_at
      FROM token_balances WHERE lifetime_earned > 0
     ORDER BY lifetime_earned DESC, score_reached_at, user_id LIMIT $1";

const GLOBAL_AFTER: &str = "SELECT user_id, lifetime_earned AS score, score_reached_at AS reached_at
      FROM token_balances
     WHERE lifetime_earned > 0 AND lifetime_earned <= $1
       AND (lifetime_earned < $1 OR (score_reached_at, user_id) > ($2, $3))
     ORDER BY lifetime_earned DESC, score_reached_at, user_id LIMIT $4";

const WEEKLY_FIRST: &str = "SELECT user_id, score, reached_at FROM weekly_scores
     WHERE iso_week = $1 AND score > 0 ORDER BY score DESC, reached_at, user_id LIMIT $2";

const WEEKLY_AFTER: &str = "SELECT user_id, score, reached_at FROM weekly_scores
     WHERE iso_week = $1 AND score > 0 AND score <= $2 AND (score < $2 OR (reached_at, user_id) > ($3, $4))
     ORDER BY score DESC, reached_at, user_id LIMIT $5";

const MEMBERS: &str = "SELECT user_id, lifetime_earned AS score, score_reached_at AS reached_at
      FROM token_balances WHERE user_id = ANY($1)";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Which board: the all-time one or one ISO week's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Board {
    Global,
    Week(IsoWeek),
}

impl Board {
    pub fn key(&self) -> String {
        match self {
            Board::Global => GLOBAL.to_string(),
            Board::Week(w) => w.board(),
        }
    }
}

pub async fn users_above(conn: &mut AsyncPgConnection, board: Board, score: i64) -> QueryResult<i64> {
    let c: Count =
        diesel::sql_query(USERS_ABOVE).bind::<Text, _>(board.key()).bind::<BigInt, _>(score).get_result(conn).await?;
    Ok(c.n)
}

/// The whole histogram of `board`: `(score, users)` for every score someone holds.
pub async fn histogram(conn: &mut AsyncPgConnection, board: Board) -> QueryResult<Vec<(i64, i64)>> {
    score_histogram::table
        .filter(score_histogram::board.eq(board.key()))
        .filter(score_histogram::users.gt(0))
        .select((score_histogram::score, score_histogram::users))
        .load(conn)
        .await
}

/// How many users hold each of `scores` on `board`.
pub async fn users_with(conn: &mut AsyncPgConnection, board: Board, scores: &[i64]) -> QueryResult<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = score_histogram::table
        .filter(score_histogram::board.eq(board.key()))
        .filter(score_histogram::score.eq_any(scores))
        .select((score_histogram::score, score_histogram::users))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// One user's entry (query-builder queries: prepared once per connection, they run on every
/// board request).
pub async fn entry(conn: &mut AsyncPgConnection, board: Board, user: Uuid) -> QueryResult<Option<Entry>> {
    let row: Option<(Uuid, i64, DateTime<Utc>)> = match board {
        Board::Global => {
            token_balances::table
                .filter(token_balances::user_id.eq(user))
                .select((token_balances::user_id, token_balances::lifetime_earned, token_balances::score_reached_at))
                .first(conn)
                .await
        }
        Board::Week(w) => {
            weekly_scores::table
                .filter(weekly_scores::iso_week.eq(w.to_string()).and(weekly_scores::user_id.eq(user)))
                .select((weekly_scores::user_id, weekly_scores::score, weekly_scores::reached_at))
                .first(conn)
                .await
        }
    }
    .optional()?;
    Ok(row.map(|(user_id, score, reached_at)| Entry { user_id, score, reached_at }))
}

/// `limit` entries of `board` after `after` (positive scores only), in board order.
pub async fn page(
    conn: &mut AsyncPgConnection,
    board: Board,
    after: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    match (board, after) {
        (Board::Global, None) => diesel::sql_query(GLOBAL_FIRST).bind::<BigInt, _>(limit).load(conn).await,
        (Board::Global, Some(c)) => {
            diesel::sql_query(GLOBAL_AFTER)
                .bind::<BigInt, _>(c.score)
                .bind::<Timestamptz, _>(c.at)
                .bind::<SqlUuid, _>(c.user)
                .bind::<BigInt, _>(limit)
                .load(conn)
                .await
        }
        (Board::Week(w), None) => {
            diesel::sql_query(WEEKLY_FIRST).bind::<Text, _>(w.to_string()).bind::<BigInt, _>(limit).load(conn).await
        }
        (Board::Week(w), Some(c)) => {
            diesel::sql_query(WEEKLY_AFTER)
                .bind::<Text, _>(w.to_string())
                .bind::<BigInt, _>(c.score)
                .bind::<Timestamptz, _>(c.at)
                .bind::<SqlUuid, _>(c.user)
                .bind::<BigInt, _>(limit)
                .load(conn)
                .await
        }
    }
}

/// Global entries of the given users (a friends board); users without tokens are absent.
pub async fn members(conn: &mut AsyncPgConnection, users: &[Uuid]) -> QueryResult<Vec<Entry>> {
    diesel::sql_query(MEMBERS).bind::<Array<SqlUuid>, _>(users).load(conn).await
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The plans of the queries behind a global-board request for `user` (first page, a later page,
/// and the caller's rank): for the test that proves no request scans the board.
pub async fn explain_global(conn: &mut AsyncPgConnection, user: Uuid, limit: i64) -> QueryResult<Vec<String>> {
    let mut plans = Vec::new();
    let mine: Vec<PlanLine> =
        diesel::sql_query(format!("EXPLAIN {GLOBAL_ENTRY}")).bind::<SqlUuid, _>(user).load(conn).await?;
    plans.push(mine);
    let me = entry(conn, Board::Global, user).await?;
    let score = me.as_ref().map(|e| e.score).unwrap_or(0);
    let above: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {USERS_ABOVE}"))
        .bind::<Text, _>(GLOBAL)
        .bind::<BigInt, _>(score)
        .load(conn)
        .await?;
    plans.push(above);
    plans.push(diesel::sql_query(format!("EXPLAIN {GLOBAL_FIRST}")).bind::<BigInt, _>(limit).load(conn).await?);
    if let Some(me) = me {
        let after: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {GLOBAL_AFTER}"))
            .bind::<BigInt, _>(me.score)
            .bind::<Timestamptz, _>(me.reached_at)
            .bind::<SqlUuid, _>(me.user_id)
            .bind::<BigInt, _>(limit)
            .load(conn)
            .await?;
        plans.push(after);
    }
    Ok(plans.into_iter().map(|p| p.into_iter().map(|l| l.line).collect::<Vec<_>>().join("\n")).collect())
}

/// Move one user from `old` to `new` on `board`'s histogram. Rows are touched in ascending score
/// order (and callers do the global board before a weekly one), so two transactions that cross
/// the same scores always lock them in the same order and cannot deadlock.
pub async fn move_in_histogram(conn: &mut AsyncPgConnection, board: Board, old: i64, new: i64) -> QueryResult<()> {
    if old == new {
        return Ok(());
    }
    let mut changes: Vec<(i64, i64)> = Vec::with_capacity(2);
    if old > 0 {
        changes.push((old, -1));
    }
    if new > 0 {
        changes.push((new, 1));
    }
    changes.sort_unstable();
    let key = board.key();
    for (score, delta) in changes {
        if delta < 0 {
            // An update, not an upsert: Postgres checks `users >= 0` on the proposed insert row.
            diesel::update(score_histogram::table.find((&key, score)))
                .set(score_histogram::users.eq(score_histogram::users + delta))
                .execute(conn)
                .await?;
            continue;
        }
        diesel::insert_into(score_histogram::table)
            .values((
                score_histogram::board.eq(&key),
                score_histogram::score.eq(score),
                score_histogram::users.eq(delta),
            ))
            .on_conflict((score_histogram::board, score_histogram::score))
            .do_update()
            .set(score_histogram::users.eq(score_histogram::users + delta))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Add `delta` (floored at zero) to `user`'s score in `week`; returns (old, new). The row is
/// locked until the end of the transaction.
pub async fn add_weekly(
    conn: &mut AsyncPgConnection,
    week: IsoWeek,
    user: Uuid,
    delta: i64,
    now: DateTime<Utc>,
) -> QueryResult<(i64, i64)> {
    use weekly_scores as w;
    let key = week.to_string();
    diesel::insert_into(w::table)
        .values((w::iso_week.eq(&key), w::user_id.eq(user), w::score.eq(0i64), w::reached_at.eq(now)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let old: i64 = w::table.find((&key, user)).for_update().select(w::score).first(conn).await?;
    let new = crate::domain::balance::score_after(old, delta);
    if new != old {
        diesel::update(w::table.find((&key, user)))
            .set((w::score.eq(new), w::reached_at.eq(now)))
            .execute(conn)
            .await?;
    }
    Ok((old, new))
}
