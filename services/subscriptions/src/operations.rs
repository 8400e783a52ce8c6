//! What happens to subscriptions, with its IO: each function taking a connection runs inside the
//! caller's transaction, changes rows under a lock, and writes the events in the same transaction.
//!
//! Billing is never called with a transaction open or a pooled connection held (a slow billing
//! would otherwise exhaust the pool and hold row locks for its latency). Subscribe, upgrade and the
//! renewal charge each run in three steps: `prepare_*` records the charge (with a deterministic id:
//! billing's idempotency key is derived from it, so any retry reaches the same payment) and
//! commits; billing is called with no connection; `record_*` applies billing's answer in a second
//! transaction, re-checking the state that may have moved meanwhile.

use crate::billing::Payment;
use crate::charging::{self, Paid};
use crate::coupons;
use crate::domain::lifecycle::{self, transition, Event, Status};
use crate::domain::{discount, period, pricing, proration, trial};
use crate::error::SubscriptionError;
use crate::store::charges::{self, Charge, NewCharge, PENDING};
use crate::store::coupons::{self as store_coupons, FullCoupon};
use crate::store::subscriptions::{self as subs, Subscription};
use crate::store::tiers::{self, Tier};
use crate::store::trials;
use crate::State;
use chrono::{DateTime, Datelike, Duration, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::billing::{ChargeLine, LineKind};
use events::catalog::subscriptions as ev;
use events::outbox;
use platform::money::{Currency, Money};
use platform::Problem;
use rust_decimal::Decimal;
use uuid::Uuid;

fn currency(tier: &Tier) -> Result<Currency, SubscriptionError> {
    tier.currency.trim().parse::<Currency>().map_err(|e| Problem::internal(e).into())
}

/// The tier's default price (in the currency a subscribe without `currency` is billed in).
pub fn price(tier: &Tier) -> Result<Money, SubscriptionError> {
    Ok(Money::round(tier.price, currency(tier)?))
}

/// The currency `sub` is billed in, for its life.
pub fn billed_in(sub: &Subscription) -> Result<Currency, SubscriptionError> {
    sub.currency.trim().parse::<Currency>().map_err(|e| Problem::internal(e).into())
}

/// The tier's price in `currency`, if it is sold in it.
pub async fn price_in(
    conn: &mut AsyncPgConnection,
    tier: &Tier,
    currency: Currency,
) -> Result<Option<Money>, SubscriptionError> {
    Ok(tiers::price_in(conn, &tier.code, currency.code()).await?.map(|p| Money::round(p, currency)))
}

/// What a charge asks billing for.
pub fn charge_amount(charge: &Charge) -> Result<Money, SubscriptionError> {
    let currency: Currency = charge.currency.trim().parse().map_err(Problem::internal)?;
    Ok(Money::round(charge.amount, currency))
}

pub fn status(s: &Subscription) -> Result<Status, SubscriptionError> {
    Status::parse(&s.status).ok_or_else(|| Problem::internal("unknown status").into())
}

/// Apply a lifecycle event, refusing what the state machine refuses.
pub fn apply(s: &mut Subscription, event: Event, now: DateTime<Utc>) -> Result<(), SubscriptionError> {
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

pub fn snapshot_canceled(s: &Subscription, now: DateTime<Utc>, reason: &str) -> ev::SubscriptionCanceled {
    snapshot!(SubscriptionCanceled, s, now, { reason: reason.to_string() })
}

/// Close a live subscription now (`reason` as in `subscriptions.subscription.canceled.v1`) and
/// abandon its unpaid charges.
async fn close(
    conn: &mut AsyncPgConnection,
    state: &State,
    sub: &mut Subscription,
    event: Event,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), SubscriptionError> {
    apply(sub, event, now)?;
    let saved = subs::save(conn, sub).await?;
    outbox::enqueue(conn, &snapshot_canceled(&saved, now, reason)).await?;
    charging::abandon_unpaid(conn, state, &saved).await?;
    *sub = saved;
    Ok(())
}

/// The first charge of a new subscription, to ask billing for.
pub struct FirstPayment {
    pub subscription_id: Uuid,
    pub user_id: Uuid,
    pub charge_id: Uuid,
    pub amount: Money,
    pub description: String,
    /// The plan and, when a promotion code applies, the discount (adding up to `amount`).
    pub lines: Vec<ChargeLine>,
}

/// What `POST /api/subscriptions` does after step 1.
pub enum Subscribe {
    /// Ask billing for the first payment.
    Pay(FirstPayment),
    /// A promotion code took the whole first period off: no payment, the subscription is active.
    Free(Subscription),
    /// A free trial started (`trialing`): nothing to pay until it ends.
    Trial(Subscription),
}

fn initial_charge_id(subscription: Uuid) -> Uuid {
    Uuid::new_v5(&subscription, b"initial")
}

/// What a subscribe may add to the tier and currency.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscribeOptions<'a> {
    /// Redeemed in the subscribe's transaction.
    pub promotion_code: Option<&'a str>,
    /// The caller's test clock the subscription lives on (sandbox only).
    pub test_clock: Option<Uuid>,
    /// Billing's answer, asked before the transaction, to "does the user have a saved default
    /// card" (`None`: not asked, the tier's trial needs none).
    pub has_card: Option<bool>,
}

/// `POST /api/subscriptions`, step 1: an `incomplete` subscription (id `subscription_id`, derived
/// from the request's key) and its first charge, less the discount of `promotion_code` (redeemed
/// in this transaction). Run again for the same key after billing could not be reached, it finds
/// what the earlier attempt recorded. A first charge discounted to zero takes no payment: the
/// subscription is active at once (docs/api.md, "Coupons and promotion codes").
///
/// A tier with a trial the user has not had (claimed here, once per user and tier ever) starts
/// `trialing` with no charge (a tier whose trial needs a card: only with `options.has_card`).
pub async fn prepare_subscribe(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    tier_code: &str,
    requested_currency: Option<&str>,
    subscription_id: Uuid,
    options: SubscribeOptions<'_>,
) -> Result<Subscribe, SubscriptionError> {
    let SubscribeOptions { promotion_code, test_clock, has_card } = options;
    let chosen = tier(conn, tier_code).await?;
    if chosen.price.is_zero() {
        return Err(SubscriptionError::FreeTier);
    }
    let billed =
        pricing::billing_currency(requested_currency, currency(&chosen)?).map_err(SubscriptionError::Currency)?;
    let amount = price_in(conn, &chosen, billed)
        .await?
        .ok_or_else(|| SubscriptionError::Currency(format!("{} has no price in {billed}", chosen.name)))?;
    let charge_id = initial_charge_id(subscription_id);
    let sub = match subs::lock(conn, subscription_id).await? {
        // A trial recorded by an earlier attempt with this key has no charge.
        Some(earlier) if earlier.trial_end.is_some() => return Ok(Subscribe::Trial(earlier)),
        Some(earlier) => earlier,
        None => {
            if subs::lock_live(conn, user_id).await?.is_some() {
                return Err(SubscriptionError::AlreadySubscribed);
            }
            let test_clock = crate::test_clocks::attachable(conn, state, user_id, test_clock).await?;
            let now = events::test_clocks::now_of(conn, test_clock, state.clock.now()).await?;
            let trial_end = match trial::offered(chosen.trial_days, &chosen.trial_mode, has_card) {
                trial::Offer::None => None,
                offer => {
                    if trials::claim(conn, user_id, &chosen.code, subscription_id, now).await? {
                        if offer == trial::Offer::NeedsCard {
                            // Nothing commits: the claim goes with the refusal.
                            return Err(SubscriptionError::TrialNeedsCard);
                        }
                        Some(trial::end(now, chosen.trial_days))
                    } else {
                        // Had this trial before: subscribed and charged as without one.
                        None
                    }
                }
            };
            let (status, anchor) = match trial_end {
                // Periods after the trial are anchored on its end, as Stripe's billing_cycle_anchor.
                Some(end) => (Status::Trialing, end.day()),
                None => (Status::Incomplete, now.day()),
            };
            let sub = subs::insert(
                conn,
                &Subscription {
                    id: subscription_id,
                    user_id,
                    tier: chosen.code.clone(),
                    status: status.as_str().into(),
                    anchor_day: anchor as i32,
                    current_period_start: trial_end.map(|_| now),
                    current_period_end: trial_end,
                    cancel_at_period_end: false,
                    pending_tier: None,
                    first_payment_deadline: now + Duration::hours(state.config.first_payment_timeout_hours),
                    past_due_since: None,
                    dunning_attempts: 0,
                    next_retry_at: None,
                    canceled_at: None,
                    created_at: now,
                    updated_at: now,
                    pause_periods: None,
                    pause_starts_at: None,
                    pause_resumes_at: None,
                    currency: billed.code().to_string(),
                    trial_end,
                    test_clock_id: test_clock,
                },
            )
            .await?;
            if let Some(end) = trial_end {
                if let Some(code) = promotion_code {
                    // Redeemed now; it prices the first charge, at the trial's end.
                    coupons::redeem(conn, code, &sub, &chosen, now).await?;
                }
                outbox::enqueue(
                    conn,
                    &snapshot!(TrialStarted, sub, now, { trial_end: end, trial_mode: chosen.trial_mode.clone() }),
                )
                .await?;
                state.cache.invalidate(user_id);
                return Ok(Subscribe::Trial(sub));
            }
            let list = amount;
            let discount = match promotion_code {
                Some(code) => {
                    coupons::redeem(conn, code, &sub, &chosen, now).await?;
                    coupons::price_charge(conn, &sub, &chosen, list, sub.created_at).await?
                }
                None => None,
            };
            let amount = discount.as_ref().map_or(list, |(priced, _, _)| priced.net);
            let charge = NewCharge {
                id: charge_id,
                subscription_id,
                kind: "initial",
                tier: &chosen.code,
                amount: amount.amount,
                currency: amount.currency.code(),
                period_end: None,
            };
            charges::insert(conn, &charge).await?;
            if let Some((priced, coupon, description)) = discount {
                coupons::record_charge_discount(conn, charge_id, &coupon, &description, &priced).await?;
            }
            sub
        }
    };
    let charge = charges::lock(conn, charge_id).await?.ok_or_else(|| Problem::internal("first charge missing"))?;
    if charge.amount.is_zero() {
        let mut sub = sub;
        if charge.status == PENDING {
            // Nothing to charge (Stripe cannot take zero): the first period is granted now.
            let now = now_of(conn, state, &sub).await?;
            activate(conn, &mut sub, now).await?;
            charges::settle(conn, charge.id, None, charges::SUCCEEDED).await?;
            state.cache.invalidate(user_id);
        }
        return Ok(Subscribe::Free(sub));
    }
    let name = tier(conn, &sub.tier).await?.name;
    let description = format!("{name} subscription, first month");
    Ok(Subscribe::Pay(FirstPayment {
        subscription_id: sub.id,
        user_id,
        charge_id,
        amount: charge_amount(&charge)?,
        lines: coupons::lines(conn, &charge, &description).await?,
        description,
    }))
}

/// `POST /api/subscriptions`, step 3: note billing's payment on the first charge. A subscription
/// closed while billing was creating the payment (canceled at once, or expired) could not name the
/// payment then: billing is asked to void it now.
pub async fn record_first_payment(
    conn: &mut AsyncPgConnection,
    state: &State,
    first: &FirstPayment,
    payment: &Payment,
) -> Result<Subscription, SubscriptionError> {
    let sub =
        subs::lock(conn, first.subscription_id).await?.ok_or_else(|| Problem::internal("subscription missing"))?;
    let charge =
        charges::lock(conn, first.charge_id).await?.ok_or_else(|| Problem::internal("first charge missing"))?;
    charges::set_payment(conn, charge.id, payment.id).await?;
    if charge.status == charges::VOIDED && charge.payment_id.is_none() {
        let reason = charge.void_reason.as_deref().unwrap_or(crate::domain::charge::close_reason(status(&sub)?));
        charging::request_void(conn, state, sub.user_id, charge.id, payment.id, reason).await?;
    }
    Ok(sub)
}

/// The first payment succeeded: the first period starts now.
pub async fn activate(
    conn: &mut AsyncPgConnection,
    sub: &mut Subscription,
    now: DateTime<Utc>,
) -> Result<(), SubscriptionError> {
    apply(sub, Event::PaymentSucceeded, now)?;
    sub.anchor_day = now.day() as i32;
    sub.current_period_start = Some(now);
    sub.current_period_end = Some(period::next_period_end(now, now.day()));
    let saved = subs::save(conn, sub).await?;
    outbox::enqueue(conn, &snapshot!(SubscriptionActivated, saved, now, {})).await?;
    *sub = saved;
    Ok(())
}

/// A renewal was paid: the next period starts where the last one ended.
pub async fn renew_period(
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
    outbox::enqueue(conn, &snapshot!(SubscriptionRenewed, saved, now, { amount: charge_amount(charge)? })).await?;
    *sub = saved;
    Ok(())
}

/// A prorated upgrade was paid: the tier changes now.
pub async fn apply_upgrade(
    conn: &mut AsyncPgConnection,
    sub: &mut Subscription,
    now: DateTime<Utc>,
    charge: &Charge,
) -> Result<(), SubscriptionError> {
    let previous = std::mem::replace(&mut sub.tier, charge.tier.clone());
    sub.pending_tier = None;
    sub.updated_at = now;
    let saved = subs::save(conn, sub).await?;
    outbox::enqueue(
        conn,
        &snapshot!(SubscriptionChanged, saved, now, {
            previous_tier: previous,
            prorated_charge: Some(charge_amount(charge)?),
            pending_tier: None,
        }),
    )
    .await?;
    *sub = saved;
    Ok(())
}

pub struct Preview {
    /// What is charged now (net of the subscription's discount, when it covers the period).
    pub amount: Money,
    pub applies_now: bool,
    /// The discount taken off the prorated charge, and what it says on the invoice.
    pub discount: Option<(Money, FullCoupon, String)>,
    /// Upgrades: the unused part of the current tier, credited inside `amount` (its invoice line).
    pub credit: Money,
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
    let now_status = status(sub)?;
    if !lifecycle::may_change_tier(now_status) {
        let detail = if now_status == Status::Paused {
            "a paused subscription cannot change tier: resume it first".into()
        } else {
            "only an active subscription can change tier".into()
        };
        return Err(SubscriptionError::Illegal(detail));
    }
    let (Some(start), Some(end)) = (sub.current_period_start, sub.current_period_end) else {
        return Err(SubscriptionError::Illegal("the subscription has no current period".into()));
    };
    // Priced in the subscription's own currency: a tier not sold in it cannot be moved to.
    let billed = billed_in(sub)?;
    let next_price = price_in(conn, &next, billed).await?.ok_or_else(|| {
        SubscriptionError::TierUnpriced(format!("{} has no price in {billed}, this subscription's currency", next.name))
    })?;
    let current_price =
        price_in(conn, &current, billed).await?.ok_or_else(|| Problem::internal("the current tier has no price"))?;
    // During a trial the plan changes now, either way, with no proration (as Stripe): nothing was
    // paid, the first charge at the trial's end is at the new plan's price. A change to Free
    // still waits for the trial's end (it is a cancellation there).
    let trialing = now_status == Status::Trialing;
    let applies_now = if trialing { !next_price.amount.is_zero() } else { next.rank > current.rank };
    if !applies_now || trialing {
        return Ok((
            current,
            next,
            Preview { amount: Money::zero(billed), applies_now, discount: None, credit: Money::zero(billed) },
        ));
    }
    // A subscription on a test clock acts in the clock's time (sandbox only).
    let now = now_of(conn, state, sub).await?;
    let list = proration::upgrade_charge(current_price.amount, next_price.amount, billed, start, end, now);
    // A recurring discount that covers this period prices both sides of the proration, as it
    // priced (and will price) the periods themselves: the customer pays the difference of what
    // they pay, not of list prices.
    let current_off =
        store_coupons::recurring_discount(conn, sub.id, &current.code, current_price, Some(start)).await?;
    let next_off = store_coupons::recurring_discount(conn, sub.id, &next.code, next_price, Some(start)).await?;
    let net_of = |list: Money, off: &Option<(discount::Priced, FullCoupon, _)>| off.as_ref().map_or(list, |o| o.0.net);
    let net = proration::upgrade_charge(
        net_of(current_price, &current_off).amount,
        net_of(next_price, &next_off).amount,
        billed,
        start,
        end,
        now,
    );
    let discount = match next_off.or(current_off) {
        Some((_, coupon, held)) if net.amount < list.amount => {
            let description = discount::describe(&held.code, &coupon.off(), billed);
            Some((Money::round(list.amount - net.amount, billed), coupon, description))
        }
        _ => None,
    };
    let amount = if discount.is_some() { net } else { list };
    // The unused part of the current tier at its list price: the invoice's credit line (a
    // discount shows as its own line).
    let credit = proration::unused_credit(current_price.amount, billed, start, end, now);
    Ok((current, next, Preview { amount, applies_now, discount, credit }))
}

/// An upgrade charge to take off-session.
pub struct UpgradeCharge {
    pub subscription_id: Uuid,
    pub user_id: Uuid,
    pub charge_id: Uuid,
    pub amount: Money,
    pub description: String,
    /// Its invoice lines: the credit for the unused old tier and the new tier for the rest of the
    /// period (none for a charge priced before credits were kept: billing prints the description).
    pub lines: Vec<ChargeLine>,
}

/// The proration lines of an upgrade charge, from what was stored when it was priced: the same on
/// every retry, so the request to billing under the charge's key never changes.
/// A discount on the charge (`discount`: its amount and description) is a line of its own after
/// them: the credit and the new tier's cost are at list prices, and all the lines add up to the
/// charge.
fn upgrade_lines(
    charge: &Charge,
    discount: Option<(Decimal, String)>,
    from: &str,
    to: &str,
) -> Result<Vec<ChargeLine>, SubscriptionError> {
    let Some(credit) = charge.proration_credit else {
        return Ok(Vec::new());
    };
    let amount = charge_amount(charge)?;
    let off = discount.as_ref().map_or(Decimal::ZERO, |d| d.0);
    let lines = proration::proration_lines(amount.amount + off, Money::round(credit, amount.currency).amount);
    let mut out = vec![
        ChargeLine {
            kind: LineKind::ProrationCredit,
            description: format!("Unused time on {from}"),
            amount: -lines.credit,
        },
        ChargeLine {
            kind: LineKind::ProrationCharge,
            description: format!("Remaining time on {to}"),
            amount: lines.cost,
        },
    ];
    if let Some((off, description)) = discount {
        out.push(ChargeLine { kind: LineKind::Discount, description, amount: -off });
    }
    Ok(out)
}

/// What `POST /api/subscriptions/me/change` does after step 1.
pub enum ChangePlan {
    /// Applied without a charge (a downgrade scheduled for the period end, a free upgrade).
    Done(Subscription),
    /// An upgrade to charge before it applies.
    Charge(UpgradeCharge),
}

/// `POST /api/subscriptions/me/change`, step 1: a downgrade (or a free change) is applied now; an
/// upgrade records its prorated charge, to be taken by billing.
pub async fn prepare_change(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    target: &str,
) -> Result<ChangePlan, SubscriptionError> {
    let mut sub = subs::lock_live(conn, user_id).await?.ok_or(SubscriptionError::NoSubscription)?;
    let (current, next, preview) = preview(conn, state, &sub, target).await?;
    // A subscription on a test clock acts in the clock's time (sandbox only).
    let now = now_of(conn, state, &sub).await?;
    if preview.applies_now && preview.amount.amount > rust_decimal::Decimal::ZERO {
        // One charge per upgrade of this subscription, tier and period: a retry after a failure
        // anywhere (even with another Idempotency-Key) reaches billing's same payment, never a
        // second one, and asks for the amount first priced.
        let period_end = sub.current_period_end;
        let charge_id = Uuid::new_v5(
            &sub.id,
            format!("upgrade:{}:{}:{}", sub.tier, next.code, period_end.map(|e| e.timestamp()).unwrap_or(0)).as_bytes(),
        );
        let earlier = charges::lock(conn, charge_id).await?;
        let charge = match earlier {
            Some(charge) => charge,
            None => {
                let charge = charges::lock_or_insert(
                    conn,
                    &NewCharge {
                        id: charge_id,
                        subscription_id: sub.id,
                        kind: "upgrade",
                        tier: &next.code,
                        amount: preview.amount.amount,
                        currency: preview.amount.currency.code(),
                        period_end,
                    },
                )
                .await?;
                if let Some((off, coupon, description)) = &preview.discount {
                    let priced = discount::Priced { discount: *off, net: preview.amount };
                    coupons::record_charge_discount(conn, charge_id, coupon, description, &priced).await?;
                }
                charge
            }
        };
        // Priced once: a retry keeps the first credit as it keeps the first amount.
        let charge = match charge.proration_credit {
            None if charge.status == PENDING => {
                charges::set_proration_credit(conn, charge.id, preview.credit.amount).await?
            }
            _ => charge,
        };
        let discount = store_coupons::charge_discount(conn, charge.id).await?.map(|d| (d.amount, d.description));
        return Ok(ChangePlan::Charge(UpgradeCharge {
            subscription_id: sub.id,
            user_id,
            charge_id: charge.id,
            amount: charge_amount(&charge)?,
            lines: upgrade_lines(&charge, discount, &current.name, &next.name)?,
            description: format!("Upgrade to {}", next.name),
        }));
    }
    if preview.applies_now {
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
            prorated_charge: None,
            pending_tier: sub.pending_tier.clone(),
        }),
    )
    .await?;
    state.cache.invalidate(user_id);
    Ok(ChangePlan::Done(sub))
}

