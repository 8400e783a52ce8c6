//! The caller's own subscription. Everything is keyed by the caller's user id: nobody can name
//! another user's subscription.

use crate::error::SubscriptionError;
use crate::operations;
use crate::store::subscriptions::{self as subs, Subscription};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::idempotency::{self, IdempotencyKey};
use platform::money::Money;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRequest {
    pub tier: String,
}

#[derive(Debug, Serialize)]
pub struct SubscriptionView {
    pub id: Uuid,
    pub tier: String,
    pub status: String,
    pub current_period_start: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub pending_tier: Option<String>,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        Self {
            id: s.id,
            tier: s.tier.clone(),
            status: s.status.clone(),
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
            pending_tier: s.pending_tier.clone(),
            next_retry_at: s.next_retry_at,
            created_at: s.created_at,
        }
    }
}

#[derive(Serialize)]
struct Created {
    subscription: SubscriptionView,
    payment_id: Uuid,
    /// Confirm the first payment with Stripe using this.
    client_secret: Option<String>,
}

/// `POST /api/subscriptions` `{tier}` with `Idempotency-Key`.
pub async fn subscribe(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: web::Json<TierRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{user}:POST /api/subscriptions");
    let st = state.clone();
    idempotency::execute(&state.pool, &scope, &key, &req.clone(), move |conn| {
        Box::pin(async move {
            let (sub, payment) = operations::subscribe(conn, &st, user, &req.tier).await?;
            Ok((
                StatusCode::CREATED,
                Created { subscription: (&sub).into(), payment_id: payment.id, client_secret: payment.client_secret },
            ))
        })
    })
    .await
}

/// `GET /api/subscriptions/me`: the live (or most recent) subscription; `null` when on Free.
pub async fn me(state: web::Data<State>, principal: Principal) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let mut conn = state.pool.get().await?;
    let sub = subs::latest(&mut conn, user).await?;
    let entitlement = crate::entitlements::compute(&mut conn, user, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "subscription": sub.as_ref().map(SubscriptionView::from),
        "effective_tier": entitlement.tier,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    pub tier: String,
}

#[derive(Serialize)]
struct PreviewView {
    tier: String,
    /// Charged now (upgrades); zero for downgrades, which apply at the period end.
    amount: Money,
    applies: &'static str,
}

pub async fn preview(
    state: web::Data<State>,
    principal: Principal,
    q: web::Query<PreviewQuery>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let mut conn = state.pool.get().await?;
    let sub = subs::latest(&mut conn, user)
        .await?
        .filter(|s| s.status == "active")
        .ok_or(SubscriptionError::NoSubscription)?;
    let (_, next, p) = operations::preview(&mut conn, &state, &sub, &q.tier).await?;
    Ok(HttpResponse::Ok().json(PreviewView {
        tier: next.code,
        amount: p.amount,
        applies: if p.applies_now { "now" } else { "period_end" },
    }))
}

/// `POST /api/subscriptions/me/change` `{tier}` with `Idempotency-Key` (an upgrade charges now).
pub async fn change(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: web::Json<TierRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{user}:POST /api/subscriptions/me/change");
    let st = state.clone();
    let response = idempotency::execute(&state.pool, &scope, &key, &req.clone(), move |conn| {
        Box::pin(async move {
            let sub = operations::change(conn, &st, user, &req.tier).await?;
            Ok((StatusCode::OK, SubscriptionView::from(&sub)))
        })
    })
    .await;
    // Again after the commit: a feature check racing the transaction may have cached the old tier.
    state.cache.invalidate(user);
    response
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub at_period_end: bool,
}

pub async fn cancel(
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<CancelRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let at_period_end = body.at_period_end;
    let st = state.clone();
    let sub = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move { operations::cancel(conn, &st, user, at_period_end).await })
    })
    .await?;
    state.cache.invalidate(user);
    Ok(HttpResponse::Ok().json(SubscriptionView::from(&sub)))
}

pub async fn resume(state: web::Data<State>, principal: Principal) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let st = state.clone();
    let sub = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move { operations::resume(conn, &st, user).await })
    })
    .await?;
    state.cache.invalidate(user);
    Ok(HttpResponse::Ok().json(SubscriptionView::from(&sub)))
}
