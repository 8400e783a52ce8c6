//! Events published by subscriptions. Each carries the subscription's state after the change, so
//! a consumer never needs to call back; some add what is specific to the change.

use super::DomainEvent;
use chrono::{DateTime, Utc};
use platform::money::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const TYPES: &[&str] = &[
    SubscriptionActivated::TYPE,
    SubscriptionChanged::TYPE,
    SubscriptionRenewed::TYPE,
    SubscriptionPastDue::TYPE,
    SubscriptionCanceled::TYPE,
    SubscriptionPaused::TYPE,
    SubscriptionResumed::TYPE,
    TrialStarted::TYPE,
    TrialWillEnd::TYPE,
    PaymentVoidRequested::TYPE,
    CouponRedeemed::TYPE,
    TestClockAdvanced::TYPE,
    TestClockDeleted::TYPE,
];

macro_rules! subscription_event {
    ($(#[$doc:meta])* $name:ident, $type:literal { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub subscription_id: Uuid,
            pub user_id: Uuid,
            /// `free` | `pro` | `enterprise`
            pub tier: String,
            /// `incomplete` | `incomplete_expired` | `trialing` | `active` | `past_due` | `paused` | `canceled`
            pub status: String,
            pub current_period_start: Option<DateTime<Utc>>,
            pub current_period_end: Option<DateTime<Utc>>,
            pub cancel_at_period_end: bool,
            pub occurred_at: DateTime<Utc>,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl DomainEvent for $name {
            const TYPE: &'static str = $type;
            const SOURCE: &'static str = "subscriptions";
            fn subject(&self) -> String {
                self.subscription_id.to_string()
            }
        }
    };
}

subscription_event!(
    /// `subscriptions.subscription.activated.v1`: the first payment succeeded.
    SubscriptionActivated, "subscriptions.subscription.activated.v1" {}
);

subscription_event!(
    /// `subscriptions.subscription.changed.v1`: an upgrade (applied now, prorated charge), a downgrade
    /// scheduled for the period end, a cancellation or a pause scheduled or withdrawn.
    SubscriptionChanged, "subscriptions.subscription.changed.v1" {
        previous_tier: String,
        /// What was charged now for an upgrade.
        prorated_charge: Option<Money>,
        /// A tier that takes effect at the period end (downgrade).
        pending_tier: Option<String>,
    }
);

subscription_event!(
    /// `subscriptions.subscription.renewed.v1`: a new period was paid for.
    SubscriptionRenewed, "subscriptions.subscription.renewed.v1" {
        amount: Money,
    }
);

subscription_event!(
    /// `subscriptions.subscription.past_due.v1`: a renewal failed; access is kept while retrying.
    SubscriptionPastDue, "subscriptions.subscription.past_due.v1" {
        /// Failed attempts so far for this period.
        attempt: i32,
        /// When the next retry is due; null when none is left.
        next_retry_at: Option<DateTime<Utc>>,
    }
);

subscription_event!(
    /// `subscriptions.subscription.canceled.v1`: the subscription ended (the user is on Free unless
    /// another source grants more).
    SubscriptionCanceled, "subscriptions.subscription.canceled.v1" {
        /// `requested` | `period_end` | `dunning_exhausted` | `first_payment_failed` | `first_payment_expired`
        /// | `refunded` (a refund of one of its charges ended access) | `trial_ended` (the trial ended
        /// without a card, or the first charge was declined)
        reason: String,
    }
);

subscription_event!(
    /// `subscriptions.subscription.paused.v1`: the paid period ended with a pause scheduled; no
    /// charges and no access until `resumes_at` (or an earlier resume). `status` is `paused`;
    /// the period fields are the last paid period's.
    SubscriptionPaused, "subscriptions.subscription.paused.v1" {
        /// Billing periods the pause lasts (1-3).
        periods: i32,
        /// When it resumes by itself (and is charged for a new period anchored there).
        resumes_at: DateTime<Utc>,
    }
);

subscription_event!(
    /// `subscriptions.subscription.resumed.v1`: a pause ended; the subscription is `active` with a
    /// new period anchored at the resume instant, charged now on the saved card (success:
    /// `renewed.v1`; a decline: `past_due.v1`, the usual dunning).
    SubscriptionResumed, "subscriptions.subscription.resumed.v1" {
        /// `scheduled` (its last period elapsed) | `requested` (the subscriber resumed early)
        reason: String,
        /// When the pause began (the end of the last paid period).
        paused_at: DateTime<Utc>,
    }
);

subscription_event!(
    /// `subscriptions.subscription.trial_started.v1`: a free trial began; `status` is `trialing`,
    /// access is granted and nothing is charged until `trial_end` (the current period's end).
    TrialStarted, "subscriptions.subscription.trial_started.v1" {
        trial_end: DateTime<Utc>,
        /// `card_required` (a saved default card was there at the start) | `no_card`
        trial_mode: String,
    }
);

subscription_event!(
    /// `subscriptions.subscription.trial_will_end.v1`: the trial ends in three days (sent once per
    /// trial, not for a trial canceled at its end). At `trial_end` the saved default card is
    /// charged off-session (`activated.v1`), or the subscription ends (`canceled.v1`,
    /// reason `trial_ended`).
    TrialWillEnd, "subscriptions.subscription.trial_will_end.v1" {
        trial_end: DateTime<Utc>,
    }
);

/// `subscriptions.payment.void_requested.v1`: subscriptions will never use this payment (its
/// subscription was canceled or expired, or the payment paid for something already paid for).
/// Billing cancels the PaymentIntent if it has not succeeded, and refunds it in full if it has
/// succeeded or succeeds later. Duplicates are allowed (billing acts once per payment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentVoidRequested {
    pub payment_id: Uuid,
    pub user_id: Uuid,
    /// Our charge id: the `reference_id` the payment was created with.
    pub reference_id: String,
    /// `subscription_canceled` | `subscription_expired` | `duplicate_payment` | `period_already_paid`
    /// | `upgrade_not_applicable` | `subscription_paused`
    pub reason: String,
    pub requested_at: DateTime<Utc>,
}

