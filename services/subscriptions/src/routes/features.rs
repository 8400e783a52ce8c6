//! Feature checks: the caller's own, and a batch check for other services.

use super::PROBLEM;
use crate::entitlements::{self, Entitlement};
use crate::State;
use actix_web::{web, HttpResponse};
use platform::auth::Principal;
use platform::http::Json;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The user's entitlement: from the cache, or computed and cached.
pub async fn entitlement(state: &State, user: Uuid) -> Result<Entitlement, Problem> {
    if let Some(hit) = state.cache.get(user) {
        return Ok(hit);
    }
    let generation = state.cache.generation(user);
    let mut conn = state.pool.get().await?;
    let now = state.clock.now();
    let e = entitlements::compute(&mut conn, user, now, &state.tier_table).await?;
    state.cache.put(user, e.clone(), generation, now);
    Ok(e)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FeatureAnswer {
    feature: String,
    allowed: bool,
    /// The caller's effective tier.
    tier: String,
    /// Where the tier comes from; `null` on Free.
    source: Option<crate::domain::entitlement::Source>,
}

/// Whether the caller may use a feature, with their effective tier and where it comes from.
#[utoipa::path(get, path = "/api/features/{feature}", tag = "subscriptions", operation_id = "checkFeature",
    security(("bearer" = [])),
    params(("feature" = String, Path, description = "A feature name, e.g. `team.management`")),
    responses((status = 200, body = FeatureAnswer),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user")))]
pub async fn check(
    state: web::Data<State>,
    principal: Principal,
    feature: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let e = entitlement(&state, principal.user_id()?).await?;
    let feature = feature.into_inner();
    Ok(HttpResponse::Ok().json(FeatureAnswer {
        allowed: e.features.contains(&feature),
        feature,
        tier: e.tier,
        source: e.source,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub user_id: Uuid,
    pub features: Vec<String>,
}

/// `POST /internal/features/check` (services only).
pub async fn batch(
    state: web::Data<State>,
    principal: Principal,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, Problem> {
    principal.require_service()?;
    if body.features.len() > 100 {
        return Err(Problem::field("features", "at most 100 per call"));
    }
    let e = entitlement(&state, body.user_id).await?;
    let answers: Vec<_> = body
        .features
        .iter()
        .map(|f| FeatureAnswer {
            feature: f.clone(),
            allowed: e.features.contains(f),
            tier: e.tier.clone(),
            source: e.source,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "user_id": body.user_id, "data": answers })))
}
