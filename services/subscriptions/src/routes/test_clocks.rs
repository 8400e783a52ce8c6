//! Test clocks (sandbox only, issue 23 point 5): create, read, advance, delete. Every route answers
//! 404 `test_clocks_disabled` where `SUBSCRIPTIONS_TEST_CLOCKS` is off.

use super::PROBLEM;
use crate::error::SubscriptionError;
use crate::store::test_clocks::{self as store, TestClock};
use crate::test_clocks as clocks;
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::http::{Json, Query};
use platform::idempotency::{self, IdempotencyKey};
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestClockRequest {
    /// 1-100 characters, for the caller's own use.
    #[schema(example = "annual renewal test")]
    pub name: String,
    /// Where the clock starts; subscriptions created on it start then.
    pub frozen_time: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceRequest {
    /// The clock's new time: not before its current `now` (clocks only move forward).
    pub to: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestClockView {
    id: Uuid,
    name: String,
    /// Where it started.
    frozen_time: DateTime<Utc>,
    /// The clock's time: what the objects attached to it live in.
    now: DateTime<Utc>,
    /// `advancing` until subscriptions' scheduler has done everything due on the clock at `now`
    /// (renewals, dunning retries, pause ends, expiries), then `ready`. The other services apply the
    /// same time on their own once they have consumed `subscriptions.test_clock.advanced.v1`.
    #[schema(example = "ready")]
    status: String,
    created_at: DateTime<Utc>,
}

impl From<&TestClock> for TestClockView {
    fn from(c: &TestClock) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            frozen_time: c.frozen_time,
            now: c.now,
            status: c.status.clone(),
            created_at: c.created_at,
        }
    }
}

/// Create a test clock owned by the caller (sandbox only).
#[utoipa::path(post, path = "/api/test-clocks", tag = "subscriptions", operation_id = "createTestClock",
    security(("bearer" = [])),
    request_body = TestClockRequest,
    responses((status = 201, body = TestClockView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request: the body is not JSON"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "test_clocks_disabled"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`name`)")))]
pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    body: Json<TestClockRequest>,
) -> Result<HttpResponse, Problem> {
    clocks::require_enabled(&state)?;
    let owner = principal.user_id()?;
    let req = body.into_inner();
    let now = state.clock.now();
    let clock = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move { clocks::create(conn, owner, &req.name, req.frozen_time, now).await })
    })
    .await?;
    Ok(HttpResponse::Created().json(TestClockView::from(&clock)))
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    at: DateTime<Utc>,
    id: Uuid,
}

/// The caller's test clocks, oldest first (every clock for an admin).
#[utoipa::path(get, path = "/api/test-clocks", tag = "subscriptions", operation_id = "listTestClocks",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<TestClockView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "test_clocks_disabled"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "invalid_cursor")))]
pub async fn list(state: web::Data<State>, principal: Principal, q: Query<PageQuery>) -> Result<HttpResponse, Problem> {
    clocks::require_enabled(&state)?;
    let owner = if principal.is_admin() { None } else { Some(principal.user_id()?) };
    let page = q.into_inner();
    let after = page.cursor::<Cursor>()?.map(|c| (c.at, c.id));
    let mut conn = state.pool.get().await?;
    let rows = store::list(&mut conn, owner, after, page.limit() + 1).await.map_err(SubscriptionError::from)?;
    let page = Page::from_rows(rows, page.limit(), |c| Cursor { at: c.created_at, id: c.id });
    let data: Vec<TestClockView> = page.data.iter().map(TestClockView::from).collect();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// One test clock of the caller's (any, for an admin).
#[utoipa::path(get, path = "/api/test-clocks/{id}", tag = "subscriptions", operation_id = "getTestClock",
    security(("bearer" = [])), params(("id" = Uuid, Path, description = "The clock")),
    responses((status = 200, body = TestClockView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found (or another user's clock), test_clocks_disabled")))]
pub async fn get(state: web::Data<State>, principal: Principal, id: web::Path<Uuid>) -> Result<HttpResponse, Problem> {
    clocks::require_enabled(&state)?;
    let mut conn = state.pool.get().await?;
    let clock = clocks::visible(&mut conn, &principal, id.into_inner(), false).await?;
    Ok(HttpResponse::Ok().json(TestClockView::from(&clock)))
}

/// Move a test clock forward: the objects on it behave as if that time had passed.
///
/// Status `advancing` until subscriptions' scheduler has caught up with the new time (renewal
/// charges, dunning retries, pause ends: the same events as in real time), then `ready`. Licensing
/// and marketplace follow through `subscriptions.test_clock.advanced.v1`.
#[utoipa::path(post, path = "/api/test-clocks/{id}/advance", tag = "subscriptions", operation_id = "advanceTestClock",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The clock"),
        ("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = AdvanceRequest,
    responses((status = 200, body = TestClockView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found (or another user's clock), test_clocks_disabled"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`to` before the clock's now), idempotency_key_reused")))]
pub async fn advance(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: Json<AdvanceRequest>,
) -> Result<HttpResponse, Problem> {
    clocks::require_enabled(&state)?;
    let id = id.into_inner();
    let req = body.into_inner();
    let scope = format!("{}:POST /api/test-clocks/{id}/advance", principal.sub);
    idempotency::execute(&state.pool, &scope, &key, &req.clone(), move |conn| {
        Box::pin(async move {
            let clock = clocks::advance(conn, &principal, id, req.to).await?;
            Ok((StatusCode::OK, TestClockView::from(&clock)))
        })
    })
    .await
}

/// Delete a test clock. The objects on it stay frozen at its last time, in every service
/// (`subscriptions.test_clock.deleted.v1`): no scheduler runs for them any more, an action on one
/// is still stamped with that time, and nothing new may be attached to the clock. Kept rather than
/// deleted with it (as Stripe does): deleting a subscription, purchase or license has effects
/// (events, seats, earnings) a sandbox clean-up should not fire, and moving them back to real time
/// would fire whatever that time has due.
#[utoipa::path(delete, path = "/api/test-clocks/{id}", tag = "subscriptions", operation_id = "deleteTestClock",
    security(("bearer" = [])), params(("id" = Uuid, Path, description = "The clock")),
    responses((status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found (or another user's clock), test_clocks_disabled")))]
pub async fn delete(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    clocks::require_enabled(&state)?;
    let id = id.into_inner();
    let now = state.clock.now();
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            clocks::visible(conn, &principal, id, true).await?;
            clocks::delete(conn, id, now).await?;
            Ok::<_, SubscriptionError>(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
