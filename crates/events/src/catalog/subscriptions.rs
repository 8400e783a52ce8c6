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
            /// `incomplete` | `incomplete_expired` | `active` | `past_due` | `canceled`
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
    /// scheduled for the period end, a cancellation scheduled or withdrawn.
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
        reason: String,
    }
);
