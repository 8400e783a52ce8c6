//! Events subscriptions reacts to: billing's payment outcomes (and refunds) for our charges,
//! enterprise seats and licenses from licensing, and redeemed Pro months from rewards. Foreign
//! payloads are read leniently, into local structs with only the fields used.

use crate::charging;
use crate::domain::charge::RefundEffect;
use crate::error::SubscriptionError;
use crate::store::charges::{self, Charge};
use crate::store::{grants, licenses};
use crate::State;
use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::rewards::PRO_MONTH;
use events::{CloudEvent, EventHandler, HandlerError};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

pub struct Handler(pub Arc<State>);

const SUBSCRIPTION_PURPOSE: &str = events::catalog::billing::PaymentPurpose::Subscription.as_str();
const TOKENS_REDEEMED: &str = "rewards.tokens.redeemed.v1";

pub const SUBSCRIPTIONS: &[&str] = &[
    "billing.payment.succeeded.v1",
    "billing.payment.failed.v1",
    "billing.payment.refunded.v1",
    "billing.payment_method.default_changed.v1",
    "licensing.seat.activated.v1",
    "licensing.seat.released.v1",
    TOKENS_REDEEMED,
    "licensing.license.suspended.v1",
    "licensing.license.reinstated.v1",
    "licensing.license.extended.v1",
    "licensing.license.revoked.v1",
    "licensing.license.expired.v1",
];

impl EventHandler for Handler {
    fn subscriptions(&self) -> Vec<&'static str> {
        SUBSCRIPTIONS.to_vec()
    }

    /// Payments for course purchases and licenses are not ours, nor redemptions of anything but a
    /// Pro month (a course voucher is marketplace's and rewards'): acked without a transaction (and
    /// without dropping the user's cached entitlements, which they did not change).
    fn concerns(&self, event: &CloudEvent) -> bool {
        if event.event_type == TOKENS_REDEEMED {
            return event.data.get("item").and_then(|item| item.as_str()).is_none_or(|item| item == PRO_MONTH);
        }
        events::catalog::billing::payment_purpose(event).is_none_or(|purpose| purpose == SUBSCRIPTION_PURPOSE)
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let state = &self.0;
            let result = match event.event_type.as_str() {
                "billing.payment.succeeded.v1" => payment_succeeded(conn, state, decode(event)?).await,
                "billing.payment.failed.v1" => payment_failed(conn, decode(event)?).await,
                "billing.payment.refunded.v1" => return payment_refunded(conn, state, decode(event)?).await,
                "billing.payment_method.default_changed.v1" => default_card_changed(conn, state, decode(event)?).await,
                "licensing.seat.activated.v1" => seat_activated(conn, state, decode(event)?).await,
                "licensing.seat.released.v1" => seat_released(conn, state, decode(event)?).await,
                TOKENS_REDEEMED => tokens_redeemed(conn, state, decode(event)?).await,
                "licensing.license.suspended.v1"
                | "licensing.license.reinstated.v1"
                | "licensing.license.extended.v1"
                | "licensing.license.revoked.v1"
                | "licensing.license.expired.v1" => {
                    license_changed(conn, state, &event.event_type, decode(event)?).await
                }
                _ => Ok(()),
            };
            result.map_err(|e| HandlerError::Retry(e.to_string()))
        })
    }

    fn after_commit(&self, event: &CloudEvent) {
        if let Some(user) = event.data.get("user_id").and_then(|v| v.as_str()).and_then(|v| Uuid::parse_str(v).ok()) {
            self.0.cache.invalidate(user);
        }
        // License-wide changes touch every member: their users were noted while applying them.
        for user in self.0.pending_invalidations.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            self.0.cache.invalidate(user);
        }
    }
}

/// Foreign payloads are read leniently: only the fields this service needs.
fn decode<T: serde::de::DeserializeOwned>(event: &CloudEvent) -> Result<T, HandlerError> {
    serde_json::from_value(event.data.clone()).map_err(|e| HandlerError::Reject(format!("{}: {e}", event.event_type)))
}

