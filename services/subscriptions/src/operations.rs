//! What happens to subscriptions, with its IO: each function runs inside the caller's transaction,
//! changes rows under a lock, and writes the events in the same transaction.

use crate::billing::Payment;
use crate::domain::lifecycle::{transition, Event, Status};
use crate::domain::{period, proration};
use crate::error::SubscriptionError;
use crate::store::charges::{self, Charge};
use crate::store::subscriptions::{self as subs, Subscription};
use crate::store::tiers::{self, Tier};
use crate::State;
use chrono::{DateTime, Datelike, Duration, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::subscriptions as ev;
use events::outbox;
use platform::money::{Currency, Money};
use platform::Problem;
use uuid::Uuid;

fn currency(tier: &Tier) -> Result<Currency, SubscriptionError> {
    tier.currency.trim().parse::<Currency>().map_err(|e| Problem::internal(e).into())
}

pub fn price(tier: &Tier) -> Result<Money, SubscriptionError> {
    Ok(Money::round(tier.price, currency(tier)?))
}

fn status(s: &Subscription) -> Result<Status, SubscriptionError> {
    Status::parse(&s.status).ok_or_else(|| Problem::internal("unknown status").into())
}

/// Apply a lifecycle event, refusing what the state machine refuses.
fn apply(s: &mut Subscription, event: Event, now: DateTime<Utc>) -> Result<(), SubscriptionError> {
    let next = transition(status(s)?, event).map_err(|e| SubscriptionError::Illegal(e.to_string()))?;
    s.status = next.as_str().to_string();
    s.updated_at = now;
    if next == Status::Canceled || next == Status::IncompleteExpired {
        s.canceled_at = Some(now);
    }
    Ok(())
}

pub async fn tier(conn: &mut AsyncPgConnection, code: &str) -> Result<Tier, SubscriptionError> {
    tiers::find(conn, code).await?.ok_or_else(|| SubscriptionError::UnknownTier(code.to_string()))
}

macro_rules! snapshot {
    ($event:ident, $s:expr, $now:expr, { $($field:ident : $value:expr),* $(,)? }) => {
        ev::$event {
            subscription_id: $s.id,
            user_id: $s.user_id,
            tier: $s.tier.clone(),
            status: $s.status.clone(),
            current_period_start: $s.current_period_start,
            current_period_end: $s.current_period_end,
            cancel_at_period_end: $s.cancel_at_period_end,
            occurred_at: $now,
            $($field: $value,)*
        }
    };
}

/// `POST /api/subscriptions`: an `incomplete` subscription and a payment for the first period.
pub async fn subscribe(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    tier_code: &str,
) -> Result<(Subscription, Payment), SubscriptionError> {
    let tier = tier(conn, tier_code).await?;
    if tier.price.is_zero() {
        return Err(SubscriptionError::FreeTier);
    }
    if subs::lock_live(conn, user_id).await?.is_some() {
        return Err(SubscriptionError::AlreadySubscribed);
    }
    let now = state.clock.now();
    let sub = subs::insert(
        conn,
        &Subscription {
            id: Uuid::now_v7(),
            user_id,
            tier: tier.code.clone(),
            status: Status::Incomplete.as_str().into(),
            anchor_day: now.day() as i32,
            current_period_start: None,
            current_period_end: None,
            cancel_at_period_end: false,
            pending_tier: None,
            first_payment_deadline: now + Duration::hours(state.config.first_payment_timeout_hours),
            past_due_since: None,
            dunning_attempts: 0,
            next_retry_at: None,
            canceled_at: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    let amount = price(&tier)?;
    let charge =
        charges::insert(conn, Uuid::now_v7(), sub.id, "initial", &tier.code, amount.amount, amount.currency.code())
            .await?;
    let payment = state
        .billing
        .create_payment(user_id, amount, charge.id, &format!("{} subscription, first month", tier.name), false)
        .await?;
    charges::settle(conn, charge.id, Some(payment.id), "pending").await?;
    Ok((sub, payment))
}

/// A payment for one of our charges succeeded (billing event, or billing's synchronous answer).
pub async fn on_charge_paid(
    conn: &mut AsyncPgConnection,
    state: &State,
    charge: &Charge,
    payment_id: Uuid,
) -> Result<(), SubscriptionError> {
    if charge.status == "succeeded" {
        return Ok(());
    }
    charges::settle(conn, charge.id, Some(payment_id), "succeeded").await?;
    let Some(mut sub) = subs::lock(conn, charge.subscription_id).await? else {
        return Ok(());
    };
    let now = state.clock.now();
    match charge.kind.as_str() {
        "initial" if status(&sub)? != Status::Incomplete => {
            // Paid after the subscription expired or was canceled: the money must go back. There is
            // no refund call from here yet, so this is loud for operators (runbook: suspected double charge).
            tracing::error!(subscription = %sub.id, %payment_id, status = %sub.status,
                "first payment succeeded for a subscription that is no longer open: refund it");
        }
        "initial" => {
            apply(&mut sub, Event::PaymentSucceeded, now)?;
            sub.anchor_day = now.day() as i32;
            sub.current_period_start = Some(now);
            sub.current_period_end = Some(period::next_period_end(now, now.day()));
            let sub = subs::save(conn, &sub).await?;
            outbox::enqueue(conn, &snapshot!(SubscriptionActivated, sub, now, {})).await?;
        }
        "renewal" => {
            renew_period(conn, &mut sub, now, charge).await?;
        }
        // Upgrades are applied when billing answers; a late event only settles the charge.
        _ => {}
    }
    state.cache.invalidate(sub.user_id);
    Ok(())
}

/// A payment attempt for one of our charges failed. A first payment stays open, as Stripe's does:
/// the customer may still pay the same PaymentIntent with another card until the subscription
/// expires (`first_payment_timeout_hours`). Renewals and upgrades are decided where they are charged.
pub async fn on_charge_failed(charge: &Charge) -> Result<(), SubscriptionError> {
    tracing::info!(charge = %charge.id, kind = %charge.kind, "a payment attempt failed; the charge stays open");
    Ok(())
}

async fn renew_period(
    conn: &mut AsyncPgConnection,
    sub: &mut Subscription,
    now: DateTime<Utc>,
    charge: &Charge,
) -> Result<(), SubscriptionError> {
    let start = sub.current_period_end.unwrap_or(now);
    apply(sub, Event::PaymentSucceeded, now)?;
    sub.tier = charge.tier.clone();
    sub.pending_tier = None;
    sub.current_period_start = Some(start);
    sub.current_period_end = Some(period::next_period_end(start, sub.anchor_day as u32));
    sub.past_due_since = None;
    sub.dunning_attempts = 0;
    sub.next_retry_at = None;
    let saved = subs::save(conn, sub).await?;
    let currency: Currency = charge.currency.trim().parse().map_err(Problem::internal)?;
    outbox::enqueue(
        conn,
        &snapshot!(SubscriptionRenewed, saved, now, { amount: Money::round(charge.amount, currency) }),
    )
    .await?;
    *sub = saved;
    Ok(())
}

pub struct Preview {
    pub amount: Money,
    pub applies_now: bool,
}

/// What changing to `target` would charge now (upgrades), or nothing (downgrades at period end).
pub async fn preview(
    conn: &mut AsyncPgConnection,
    state: &State,
    sub: &Subscription,
    target: &str,
) -> Result<(Tier, Tier, Preview), SubscriptionError> {
    let current = tier(conn, &sub.tier).await?;
    let next = tier(conn, target).await?;
    if next.code == current.code {
        return Err(SubscriptionError::SameTier);
    }
    if status(sub)? != Status::Active {
        return Err(SubscriptionError::Illegal("only an active subscription can change tier".into()));
    }
    let (Some(start), Some(end)) = (sub.current_period_start, sub.current_period_end) else {
        return Err(SubscriptionError::Illegal("the subscription has no current period".into()));
    };
    let applies_now = next.rank > current.rank;
    let amount = if applies_now {
        proration::upgrade_charge(current.price, next.price, currency(&next)?, start, end, state.clock.now())
    } else {
        Money::zero(currency(&next)?)
    };
    Ok((current, next, Preview { amount, applies_now }))
}

/// Upgrade now with a prorated charge on the saved card, or schedule a downgrade for the period end.
pub async fn change(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    target: &str,
) -> Result<Subscription, SubscriptionError> {
    let mut sub = subs::lock_live(conn, user_id).await?.ok_or(SubscriptionError::NoSubscription)?;
    let (current, next, preview) = preview(conn, state, &sub, target).await?;
    let now = state.clock.now();
    let mut charged = None;
    if preview.applies_now {
        if preview.amount.amount > rust_decimal::Decimal::ZERO {
            // One charge per upgrade of this subscription, tier and period: a retry after a failure
            // anywhere (even with another Idempotency-Key) reaches billing's same payment, never a second one.
            let charge_id = Uuid::new_v5(
                &sub.id,
                format!(
                    "upgrade:{}:{}:{}",
                    sub.tier,
                    next.code,
                    sub.current_period_end.map(|e| e.timestamp()).unwrap_or(0)
                )
                .as_bytes(),
            );
            let amount = preview.amount;
            let charge = match charges::lock(conn, charge_id).await? {
                Some(c) => c,
                None => {
                    charges::insert(
                        conn,
                        charge_id,
                        sub.id,
                        "upgrade",
                        &next.code,
                        amount.amount,
                        amount.currency.code(),
                    )
                    .await?
                }
            };
            let payment = state
                .billing
                .create_payment(user_id, preview.amount, charge.id, &format!("Upgrade to {}", next.name), true)
                .await?;
            if payment.status != "succeeded" {
                return Err(SubscriptionError::PaymentDeclined(
                    payment.failure_code.unwrap_or_else(|| payment.status.clone()),
                ));
            }
            charges::settle(conn, charge.id, Some(payment.id), "succeeded").await?;
            charged = Some(preview.amount);
        }
        sub.tier = next.code.clone();
        sub.pending_tier = None;
    } else {
        sub.pending_tier = Some(next.code.clone());
    }
    sub.updated_at = now;
    let sub = subs::save(conn, &sub).await?;
    outbox::enqueue(
        conn,
        &snapshot!(SubscriptionChanged, sub, now, {
            previous_tier: current.code.clone(),
            prorated_charge: charged,
            pending_tier: sub.pending_tier.clone(),
        }),
    )
    .await?;
    state.cache.invalidate(user_id);
    Ok(sub)
}

/// Cancel now, or at the period end (access kept until then).
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    at_period_end: bool,
) -> Result<Subscription, SubscriptionError> {
    let mut sub = subs::lock_live(conn, user_id).await?.ok_or(SubscriptionError::NoSubscription)?;
    let now = state.clock.now();
    let sub = if at_period_end && status(&sub)? == Status::Active {
        sub.cancel_at_period_end = true;
        sub.updated_at = now;
        let sub = subs::save(conn, &sub).await?;
        let previous = sub.tier.clone();
        outbox::enqueue(conn, &snapshot!(SubscriptionChanged, sub, now, { previous_tier: previous, prorated_charge: None, pending_tier: sub.pending_tier.clone() })).await?;
        sub
    } else {
        apply(&mut sub, Event::Cancel, now)?;
        let sub = subs::save(conn, &sub).await?;
        outbox::enqueue(conn, &snapshot!(SubscriptionCanceled, sub, now, { reason: "requested".into() })).await?;
        sub
    };
    state.cache.invalidate(user_id);
    Ok(sub)
}

/// Withdraw a cancellation or downgrade scheduled for the period end.
pub async fn resume(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
) -> Result<Subscription, SubscriptionError> {
    let mut sub = subs::lock_live(conn, user_id).await?.ok_or(SubscriptionError::NoSubscription)?;
    if !sub.cancel_at_period_end && sub.pending_tier.is_none() {
        return Err(SubscriptionError::Illegal("nothing is scheduled to resume from".into()));
    }
    let now = state.clock.now();
    sub.cancel_at_period_end = false;
    sub.pending_tier = None;
    sub.updated_at = now;
    let sub = subs::save(conn, &sub).await?;
    let previous = sub.tier.clone();
    outbox::enqueue(conn, &snapshot!(SubscriptionChanged, sub, now, { previous_tier: previous, prorated_charge: None, pending_tier: None })).await?;
    state.cache.invalidate(user_id);
    Ok(sub)
}

/// The scheduler's work on one due subscription (locked by the caller with SKIP LOCKED).
pub async fn process_due(
    conn: &mut AsyncPgConnection,
    state: &State,
    mut sub: Subscription,
) -> Result<(), SubscriptionError> {
    let now = state.clock.now();
    match status(&sub)? {
        Status::Incomplete => {
            apply(&mut sub, Event::FirstPaymentExpired, now)?;
            let sub = subs::save(conn, &sub).await?;
            outbox::enqueue(
                conn,
                &snapshot!(SubscriptionCanceled, sub, now, { reason: "first_payment_expired".into() }),
            )
            .await?;
        }
        Status::Active if sub.cancel_at_period_end || sub.pending_tier.as_deref() == Some("free") => {
            apply(&mut sub, Event::Cancel, now)?;
            let sub = subs::save(conn, &sub).await?;
            outbox::enqueue(conn, &snapshot!(SubscriptionCanceled, sub, now, { reason: "period_end".into() })).await?;
        }
        Status::Active | Status::PastDue => charge_renewal(conn, state, sub, now).await?,
        _ => {}
    }
    Ok(())
}

/// Charge the next period off-session; success renews, failure starts or continues dunning.
async fn charge_renewal(
    conn: &mut AsyncPgConnection,
    state: &State,
    mut sub: Subscription,
    now: DateTime<Utc>,
) -> Result<(), SubscriptionError> {
    let next_tier = tier(conn, sub.pending_tier.as_deref().unwrap_or(&sub.tier)).await?;
    let amount = price(&next_tier)?;
    // One charge per period and attempt: a crash mid-way retries the same billing payment.
    let charge_id = renewal_charge_id(sub.id, sub.current_period_end.unwrap_or(now), sub.dunning_attempts);
    let charge = match charges::lock(conn, charge_id).await? {
        Some(c) => c,
        None => {
            charges::insert(conn, charge_id, sub.id, "renewal", &next_tier.code, amount.amount, amount.currency.code())
                .await?
        }
    };
    let result = state
        .billing
        .create_payment(sub.user_id, amount, charge.id, &format!("{} subscription renewal", next_tier.name), true)
        .await;
    match result {
        Ok(payment) if payment.status == "succeeded" => {
            charges::settle(conn, charge.id, Some(payment.id), "succeeded").await?;
            renew_period(conn, &mut sub, now, &charge).await?;
        }
        Ok(_) | Err(SubscriptionError::PaymentDeclined(_)) => {
            let payment_id = match &result {
                Ok(p) => Some(p.id),
                Err(_) => None,
            };
            charges::settle(conn, charge.id, payment_id, "failed").await?;
            dunning_step(conn, state, &mut sub, now).await?;
        }
        Err(e) => return Err(e),
    }
    state.cache.invalidate(sub.user_id);
    Ok(())
}

fn renewal_charge_id(subscription: Uuid, period_end: DateTime<Utc>, attempt: i32) -> Uuid {
    Uuid::new_v5(&subscription, format!("renewal:{}:{attempt}", period_end.timestamp()).as_bytes())
}

/// One more failed attempt: past_due with the next retry, or canceled when the schedule is used up.
async fn dunning_step(
    conn: &mut AsyncPgConnection,
    state: &State,
    sub: &mut Subscription,
    now: DateTime<Utc>,
) -> Result<(), SubscriptionError> {
    let attempt = sub.dunning_attempts + 1;
    let since = sub.past_due_since.unwrap_or(now);
    match state.retry_days.get(sub.dunning_attempts as usize) {
        Some(days) => {
            apply(sub, Event::RenewalFailed, now)?;
            sub.past_due_since = Some(since);
            sub.dunning_attempts = attempt;
            sub.next_retry_at = Some(since + Duration::days(*days));
            let saved = subs::save(conn, sub).await?;
            outbox::enqueue(
                conn,
                &snapshot!(SubscriptionPastDue, saved, now, { attempt: attempt, next_retry_at: saved.next_retry_at }),
            )
            .await?;
            *sub = saved;
        }
        None => {
            apply(sub, Event::DunningExhausted, now)?;
            sub.dunning_attempts = attempt;
            sub.next_retry_at = None;
            let saved = subs::save(conn, sub).await?;
            outbox::enqueue(conn, &snapshot!(SubscriptionCanceled, saved, now, { reason: "dunning_exhausted".into() }))
                .await?;
            *sub = saved;
        }
    }
    Ok(())
}
