//! Leaderboard reads and the score bookkeeping behind them.
//!
//! A rank is `1 + users on a higher score`. That count comes from `score_histogram` (users per
//! score, per board), so it costs a sum over the distinct scores above the caller, never a count
//! over the users; and pages come off the boards' b-tree indexes in order, stopped by the LIMIT.
//! No request scans a board.
//!
//! The ledger's transaction does not update the histogram: it records the user's move as delta
//! rows (`score_histogram_deltas`), which never wait for each other, and [`HISTOGRAM_FOLD`] adds
//! them into the histogram about once a second. Every read of the histogram adds the deltas not
//! folded yet, in the same snapshot, so ranks are as exact as before.

use super::schema::{score_histogram, score_histogram_deltas, token_balances, weekly_scores};
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

/// Users above a score: the folded histogram plus the moves not folded yet.
const USERS_ABOVE: &str =
    "SELECT (COALESCE((SELECT sum(users) FROM score_histogram WHERE board = $1 AND score > $2), 0)
     + COALESCE((SELECT sum(delta) FROM score_histogram_deltas WHERE board = $1 AND score > $2), 0))::bigint AS n";

/// Adds every pending delta into `score_histogram` in one statement, and counts what it did: the
/// caller refuses a fold in which a user left a score row that does not exist (`downs_applied`
/// short of `downs`), rather than lose the move.
const FOLD: &str = "WITH moved AS (
        DELETE FROM score_histogram_deltas RETURNING board, score, delta
    ), net AS (
        SELECT board, score, sum(delta)::bigint AS n FROM moved GROUP BY board, score
    ), down AS (
        UPDATE score_histogram h SET users = h.users + net.n FROM net
         WHERE net.n < 0 AND h.board = net.board AND h.score = net.score
        RETURNING 1
    ), up AS (
        INSERT INTO score_histogram (board, score, users)
        SELECT board, score, n FROM net WHERE n > 0 ORDER BY board, score
        ON CONFLICT (board, score) DO UPDATE SET users = score_histogram.users + EXCLUDED.users
    )
    SELECT (SELECT count(*) FROM moved) AS moved,
           (SELECT count(*) FROM net WHERE n < 0) AS downs,
           (SELECT count(*) FROM down) AS downs_applied";

#[derive(QueryableByName)]
struct Folded {
    #[diesel(sql_type = BigInt)]
    moved: i64,
    #[diesel(sql_type = BigInt)]
    downs: i64,
    #[diesel(sql_type = BigInt)]
    downs_applied: i64,
}

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

/// The whole histogram of `board`: `(score, users)` for every score someone holds, pending
/// moves included (call it inside a repeatable-read transaction, so a fold between the two reads
/// is not counted twice or not at all).
pub async fn histogram(conn: &mut AsyncPgConnection, board: Board) -> QueryResult<Vec<(i64, i64)>> {
    let key = board.key();
    let folded: Vec<(i64, i64)> = score_histogram::table
        .filter(score_histogram::board.eq(&key))
        .filter(score_histogram::users.gt(0))
        .select((score_histogram::score, score_histogram::users))
        .load(conn)
        .await?;
    let pending = pending_moves(conn, &key, None).await?;
    Ok(with_pending(folded, pending).into_iter().collect())
}

/// How many users hold each of `scores` on `board`, pending moves included (in a repeatable-read
/// transaction, as [`histogram`]).
pub async fn users_with(conn: &mut AsyncPgConnection, board: Board, scores: &[i64]) -> QueryResult<HashMap<i64, i64>> {
    let key = board.key();
    let folded: Vec<(i64, i64)> = score_histogram::table
        .filter(score_histogram::board.eq(&key))
        .filter(score_histogram::score.eq_any(scores))
        .select((score_histogram::score, score_histogram::users))
        .load(conn)
        .await?;
    let pending = pending_moves(conn, &key, Some(scores)).await?;
    Ok(with_pending(folded, pending))
}