/// What subscriptions reads of billing's payment events (contract R for refunds): only the fields
/// it needs, so billing may add fields freely.
#[derive(Deserialize)]
struct PaymentOutcome {
    payment_id: Uuid,
    /// `subscription` for ours; anything else is someone else's payment.
    purpose: String,
    /// Our charge id.
    reference_id: String,
}

#[derive(Deserialize)]
struct PaymentRefunded {
    #[serde(flatten)]
    payment: PaymentOutcome,
    fully_refunded: bool,
    /// Missing on events published before contract R: read as `fully_refunded`.
    #[serde(default)]
    ends_access: Option<bool>,
}

/// What subscriptions reads of `billing.payment_method.default_changed.v1`.
#[derive(Deserialize)]
struct DefaultCardChanged {
    user_id: Uuid,
    /// `None`: the customer removed their last card; nothing to retry with.
    payment_method_id: Option<Uuid>,
}

/// A new default card: a past-due renewal is retried at once (the scheduler's next tick picks
/// it up). Applying it twice sets the same time again, and the inbox keeps it to once anyway.
async fn default_card_changed(
    conn: &mut AsyncPgConnection,
    state: &State,
    e: DefaultCardChanged,
) -> Result<(), SubscriptionError> {
    if e.payment_method_id.is_none() {
        return Ok(());
    }
    let Some(mut sub) = crate::store::subscriptions::lock_live(conn, e.user_id).await? else {
        return Ok(());
    };
    let now = crate::operations::now_of(conn, state, &sub).await?;
    if let Some(at) =
        crate::domain::dunning::retry_on_new_card(crate::operations::status(&sub)?, sub.next_retry_at, now)
    {
        sub.next_retry_at = Some(at);
        sub.updated_at = now;
        crate::store::subscriptions::save(conn, &sub).await?;
        tracing::info!(subscription = %sub.id, "new default card: past-due renewal retried now");
    }
    Ok(())
}

/// Our charge a payment event is about, if it is one of ours (not locked: the caller locks the
/// subscription first, then the charge).
async fn charge_of(conn: &mut AsyncPgConnection, e: &PaymentOutcome) -> Result<Option<Charge>, SubscriptionError> {
    if e.purpose != SUBSCRIPTION_PURPOSE {
        return Ok(None);
    }
    let Ok(id) = Uuid::parse_str(&e.reference_id) else {
        return Ok(None);
    };
    Ok(charges::find(conn, id).await?)
}

async fn payment_succeeded(
    conn: &mut AsyncPgConnection,
    state: &State,
    e: PaymentOutcome,
) -> Result<(), SubscriptionError> {
    if let Some(charge) = charge_of(conn, &e).await? {
        charging::on_charge_paid(conn, state, charge.subscription_id, charge.id, e.payment_id).await?;
    }
    Ok(())
}

async fn payment_failed(conn: &mut AsyncPgConnection, e: PaymentOutcome) -> Result<(), SubscriptionError> {
    match charge_of(conn, &e).await? {
        Some(charge) => charging::on_charge_failed(&charge).await,
        None => Ok(()),
    }
}

/// A refund that ends access cancels the subscription now; a partial goodwill refund changes
/// nothing. One that overtakes the success it refunds is retried (contract T).
async fn payment_refunded(conn: &mut AsyncPgConnection, state: &State, e: PaymentRefunded) -> Result<(), HandlerError> {
    let retry = |e: SubscriptionError| HandlerError::Retry(e.to_string());
    let Some(charge) = charge_of(conn, &e.payment).await.map_err(retry)? else {
        return Ok(());
    };
    let ends_access = e.ends_access.unwrap_or(e.fully_refunded);
    let effect =
        charging::on_refunded(conn, state, charge.subscription_id, charge.id, e.payment.payment_id, ends_access)
            .await
            .map_err(retry)?;
    if effect == RefundEffect::NotYetPaid {
        return Err(HandlerError::Retry(format!("charge {} is not known as paid yet", charge.id)));
    }
    Ok(())
}

