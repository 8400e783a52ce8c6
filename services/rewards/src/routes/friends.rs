//! Friendships: request, accept, decline, remove, list. A request to someone who already asked
//! you is an acceptance.

use crate::error::RewardsError;
use crate::store::friends::{self as store, ACCEPTED, DECLINED, PENDING};
use crate::store::profiles;
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::auth::Principal;
use platform::db;
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Friends per user: keeps the friends board a small in-memory ranking.
pub const MAX_FRIENDS: i64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FriendRequest {
    pub user_id: Uuid,
}

#[derive(Debug, Serialize)]
pub struct RequestView {
    pub user_id: Uuid,
    /// `pending` (waiting for them) or `accepted` (they had asked you already).
    pub status: &'static str,
}

pub async fn request(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<FriendRequest>,
) -> Result<HttpResponse, Problem> {
    let me = principal.user_id()?;
    let them = body.user_id;
    if me == them {
        return Err(RewardsError::SelfFriendship.into());
    }
    let now = state.clock.now();
    let status = db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            store::lock_pair(conn, me, them).await?;
            if store::are_friends(conn, me, them).await? {
                return Err(RewardsError::AlreadyFriends);
            }
            if store::request_status(conn, them, me).await?.as_deref() == Some(PENDING) {
                befriend(conn, them, me, now).await?;
                return Ok(ACCEPTED);
            }
            if store::count(conn, me).await? >= MAX_FRIENDS {
                return Err(RewardsError::TooManyFriends(MAX_FRIENDS));
            }
            store::put_request(conn, me, them, PENDING, now).await?;
            Ok(PENDING)
        })
    })
    .await
    .map_err(Problem::from)?;
    let code = if status == PENDING { StatusCode::CREATED } else { StatusCode::OK };
    Ok(HttpResponse::build(code).json(RequestView { user_id: them, status }))
}

/// Accept `requester`'s pending request to `addressee`.
async fn befriend(
    conn: &mut AsyncPgConnection,
    requester: Uuid,
    addressee: Uuid,
    now: DateTime<Utc>,
) -> Result<(), RewardsError> {
    for user in [requester, addressee] {
        if store::count(conn, user).await? >= MAX_FRIENDS {
            return Err(RewardsError::TooManyFriends(MAX_FRIENDS));
        }
    }
    store::put_request(conn, requester, addressee, ACCEPTED, now).await?;
    store::befriend(conn, requester, addressee, now).await?;
    Ok(())
}

async fn respond(state: &State, me: Uuid, requester: Uuid, accept: bool) -> Result<(), Problem> {
    let now = state.clock.now();
    db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            store::lock_pair(conn, me, requester).await?;
            if store::request_status(conn, requester, me).await?.as_deref() != Some(PENDING) {
                return Err(RewardsError::NoPendingRequest);
            }
            if accept {
                befriend(conn, requester, me, now).await
            } else {
                store::put_request(conn, requester, me, DECLINED, now).await?;
                Ok(())
            }
        })
    })
    .await
    .map_err(Problem::from)
}

pub async fn accept(
    state: web::Data<State>,
    principal: Principal,
    requester: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let requester = requester.into_inner();
    respond(&state, principal.user_id()?, requester, true).await?;
    Ok(HttpResponse::Ok().json(RequestView { user_id: requester, status: ACCEPTED }))
}

pub async fn decline(
    state: web::Data<State>,
    principal: Principal,
    requester: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    respond(&state, principal.user_id()?, requester.into_inner(), false).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn remove(
    state: web::Data<State>,
    principal: Principal,
    friend: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let me = principal.user_id()?;
    let friend = friend.into_inner();
    db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            store::lock_pair(conn, me, friend).await?;
            match store::unfriend(conn, me, friend).await? {
                0 => Err(RewardsError::NotFriends),
                _ => Ok(()),
            }
        })
    })
    .await
    .map_err(Problem::from)?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize)]
pub struct FriendView {
    pub user_id: Uuid,
    pub display_name: Option<String>,
    pub since: DateTime<Utc>,
}

pub async fn list(
    state: web::Data<State>,
    principal: Principal,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let me = principal.user_id()?;
    let page = q.into_inner();
    let mut conn = state.pool.get().await?;
    let rows = store::page(&mut conn, me, page.cursor()?, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |(id, since)| store::Cursor { since: *since, id: *id });
    let ids: Vec<Uuid> = page.data.iter().map(|(id, _)| *id).collect();
    let names = profiles::names(&mut conn, &ids).await?;
    let data: Vec<FriendView> = page
        .data
        .into_iter()
        .map(|(user_id, since)| FriendView { display_name: names.get(&user_id).cloned(), user_id, since })
        .collect();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

#[derive(Debug, Serialize)]
pub struct PendingView {
    pub incoming: Vec<PendingRequest>,
    pub outgoing: Vec<PendingRequest>,
}

#[derive(Debug, Serialize)]
pub struct PendingRequest {
    pub user_id: Uuid,
    pub sent_at: DateTime<Utc>,
}

pub async fn pending(state: web::Data<State>, principal: Principal) -> Result<HttpResponse, Problem> {
    let me = principal.user_id()?;
    let mut conn = state.pool.get().await?;
    let rows = store::pending(&mut conn, me).await?;
    let (incoming, outgoing): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, addressee, _)| *addressee == me);
    Ok(HttpResponse::Ok().json(PendingView {
        incoming: incoming.into_iter().map(|(from, _, at)| PendingRequest { user_id: from, sent_at: at }).collect(),
        outgoing: outgoing.into_iter().map(|(_, to, at)| PendingRequest { user_id: to, sent_at: at }).collect(),
    }))
}
