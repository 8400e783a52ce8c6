//! `/api/payments/methods`: the caller's saved cards. Only ever the caller's own: another user's
//! card id answers 404, exactly like an unknown one.

use crate::error::BillingError;
use crate::methods;
use crate::routes::internal::{create_customer, stripe_key};
use crate::store::{customers, payment_methods};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::http::{Json, Query};
use platform::idempotency::{self, IdempotencyKey, Step};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentMethodView {
    pub id: Uuid,
    /// `visa`, `mastercard`, ...
    pub brand: String,
    pub last4: String,
    pub exp_month: Option<i32>,
    pub exp_year: Option<i32>,
    /// The card renewals charge.
    pub default: bool,
    pub created_at: DateTime<Utc>,
}

impl PaymentMethodView {
    fn new(m: &payment_methods::SavedMethod, default: Option<&str>) -> Self {
        Self {
            id: m.id,
            brand: m.brand.clone(),
            last4: m.last4.clone(),
            exp_month: m.exp_month,
            exp_year: m.exp_year,
            default: default == Some(m.stripe_payment_method_id.as_str()),
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentMethodList {
    pub data: Vec<PaymentMethodView>,
}

/// The caller's saved cards, newest first, the default flagged.
#[utoipa::path(get, path = "/api/payments/methods", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = PaymentMethodList),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list(state: web::Data<State>, principal: Principal) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    // One snapshot: read apart, a card recorded between the two queries was listed as not the
    // default although its own transaction made it so (seen under load in the methods test).
    let (default, data) = platform::db::snapshot(&state.pool, move |c| {
        Box::pin(async move {
            let default = customers::default_payment_method(c, user).await?;
            Ok::<_, Problem>((default, payment_methods::list(c, user).await?))
        })
    })
    .await?;
    let data = data.iter().map(|m| PaymentMethodView::new(m, default.as_deref())).collect();
    Ok(HttpResponse::Ok().json(PaymentMethodList { data }))
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// Make the saved card the default renewals charge (default true; a first card always is).
    #[serde(default = "yes")]
    pub make_default: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetupView {
    /// `seti_...`
    pub setup_intent_id: String,
    /// For the app's `stripe.confirmCardSetup(client_secret, ...)`.
    pub client_secret: String,
    pub status: String,
}

/// Starts saving a card: a Stripe SetupIntent (off-session use) whose client secret the app
/// confirms with the card. The card is recorded when Stripe notifies `setup_intent.succeeded`.
#[utoipa::path(post, path = "/api/payments/methods/setup", tag = "billing", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Same key and body replay the first answer")),
    request_body = SetupRequest,
    responses((status = 201, body = SetupView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "idempotency_key_required"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "idempotency_in_progress: the first request with this key is still running"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "idempotency_key_reused (another body), validation_failed (unknown fields)")))]
pub async fn setup(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<SetupRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{user}:POST /api/payments/methods/setup");
    let stripe_key = stripe_key("seti", &scope, &key.0)?;
    let caller = state.clone();
    let make_default = req.make_default;
    idempotency::execute_with_call(
        &state.pool,
        &scope,
        &key,
        &req,
        move |conn| Box::pin(async move { Ok(Step::Call(customers::find(conn, user).await?)) }),
        async move |customer: Option<String>| {
            let (customer, new) = match customer {
                Some(id) => (id, false),
                None => (create_customer(&caller, user).await?, true),
            };
            let params = stripe::CreateSetupIntent {
                customer: customer.clone(),
                usage: stripe::SetupUsage::OffSession,
                metadata: [
                    ("user_id".to_string(), user.to_string()),
                    ("make_default".to_string(), make_default.to_string()),
                ]
                .into_iter()
                .collect(),
            };
            let intent = caller.stripe.create_setup_intent(&params, &stripe_key).await.map_err(BillingError::from)?;
            Ok::<_, Problem>((customer, new, intent))
        },
        move |conn, (customer, new, intent): (String, bool, stripe::SetupIntent)| {
            Box::pin(async move {
                if new {
                    customers::remember(conn, user, &customer).await?;
                }
                let view = SetupView {
                    setup_intent_id: intent.id.clone(),
                    client_secret: intent.client_secret.clone().unwrap_or_default(),
                    status: intent.status.as_str().to_owned(),
                };
                Ok((StatusCode::CREATED, view))
            })
        },
    )
    .await
}

/// Makes one of the caller's cards the default renewals charge. A renewal that is past due is
/// retried at once (subscriptions reacts to `billing.payment_method.default_changed.v1`).
#[utoipa::path(post, path = "/api/payments/methods/{id}/default", tag = "billing", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment method id")),
    responses((status = 200, body = PaymentMethodView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such card of yours")))]
pub async fn make_default(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let card = methods::set_default(&state, user, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(PaymentMethodView::new(&card, Some(&card.stripe_payment_method_id))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    /// Required to remove the last card, which is the default: renewals then have no card.
    #[serde(default)]
    pub allow_no_default: bool,
}

/// Removes one of the caller's cards (detached at Stripe for good). The default card cannot be
/// removed while other cards exist (make another the default first); the last card only with
/// `allow_no_default=true`.
#[utoipa::path(delete, path = "/api/payments/methods/{id}", tag = "billing", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment method id"), RemoveQuery),
    responses((status = 204, description = "Removed"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such card of yours"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "payment_method_is_default, last_payment_method")))]
pub async fn remove(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    query: Query<RemoveQuery>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    methods::remove(&state, user, id.into_inner(), query.0.allow_no_default).await?;
    Ok(HttpResponse::NoContent().finish())
}
