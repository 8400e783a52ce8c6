//! `GET|PUT /api/rewards/profile`: the name shown on leaderboards (own; admins may set anyone's).

use crate::domain::validate;
use crate::store::profiles;
use crate::State;
use actix_web::{web, HttpResponse};
use platform::auth::Principal;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileQuery {
    /// Admins only: whose profile.
    pub user_id: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// 1-50 characters, or null to stay anonymous on leaderboards.
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProfileView {
    pub user_id: Uuid,
    pub display_name: Option<String>,
}

pub async fn get(
    state: web::Data<State>,
    principal: Principal,
    q: web::Query<ProfileQuery>,
) -> Result<HttpResponse, Problem> {
    let user = super::subject(&principal, q.user_id)?;
    let mut conn = state.pool.get().await?;
    let display_name = profiles::names(&mut conn, &[user]).await?.remove(&user);
    Ok(HttpResponse::Ok().json(ProfileView { user_id: user, display_name }))
}

pub async fn put(
    state: web::Data<State>,
    principal: Principal,
    q: web::Query<ProfileQuery>,
    body: web::Json<ProfileRequest>,
) -> Result<HttpResponse, Problem> {
    let user = super::subject(&principal, q.user_id)?;
    let display_name =
        validate::display_name(body.display_name.as_deref()).map_err(|e| Problem::validation(vec![e]))?;
    let mut conn = state.pool.get().await?;
    profiles::upsert(&mut conn, user, display_name.as_deref(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(ProfileView { user_id: user, display_name }))
}
