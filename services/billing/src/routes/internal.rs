//! Service-to-service: other services ask billing to take a payment, or to cancel one now.

use super::views::PaymentView;
use crate::domain::invoice::Party;
use crate::error::BillingError;
use crate::invoicing::{to_json, Quote};
use crate::store::{billing_details, customers, payment_once, payments};
use crate::{webhooks, State};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::SubsecRound;
use diesel_async::AsyncPgConnection;
use events::catalog::billing::{ChargeLine, PaymentPurpose};
use platform::auth::Principal;
use platform::http::Json;
use platform::idempotency::{self, Claim, IdempotencyKey, Step};
use platform::money::Money;
use platform::Problem;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    pub user_id: Uuid,
    pub amount: Money,
    pub purpose: PaymentPurpose,
    /// The caller's id for what is paid (purchase, subscription, license).
    pub reference_id: String,
    pub description: Option<String>,
    /// Renewals: charge the customer's saved card now, without them present.
    #[serde(default)]
    pub off_session: bool,
    /// What the amount is made of (plan, proration, discount, course...), for invoices. Optional:
    /// without lines the payment is one line of `description`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<ChargeLine>,
}

/// `POST /internal/payments` (role `service`, `Idempotency-Key` required).
pub async fn create_payment(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<CreatePayment>,
) -> Result<HttpResponse, Problem> {
    principal.require_service()?;
    let req = body.into_inner();
    validate(&req)?;
    let scope = format!("{}:POST /internal/payments", principal.sub);
    // Stripe's idempotency key comes from ours: a retry after a timeout reaches the same PaymentIntent.
    let stripe_key = stripe_key("pi", &scope, &key.0)?;
    let seller = crate::invoicing::seller(&state.config);
    if !req.off_session {
        let claim = Claim::new(&scope, &key, &req);
        if let Some(answer) = plain(&state, &claim, &req, &stripe_key, &seller).await? {
            return Ok(answer);
        }
    }
    let caller = state.clone();
    let request = req.clone();
    // Stripe is called with no transaction open (`idempotency::execute_with_call`): what is known
    // is read first, Stripe creates the customer and PaymentIntent, then both are recorded.
    idempotency::execute_with_call(
        &state.pool,
        &scope,
        &key,
        &req,
        move |conn| Box::pin(async move { Ok(Step::Call(plan(conn, request, seller).await?)) }),
        async move |plan: Plan| Ok(call_stripe(&caller, plan, &stripe_key).await?),
        move |conn, created: Created| {
            Box::pin(async move {
                let payment = record(conn, created).await?;
                Ok((StatusCode::CREATED, PaymentView::new(&payment, true)?))
            })
        },
    )
    .await
}

fn validate(req: &CreatePayment) -> Result<(), Problem> {
    if req.amount.amount <= rust_decimal::Decimal::ZERO {
        return Err(Problem::field("amount", "must be positive"));
    }
    Money::new(req.amount.amount, req.amount.currency)?;
    if req.reference_id.is_empty() || req.reference_id.len() > 200 {
        return Err(Problem::field("reference_id", "must be 1-200 characters"));
    }
    validate_lines(&req.lines, req.amount.amount)?;
    Ok(())
}

/// Lines, when given, are at most 50, each described, and add up exactly to the amount.
fn validate_lines(lines: &[ChargeLine], amount: rust_decimal::Decimal) -> Result<(), Problem> {
    if lines.is_empty() {
        return Ok(());
    }
    if lines.len() > 50 {
        return Err(Problem::field("lines", "at most 50 lines"));
    }
    if lines.iter().any(|l| l.description.trim().is_empty() || l.description.len() > 200) {
        return Err(Problem::field("lines", "every line needs a description of 1-200 characters"));
    }
    let total: rust_decimal::Decimal = lines.iter().map(|l| l.amount).sum();
    if total != amount {
        return Err(Problem::field("lines", format!("lines add up to {total}, not the amount {amount}")));
    }
    Ok(())
}

/// A Stripe idempotency key derived from our operation: `<op>-<sha256(scope, key)>`.
pub fn stripe_key(op: &str, scope: &str, key: &str) -> Result<stripe::IdempotencyKey, Problem> {
    let digest = hex::encode(Sha256::digest(format!("{scope}\u{1f}{key}").as_bytes()));
    stripe::IdempotencyKey::for_operation(op, digest).map_err(Problem::internal)
}

/// What Stripe needs that billing already knows.
struct Plan {
    req: CreatePayment,
    customer: Option<String>,
    saved_method: Option<String>,
    /// The tax, from the customer's billing details and the active rates.
    quote: Quote,
    seller: Party,
}

