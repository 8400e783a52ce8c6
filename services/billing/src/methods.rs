//! Saved cards (issue 20, point 4): a SetupIntent for the app to save a card with, the
//! `setup_intent.succeeded` notification that records it, the default card renewals charge, and
//! removal. Stripe is always called with no transaction open; the change is then recorded in one
//! short transaction, with `billing.payment_method.default_changed.v1` in the outbox when the
//! default changed (subscriptions retries a past-due renewal on it).

use crate::domain::methods::{self as rules, Refusal, Removal};
use crate::error::BillingError;
use crate::store::{customers, payment_methods as methods};
use crate::State;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::billing::PaymentMethodDefaultChanged;
use platform::Problem;
use uuid::Uuid;

/// What Stripe says of a succeeded SetupIntent of ours, fetched before the transaction.
pub struct SavedCard {
    pub user_id: Uuid,
    pub customer: String,
    pub method: stripe::PaymentMethod,
    pub make_default: bool,
}

/// Step 1 of `setup_intent.succeeded`: the intent as Stripe has it now and its card. `None` for
/// intents that are not ours, not succeeded, or whose card was detached since.
pub async fn fetch_setup(state: &State, notified: &stripe::SetupIntent) -> Result<Option<SavedCard>, BillingError> {
    let Some(user_id) = notified.metadata.get("user_id").and_then(|u| Uuid::parse_str(u).ok()) else {
        return Ok(None);
    };
    let intent = state.stripe.retrieve_setup_intent(&notified.id).await?;
    let (Some(customer), Some(pm), stripe::SetupIntentStatus::Succeeded) =
        (intent.customer.clone(), intent.payment_method.clone(), intent.status)
    else {
        return Ok(None);
    };
    let method = state.stripe.retrieve_payment_method(&pm).await?;
    if method.customer.as_deref() != Some(customer.as_str()) || method.card.is_none() {
        return Ok(None);
    }
    let make_default = intent.metadata.get("make_default").is_none_or(|v| v == "true");
    Ok(Some(SavedCard { user_id, customer, method, make_default }))
}

/// Step 2, in the webhook's transaction: the card is listed, and becomes the default when asked
/// or when it is the first. The intent must name the user's own Stripe customer.
pub async fn record_setup(
    conn: &mut AsyncPgConnection,
    saved: &SavedCard,
    now: DateTime<Utc>,
) -> Result<bool, BillingError> {
    // The SetupIntent was made on this user's customer, so the row exists once billing's own
    // transaction committed: until then, Stripe delivers again later (409).
    let Some((customer, default)) = methods::lock_customer(conn, saved.user_id).await? else {
        return Err(Problem::conflict(
            "customer_not_yet_recorded",
            "the customer is not recorded yet; deliver again later",
        )
        .into());
    };
    if customer != saved.customer {
        tracing::warn!(user = %saved.user_id, "SetupIntent names another user's customer: ignored");
        return Ok(false);
    }
    let Some(card) = &saved.method.card else {
        return Ok(false);
    };
    let row = methods::remember(
        conn,
        &methods::NewMethod {
            user_id: saved.user_id,
            stripe_payment_method_id: &saved.method.id,
            brand: &card.brand,
            last4: &card.last4,
            exp_month: Some(card.exp_month),
            exp_year: Some(card.exp_year),
            at: now,
        },
    )
    .await?;
    if rules::becomes_default(saved.make_default, default.is_some()) {
        make_default(conn, &row, default.as_deref(), now).await?;
    }
    Ok(true)
}

/// Points renewals at `row` and announces it, unless it is the default already.
async fn make_default(
    conn: &mut AsyncPgConnection,
    row: &methods::SavedMethod,
    current: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), BillingError> {
    if current == Some(row.stripe_payment_method_id.as_str()) {
        return Ok(());
    }
    customers::save_payment_method(conn, row.user_id, Some(&row.stripe_payment_method_id)).await?;
    let event = PaymentMethodDefaultChanged {
        user_id: row.user_id,
        payment_method_id: Some(row.id),
        brand: Some(row.brand.clone()),
        last4: Some(row.last4.clone()),
        changed_at: now,
    };
    events::outbox::enqueue(conn, &event).await?;
    Ok(())
}

