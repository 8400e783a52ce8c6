//! The subscription state machine. Statuses mirror Stripe's.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Incomplete,
    IncompleteExpired,
    Active,
    PastDue,
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
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "incomplete" => Status::Incomplete,
            "incomplete_expired" => Status::IncompleteExpired,
            "active" => Status::Active,
            "past_due" => Status::PastDue,
            "canceled" => Status::Canceled,
            _ => return None,
        })
    }

    /// Live subscriptions count against "one per user".
    pub fn is_live(self) -> bool {
        matches!(self, Status::Incomplete | Status::Active | Status::PastDue)
    }

    /// Whether the subscription's tier is usable: access is kept while dunning retries.
    pub fn grants_access(self) -> bool {
        matches!(self, Status::Active | Status::PastDue)
    }
}

/// The next status, or why the event is not allowed now.
pub fn transition(from: Status, event: Event) -> Result<Status, IllegalTransition> {
    use Event as E;
    use Status as S;
    let to = match (from, event) {
        (S::Incomplete | S::PastDue | S::Active, E::PaymentSucceeded) => S::Active,
        (S::Incomplete, E::FirstPaymentExpired) => S::IncompleteExpired,
        (S::Active | S::PastDue, E::RenewalFailed) => S::PastDue,
        (S::PastDue, E::DunningExhausted) => S::Canceled,
        (S::Incomplete | S::Active | S::PastDue, E::Cancel) => S::Canceled,
        _ => return Err(IllegalTransition { from, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_STATUSES: [Status; 5] =
        [Status::Incomplete, Status::IncompleteExpired, Status::Active, Status::PastDue, Status::Canceled];
    const ALL_EVENTS: [Event; 5] = [
        Event::PaymentSucceeded,
        Event::FirstPaymentExpired,
        Event::RenewalFailed,
        Event::DunningExhausted,
        Event::Cancel,
    ];

    #[test]
    fn every_allowed_transition() {
        use Event as E;
        use Status as S;
        let allowed = [
            (S::Incomplete, E::PaymentSucceeded, S::Active),
            (S::Active, E::PaymentSucceeded, S::Active),
            (S::PastDue, E::PaymentSucceeded, S::Active),
            (S::Incomplete, E::FirstPaymentExpired, S::IncompleteExpired),
            (S::Active, E::RenewalFailed, S::PastDue),
            (S::PastDue, E::RenewalFailed, S::PastDue),
            (S::PastDue, E::DunningExhausted, S::Canceled),
            (S::Incomplete, E::Cancel, S::Canceled),
            (S::Active, E::Cancel, S::Canceled),
            (S::PastDue, E::Cancel, S::Canceled),
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
    fn names_round_trip() {
        for s in ALL_STATUSES {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