/// The net of the moves not folded yet, per score (of `scores` only, when given).
async fn pending_moves(
    conn: &mut AsyncPgConnection,
    key: &str,
    scores: Option<&[i64]>,
) -> QueryResult<Vec<(i64, i64)>> {
    let mut q = score_histogram_deltas::table
        .filter(score_histogram_deltas::board.eq(key))
        .group_by(score_histogram_deltas::score)
        .select((score_histogram_deltas::score, diesel::dsl::sum(score_histogram_deltas::delta)))
        .into_boxed();
    if let Some(scores) = scores {
        q = q.filter(score_histogram_deltas::score.eq_any(scores));
    }
    let rows: Vec<(i64, Option<i64>)> = q.load(conn).await?;
    Ok(rows.into_iter().map(|(score, n)| (score, n.unwrap_or(0))).collect())
}

/// The folded counts with the pending moves added; scores left without users dropped.
fn with_pending(folded: Vec<(i64, i64)>, pending: Vec<(i64, i64)>) -> HashMap<i64, i64> {
    let mut users: HashMap<i64, i64> = folded.into_iter().collect();
    for (score, n) in pending {
        *users.entry(score).or_insert(0) += n;
    }
    users.retain(|_, n| *n > 0);
    users
}

/// The fold of the pending moves into `score_histogram` (`platform::fold`: every
/// `REWARDS_HISTOGRAM_FOLD_MS`, one replica at a time). One fold at a time, taking every delta
/// committed so far, means the moves of one user, recorded in order under their account's lock,
/// are folded in order too: a move out of a score is never folded before the move into it.
pub const HISTOGRAM_FOLD: platform::fold::Fold =
    platform::fold::Fold { name: "score_histogram_fold", run: fold_histogram };

/// Every committed delta into `score_histogram`, in one statement; the deltas folded.
fn fold_histogram(conn: &mut AsyncPgConnection) -> futures_util::future::BoxFuture<'_, QueryResult<usize>> {
    Box::pin(async move {
        let f: Folded = diesel::sql_query(FOLD).get_result(conn).await?;
        if f.downs_applied != f.downs {
            // The whole fold rolls back: the deltas stay, and the scheduler counts the failure.
            return Err(diesel::result::Error::QueryBuilderError(
                format!("{} of {} score rows users left do not exist", f.downs - f.downs_applied, f.downs).into(),
            ));
        }
        Ok(f.moved as usize)
    })
}

/// One user's entry (query-builder queries: prepared once per connection, they run on every
/// board request).
pub async fn entry(mut conn: &AsyncPgConnection, board: Board, user: Uuid) -> QueryResult<Option<Entry>> {
    let row: Option<(Uuid, i64, DateTime<Utc>)> = match board {
        Board::Global => {
            token_balances::table
                .filter(token_balances::user_id.eq(user))
                .select((token_balances::user_id, token_balances::lifetime_earned, token_balances::score_reached_at))
                .first(&mut conn)
                .await
        }
        Board::Week(w) => {
            weekly_scores::table
                .filter(weekly_scores::iso_week.eq(w.to_string()).and(weekly_scores::user_id.eq(user)))
                .select((weekly_scores::user_id, weekly_scores::score, weekly_scores::reached_at))
                .first(&mut conn)
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

/// Move users' scores on boards' histograms, each `(board, old, new)`: -1 on the old score and +1
/// on the new one (zero is not on a board), all in one statement. Recorded as delta rows, which no
/// other transaction waits for (see the module's documentation); the fold adds them in.
pub async fn move_in_histograms(conn: &mut AsyncPgConnection, moves: &[(Board, i64, i64)]) -> QueryResult<()> {
    let keys: Vec<String> = moves.iter().map(|(board, _, _)| board.key()).collect();
    let rows: Vec<_> = moves
        .iter()
        .zip(&keys)
        .filter(|((_, old, new), _)| old != new)
        .flat_map(|(&(_, old, new), key)| [(key, old, -1), (key, new, 1)])
        .filter(|&(_, score, _)| score > 0)
        .map(|(key, score, delta)| {
            (
                score_histogram_deltas::board.eq(key.as_str()),
                score_histogram_deltas::score.eq(score),
                score_histogram_deltas::delta.eq(delta),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(score_histogram_deltas::table).values(rows).execute(conn).await.map(|_| ())
}

/// Add `delta` (floored at zero) to `user`'s score in `week`; returns (old, new). The row is
/// locked until the end of the transaction. Clawbacks use it; a credit moves the weekly score
/// inside `store::credit`.
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
