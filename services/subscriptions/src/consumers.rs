//! Events subscriptions reacts to: billing's payment outcomes for our charges, enterprise seats
//! from licensing, and redeemed Pro months from rewards.

use crate::error::SubscriptionError;
use crate::operations;
use crate::store::{charges, grants};
use crate::State;
use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::billing::{PaymentFailed, PaymentPurpose, PaymentSucceeded};
use events::{CloudEvent, EventHandler, HandlerError};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

pub struct Handler(pub Arc<State>);

pub const SUBSCRIPTIONS: &[&str] = &[
    "billing.payment.succeeded.v1",
    "billing.payment.failed.v1",
    "licensing.seat.activated.v1",
    "licensing.seat.released.v1",
    "rewards.tokens.redeemed.v1",
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

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let state = &self.0;
            let result = match event.event_type.as_str() {
                "billing.payment.succeeded.v1" => {
                    payment_succeeded(conn, state, event.data_as().map_err(HandlerError::Reject)?).await
                }
                "billing.payment.failed.v1" => {
                    payment_failed(conn, event.data_as().map_err(HandlerError::Reject)?).await
                }
                "licensing.seat.activated.v1" => seat_activated(conn, state, decode(event)?).await,
                "licensing.seat.released.v1" => seat_released(conn, state, decode(event)?).await,
                "rewards.tokens.redeemed.v1" => tokens_redeemed(conn, state, decode(event)?).await,
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

async fn charge_of(
    conn: &mut AsyncPgConnection,
    purpose: PaymentPurpose,
    reference: &str,
) -> Result<Option<charges::Charge>, SubscriptionError> {
    if purpose != PaymentPurpose::Subscription {
        return Ok(None);
    }
    let Ok(id) = Uuid::parse_str(reference) else {
        return Ok(None);
    };
    Ok(charges::lock(conn, id).await?)
}

async fn payment_succeeded(
    conn: &mut AsyncPgConnection,
    state: &State,
    e: PaymentSucceeded,
) -> Result<(), SubscriptionError> {
    match charge_of(conn, e.purpose, &e.reference_id).await? {
        Some(charge) => operations::on_charge_paid(conn, state, &charge, e.payment_id).await,
        None => Ok(()),
    }
}

async fn payment_failed(conn: &mut AsyncPgConnection, e: PaymentFailed) -> Result<(), SubscriptionError> {
    match charge_of(conn, e.purpose, &e.reference_id).await? {
        Some(charge) => operations::on_charge_failed(&charge).await,
        None => Ok(()),
    }
}

#[derive(Deserialize)]
struct SeatActivated {
    user_id: Uuid,
    license_id: Uuid,
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct SeatReleased {
    user_id: Uuid,
    license_id: Uuid,
}

#[derive(Deserialize)]
struct TokensRedeemed {
    redemption_id: Uuid,
    user_id: Uuid,
    item: String,
}

async fn seat_activated(
    conn: &mut AsyncPgConnection,
    state: &State,
    e: SeatActivated,
) -> Result<(), SubscriptionError> {
    let tier = e.tier.filter(|t| t == "pro" || t == "enterprise").unwrap_or_else(|| "enterprise".into());
    grants::grant(conn, e.user_id, "license", &tier, &e.license_id.to_string(), state.clock.now(), e.expires_at)
        .await?;
    state.cache.invalidate(e.user_id);
    Ok(())
}

async fn seat_released(conn: &mut AsyncPgConnection, state: &State, e: SeatReleased) -> Result<(), SubscriptionError> {
    grants::revoke(conn, e.user_id, "license", &e.license_id.to_string(), state.clock.now()).await?;
    state.cache.invalidate(e.user_id);
    Ok(())
}

#[derive(Deserialize)]
struct LicenseChanged {
    license_id: Uuid,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// A license-wide change reaches every member's grant: suspension pauses, reinstatement resumes,
/// extension moves the end, revocation and expiry end them (seat events may follow; both are safe).
async fn license_changed(
    conn: &mut AsyncPgConnection,
    state: &State,
    kind: &str,
    e: LicenseChanged,
) -> Result<(), SubscriptionError> {
    let license = e.license_id.to_string();
    let now = state.clock.now();
    let users = match kind {
        "licensing.license.suspended.v1" => grants::set_suspended(conn, &license, Some(now)).await?,
        "licensing.license.reinstated.v1" => grants::set_suspended(conn, &license, None).await?,
        "licensing.license.extended.v1" => match e.expires_at {
            Some(end) => grants::set_end(conn, &license, end).await?,
            None => Vec::new(),
        },
        _ => grants::revoke_license(conn, &license, now).await?,
    };
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
    if e.item != "pro_month" {
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
