//! The subscription state machine. Statuses mirror Stripe's.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Incomplete,
    IncompleteExpired,
    /// In a free trial: access granted, nothing charged until the trial (its first period) ends.
    Trialing,
    Active,
    PastDue,
    /// Paused by the subscriber (from the end of a paid period): no charges, no access, still the
    /// user's one subscription.
    Paused,
    Canceled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The first payment, a renewal or a dunning retry succeeded.
    PaymentSucceeded,
    /// The first payment failed or was not confirmed in time.
    FirstPaymentExpired,
    /// A renewal (or a retry of one) failed.
    RenewalFailed,
    /// Every scheduled retry failed.
    DunningExhausted,
    /// Canceled by the user now, or at the period end they had asked for.
    Cancel,
    /// The paid period ended with a pause scheduled: the pause starts.
    Pause,
    /// The pause ended (its last period elapsed, or the subscriber resumed early).
    Resume,
    /// The trial ended without a payment (no saved card, or the first charge was declined): no
    /// dunning for a customer who never paid, as Stripe's `trial_settings.end_behavior=cancel`.
    TrialEnded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: Status,
    pub event: Event,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} subscription cannot take {:?}", self.from.as_str(), self.event)
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Incomplete => "incomplete",
            Status::IncompleteExpired => "incomplete_expired",
            Status::Trialing => "trialing",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Paused => "paused",
            Status::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "incomplete" => Status::Incomplete,
            "incomplete_expired" => Status::IncompleteExpired,
            "trialing" => Status::Trialing,
            "active" => Status::Active,
            "past_due" => Status::PastDue,
            "paused" => Status::Paused,
            "canceled" => Status::Canceled,
            _ => return None,
        })
    }

    /// Live subscriptions count against "one per user" (a paused one too: it comes back).
    pub fn is_live(self) -> bool {
        matches!(self, Status::Incomplete | Status::Trialing | Status::Active | Status::PastDue | Status::Paused)
    }

    /// Whether the subscription's tier is usable: access is kept while dunning retries, and
    /// granted during a trial.
    pub fn grants_access(self) -> bool {
        matches!(self, Status::Trialing | Status::Active | Status::PastDue)
    }
}

/// The next status, or why the event is not allowed now.
pub fn transition(from: Status, event: Event) -> Result<Status, IllegalTransition> {
    use Event as E;
    use Status as S;
    let to = match (from, event) {
        (S::Incomplete | S::Trialing | S::PastDue | S::Active, E::PaymentSucceeded) => S::Active,
        (S::Trialing, E::TrialEnded) => S::Canceled,
        (S::Incomplete, E::FirstPaymentExpired) => S::IncompleteExpired,
        (S::Active | S::PastDue, E::RenewalFailed) => S::PastDue,
        (S::PastDue, E::DunningExhausted) => S::Canceled,
        // A cancel during a pause ends the subscription at once (nothing is paid to run out).
        (S::Incomplete | S::Trialing | S::Active | S::PastDue | S::Paused, E::Cancel) => S::Canceled,
        (S::Active, E::Pause) => S::Paused,
        (S::Paused, E::Resume) => S::Active,
        _ => return Err(IllegalTransition { from, event }),
    };
    Ok(to)
}

/// The most billing periods one pause may last.
pub const MAX_PAUSE_PERIODS: i32 = 3;

/// Why a pause cannot be scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseRefused {
    /// Outside 1..=[`MAX_PAUSE_PERIODS`].
    Periods,
    /// Only an active subscription pauses: not one that has not paid yet (incomplete), is
    /// retrying a renewal (past_due), is closed, or is paused already.
    Status(Status),
    /// A pause is already scheduled for the period end.
    AlreadyScheduled,
    /// A cancellation is scheduled for the period end: withdraw it first (`resume`).
    CancelScheduled,
}

impl fmt::Display for PauseRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PauseRefused::Periods => write!(f, "a pause lasts 1 to {MAX_PAUSE_PERIODS} billing periods"),
            PauseRefused::Status(s) => write!(f, "a {} subscription cannot be paused", s.as_str()),
            PauseRefused::AlreadyScheduled => write!(f, "a pause is already scheduled"),
            PauseRefused::CancelScheduled => write!(f, "the subscription is canceled at the period end"),
        }
    }
}

/// Whether a pause of `periods` may be scheduled now. The pause itself starts at the end of the
/// paid period ([`Event::Pause`]), so what was paid for is used, never refunded.
pub fn check_pause(
    status: Status,
    periods: i32,
    pause_scheduled: bool,
    cancel_at_period_end: bool,
) -> Result<(), PauseRefused> {
    if !(1..=MAX_PAUSE_PERIODS).contains(&periods) {
        return Err(PauseRefused::Periods);
    }
    if status != Status::Active {
        return Err(PauseRefused::Status(status));
    }
    if pause_scheduled {
        return Err(PauseRefused::AlreadyScheduled);
    }
    if cancel_at_period_end {
        return Err(PauseRefused::CancelScheduled);
    }
    Ok(())
}

