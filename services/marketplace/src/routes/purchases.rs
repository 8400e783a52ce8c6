//! `POST /api/courses/purchase`: one live purchase per buyer and course, whatever the key.

use super::views::PurchaseView;
use crate::billing::{self, Payment};
use crate::domain::course::PUBLISHED;
use crate::error::MarketError;
use crate::store::courses;
use crate::store::purchase_once;
use crate::store::purchases::{self, NewPurchase, COMPLETED, PENDING};
use crate::{purchasing, State};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::SubsecRound;
use diesel_async::AsyncPgConnection;
use events::catalog::billing::{ChargeLine, LineKind};
use platform::auth::Principal;
use platform::http::Json;
use platform::idempotency::{self, Claim, IdempotencyKey, Step};
use platform::money::{Currency, Money};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    pub course_id: Uuid,
    /// A reward voucher's code (`POST /api/tokens/redeem` with `course_voucher`): its value comes
    /// off the price. Only the user who redeemed it may use it, once, before it expires, on a
    /// course priced in its currency. Ignored for a free course.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "RW-7K2M-Q9XD-4HNB-T3VC", min_length = 1, max_length = 64)]
    pub voucher_code: Option<String>,
    /// Sandbox only (`MARKETPLACE_TEST_CLOCKS=true`): a test clock of the caller's own. The
    /// instructor's earnings from it then mature when the clock passes the refund window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_clock: Option<Uuid>,
    /// The currency to pay in: the course's primary price's (the default) or one of its other
    /// `prices`; billing charges in it and the sale, earnings and reports stay in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "EUR")]
    pub currency: Option<Currency>,
    /// A course promotion code (`POST /api/courses/promotion-codes`): its discount comes off the
    /// price at once. Not with a `voucher_code`. Ignored for a free course.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "SPRING25", min_length = 3, max_length = 40)]
    pub promotion_code: Option<String>,
}

/// Characters of a voucher code a purchase keeps (`voucher_code_prefix`): `RW-` and the first
/// group. The code itself is a secret that only rewards checks, against its keyed hash.
const VOUCHER_PREFIX_CHARS: usize = 7;

/// A voucher code as typed: trimmed, upper case (codes are issued upper case), printable.
fn voucher_code(raw: Option<&str>) -> Result<Option<String>, Problem> {
    let Some(raw) = raw else { return Ok(None) };
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() || code.len() > 64 || code.chars().any(char::is_control) {
        return Err(Problem::field("voucher_code", "must be 1-64 printable characters"));
    }
    Ok(Some(code))
}

/// Buy a published course. A free course completes at once; a paid one returns a `pending`
/// purchase with the `client_secret` to confirm the payment with Stripe, and completes when billing
/// reports the payment. One live purchase per buyer and course, whatever the key.
///
/// With `voucher_code`, rewards reserves the voucher for this purchase and its value comes off the
/// price (`discount`, `amount_paid`). A course the voucher covers, or whose remainder is below
/// Stripe's minimum charge (0.50 USD), completes at once without a payment: the platform waives
/// the remainder. A declined payment, an expired or superseded purchase, or a refund gives the
/// voucher back while it has not expired.
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
        (status = 409, body = Problem, content_type = "application/problem+json", description = "redemption_limit_reached (the promotion code's limit is taken), own_course, already_owned, course_not_published, idempotency_in_progress, voucher_code_required (the buyer's pending purchase of the course waits for its voucher to be reserved: send the same `voucher_code`)"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "payload_too_large"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "unsupported_media_type: not `application/json`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`course_id`, `voucher_code`, `currency`: one the course is not sold in, `promotion_code`: unknown, inactive, expired, not for this course, no amount in the currency, first purchase only, or with a voucher, unknown field, malformed Idempotency-Key), idempotency_key_reused; naming `voucher_code`: voucher_not_found (no such code, or another user's), voucher_used, voucher_expired, voucher_currency_mismatch"),
        (status = 502, body = Problem, content_type = "application/problem+json", description = "billing_unavailable: the payment could not be created; rewards_unavailable: the voucher could not be checked"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "overloaded: no database connection became free within the pool wait (`<S>_DATABASE_POOL_WAIT_MS`); nothing was written; retry after `Retry-After` seconds")))]