/// Billing declined an upgrade charge: recorded in its own short transaction (the request answers
/// 402, which is not stored under its key, so nothing else commits with it).
pub async fn record_declined(
    conn: &mut AsyncPgConnection,
    subscription_id: Uuid,
    charge_id: Uuid,
    payment: &Payment,
) -> Result<(), SubscriptionError> {
    subs::lock(conn, subscription_id).await?;
    if let Some(charge) = charges::lock(conn, charge_id).await? {
        if charge.status == PENDING {
            charges::settle(conn, charge.id, Some(payment.id), charges::FAILED).await?;
        }
    }
    Ok(())
}

/// `POST /api/subscriptions/me/change`, step 3: billing took the upgrade's money. Applied unless
/// the subscription moved meanwhile (canceled, renewed, changed tier): then nothing commits here
/// and the request fails; billing's `payment.succeeded` event applies the same rule and has the
/// payment refunded.
pub async fn record_upgrade_payment(
    conn: &mut AsyncPgConnection,
    state: &State,
    upgrade: &UpgradeCharge,
    payment: &Payment,
) -> Result<Subscription, SubscriptionError> {
    match charging::on_charge_paid(conn, state, upgrade.subscription_id, upgrade.charge_id, payment.id).await? {
        Paid::Applied | Paid::AlreadyApplied => subs::lock(conn, upgrade.subscription_id)
            .await?
            .ok_or_else(|| Problem::internal("subscription missing").into()),
        Paid::Voided => Err(SubscriptionError::Illegal(
            "the subscription changed while the upgrade was being charged; the charge will be refunded".into(),
        )),
    }
}