/// Step 1: the customer, off-session the saved card, and the tax. Reads only.
async fn plan(conn: &mut AsyncPgConnection, req: CreatePayment, seller: Party) -> Result<Plan, BillingError> {
    let seller_country = seller.country.clone().unwrap_or_default();
    // Independent reads: pipelined, one round trip.
    let shared: &AsyncPgConnection = conn;
    let (details, customer) =
        futures_util::try_join!(billing_details::find(shared, req.user_id), customers::find(shared, req.user_id))?;
    let quote = crate::invoicing::quote(conn, details, req.amount, &seller_country).await?;
    let saved_method = if req.off_session {
        let method = customers::default_payment_method(conn, req.user_id).await?;
        Some(method.ok_or_else(|| {
            BillingError::Problem(Problem::conflict("no_saved_payment_method", "the customer has no saved card"))
        })?)
    } else {
        None
    };
    Ok(Plan { req, customer, saved_method, quote, seller })
}

/// What Stripe made, to record.
struct Created {
    req: CreatePayment,
    quote: Quote,
    seller: Party,
    payment_id: Uuid,
    description: String,
    customer: String,
    new_customer: bool,
    intent: stripe::PaymentIntent,
    /// The charge of an intent that succeeded at once (off-session), for the receipt's card;
    /// fetched here so step 3 asks Stripe nothing inside its transaction.
    charge: Option<stripe::Charge>,
    /// The service clock's time of the outcome, if Stripe decided it at once.
    now: chrono::DateTime<chrono::Utc>,
}

/// Step 2, no connection held: the customer (if new) and the PaymentIntent, each under an
/// idempotency key derived from ours, so a retry reaches the same Stripe objects.
async fn call_stripe(state: &State, plan: Plan, stripe_key: &stripe::IdempotencyKey) -> Result<Created, BillingError> {
    let Plan { req, customer, saved_method, quote, seller } = plan;
    let (customer, new_customer) = match customer {
        Some(id) => (id, false),
        None => (create_customer(state, req.user_id).await?, true),
    };
    // Derived from the request's idempotency key, so a retry sends Stripe identical parameters.
    let payment_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, stripe_key.as_str().as_bytes());
    let description =
        req.description.clone().unwrap_or_else(|| format!("{} {}", req.purpose.as_str(), req.reference_id));
    // Stripe charges the total: the net plus an exclusive tax (an inclusive one is inside it).
    let charged = Money::new(quote.split.total, req.amount.currency).map_err(Problem::from)?;
    let params = stripe::CreatePaymentIntent {
        amount: charged.to_minor_units().map_err(Problem::from)?,
        currency: req.amount.currency.code().to_ascii_lowercase(),
        customer: Some(customer.clone()),
        description: Some(description.clone()),
        metadata: [
            ("payment_id".to_string(), payment_id.to_string()),
            ("user_id".to_string(), req.user_id.to_string()),
            ("purpose".to_string(), req.purpose.as_str().to_string()),
            ("reference_id".to_string(), req.reference_id.clone()),
        ]
        .into_iter()
        .collect(),
        payment_method: saved_method.clone(),
        confirm: saved_method.is_some(),
        off_session: saved_method.is_some(),
    };
    // An off-session decline comes back as a card error carrying the failed PaymentIntent: it is
    // still a payment to record (and a failure to announce), not an error of this request.
    let intent = match state.stripe.create_payment_intent(&params, stripe_key).await {
        Ok(pi) => pi,
        Err(stripe::StripeError::Card { payment_intent: Some(pi), .. }) => *pi,
        Err(e) => return Err(e.into()),
    };
    let charge = match (&intent.latest_charge, intent.status) {
        (Some(id), stripe::PaymentIntentStatus::Succeeded) => Some(state.stripe.retrieve_charge(id).await?),
        _ => None,
    };
    Ok(Created {
        req,
        quote,
        seller,
        payment_id,
        description,
        customer,
        new_customer,
        intent,
        charge,
        now: state.clock.now(),
    })
}

/// The payment row of what Stripe made.
fn new_payment(created: &Created) -> Result<payments::NewPayment<'_>, BillingError> {
    let Created { req, quote, seller, payment_id, description, intent, .. } = created;
    Ok(payments::NewPayment {
        id: *payment_id,
        user_id: req.user_id,
        amount: quote.split.total,
        currency: req.amount.currency.code(),
        purpose: req.purpose.as_str(),
        reference_id: &req.reference_id,
        description,
        // A receipt comes with success, so an intent that already succeeded (off-session) is
        // recorded as processing and settled just below, in this same transaction.
        status: match intent.status {
            stripe::PaymentIntentStatus::Succeeded => "processing",
            other => crate::domain::payment::status_name(other),
        },
        stripe_payment_intent_id: &intent.id,
        client_secret: intent.client_secret.as_deref(),
        traceparent: platform::telemetry::current_traceparent(),
        tax_amount: quote.split.tax,
        tax: quote.applied.as_ref().map(to_json).transpose()?,
        tax_country: quote.country.as_deref(),
        lines: to_json(&req.lines)?,
        billed_to: quote.billed_to.as_ref().map(to_json).transpose()?,
        seller: Some(to_json(seller)?),
    })
}