pub async fn purchase(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<PurchaseRequest>,
) -> Result<HttpResponse, Problem> {
    let buyer = principal.user_id()?;
    let req = body.into_inner();
    let voucher = voucher_code(req.voucher_code.as_deref())?;
    if voucher.is_some() && req.promotion_code.is_some() {
        return Err(Problem::field("promotion_code", "use a voucher or a promotion code, not both"));
    }
    let promotion = req.promotion_code.clone();
    let scope = format!("{buyer}:POST /api/courses/purchase");
    // Derived from the key: a retry after a failed attempt is the same purchase, so it reaches
    // the same payment at billing.
    let purchase_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{scope}\u{1f}{}", key.0).as_bytes());
    if voucher.is_none() && promotion.is_none() && req.test_clock.is_none() {
        let claim = Claim::new(&scope, &key, &req);
        if let Some(answer) = plain(&state, &claim, buyer, &req, purchase_id).await? {
            return Ok(answer);
        }
    }
    let (st, pay_state) = (state.clone(), state.clone());
    // No transaction is held while billing creates the payment: the purchase is recorded first,
    // then billing is called, then its answer is recorded (`idempotency::execute_with_call`).
    idempotency::execute_with_call(
        &state.pool,
        &scope,
        &key,
        &req.clone(),
        move |conn| Box::pin(async move { prepare(conn, &st, buyer, &req, purchase_id, (voucher, promotion)).await }),
        async move |pay: Pay| {
            let pay = match pay.voucher.clone() {
                Some(code) => match apply_voucher(&pay_state, buyer, &pay, &code).await? {
                    Applied::Completed(view) => return Ok(Called::Completed(pay.status, view)),
                    Applied::Pay(price) => Pay { price, ..pay },
                },
                None => pay,
            };
            let payment = create_payment(&pay_state, buyer, &pay).await?;
            Ok(Called::Paid(pay, payment))
        },
        move |conn, called: Called| {
            Box::pin(async move {
                match called {
                    Called::Paid(pay, payment) => {
                        let purchase = record_payment(conn, pay.purchase_id, &payment).await?;
                        Ok((pay.status, PurchaseView::new(&purchase)?))
                    }
                    Called::Completed(status, view) => Ok((status, *view)),
                }
            })
        },
    )
    .await
}

/// The plain purchase: a paid course in its primary currency, nothing off the price, no test
/// clock, and no purchase of it by this buyer yet (the launch-day case). The same steps as the
/// general path, each one statement: the purchase recorded (`purchase_prepare_once`), billing's
/// payment, the payment attached and the answer recorded (`purchase_attach_payment_once`).
/// `None` when a statement finds it is not the plain case, having written nothing: the general
/// path then decides, refusals included, from the start (a purchase step 1 recorded is then this
/// key's own, which it pays for as after any failed attempt).
async fn plain(
    state: &State,
    claim: &Claim,
    buyer: Uuid,
    req: &PurchaseRequest,
    purchase_id: Uuid,
) -> Result<Option<HttpResponse>, Problem> {
    // As stored: the answer built here must be the row's.
    let at = state.clock.now().trunc_subsecs(6);
    let prepare = purchase_once::Prepare {
        claim,
        buyer,
        course: req.course_id,
        purchase_id,
        currency: req.currency.as_ref().map(Currency::code),
        split_rate: state.config.instructor_share,
        at,
    };
    let returned = purchase_once::prepare(&mut *state.pool.get().await?, &prepare).await?;
    let created: Created = match returned.get("outcome").and_then(|o| o.as_str()) {
        Some("created") => serde_json::from_value(returned).map_err(Problem::internal)?,
        _ => return idempotency::ended_or_general(returned, "purchase_prepare_once"),
    };
    let currency = purchasing::currency_of(&created.currency)?;
    let price = Money::round(created.price.parse().map_err(Problem::internal)?, currency);
    let pay = Pay {
        purchase_id,
        price,
        description: payment_description(&created.title),
        status: StatusCode::CREATED,
        voucher: None,
        lines: Vec::new(),
    };
    let payment = create_payment(state, buyer, &pay).await?;
    let view = PurchaseView::awaiting_payment(purchase_id, req.course_id, price, &payment, at);
    let answer = serde_json::to_value(&view).map_err(Problem::internal)?;
    let returned = purchase_once::attach_payment(
        &mut *state.pool.get().await?,
        claim,
        purchase_id,
        payment.id,
        payment.client_secret.as_deref(),
        &answer,
    )
    .await?;
    idempotency::ended_or_general(returned, "purchase_attach_payment_once")
}