/// Cancel now, or at the period end (access kept until then).
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    at_period_end: bool,
) -> Result<Subscription, SubscriptionError> {
    let mut sub = subs::lock_live(conn, user_id).await?.ok_or(SubscriptionError::NoSubscription)?;
    // A subscription on a test clock acts in the clock's time (sandbox only).
    let now = now_of(conn, state, &sub).await?;
    // A trial canceled at its end runs to it and is never charged.
    let sub = if at_period_end && matches!(status(&sub)?, Status::Active | Status::Trialing) {
        sub.cancel_at_period_end = true;
        // The period end is now the end: a pause scheduled for it no longer applies.
        clear_pause(&mut sub);
        sub.updated_at = now;
        let sub = subs::save(conn, &sub).await?;
        let previous = sub.tier.clone();
        outbox::enqueue(conn, &snapshot!(SubscriptionChanged, sub, now, { previous_tier: previous, prorated_charge: None, pending_tier: sub.pending_tier.clone() })).await?;
        sub
    } else {
        close(conn, state, &mut sub, Event::Cancel, "requested", now).await?;
        sub
    };
    state.cache.invalidate(user_id);
    Ok(sub)
}

/// Erasure (issue 18): the person is gone and billing deletes their Stripe customer, so nothing
/// may be charged again. An active subscription keeps the period already paid for and never
/// renews (a cancellation at the period end, announced like one); any other live subscription
/// (past due, in dunning) ends now, so no retry charges a customer who no longer exists. Nothing
/// live: nothing to do, which also makes a redelivered request harmless.
pub async fn end_for_erasure(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
) -> Result<(), SubscriptionError> {
    let Some(mut sub) = subs::lock_live(conn, user_id).await? else {
        return Ok(());
    };
    // A subscription on a test clock acts in the clock's time (sandbox only).
    let now = now_of(conn, state, &sub).await?;
    if status(&sub)? == Status::Active {
        if !sub.cancel_at_period_end || sub.pending_tier.is_some() {
            sub.cancel_at_period_end = true;
            sub.pending_tier = None;
            sub.updated_at = now;
            let sub = subs::save(conn, &sub).await?;
            let previous = sub.tier.clone();
            outbox::enqueue(conn, &snapshot!(SubscriptionChanged, sub, now, { previous_tier: previous, prorated_charge: None, pending_tier: None })).await?;
        }
    } else {
        close(conn, state, &mut sub, Event::Cancel, "erased", now).await?;
    }
    state.cache.invalidate(user_id);
    Ok(())
}