/// The caller's card with the Stripe customer it belongs to (another user's card is a 404).
async fn own_card(state: &State, user_id: Uuid, id: Uuid) -> Result<(String, methods::SavedMethod), BillingError> {
    let mut conn = state.pool.get().await?;
    let card = methods::find_own(&mut conn, user_id, id).await?.ok_or_else(|| Problem::not_found("payment method"))?;
    let customer = customers::find(&conn, user_id).await?.ok_or_else(|| Problem::not_found("payment method"))?;
    Ok((customer, card))
}

/// A fresh Stripe key per request: setting a default or detaching is idempotent at Stripe by
/// itself, and a key reused for a later, different change would replay the old answer instead.
fn fresh_key(op: &str) -> Result<stripe::IdempotencyKey, BillingError> {
    Ok(stripe::IdempotencyKey::for_operation(op, Uuid::new_v4()).map_err(Problem::internal)?)
}

/// Makes the caller's card `id` the default (a no-op when it is already).
pub async fn set_default(state: &State, user_id: Uuid, id: Uuid) -> Result<methods::SavedMethod, BillingError> {
    let (customer, card) = own_card(state, user_id, id).await?;
    // Stripe's own default (invoices, dashboard) follows ours. Cards recorded from a past
    // on-session payment were never attached to the customer at Stripe, which refuses them:
    // renewals name the card explicitly, so ours is the one that counts.
    let key = fresh_key("default_pm")?;
    match state.stripe.set_default_payment_method(&customer, Some(&card.stripe_payment_method_id), &key).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    let now = state.clock.now();
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let (_, current) = methods::lock_customer(conn, user_id).await?.ok_or(BillingError::PaymentNotFound)?;
            // Removed meanwhile: nothing to point at.
            let card =
                methods::find_own(conn, user_id, id).await?.ok_or_else(|| Problem::not_found("payment method"))?;
            make_default(conn, &card, current.as_deref(), now).await?;
            Ok(card)
        })
    })
    .await
}

/// Removes the caller's card `id`: detached at Stripe for good, then forgotten here.
pub async fn remove(state: &State, user_id: Uuid, id: Uuid, allow_no_default: bool) -> Result<(), BillingError> {
    let (_, card) = own_card(state, user_id, id).await?;
    {
        let mut conn = state.pool.get().await?;
        check_removal(&mut conn, &card, allow_no_default).await?;
    }
    let key = fresh_key("detach_pm")?;
    match state.stripe.detach_payment_method(&card.stripe_payment_method_id, &key).await {
        Ok(_) => {}
        // Detached already (a retry), or a card Stripe never attached (a past on-session payment's).
        Err(e) if e.is_not_found() || e.code() == Some("payment_method_unexpected_state") => {}
        Err(e) => return Err(e.into()),
    }
    let now = state.clock.now();
    platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let (_, default) = methods::lock_customer(conn, user_id).await?.unzip();
            let Some(card) = methods::find_own(conn, user_id, id).await? else {
                return Ok(()); // removed by a concurrent request
            };
            methods::delete(conn, card.id).await?;
            // Stripe has detached it: it cannot stay the default, whatever changed meanwhile.
            if default.flatten().as_deref() == Some(card.stripe_payment_method_id.as_str()) {
                customers::save_payment_method(conn, user_id, None).await?;
                let event = PaymentMethodDefaultChanged {
                    user_id,
                    payment_method_id: None,
                    brand: None,
                    last4: None,
                    changed_at: now,
                };
                events::outbox::enqueue(conn, &event).await?;
            }
            Ok::<_, BillingError>(())
        })
    })
    .await
}

async fn check_removal(
    conn: &mut AsyncPgConnection,
    card: &methods::SavedMethod,
    allow_no_default: bool,
) -> Result<(), BillingError> {
    let default = customers::default_payment_method(conn, card.user_id).await?;
    let is_default = default.as_deref() == Some(card.stripe_payment_method_id.as_str());
    let others = methods::list(conn, card.user_id).await?.iter().filter(|m| m.id != card.id).count();
    rules::removal(is_default, others, allow_no_default).map(|_: Removal| ()).map_err(|refusal| {
        BillingError::Problem(match refusal {
            Refusal::IsDefault => Problem::conflict(
                "payment_method_is_default",
                "this card is the default renewals charge: make another card the default first",
            ),
            Refusal::LastCard => Problem::conflict(
                "last_payment_method",
                "this is your only card and renewals charge it: add another card first, or remove it with \
                 allow_no_default=true (your next renewal will then fail unless you add a card)",
            ),
        })
    })
}