/// Step 3: the customer (if new) and the payment, settled at once if Stripe already decided it.
async fn record(conn: &mut AsyncPgConnection, created: Created) -> Result<payments::Payment, BillingError> {
    let new_payment = new_payment(&created)?;
    let Created { req, customer, new_customer, intent, charge, now, .. } = &created;
    // The customer and the payment are independent rows: pipelined, one round trip.
    let shared: &AsyncPgConnection = conn;
    let ((), payment) = futures_util::try_join!(
        async {
            if *new_customer {
                customers::remember(shared, req.user_id, customer).await
            } else {
                Ok(())
            }
        },
        payments::insert(shared, &new_payment),
    )?;
    if intent.status == stripe::PaymentIntentStatus::Succeeded {
        webhooks::record_success(conn, &payment, intent, charge.as_ref(), *now).await?;
        return Ok(payments::find(conn, payment.id).await?.unwrap_or(payment));
    }
    if let Some(error) = &intent.last_payment_error {
        return Ok(webhooks::record_failure(conn, &payment, intent, error, *now).await?.unwrap_or(payment));
    }
    Ok(payment)
}

/// A payment the buyer confirms, for a user without billing details (no tax to quote): the
/// general path's steps, the first and the last one statement each (`payment_plan_once`,
/// `payment_record_once`), Stripe's calls between them. `None` when the general path must
/// decide: the user has billing details (step 1 wrote nothing), or Stripe decided the intent at
/// once (it then answers the general path's call with the same intent, under the same key).
async fn plain(
    state: &State,
    claim: &Claim,
    req: &CreatePayment,
    stripe_key: &stripe::IdempotencyKey,
    seller: &Party,
) -> Result<Option<HttpResponse>, Problem> {
    let returned = payment_once::plan(&mut *state.pool.get().await?, claim, req.user_id).await?;
    let customer = match returned.get("outcome").and_then(|o| o.as_str()) {
        Some("plain") => returned.get("customer").and_then(|c| c.as_str()).map(str::to_string),
        _ => return idempotency::ended_or_general(returned, "payment_plan_once"),
    };
    let plan = Plan {
        req: req.clone(),
        customer,
        saved_method: None,
        quote: Quote::untaxed(req.amount),
        seller: seller.clone(),
    };
    let created = call_stripe(state, plan, stripe_key).await?;
    if created.intent.status == stripe::PaymentIntentStatus::Succeeded || created.intent.last_payment_error.is_some() {
        return Ok(None);
    }
    let payment = new_payment(&created)?;
    // The wall clock, as the general path's column default (now()) reads it; as stored (microseconds).
    let created_at = chrono::Utc::now().trunc_subsecs(6);
    let answer = serde_json::to_value(PaymentView::unsettled(&payment, created_at)?).map_err(Problem::internal)?;
    let new_customer = created.new_customer.then_some(created.customer.as_str());
    let returned =
        payment_once::record(&mut *state.pool.get().await?, claim, &payment, created_at, new_customer, &answer).await?;
    idempotency::ended_or_general(returned, "payment_record_once")
}

/// A Stripe customer for `user_id`; the key is the user's, so two payments racing to create one
/// get the same customer.
pub(crate) async fn create_customer(state: &State, user_id: Uuid) -> Result<String, BillingError> {
    let params = stripe::CreateCustomer {
        metadata: [("user_id".to_string(), user_id.to_string())].into_iter().collect(),
        ..Default::default()
    };
    let key = stripe::IdempotencyKey::for_operation("customer", user_id).map_err(Problem::internal)?;
    Ok(state.stripe.create_customer(&params, &key).await?.id)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelPayment {
    /// The caller's snake_case reason (`purchase_expired`, ...): Stripe's cancellation reason is
    /// derived from it, as for a void.
    pub reason: String,
}

/// Where the payment ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CancelOutcome {
    /// The PaymentIntent is canceled: no money moved, none can.
    Canceled,
    /// The customer paid (Stripe refused the cancel): the payment is recorded as succeeded and
    /// announced, and the caller should deliver what was paid for.
    Succeeded,
}

#[derive(Debug, Serialize)]
pub struct CancelAnswer {
    pub outcome: CancelOutcome,
    /// The payment was final in billing's record already; Stripe was not asked.
    pub already_final: bool,
    pub payment: PaymentView,
}