fn clear_pause(sub: &mut Subscription) {
    sub.pause_periods = None;
    sub.pause_starts_at = None;
    sub.pause_resumes_at = None;
}

/// `POST /api/subscriptions/me/pause`: schedule a pause of `periods` billing periods from the end
/// of the paid period (what was paid for is used, never refunded). The pause itself starts when
/// the scheduler reaches the period end ([`start_pause`]).
pub async fn pause(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    periods: i32,
) -> Result<Subscription, SubscriptionError> {
    let mut sub = subs::lock_live(conn, user_id).await?.ok_or(SubscriptionError::NoSubscription)?;
    // A downgrade to Free at the period end is a cancellation there.
    let cancel_scheduled = sub.cancel_at_period_end || sub.pending_tier.as_deref() == Some("free");
    lifecycle::check_pause(status(&sub)?, periods, sub.pause_periods.is_some(), cancel_scheduled)?;
    let end = sub.current_period_end.ok_or_else(|| Problem::internal("an active subscription has no period"))?;
    // A subscription on a test clock acts in the clock's time (sandbox only).
    let now = now_of(conn, state, &sub).await?;
    sub.pause_periods = Some(periods);
    sub.pause_starts_at = Some(end);
    sub.pause_resumes_at = Some(period::end_after_periods(end, sub.anchor_day as u32, periods as u32));
    sub.updated_at = now;
    let sub = subs::save(conn, &sub).await?;
    let previous = sub.tier.clone();
    outbox::enqueue(conn, &snapshot!(SubscriptionChanged, sub, now, { previous_tier: previous, prorated_charge: None, pending_tier: sub.pending_tier.clone() })).await?;
    state.cache.invalidate(user_id);
    Ok(sub)
}