impl DomainEvent for PaymentVoidRequested {
    const TYPE: &'static str = "subscriptions.payment.void_requested.v1";
    const SOURCE: &'static str = "subscriptions";
    fn subject(&self) -> String {
        self.payment_id.to_string()
    }
}

/// `subscriptions.coupon.redeemed.v1`: a customer redeemed a promotion code; the subscription
/// holds its coupon's discount from now on (for the charges its duration covers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponRedeemed {
    pub redemption_id: Uuid,
    pub coupon_id: Uuid,
    pub promotion_code_id: Uuid,
    /// The code as the admin wrote it.
    pub code: String,
    pub user_id: Uuid,
    pub subscription_id: Uuid,
    /// `null` for an amount-off coupon.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub percent_off: Option<rust_decimal::Decimal>,
    /// Amount-off coupons: the amount in each currency it has one for (empty for a percentage).
    pub amounts_off: Vec<Money>,
    /// `once` | `repeating` | `forever`
    pub duration: String,
    pub duration_in_months: Option<i32>,
    pub redeemed_at: DateTime<Utc>,
}

impl DomainEvent for CouponRedeemed {
    const TYPE: &'static str = "subscriptions.coupon.redeemed.v1";
    const SOURCE: &'static str = "subscriptions";
    fn subject(&self) -> String {
        self.subscription_id.to_string()
    }
}

/// `subscriptions.test_clock.advanced.v1`: a sandbox test clock (issue 23, point 5) moved forward
/// to `now`. Every service with test clocks on keeps its own copy of each clock's time from this
/// event (`events::test_clocks`) and runs its schedulers for the objects on the clock as of `now`.
/// Only published where `SUBSCRIPTIONS_TEST_CLOCKS=true`, never in production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestClockAdvanced {
    pub clock_id: Uuid,
    /// Who created the clock: only their objects may be attached to it.
    pub owner_id: Uuid,
    /// The clock's new time; never earlier than any it had (clocks only move forward).
    pub now: DateTime<Utc>,
}

impl DomainEvent for TestClockAdvanced {
    const TYPE: &'static str = "subscriptions.test_clock.advanced.v1";
    const SOURCE: &'static str = "subscriptions";
    fn subject(&self) -> String {
        self.clock_id.to_string()
    }
}

/// `subscriptions.test_clock.deleted.v1`: its owner deleted a sandbox test clock. The objects on
/// it stay frozen at `now`, its last time, in every service (nothing is due on them any more, and
/// their actions keep being stamped with that time); nothing new may be attached to it. Only
/// published where `SUBSCRIPTIONS_TEST_CLOCKS=true`, never in production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestClockDeleted {
    pub clock_id: Uuid,
    pub owner_id: Uuid,
    /// The clock's last time, where its objects stay.
    pub now: DateTime<Utc>,
    /// When it was deleted (real time).
    pub deleted_at: DateTime<Utc>,
}

impl DomainEvent for TestClockDeleted {
    const TYPE: &'static str = "subscriptions.test_clock.deleted.v1";
    const SOURCE: &'static str = "subscriptions";
    fn subject(&self) -> String {
        self.clock_id.to_string()
    }
}