/// `POST /internal/payments/{id}/cancel` (role `service`, `Idempotency-Key` required): cancel the
/// PaymentIntent now, or learn that it succeeded. Only the service owning the payment's purpose
/// may (marketplace its course purchases). 409 `payment_processing` while Stripe is deciding: ask
/// again later with the same key (only final answers are kept for replay).
pub async fn cancel_payment(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: Json<CancelPayment>,
) -> Result<HttpResponse, Problem> {
    principal.require_service()?;
    let payment_id = id.into_inner();
    let req = body.into_inner();
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if req.reason.is_empty() || req.reason.len() > 64 || !req.reason.chars().all(valid) {
        return Err(Problem::field("reason", "must be 1-64 characters of a-z, 0-9 and _"));
    }
    let scope = format!("{}:POST /internal/payments/{payment_id}/cancel", principal.sub);
    let caller = state.clone();
    let reason = req.reason.clone();
    let now = state.clock.now();
    idempotency::execute_with_call(
        &state.pool,
        &scope,
        &key,
        &req,
        move |conn| Box::pin(async move { Ok(cancel_plan(conn, &principal, payment_id).await?) }),
        async move |payment: payments::Payment| Ok(crate::cancel::at_stripe(&caller, &payment, &reason).await?),
        move |conn, facts| {
            Box::pin(async move {
                webhooks::apply(conn, &facts, now).await?;
                let payment = payments::find(conn, payment_id).await?.ok_or(BillingError::PaymentNotFound)?;
                match cancel_answer(&payment, false)? {
                    Some(answer) => Ok((StatusCode::OK, answer)),
                    None => Err(Problem::conflict(
                        "payment_processing",
                        format!("the payment is {}: Stripe is deciding; ask again later", payment.status),
                    )),
                }
            })
        },
    )
    .await
}

/// Step 1: the payment, its owner, and the answer at once when it is final already.
async fn cancel_plan(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    payment_id: Uuid,
) -> Result<Step<CancelAnswer, payments::Payment>, BillingError> {
    let payment = payments::find(conn, payment_id).await?.ok_or(BillingError::PaymentNotFound)?;
    if !crate::domain::void::may_cancel(&principal.sub, &payment.purpose) {
        return Err(Problem::forbidden().with_detail("only the service that asked for a payment may cancel it").into());
    }
    Ok(match cancel_answer(&payment, true)? {
        Some(answer) => Step::Done(StatusCode::OK, answer),
        None => Step::Call(payment),
    })
}

fn cancel_answer(payment: &payments::Payment, already_final: bool) -> Result<Option<CancelAnswer>, Problem> {
    use crate::domain::payment::{CANCELED, SUCCEEDED};
    let outcome = match payment.status.as_str() {
        SUCCEEDED => CancelOutcome::Succeeded,
        CANCELED => CancelOutcome::Canceled,
        _ => return Ok(None),
    };
    Ok(Some(CancelAnswer { outcome, already_final, payment: PaymentView::new(payment, false)? }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::catalog::billing::LineKind;
    use std::str::FromStr;

    fn dec(s: &str) -> rust_decimal::Decimal {
        rust_decimal::Decimal::from_str(s).unwrap()
    }

    fn line(kind: LineKind, amount: rust_decimal::Decimal) -> ChargeLine {
        ChargeLine { kind, description: format!("{kind:?}"), amount }
    }

    #[test]
    fn lines_must_add_up_to_the_amount() {
        let lines = [line(LineKind::Plan, dec("20.00")), line(LineKind::Discount, dec("-5.00"))];
        assert!(validate_lines(&lines, dec("15.00")).is_ok());
        assert!(validate_lines(&lines, dec("20.00")).is_err());
        assert!(validate_lines(&[], dec("20.00")).is_ok(), "no lines: one line of the description");
    }

    #[test]
    fn every_line_is_described() {
        let blank = ChargeLine { kind: LineKind::Plan, description: " ".into(), amount: dec("1") };
        assert!(validate_lines(&[blank], dec("1")).is_err());
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardQuestion {
    pub user_id: Uuid,
}

#[derive(Debug, Serialize)]
pub struct CardAnswer {
    /// Whether the customer has a saved default card (what an off-session charge uses).
    pub has_default_card: bool,
}

/// `POST /internal/customers/default-card` (role `service`): does the user have a saved default
/// card? Subscriptions asks before starting a trial that needs one. A read, so no key; POST because
/// the internal client only posts.
pub async fn default_card(
    state: web::Data<State>,
    principal: Principal,
    body: Json<CardQuestion>,
) -> Result<HttpResponse, Problem> {
    principal.require_service()?;
    let mut conn = state.pool.get().await?;
    let method = customers::default_payment_method(&mut conn, body.user_id).await?;
    Ok(HttpResponse::Ok().json(CardAnswer { has_default_card: method.is_some() }))
}
