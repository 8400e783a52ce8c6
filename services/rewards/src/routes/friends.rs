//! Friendships: request, accept, decline, remove, list. A request to someone who already asked
//! you is an acceptance.

use super::PROBLEM;
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
use platform::http::{Json, Query};
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Friends per user: keeps the friends board a small in-memory ranking.
pub const MAX_FRIENDS: i64 = 500;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FriendRequest {
    /// Whom to befriend.
    pub user_id: Uuid,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = FriendRequestView)]
pub struct RequestView {
    pub user_id: Uuid,
    /// `pending` (waiting for them) or `accepted` (they had asked you already).
    #[schema(example = "pending")]
    pub status: &'static str,
}

/// Ask a user to be friends. If they had already asked you, this accepts their request.
#[utoipa::path(post, path = "/api/friends/requests", tag = "rewards", operation_id = "requestFriendship",
    security(("bearer" = [])),
    request_body = FriendRequest,
    responses((status = 201, body = RequestView, description = "Requested: `pending`"),
        (status = 200, body = RequestView, description = "They had asked you already: `accepted`"),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "already_friends, friend_limit_reached"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`user_id` is the caller)")))]
pub async fn request(
    state: web::Data<State>,
    principal: Principal,
    body: Json<FriendRequest>,
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

/// Accept a pending friend request from `user_id`.
#[utoipa::path(post, path = "/api/friends/requests/{user_id}/accept", tag = "rewards", operation_id = "acceptFriendRequest",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "Who sent the request")),
    responses((status = 200, body = RequestView, description = "`accepted`"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no pending request from this user"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "friend_limit_reached")))]
pub async fn accept(
    state: web::Data<State>,
    principal: Principal,
    requester: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let requester = requester.into_inner();
    respond(&state, principal.user_id()?, requester, true).await?;
    Ok(HttpResponse::Ok().json(RequestView { user_id: requester, status: ACCEPTED }))
}

/// Decline a pending friend request from `user_id`.
#[utoipa::path(post, path = "/api/friends/requests/{user_id}/decline", tag = "rewards", operation_id = "declineFriendRequest",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "Who sent the request")),
    responses((status = 204, description = "Declined"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no pending request from this user")))]
pub async fn decline(
    state: web::Data<State>,
    principal: Principal,
    requester: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    respond(&state, principal.user_id()?, requester.into_inner(), false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End a friendship.
#[utoipa::path(delete, path = "/api/friends/{user_id}", tag = "rewards", operation_id = "removeFriend",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The friend")),
    responses((status = 204, description = "No longer friends"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: not friends with this user")))]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FriendView {
    pub user_id: Uuid,
    pub display_name: Option<String>,
    pub since: DateTime<Utc>,
}

/// The caller's friends, most recent first.
#[utoipa::path(get, path = "/api/friends", tag = "rewards", operation_id = "listFriends",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<FriendView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (query); invalid_cursor (`cursor`)")))]
pub async fn list(state: web::Data<State>, principal: Principal, q: Query<PageQuery>) -> Result<HttpResponse, Problem> {
    let me = principal.user_id()?;
    let page = q.into_inner();
    let mut conn = state.pool.get().await?;
    let rows = store::page(&mut conn, me, page.cursor()?, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |(id, since)| store::Cursor { since: *since, id: *id });
    let ids: Vec<Uuid> = page.data.iter().map(|(id, _)| *id).collect();
    let names = profiles::names(&conn, &ids).await?;
    let data: Vec<FriendView> = page
        .data
        .into_iter()
        .map(|(user_id, since)| FriendView { display_name: names.get(&user_id).cloned(), user_id, since })
        .collect();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = PendingFriendRequests)]
pub struct PendingView {
    /// Requests to the caller, waiting for their answer.
    pub incoming: Vec<PendingRequest>,
    /// The caller's requests, waiting for the other user.
    pub outgoing: Vec<PendingRequest>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = PendingFriendRequest)]
pub struct PendingRequest {
    /// The other user.
    pub user_id: Uuid,
    pub sent_at: DateTime<Utc>,
}

/// The caller's pending friend requests, sent and received.
#[utoipa::path(get, path = "/api/friends/requests", tag = "rewards", operation_id = "listFriendRequests",
    security(("bearer" = [])),
    responses((status = 200, body = PendingView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user")))]
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
