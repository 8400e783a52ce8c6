//! Leaderboards: global (all time), weekly (ISO week, UTC) and friends. Every answer carries the
//! caller's own rank and score, even when they are not on the page.
//!
//! Privacy: the big boards never show another user's id, not in an entry and not inside a cursor.
//! An entry names its user by display name (when they chose one) and by a stable pseudonymous
//! `handle` (`domain::handle`); `is_me` marks the caller's own entry, which alone carries their
//! `user_id`. The friends board shows `user_id` for the caller's accepted friends too: the caller
//! already has those ids from `GET /api/friends`.

use super::PROBLEM;
use crate::domain::handle::Pseudonyms;
use crate::domain::ranking::{competition_ranks, page_ranks, rank_from_above};
use crate::domain::week::IsoWeek;
use crate::store::leaderboard::{self, Board, Cursor, Entry};
use crate::store::{friends as friend_store, profiles};
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::auth::Principal;
use platform::http::Query;
use platform::pagination::{checked_offset, decode_cursor, encode_cursor, invalid_cursor, Page, PageQuery};
use platform::Problem;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WeeklyQuery {
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `2026-W48`; the current ISO week (UTC) when absent.
    pub week: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LeaderboardEntry)]
pub struct Ranked {
    /// Standard competition ranking (1, 2, 2, 4); `null` for a caller with no score yet.
    pub rank: Option<i64>,
    /// The user's stable pseudonym: the same on every board, request and replica, and not
    /// derivable from or into a user id without the server's key.
    #[schema(example = "u_3q2-7wYb1kZfXc0A", pattern = "^u_[A-Za-z0-9_-]{16}$")]
    pub handle: String,
    /// The name the user chose (`PUT /api/rewards/profile`); `null` for users who stay anonymous.
    pub display_name: Option<String>,
    pub score: i64,
    /// `true` on the caller's own entry only.
    pub is_me: bool,
    /// Present only on the caller's own entry and, on the friends board, on the caller's friends'
    /// entries; never another user's id on the global or weekly board.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub user_id: Option<Uuid>,
}

/// Who an entry belongs to, as far as the caller may know it.
struct Viewer<'a> {
    me: Uuid,
    pseudonyms: &'a Pseudonyms,
    /// Whether other users' ids may be shown (the friends board: they are the caller's friends).
    reveal_ids: bool,
}

impl Viewer<'_> {
    fn entry(&self, user: Uuid, score: i64, rank: Option<i64>, display_name: Option<String>) -> Ranked {
        self.entry_with_handle(user, self.pseudonyms.handle(user), score, rank, display_name)
    }

    /// [`Self::entry`] with the user's handle computed already (a snapshot's first page).
    fn entry_with_handle(
        &self,
        user: Uuid,
        handle: String,
        score: i64,
        rank: Option<i64>,
        display_name: Option<String>,
    ) -> Ranked {
        let is_me = user == self.me;
        Ranked { rank, handle, display_name, score, is_me, user_id: (is_me || self.reveal_ids).then_some(user) }
    }
}

/// A big board's cursor as clients see it: the keyset position with the last row's user id
/// masked (`Pseudonyms::mask`), so a cursor is no side door to the ids the entries hide.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCursor {
    score: i64,
    at: DateTime<Utc>,
    key: String,
}

impl WireCursor {
    fn of(e: &Entry, pseudonyms: &Pseudonyms) -> Self {
        WireCursor {
            score: e.score,
            at: e.reached_at,
            key: pseudonyms.mask(e.user_id, e.score, e.reached_at.timestamp_micros()),
        }
    }

    fn open(self, pseudonyms: &Pseudonyms) -> Result<Cursor, Problem> {
        let user = pseudonyms
            .unmask(&self.key, self.score, self.at.timestamp_micros())
            .ok_or_else(|| invalid_cursor("is not a cursor this API issued"))?;
        Ok(Cursor { score: self.score, at: self.at, user })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Leaderboard)]
pub struct BoardView {
    /// `global`, `weekly` or `friends`.
    #[schema(example = "global")]
    pub board: &'static str,
    /// The ISO week of a weekly board, e.g. `2026-W48`; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub week: Option<String>,
    /// Other users appear by `handle` and `display_name` only (and, on the friends board, the
    /// caller's friends by `user_id` too).
    pub data: Vec<Ranked>,
    /// `null` on the last page.
    pub next_cursor: Option<String>,
    /// The caller, on the page or not.
    pub me: Ranked,
}