#[derive(Deserialize)]
struct SeatActivated {
    user_id: Uuid,
    license_id: Uuid,
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// Contract L; missing on events published before it: 0.
    #[serde(default)]
    license_version: i64,
}

#[derive(Deserialize)]
struct SeatReleased {
    user_id: Uuid,
    license_id: Uuid,
    #[serde(default)]
    license_version: i64,
}

#[derive(Deserialize)]
struct TokensRedeemed {
    redemption_id: Uuid,
    user_id: Uuid,
    item: String,
}

/// Seat events apply last-writer-by-version per (license, user): an activation revives a released
/// grant, and an event older than the one already applied changes nothing, in any delivery order.
/// The license's own state (suspended, revoked...) is kept apart and applied when reading.
async fn seat_activated(
    conn: &mut AsyncPgConnection,
    state: &State,
    e: SeatActivated,
) -> Result<(), SubscriptionError> {
    let tier = e.tier.filter(|t| t == "pro" || t == "enterprise").unwrap_or_else(|| "enterprise".into());
    let license = e.license_id.to_string();
    let seat =
        grants::SeatChange { user_id: e.user_id, license: &license, version: e.license_version, at: state.clock.now() };
    // The grant and, when it is news, the license's end: one round trip.
    grants::activate_seat(conn, &seat, &tier, e.expires_at).await?;
    state.cache.invalidate(e.user_id);
    Ok(())
}

async fn seat_released(conn: &mut AsyncPgConnection, state: &State, e: SeatReleased) -> Result<(), SubscriptionError> {
    let license = e.license_id.to_string();
    let seat =
        grants::SeatChange { user_id: e.user_id, license: &license, version: e.license_version, at: state.clock.now() };
    grants::release_seat(conn, &seat).await?;
    state.cache.invalidate(e.user_id);
    Ok(())
}

#[derive(Deserialize)]
struct LicenseChanged {
    license_id: Uuid,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    license_version: i64,
}

/// A license-wide change reaches every member's grant when read: suspension pauses, reinstatement
/// resumes, extension moves the end, revocation and expiry end them. Each is kept by version, so
/// `suspended`/`reinstated` (and two extensions) arriving out of order leave the later one in force.
async fn license_changed(
    conn: &mut AsyncPgConnection,
    state: &State,
    kind: &str,
    e: LicenseChanged,
) -> Result<(), SubscriptionError> {
    let license = e.license_id.to_string();
    let version = e.license_version;
    let status = match kind {
        "licensing.license.suspended.v1" => Some(licenses::SUSPENDED),
        "licensing.license.reinstated.v1" => Some(licenses::ACTIVE),
        "licensing.license.revoked.v1" => Some(licenses::REVOKED),
        "licensing.license.expired.v1" => Some(licenses::EXPIRED),
        _ => None,
    };
    if let Some(status) = status {
        licenses::set_status(conn, &license, status, version).await?;
    }
    // Extension and reinstatement carry the license's end (expiry carries the end that passed).
    if let (Some(end), true) = (e.expires_at, kind != "licensing.license.expired.v1") {
        licenses::set_expiry(conn, &license, end, version).await?;
    }
    let users = grants::users_of_license(conn, &license).await?;
    for user in &users {
        state.cache.invalidate(*user);
    }
    state.pending_invalidations.lock().unwrap_or_else(|e| e.into_inner()).extend(users);
    Ok(())
}

/// A redeemed `pro_month` adds a month of Pro, starting when the current reward month ends.
async fn tokens_redeemed(
    conn: &mut AsyncPgConnection,
    state: &State,
    e: TokensRedeemed,
) -> Result<(), SubscriptionError> {
    if e.item != PRO_MONTH {
        return Ok(());
    }
    let now = state.clock.now();
    let start = grants::reward_end(conn, e.user_id, "pro", now).await?.unwrap_or(now);
    grants::grant(
        conn,
        e.user_id,
        "reward",
        "pro",
        &e.redemption_id.to_string(),
        start,
        Some(start + Duration::days(30)),
    )
    .await?;
    state.cache.invalidate(e.user_id);
    Ok(())
}