/// What `purchase_prepare_once` knows of the course when it recorded the purchase.
#[derive(Deserialize)]
struct Created {
    /// As text: a JSON number would come through a float.
    price: String,
    currency: String,
    title: String,
}

/// Billing's payment for the purchase (the key derives from the purchase: every attempt reaches
/// the same payment).
async fn create_payment(state: &State, buyer: Uuid, pay: &Pay) -> Result<Payment, Problem> {
    let payment =
        billing::create_payment(&state.billing, buyer, pay.price, pay.purchase_id, &pay.description, &pay.lines)
            .await?;
    tracing::info!(purchase = %pay.purchase_id, payment = %payment.id, status = %payment.status, key = %billing::idempotency_key(pay.purchase_id), "payment created");
    Ok(payment)
}

/// What billing prints for a course's payment (receipt, invoice line), whichever path creates it.
fn payment_description(course_title: &str) -> String {
    format!("Course: {course_title}")
}

/// A purchase that needs billing to create its payment (and first rewards to reserve its voucher).
#[derive(Clone)]
struct Pay {
    purchase_id: Uuid,
    /// What to charge: the list price, less the voucher's discount once it is known.
    price: Money,
    description: String,
    /// 201 for a purchase this request created, 200 for one it found.
    status: StatusCode,
    /// A voucher not reserved yet.
    voucher: Option<String>,
    /// What the payment pays for, for billing's receipt and invoice: the course at its list price
    /// and a promotion code's discount; empty lets billing print one line.
    lines: Vec<ChargeLine>,
}

impl Pay {
    /// `typed` is the code in this request: a purchase keeps only its prefix, so a voucher still to
    /// be reserved (rewards was unreachable the first time) is reserved with the request's code,
    /// which must be the one the purchase was recorded with (the same key and body guarantee it;
    /// another key for the same pending purchase must name the same voucher).
    fn of(
        purchase: &purchases::Purchase,
        course_title: &str,
        status: StatusCode,
        typed: Option<&str>,
    ) -> Result<Self, Problem> {
        let currency = purchasing::currency_of(&purchase.currency)?;
        let voucher = match (purchase.voucher_code_prefix.as_deref(), purchase.voucher_reserved_at) {
            (Some(prefix), None) => {
                match typed.filter(|c| platform::code_hash::prefix(c, VOUCHER_PREFIX_CHARS) == prefix) {
                    Some(code) => Some(code.to_string()),
                    None => return Err(Problem::conflict(
                        "voucher_code_required",
                        "your pending purchase of this course waits for its voucher: send the same voucher_code again",
                    )),
                }
            }
            _ => None,
        };
        let description = payment_description(course_title);
        let lines = match purchase.promotion_code.as_deref() {
            Some(code) if !purchase.discount.is_zero() => vec![
                ChargeLine { kind: LineKind::Course, description: description.clone(), amount: purchase.price },
                ChargeLine {
                    kind: LineKind::Discount,
                    description: format!("Promotion code {code}"),
                    amount: -purchase.discount,
                },
            ],
            _ => Vec::new(),
        };
        Ok(Pay {
            purchase_id: purchase.id,
            price: Money::round(purchase.amount_paid, currency),
            description,
            status,
            voucher,
            lines,
        })
    }
}

/// What the calls between the two transactions produced.
enum Called {
    Paid(Pay, Payment),
    /// The voucher covered the price (or left less than Stripe's minimum): no payment.
    Completed(StatusCode, Box<PurchaseView>),
}

enum Applied {
    Pay(Money),
    Completed(Box<PurchaseView>),
}