/// A tier change is refused while paused: there is no current period to prorate against (the
/// subscriber resumes first, then changes). A trial changes plan freely (nothing was paid).
pub fn may_change_tier(status: Status) -> bool {
    matches!(status, Status::Active | Status::Trialing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_STATUSES: [Status; 7] = [
        Status::Incomplete,
        Status::Trialing,
        Status::IncompleteExpired,
        Status::Active,
        Status::PastDue,
        Status::Paused,
        Status::Canceled,
    ];
    const ALL_EVENTS: [Event; 8] = [
        Event::TrialEnded,
        Event::PaymentSucceeded,
        Event::FirstPaymentExpired,
        Event::RenewalFailed,
        Event::DunningExhausted,
        Event::Cancel,
        Event::Pause,
        Event::Resume,
    ];

    #[test]
    fn every_allowed_transition() {
        use Event as E;
        use Status as S;
        let allowed = [
            (S::Incomplete, E::PaymentSucceeded, S::Active),
            (S::Trialing, E::PaymentSucceeded, S::Active),
            (S::Trialing, E::TrialEnded, S::Canceled),
            (S::Trialing, E::Cancel, S::Canceled),
            (S::Active, E::PaymentSucceeded, S::Active),
            (S::PastDue, E::PaymentSucceeded, S::Active),
            (S::Incomplete, E::FirstPaymentExpired, S::IncompleteExpired),
            (S::Active, E::RenewalFailed, S::PastDue),
            (S::PastDue, E::RenewalFailed, S::PastDue),
            (S::PastDue, E::DunningExhausted, S::Canceled),
            (S::Incomplete, E::Cancel, S::Canceled),
            (S::Active, E::Cancel, S::Canceled),
            (S::PastDue, E::Cancel, S::Canceled),
            (S::Paused, E::Cancel, S::Canceled),
            (S::Active, E::Pause, S::Paused),
            (S::Paused, E::Resume, S::Active),
        ];
        for (from, event, to) in allowed {
            assert_eq!(transition(from, event), Ok(to), "{from:?} + {event:?}");
        }
        // Everything else is refused.
        for from in ALL_STATUSES {
            for event in ALL_EVENTS {
                if !allowed.iter().any(|(f, e, _)| *f == from && *e == event) {
                    assert!(transition(from, event).is_err(), "{from:?} + {event:?} should be refused");
                }
            }
        }
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for event in ALL_EVENTS {
            assert!(transition(Status::Canceled, event).is_err());
            assert!(transition(Status::IncompleteExpired, event).is_err());
        }
    }

    #[test]
    fn a_paused_subscription_takes_no_payment_and_grants_nothing_but_stays_the_users_one() {
        assert!(transition(Status::Paused, Event::PaymentSucceeded).is_err());
        assert!(transition(Status::Paused, Event::RenewalFailed).is_err());
        assert!(transition(Status::Paused, Event::Pause).is_err(), "already paused");
        assert!(!Status::Paused.grants_access());
        assert!(Status::Paused.is_live());
        assert!(!may_change_tier(Status::Paused));
        assert!(may_change_tier(Status::Active));
    }

    #[test]
    fn only_an_active_subscription_with_nothing_scheduled_pauses_for_1_to_3_periods() {
        assert_eq!(check_pause(Status::Active, 1, false, false), Ok(()));
        assert_eq!(check_pause(Status::Active, 3, false, false), Ok(()));
        assert_eq!(check_pause(Status::Active, 0, false, false), Err(PauseRefused::Periods));
        assert_eq!(check_pause(Status::Active, 4, false, false), Err(PauseRefused::Periods));
        assert_eq!(check_pause(Status::Active, -1, false, false), Err(PauseRefused::Periods));
        for s in [Status::Incomplete, Status::PastDue, Status::Paused, Status::Canceled, Status::IncompleteExpired] {
            assert_eq!(check_pause(s, 1, false, false), Err(PauseRefused::Status(s)), "{s:?}");
        }
        assert_eq!(check_pause(Status::Active, 2, true, false), Err(PauseRefused::AlreadyScheduled));
        assert_eq!(check_pause(Status::Active, 2, false, true), Err(PauseRefused::CancelScheduled));
    }

    #[test]
    fn a_trial_grants_access_changes_plan_and_cannot_pause() {
        assert!(Status::Trialing.grants_access());
        assert!(Status::Trialing.is_live());
        assert!(may_change_tier(Status::Trialing));
        assert!(transition(Status::Trialing, Event::RenewalFailed).is_err(), "a trial has no dunning");
        assert_eq!(check_pause(Status::Trialing, 1, false, false), Err(PauseRefused::Status(Status::Trialing)));
    }

    #[test]
    fn names_round_trip() {
        for s in ALL_STATUSES {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