/// The all-time leaderboard (by lifetime tokens earned), with the caller's own rank.
#[utoipa::path(get, path = "/api/leaderboard/global", tag = "rewards", operation_id = "getGlobalLeaderboard",
    security(("bearer" = [])), params(BoardQuery),
    responses((status = 200, body = BoardView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (query); invalid_cursor (`cursor`)")))]
pub async fn global(
    state: web::Data<State>,
    principal: Principal,
    q: Query<BoardQuery>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let q = q.into_inner();
    let view = ranked_board(&state, Board::Global, user, PageQuery { limit: q.limit, cursor: q.cursor }).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// One ISO week's leaderboard (UTC; the current week by default), with the caller's own rank.
#[utoipa::path(get, path = "/api/leaderboard/weekly", tag = "rewards", operation_id = "getWeeklyLeaderboard",
    security(("bearer" = [])), params(WeeklyQuery),
    responses((status = 200, body = BoardView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`week`, query); invalid_cursor (`cursor`)")))]
pub async fn weekly(
    state: web::Data<State>,
    principal: Principal,
    q: Query<WeeklyQuery>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let q = q.into_inner();
    let week = match q.week.as_deref() {
        Some(w) => w.parse::<IsoWeek>().map_err(|e| Problem::field("week", e))?,
        None => IsoWeek::of(state.clock.now()),
    };
    let view = ranked_board(&state, Board::Week(week), user, PageQuery { limit: q.limit, cursor: q.cursor }).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// One page of a big board with the caller's rank. The first page and the caller's rank come from
/// the board's snapshot (`board_snapshots`, at most `REWARDS_LEADERBOARD_SNAPSHOT_MS` old), so a
/// request reads only the caller's entry and name; a later page is read exactly (`exact_page`).
async fn ranked_board(state: &State, board: Board, user: Uuid, page: PageQuery) -> Result<BoardView, Problem> {
    let limit = page.limit();
    let pseudonyms = &state.pseudonyms;
    let after: Option<Cursor> = page.cursor::<WireCursor>()?.map(|c| c.open(pseudonyms)).transpose()?;
    let snapshot = state.boards.get(&state.pool, board).await?;
    let (page, ranks, page_names, handles) = match after {
        None => {
            let rows: Vec<Entry> = snapshot.top.iter().take(limit as usize + 1).cloned().collect();
            let page = Page::from_rows(rows, limit, |e| WireCursor::of(e, pseudonyms));
            let scores: Vec<i64> = page.data.iter().map(|e| e.score).collect();
            let ranks = match scores.first() {
                Some(&first) => {
                    let h = &snapshot.histogram;
                    page_ranks(rank_from_above(h.users_above(first)), &scores, |s| h.users_with(s))
                }
                None => Vec::new(),
            };
            (page, ranks, None, Some(&snapshot.top_handles))
        }
        Some(after) => {
            let (page, ranks, names) = exact_page(state, board, &after, limit).await?;
            (page, ranks, Some(names), None)
        }
    };
    let names = page_names.as_ref().unwrap_or(&snapshot.names);
    let conn = state.pool.get().await?;
    // The caller's entry and, unless the page named them, their name: pipelined, one round trip.
    let shared: &AsyncPgConnection = &conn;
    let (mine, mut my_names) = futures_util::try_join!(leaderboard::entry(shared, board, user), async {
        match names.contains_key(&user) {
            true => Ok(HashMap::new()),
            false => profiles::names(shared, &[user]).await,
        }
    })?;
    let (my_rank, my_score) = match mine {
        Some(e) if e.score > 0 => (Some(rank_from_above(snapshot.histogram.users_above(e.score))), e.score),
        _ => (None, 0),
    };
    let my_name = names.get(&user).cloned().or_else(|| my_names.remove(&user));
    let viewer = Viewer { me: user, pseudonyms, reveal_ids: false };
    let data = page
        .data
        .iter()
        .zip(ranks)
        .enumerate()
        .map(|(i, (e, rank))| {
            let handle = handles.and_then(|h| h.get(i)).cloned().unwrap_or_else(|| pseudonyms.handle(e.user_id));
            viewer.entry_with_handle(e.user_id, handle, e.score, Some(rank), names.get(&e.user_id).cloned())
        })
        .collect();
    Ok(BoardView {
        board: match board {
            Board::Global => "global",
            Board::Week(_) => "weekly",
        },
        week: match board {
            Board::Week(w) => Some(w.to_string()),
            Board::Global => None,
        },
        data,
        next_cursor: page.next_cursor,
        me: viewer.entry(user, my_score, my_rank, my_name),
    })
}

/// A page after `after`, with ranks from the histogram in the same repeatable-read snapshot, so
/// the rows and their ranks agree exactly.
async fn exact_page(
    state: &State,
    board: Board,
    after: &Cursor,
    limit: i64,
) -> Result<(Page<Entry>, Vec<i64>, HashMap<Uuid, String>), Problem> {
    let mut conn = state.pool.get().await?;
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, Problem, _>(async |conn: &mut AsyncPgConnection| {
            let rows = leaderboard::page(conn, board, Some(after), limit + 1).await?;
            let page = Page::from_rows(rows, limit, |e| WireCursor::of(e, &state.pseudonyms));
            let ranks = match page.data.first() {
                Some(first) => {
                    let above = leaderboard::users_above(conn, board, first.score).await?;
                    let scores: Vec<i64> = page.data.iter().map(|e| e.score).collect();
                    let counts = leaderboard::users_with(conn, board, &scores).await?;
                    page_ranks(rank_from_above(above), &scores, |s| counts.get(&s).copied().unwrap_or(0))
                }
                None => Vec::new(),
            };
            let ids: Vec<Uuid> = page.data.iter().map(|e| e.user_id).collect();
            let names = profiles::names(conn, &ids).await?;
            Ok((page, ranks, names))
        })
        .await
}

/// The caller and their accepted friends by global score (friend lists are bounded, see
/// `friends::MAX_FRIENDS`, so the whole set is ranked in memory). Friends without tokens rank last
/// with score 0.
#[utoipa::path(get, path = "/api/leaderboard/friends", tag = "rewards", operation_id = "getFriendsLeaderboard",
    summary = "The caller and their friends by all-time score, with the caller's own rank.",
    description = "Friends without tokens rank last with score 0.",
    security(("bearer" = [])), params(BoardQuery),
    responses((status = 200, body = BoardView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (query); invalid_cursor (`cursor`)")))]
pub async fn friends(
    state: web::Data<State>,
    principal: Principal,
    q: Query<BoardQuery>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let q = q.into_inner();
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    // The cursor is the position of the next entry: range-checked, so a crafted one cannot
    // overflow `offset + limit` below.
    let offset = match page.cursor.as_deref() {
        Some(raw) => checked_offset(decode_cursor::<i64>(raw)?)?,
        None => 0,
    };
    let offset = usize::try_from(offset).map_err(|_| invalid_cursor("names a position out of range"))?;
    let mut conn = state.pool.get().await?;
    let mut members = friend_store::friend_ids(&mut conn, user).await?;
    members.push(user);
    let scored = leaderboard::members(&mut conn, &members).await?;
    let mut board: Vec<Entry> = scored.into_iter().filter(|e| e.score > 0).collect();
    board.sort_by(|a, b| b.score.cmp(&a.score).then(a.reached_at.cmp(&b.reached_at)).then(a.user_id.cmp(&b.user_id)));
    let mut unscored: Vec<Uuid> = members.iter().filter(|m| !board.iter().any(|e| e.user_id == **m)).copied().collect();
    unscored.sort();
    let scores: Vec<i64> = board.iter().map(|e| e.score).chain(unscored.iter().map(|_| 0)).collect();
    let ids: Vec<Uuid> = board.iter().map(|e| e.user_id).chain(unscored).collect();
    let ranks = competition_ranks(&scores);
    let names = profiles::names(&conn, &ids).await?;
    let viewer = Viewer { me: user, pseudonyms: &state.pseudonyms, reveal_ids: true };
    let all: Vec<Ranked> = ids
        .iter()
        .zip(&scores)
        .zip(&ranks)
        .map(|((id, score), rank)| viewer.entry(*id, *score, Some(*rank), names.get(id).cloned()))
        .collect();
    let me_index = ids.iter().position(|id| *id == user).unwrap_or(0);
    let me = viewer.entry(user, scores[me_index], Some(ranks[me_index]), names.get(&user).cloned());
    let limit = page.limit() as usize;
    let end = offset.saturating_add(limit).min(all.len());
    let next_cursor = (end < all.len()).then(|| encode_cursor(&end));
    let data: Vec<Ranked> = all.into_iter().skip(offset).take(limit).collect();
    Ok(HttpResponse::Ok().json(BoardView { board: "friends", week: None, data, next_cursor, me }))
}