/// Reserve the purchase's voucher at rewards, then, in a transaction, record its discount, and
/// complete the purchase at once when nothing is left to charge. A refused voucher forgets the
/// purchase this request recorded, so the 422 leaves nothing behind; rewards unreachable leaves it
/// pending, unreserved, for a retry with the same key (or the expiry job, which releases).
async fn apply_voucher(state: &web::Data<State>, buyer: Uuid, pay: &Pay, code: &str) -> Result<Applied, Problem> {
    let currency = pay.price.currency;
    let reserved = match state.rewards.reserve(code, buyer, pay.purchase_id, currency).await {
        Ok(r) => r,
        Err(MarketError::VoucherRefused(problem)) => {
            let id = pay.purchase_id;
            platform::db::transaction(&state.pool, move |conn| {
                Box::pin(async move { purchases::forget_unreserved(conn, id).await.map_err(Problem::from) })
            })
            .await?;
            return Err(problem);
        }
        Err(e) => return Err(e.into()),
    };
    let id = pay.purchase_id;
    let now = state.clock.now();
    let st = state.clone();
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let state = &st;
            let purchase = purchases::lock(conn, id).await?.ok_or_else(|| Problem::internal("purchase vanished"))?;
            let purchase = if purchase.voucher_reserved_at.is_some() {
                purchase
            } else {
                let list = Money::round(purchase.price, currency);
                let checkout = crate::domain::voucher::checkout(list, reserved.value);
                tracing::info!(purchase = %id, discount = %checkout.discount, paid = %checkout.amount_paid, waived = checkout.waived, "voucher applied");
                purchases::apply_voucher(conn, id, checkout.discount.amount, now).await?
            };
            if purchase.status != PENDING {
                // Closed meanwhile (expired while rewards answered): its release is on its way.
                return Ok(Applied::Completed(Box::new(PurchaseView::new(&purchase)?)));
            }
            if purchase.amount_paid.is_zero() {
                let completed = purchasing::complete(conn, state, &purchase, None, None).await?;
                return Ok(Applied::Completed(Box::new(PurchaseView::new(&completed)?)));
            }
            Ok(Applied::Pay(Money::round(purchase.amount_paid, currency)))
        })
    })
    .await
}

/// Step 1, in a transaction: the answer when no payment is needed (free course, existing
/// purchase), else the pending purchase to pay for. Safe to run again: a purchase an earlier
/// attempt recorded but could not get a payment for is found and paid for now.
async fn prepare(
    conn: &mut AsyncPgConnection,
    state: &State,
    buyer: Uuid,
    req: &PurchaseRequest,
    purchase_id: Uuid,
    (voucher, promotion): (Option<String>, Option<String>),
) -> Result<Step<PurchaseView, Pay>, Problem> {
    let course_id = req.course_id;
    // Serialise attempts of one buyer on one course (different keys, double clicks): the second
    // waits, then finds the first one's purchase.
    platform::db::advisory_xact_lock(conn, &format!("purchase:{buyer}:{course_id}")).await?;
    // Under the lock, every read the decision needs goes out in one pipelined round trip (they
    // are independent of each other): this key's purchase, the buyer's live one, and the declined
    // ones a new purchase supersedes.
    let shared: &AsyncPgConnection = conn;
    let (course, mine, live, declined) = futures_util::try_join!(
        courses::find(shared, course_id),
        purchases::lock(shared, purchase_id),
        purchases::live(shared, buyer, course_id),
        purchases::lock_payable_failed(shared, buyer, course_id),
    )
    .map_err(MarketError::from)?;
    let course = course.ok_or(MarketError::CourseNotFound)?;
    if course.instructor_id == buyer {
        return Err(MarketError::OwnCourse.into());
    }
    // The same key long after its stored response expired: still the same purchase.
    let earlier = match mine {
        Some(existing) => Some(existing),
        None => match live {
            Some(p) if p.status == COMPLETED => return Err(MarketError::AlreadyOwned.into()),
            Some(p) if p.status == PENDING => Some(p),
            _ => None,
        },
    };
    if let Some(p) = earlier {
        // This key's own purchase, left without a payment by a failed attempt, is still its creation.
        let status = if p.id == purchase_id { StatusCode::CREATED } else { StatusCode::OK };
        return Ok(match p.payment_id {
            None if p.status == PENDING => Step::Call(Pay::of(&p, &course.title, status, voucher.as_deref())?),
            _ => Step::Done(StatusCode::OK, PurchaseView::new(&p)?),
        });
    }
    if course.status != PUBLISHED {
        return Err(if course.status == crate::domain::course::DRAFT {
            MarketError::CourseNotFound
        } else {
            MarketError::NotPublished
        }
        .into());
    }
    let price = price_in(conn, &course, req.currency).await?;
    let currency = price.currency;
    let prefix = voucher.as_deref().map(|c| platform::code_hash::prefix(c, VOUCHER_PREFIX_CHARS));
    // The buyer's declined attempts at this course will never be used now: void their payments
    // (which gives their redemptions back before this purchase takes one).
    purchasing::supersede_failed(conn, state, declined).await?;
    let test_clock = attachable(conn, state, buyer, req.test_clock).await?;
    let created_at =
        events::test_clocks::now_of(conn, test_clock, state.clock.now()).await.map_err(MarketError::from)?;
    let promo = match promotion.as_deref().filter(|_| !price.amount.is_zero()) {
        Some(typed) => Some(crate::promotions::redeem(conn, state, typed, &course, price, buyer).await?),
        None => None,
    };
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
            created_at,
            // A free course has nothing to take a voucher off.
            voucher_code_prefix: prefix.as_deref().filter(|_| !price.amount.is_zero()),
            test_clock_id: test_clock,
            discount: promo.as_ref().map_or(rust_decimal::Decimal::ZERO, |p| p.priced.discount.amount),
            promotion_code_id: promo.as_ref().map(|p| p.code.code.id),
            promotion_code: promo.as_ref().map(|p| p.code.code.code.as_str()),
            promotion_funded_by: promo.as_ref().map(|p| p.code.code.funded_by.as_str()),
        },
    )
    .await?;
    // Free, or a code covering the price (or leaving less than Stripe's minimum, waived).
    if purchase.amount_paid.is_zero() {
        let completed = purchasing::complete(conn, state, &purchase, None, None).await?;
        return Ok(Step::Done(StatusCode::CREATED, PurchaseView::new(&completed)?));
    }
    Ok(Step::Call(Pay::of(&purchase, &course.title, StatusCode::CREATED, voucher.as_deref())?))
}

