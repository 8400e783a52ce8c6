//! Feature checks: the caller's own, and a batch check for other services.

use crate::entitlements::{self, Entitlement};
use crate::State;
use actix_web::{web, HttpResponse};
use platform::auth::Principal;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The user's entitlement: from the cache, or computed and cached.
pub async fn entitlement(state: &State, user: Uuid) -> Result<Entitlement, Problem> {
    if let Some(hit) = state.cache.get(user) {
        return Ok(hit);
    }
    let mut conn = state.pool.get().await?;
    let e = entitlements::compute(&mut conn, user, state.clock.now()).await?;
    state.cache.put(user, e.clone());
    Ok(e)
}

#[derive(Serialize)]
struct FeatureAnswer {
    feature: String,
    allowed: bool,
    tier: String,
    source: Option<crate::domain::entitlement::Source>,
}

/// `GET /api/features/{feature}` -> `{allowed, tier, source}` for the caller.
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
    body: web::Json<BatchRequest>,
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
