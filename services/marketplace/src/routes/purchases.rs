//! `POST /api/courses/purchase`: one live purchase per buyer and course, whatever the key.

use super::views::PurchaseView;
use crate::billing::BillingClient;
use crate::domain::course::PUBLISHED;
use crate::error::MarketError;
use crate::store::courses;
use crate::store::purchases::{self, NewPurchase, COMPLETED, PENDING};
use crate::{purchasing, State};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use diesel_async::AsyncPgConnection;
use platform::auth::Principal;
use platform::idempotency::{self, IdempotencyKey};
use platform::money::Money;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    pub course_id: Uuid,
}

/// Buy a published course. A free course completes at once; a paid one returns a `pending`
/// purchase with the `client_secret` to confirm the payment with Stripe, and completes when billing
/// reports the payment. One live purchase per buyer and course, whatever the key.
#[utoipa::path(post, path = "/api/courses/purchase", tag = "marketplace", operation_id = "purchaseCourse",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; same key + same body replays the first response")),
    request_body = PurchaseRequest,
    responses((status = 201, description = "A new purchase: `completed` (free course) or `pending` (payment created)", body = PurchaseView),
        (status = 200, description = "The buyer's purchase already in progress for this course (or this key's purchase)", body = PurchaseView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "idempotency_key_required, bad_request (body not valid JSON)"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such course (or a draft)"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "own_course, already_owned, course_not_published, idempotency_in_progress"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "payload_too_large"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "unsupported_media_type: not `application/json`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`course_id`, unknown field, malformed Idempotency-Key), idempotency_key_reused"),
        (status = 502, body = Problem, content_type = "application/problem+json", description = "billing_unavailable: the payment could not be created")))]
pub async fn purchase(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: web::Json<PurchaseRequest>,
) -> Result<HttpResponse, Problem> {
    let buyer = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{buyer}:POST /api/courses/purchase");
    // Derived from the key: a retry after a failed attempt is the same purchase, so it reaches
    // the same payment at billing.
    let purchase_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{scope}\u{1f}{}", key.0).as_bytes());
    let st = state.clone();
    idempotency::execute(&state.pool, &scope, &key, &req.clone(), move |conn| {
        Box::pin(async move {
            let (status, purchase) = buy(conn, &st, buyer, req.course_id, purchase_id).await?;
            Ok((status, PurchaseView::new(&purchase)?))
        })
    })
    .await
}

async fn buy(
    conn: &mut AsyncPgConnection,
    state: &State,
    buyer: Uuid,
    course_id: Uuid,
    purchase_id: Uuid,
) -> Result<(StatusCode, purchases::Purchase), Problem> {
    // Serialise attempts of one buyer on one course (different keys, double clicks): the second
    // waits, then finds the first one's purchase.
    platform::db::advisory_xact_lock(conn, &format!("purchase:{buyer}:{course_id}")).await?;
    let course = courses::find(conn, course_id).await?.ok_or(MarketError::CourseNotFound)?;
    if course.instructor_id == buyer {
        return Err(MarketError::OwnCourse.into());
    }
    // The same key long after its stored response expired: still the same purchase.
    if let Some(existing) = purchases::lock(conn, purchase_id).await? {
        return Ok((StatusCode::OK, existing));
    }
    match purchases::live(conn, buyer, course_id).await? {
        Some(p) if p.status == COMPLETED => return Err(MarketError::AlreadyOwned.into()),
        Some(p) if p.status == PENDING => return Ok((StatusCode::OK, p)),
        _ => {}
    }
    if course.status != PUBLISHED {
        return Err(if course.status == crate::domain::course::DRAFT {
            MarketError::CourseNotFound
        } else {
            MarketError::NotPublished
        }
        .into());
    }
    let currency = purchasing::currency_of(&course.currency)?;
    let price = Money::round(course.price, currency);
    let purchase = purchases::insert(
        conn,
        &NewPurchase {
            id: purchase_id,
            course_id,
            buyer_id: buyer,
            instructor_id: course.instructor_id,
            price: price.amount,
            currency: currency.code(),
            status: PENDING,
            split_rate: state.config.instructor_share,
            created_at: state.clock.now(),
        },
    )
    .await?;
    if price.amount.is_zero() {
        return Ok((StatusCode::CREATED, purchasing::complete(conn, state, &purchase, None).await?));
    }
    let description = format!("Course: {}", course.title);
    let payment = state.billing.create_payment(buyer, price, purchase.id, &description).await?;
    tracing::info!(purchase = %purchase.id, payment = %payment.id, status = %payment.status, key = %BillingClient::idempotency_key(purchase.id), "payment created");
    let purchase = purchases::set_payment(conn, purchase.id, payment.id, payment.client_secret.as_deref()).await?;
    Ok((StatusCode::CREATED, purchase))
}