/// A clock a purchase may live on: the buyer's own, and only where test clocks are on.
async fn attachable(
    conn: &mut AsyncPgConnection,
    state: &State,
    buyer: Uuid,
    clock: Option<Uuid>,
) -> Result<Option<Uuid>, Problem> {
    let Some(id) = clock else { return Ok(None) };
    if !state.config.test_clocks {
        return Err(Problem::field("test_clock", "test clocks are not enabled here"));
    }
    if events::test_clocks::owned_by(conn, id, buyer).await.map_err(MarketError::from)? {
        Ok(Some(id))
    } else {
        Err(Problem::field("test_clock", "no such test clock of yours"))
    }
}

/// The course's price in the currency the buyer named: the primary price by default (and for a
/// free course, free in every currency), else one of its other prices; a currency it is not sold
/// in is 422 naming `currency`.
async fn price_in(
    conn: &mut AsyncPgConnection,
    course: &courses::Course,
    wanted: Option<Currency>,
) -> Result<Money, Problem> {
    let primary = Money::round(course.price, purchasing::currency_of(&course.currency)?);
    match wanted {
        Some(c) if c != primary.currency && !primary.amount.is_zero() => {
            match courses::price_in(conn, course.id, c.code()).await? {
                Some(price) => Ok(Money::round(price, c)),
                None => Err(Problem::field("currency", format!("this course is not sold in {c}"))),
            }
        }
        _ => Ok(primary),
    }
}

/// Step 3, in a transaction: attach billing's payment to the purchase, unless a concurrent attempt
/// already did (billing answers every attempt for one purchase with the same payment). One
/// statement in the usual case: the guarded update locks the row and attaches it.
async fn record_payment(
    conn: &mut AsyncPgConnection,
    purchase_id: Uuid,
    payment: &Payment,
) -> Result<purchases::Purchase, Problem> {
    if let Some(attached) =
        purchases::set_payment(conn, purchase_id, payment.id, payment.client_secret.as_deref()).await?
    {
        return Ok(attached);
    }
    purchases::lock(conn, purchase_id).await?.ok_or_else(|| Problem::internal("purchase vanished"))
}
