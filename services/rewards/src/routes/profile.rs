//! `GET|PUT /api/rewards/profile`: the name shown on leaderboards (own; admins may set anyone's).

use super::PROBLEM;
use crate::domain::validate;
use crate::store::profiles;
use crate::State;
use actix_web::{web, HttpResponse};
use platform::auth::Principal;
use platform::http::{Json, Query};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProfileQuery {
    /// Admins only: whose profile.
    pub user_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// 1-50 characters, or null to stay anonymous on leaderboards.
    #[schema(min_length = 1, max_length = 50)]
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    pub user_id: Uuid,
    pub display_name: Option<String>,
}

/// The caller's leaderboard profile (admins: anyone's).
#[utoipa::path(get, path = "/api/rewards/profile", tag = "rewards", operation_id = "getRewardsProfile",
    security(("bearer" = [])), params(ProfileQuery),
    responses((status = 200, body = ProfileView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: `user_id` given by a non-admin, or the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (query)")))]
pub async fn get(
    state: web::Data<State>,
    principal: Principal,
    http: actix_web::HttpRequest,
    q: Query<ProfileQuery>,
) -> Result<HttpResponse, Problem> {
    let user = super::audited_subject(&state.pool, &http, &principal, q.user_id, "rewards_profile").await?;
    let conn = state.pool.get().await?;
    let display_name = profiles::names(&conn, &[user]).await?.remove(&user);
    Ok(HttpResponse::Ok().json(ProfileView { user_id: user, display_name }))
}

/// Set the name shown on leaderboards (admins: anyone's).
#[utoipa::path(put, path = "/api/rewards/profile", tag = "rewards", operation_id = "putRewardsProfile",
    security(("bearer" = [])), params(ProfileQuery),
    request_body = ProfileRequest,
    responses((status = 200, body = ProfileView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: `user_id` given by a non-admin, or the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`display_name`, query)")))]
pub async fn put(
    state: web::Data<State>,
    principal: Principal,
    q: Query<ProfileQuery>,
    body: Json<ProfileRequest>,
) -> Result<HttpResponse, Problem> {
    let user = super::subject(&principal, q.user_id)?;
    let display_name =
        validate::display_name(body.display_name.as_deref()).map_err(|e| Problem::validation(vec![e]))?;
    let mut conn = state.pool.get().await?;
    profiles::upsert(&mut conn, user, display_name.as_deref(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(ProfileView { user_id: user, display_name }))
}