/// The paid period ended with a pause scheduled: no renewal, no access until it resumes.
async fn start_pause(
    conn: &mut AsyncPgConnection,
    sub: &mut Subscription,
    now: DateTime<Utc>,
) -> Result<(), SubscriptionError> {
    let (Some(periods), Some(resumes_at)) = (sub.pause_periods, sub.pause_resumes_at) else {
        return Err(Problem::internal("no pause scheduled").into());
    };
    apply(sub, Event::Pause, now)?;
    let saved = subs::save(conn, sub).await?;
    outbox::enqueue(conn, &snapshot!(SubscriptionPaused, saved, now, { periods: periods, resumes_at: resumes_at }))
        .await?;
    *sub = saved;
    Ok(())
}

/// End a pause at `at` (its scheduled end, or now when the subscriber resumes early): active again
/// with the billing cycle anchored at `at` (Stripe's `billing_cycle_anchor=now`), the period
/// ending at `at` so the usual renewal charges the new one at once ([`prepare_renewal`]): paid, it
/// runs from `at` to one period later; declined, dunning starts as for any renewal.
async fn end_pause(
    conn: &mut AsyncPgConnection,
    state: &State,
    sub: &mut Subscription,
    at: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Due, SubscriptionError> {
    let paused_at = sub.pause_starts_at.or(sub.current_period_end).unwrap_or(at);
    apply(sub, Event::Resume, now)?;
    clear_pause(sub);
    sub.anchor_day = at.day() as i32;
    sub.current_period_start = Some(at);
    sub.current_period_end = Some(at);
    sub.past_due_since = None;
    sub.dunning_attempts = 0;
    sub.next_retry_at = None;
    let saved = subs::save(conn, sub).await?;
    outbox::enqueue(
        conn,
        &snapshot!(SubscriptionResumed, saved, now, { reason: reason.to_string(), paused_at: paused_at }),
    )
    .await?;
    *sub = saved;
    prepare_renewal(conn, state, sub, now).await
}

/// What `POST /api/subscriptions/me/resume` did.
pub enum Resumed {
    /// A cancellation, downgrade or pause scheduled for the period end was withdrawn.
    Withdrawn(Subscription),
    /// A pause under way ended: the new period's charge to take (then [`crate::scheduler::charge_renewal`]).
    Charge(RenewalCharge),
}

/// Withdraw a cancellation, downgrade or pause scheduled for the period end, or end a pause under
/// way now. Ending a pause charges money, so it needs the request's Idempotency-Key
/// (`with_key`); the withdrawals never did and still do not.
pub async fn resume(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    with_key: bool,
) -> Result<Resumed, SubscriptionError> {
    let mut sub = subs::lock_live(conn, user_id).await?.ok_or(SubscriptionError::NoSubscription)?;
    // A subscription on a test clock acts in the clock's time (sandbox only).
    let now = now_of(conn, state, &sub).await?;
    if status(&sub)? == Status::Paused {
        if !with_key {
            return Err(SubscriptionError::KeyRequired);
        }
        let due = end_pause(conn, state, &mut sub, now, "requested", now).await?;
        state.cache.invalidate(user_id);
        return match due {
            Due::Charge(charge) => {
                // This request charges it now: the schedulers leave it alone meanwhile.
                subs::claim_renewal(conn, sub.id).await?;
                Ok(Resumed::Charge(charge))
            }
            // A discount covered the whole period: renewed already, nothing to charge.
            Due::Done => Ok(Resumed::Withdrawn(sub)),
        };
    }
    if !sub.cancel_at_period_end && sub.pending_tier.is_none() && sub.pause_periods.is_none() {
        return Err(SubscriptionError::Illegal("nothing is scheduled to resume from".into()));
    }
    sub.cancel_at_period_end = false;
    sub.pending_tier = None;
    clear_pause(&mut sub);
    sub.updated_at = now;
    let sub = subs::save(conn, &sub).await?;
    let previous = sub.tier.clone();
    outbox::enqueue(conn, &snapshot!(SubscriptionChanged, sub, now, { previous_tier: previous, prorated_charge: None, pending_tier: None })).await?;
    state.cache.invalidate(user_id);
    Ok(Resumed::Withdrawn(sub))
}

/// A renewal charge to take off-session.
pub struct RenewalCharge {
    pub subscription_id: Uuid,
    pub user_id: Uuid,
    pub charge_id: Uuid,
    pub amount: Money,
    pub description: String,
    /// The plan and, when the subscription's discount covers this period, the discount.
    pub lines: Vec<ChargeLine>,
}

/// What the scheduler does with one due subscription after step 1.
pub enum Due {
    /// Done in step 1 (expired, canceled at the period end, nothing to do).
    Done,
    /// Charge the renewal, then [`record_renewal`].
    Charge(RenewalCharge),
}

/// The scheduler's step 1 on one due subscription (locked by the caller with SKIP LOCKED).
pub async fn process_due(
    conn: &mut AsyncPgConnection,
    state: &State,
    mut sub: Subscription,
) -> Result<Due, SubscriptionError> {
    let now = now_of(conn, state, &sub).await?;
    match status(&sub)? {
        Status::Incomplete => {
            close(conn, state, &mut sub, Event::FirstPaymentExpired, "first_payment_expired", now).await?;
        }
        Status::Active | Status::Trialing
            if sub.cancel_at_period_end || sub.pending_tier.as_deref() == Some("free") =>
        {
            // A trial canceled during it ends at its end, with no charge.
            close(conn, state, &mut sub, Event::Cancel, "period_end", now).await?;
        }
        // The trial's end: its first charge, as a renewal (lines, coupon, tax, invoice at billing).
        Status::Trialing => return prepare_renewal(conn, state, &mut sub, now).await,
        Status::Active if sub.pause_periods.is_some() => start_pause(conn, &mut sub, now).await?,
        Status::Paused => {
            // Anchored where the pause was due to end, not at this tick: a late scheduler does not
            // move the customer's billing day.
            let at = sub.pause_resumes_at.unwrap_or(now);
            return end_pause(conn, state, &mut sub, at, "scheduled", now).await;
        }
        Status::Active | Status::PastDue => return prepare_renewal(conn, state, &mut sub, now).await,
        _ => {}
    }
    Ok(Due::Done)
}

/// The subscription's time: its test clock's when it is on one (sandbox), else the service clock.
pub async fn now_of(
    conn: &mut AsyncPgConnection,
    state: &State,
    sub: &Subscription,
) -> Result<DateTime<Utc>, SubscriptionError> {
    Ok(events::test_clocks::now_of(conn, sub.test_clock_id, state.clock.now()).await?)
}

/// Record the renewal charge for the period (and attempt) now due, less the subscription's
/// discount if it covers the period. A charge discounted to zero renews at once, with no payment.
async fn prepare_renewal(
    conn: &mut AsyncPgConnection,
    state: &State,
    sub: &mut Subscription,
    now: DateTime<Utc>,
) -> Result<Due, SubscriptionError> {
    let next_tier = tier(conn, sub.pending_tier.as_deref().unwrap_or(&sub.tier)).await?;
    // In the subscription's currency; a change to a tier not sold in it was refused.
    let list = price_in(conn, &next_tier, billed_in(sub)?)
        .await?
        .ok_or_else(|| Problem::internal("the renewal's tier has no price in the subscription's currency"))?;
    let period_end = sub.current_period_end.unwrap_or(now);
    // One charge per period and attempt: a crash mid-way retries the same billing payment.
    let id = renewal_charge_id(sub.id, period_end, sub.dunning_attempts);
    let charge = match charges::lock(conn, id).await? {
        Some(earlier) => earlier,
        None => {
            let discount = coupons::price_charge(conn, sub, &next_tier, list, period_end).await?;
            let amount = discount.as_ref().map_or(list, |(priced, _, _)| priced.net);
            let charge = charges::insert(
                conn,
                &NewCharge {
                    id,
                    subscription_id: sub.id,
                    kind: "renewal",
                    tier: &next_tier.code,
                    amount: amount.amount,
                    currency: amount.currency.code(),
                    period_end: sub.current_period_end,
                },
            )
            .await?;
            if let Some((priced, coupon, description)) = discount {
                coupons::record_charge_discount(conn, id, &coupon, &description, &priced).await?;
            }
            charge
        }
    };
    if charge.amount.is_zero() && charge.status == PENDING {
        renew_period(conn, sub, now, &charge).await?;
        charges::settle(conn, charge.id, None, charges::SUCCEEDED).await?;
        state.cache.invalidate(sub.user_id);
        return Ok(Due::Done);
    }
    let description = if status(sub)? == Status::Trialing {
        format!("{} subscription, first month after the trial", next_tier.name)
    } else {
        format!("{} subscription renewal", next_tier.name)
    };
    Ok(Due::Charge(RenewalCharge {
        subscription_id: sub.id,
        user_id: sub.user_id,
        charge_id: charge.id,
        amount: charge_amount(&charge)?,
        lines: coupons::lines(conn, &charge, &description).await?,
        description,
    }))
}

/// `POST /api/subscriptions/me/discount`: redeem a promotion code on the caller's active
/// subscription. It applies from the next charge (the next renewal) for as long as its duration
/// covers; the period already paid is not re-priced.
pub async fn apply_discount(
    conn: &mut AsyncPgConnection,
    state: &State,
    user_id: Uuid,
    code: &str,
) -> Result<Subscription, SubscriptionError> {
    let sub = subs::lock_live(conn, user_id).await?.ok_or(SubscriptionError::NoSubscription)?;
    // A trial takes one too: it prices the first charge, at the trial's end.
    if !matches!(status(&sub)?, Status::Active | Status::Trialing) {
        return Err(SubscriptionError::Illegal(
            "only an active or trialing subscription takes a promotion code".into(),
        ));
    }
    let chosen = tier(conn, &sub.tier).await?;
    let now = now_of(conn, state, &sub).await?;
    coupons::redeem(conn, code, &sub, &chosen, now).await?;
    Ok(sub)
}

/// Send `trial_will_end` for the trials ending within three days that have not had it: once per
/// trial (the flag is set in the statement that picks them), in the transaction of the caller.
pub async fn announce_trials_ending(
    conn: &mut AsyncPgConnection,
    pass: events::test_clocks::Pass,
    limit: i64,
) -> Result<usize, SubscriptionError> {
    let now = pass.now;
    let notice = Duration::days(trial::WILL_END_NOTICE_DAYS);
    let ending = subs::take_trials_ending(conn, pass, notice, limit).await?;
    for sub in &ending {
        let trial_end = sub.current_period_end.ok_or_else(|| Problem::internal("a trial has no end"))?;
        outbox::enqueue(conn, &snapshot!(TrialWillEnd, sub, now, { trial_end: trial_end })).await?;
    }
    Ok(ending.len())
}

fn renewal_charge_id(subscription: Uuid, period_end: DateTime<Utc>, attempt: i32) -> Uuid {
    Uuid::new_v5(&subscription, format!("renewal:{}:{attempt}", period_end.timestamp()).as_bytes())
}

/// The scheduler's step 3: billing's answer to a renewal charge. Success renews (or, when the
/// subscription moved meanwhile, has the money refunded); a decline starts or continues dunning,
/// once per charge (another replica, or billing's event, may have settled it already).
pub async fn record_renewal(
    conn: &mut AsyncPgConnection,
    state: &State,
    renewal: &RenewalCharge,
    answer: Result<Payment, SubscriptionError>,
) -> Result<(), SubscriptionError> {
    let payment = match answer {
        Ok(p) if p.status == "succeeded" => {
            charging::on_charge_paid(conn, state, renewal.subscription_id, renewal.charge_id, p.id).await?;
            return Ok(());
        }
        Ok(p) => Some(p.id),
        Err(SubscriptionError::PaymentDeclined(_)) => None,
        Err(e) => return Err(e),
    };
    let Some(mut sub) = subs::lock(conn, renewal.subscription_id).await? else {
        return Ok(());
    };
    let Some(charge) = charges::lock(conn, renewal.charge_id).await? else {
        return Ok(());
    };
    let due = charging::is_live(&sub) && (charge.period_end.is_none() || charge.period_end == sub.current_period_end);
    if charge.status != PENDING || !due {
        return Ok(());
    }
    charges::settle(conn, charge.id, payment.or(charge.payment_id), charges::FAILED).await?;
    let now = now_of(conn, state, &sub).await?;
    if status(&sub)? == Status::Trialing {
        // No card, or the card was declined: a trial has no dunning, it ends (access revoked).
        close(conn, state, &mut sub, Event::TrialEnded, "trial_ended", now).await?;
    } else {
        dunning_step(conn, state, &mut sub, now).await?;
    }
    state.cache.invalidate(sub.user_id);
    Ok(())
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
            sub.dunning_attempts = attempt;
            sub.next_retry_at = None;
            close(conn, state, sub, Event::DunningExhausted, "dunning_exhausted", now).await?;
        }
    }
    Ok(())
}
