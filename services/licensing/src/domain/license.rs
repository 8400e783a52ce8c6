//! License lifecycle and seat rules.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Suspended,
    Revoked,
    Expired,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Active, Status::Suspended, Status::Revoked, Status::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Status::Active),
            "suspended" => Some(Status::Suspended),
            "revoked" => Some(Status::Revoked),
            "expired" => Some(Status::Expired),
            _ => None,
        }
    }
}

/// Why a license cannot be used (activated, certified) right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Expired,
    Suspended,
    Revoked,
    NotYetValid,
}

/// Whether the license grants anything at `now`. Expiry counts from `expires_at` even before the
/// scheduler has caught up.
pub fn check_usable(
    status: Status,
    starts_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Unusable> {
    match status {
        Status::Revoked => Err(Unusable::Revoked),
        Status::Expired => Err(Unusable::Expired),
        _ if now >= expires_at => Err(Unusable::Expired),
        Status::Suspended => Err(Unusable::Suspended),
        Status::Active if now < starts_at => Err(Unusable::NotYetValid),
        Status::Active => Ok(()),
    }
}

/// Admin actions on a license.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suspend,
    Reinstate,
    Revoke,
    Extend,
    ChangeSeats,
}

/// What an action does from a status: move to a new status, change nothing (repeating a done
/// action), or refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    To(Status),
    Unchanged,
    Refused,
}

pub fn apply(status: Status, action: Action) -> Outcome {
    use Action as A;
    use Status as S;
    match (status, action) {
        (S::Active, A::Suspend) => Outcome::To(S::Suspended),
        (S::Suspended, A::Suspend) => Outcome::Unchanged,
        (S::Suspended, A::Reinstate) => Outcome::To(S::Active),
        (S::Active, A::Reinstate) => Outcome::Unchanged,
        (S::Active | S::Suspended, A::Revoke) => Outcome::To(S::Revoked),
        (S::Revoked, A::Revoke) => Outcome::Unchanged,
        (S::Active | S::Suspended, A::Extend | A::ChangeSeats) => Outcome::Unchanged,
        _ => Outcome::Refused,
    }
}

pub const MAX_SEATS: i32 = 1_000_000;

/// A new seat count must cover the seats in use.
pub fn check_seat_change(new_seats: i32, in_use: i32) -> Result<(), SeatChangeError> {
    if !(1..=MAX_SEATS).contains(&new_seats) {
        return Err(SeatChangeError::OutOfRange);
    }
    if new_seats < in_use {
        return Err(SeatChangeError::BelowUsage);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatChangeError {
    OutOfRange,
    BelowUsage,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().unwrap_or_default() + Duration::hours(h)
    }

    #[test]
    fn usable_only_when_active_and_in_validity() {
        assert_eq!(check_usable(Status::Active, t(0), t(10), t(5)), Ok(()));
        assert_eq!(check_usable(Status::Active, t(0), t(10), t(10)), Err(Unusable::Expired));
        assert_eq!(check_usable(Status::Active, t(1), t(10), t(0)), Err(Unusable::NotYetValid));
        assert_eq!(check_usable(Status::Suspended, t(0), t(10), t(5)), Err(Unusable::Suspended));
        assert_eq!(check_usable(Status::Suspended, t(0), t(10), t(11)), Err(Unusable::Expired));
        assert_eq!(check_usable(Status::Revoked, t(0), t(10), t(5)), Err(Unusable::Revoked));
        assert_eq!(check_usable(Status::Expired, t(0), t(10), t(5)), Err(Unusable::Expired));
    }

    #[test]
    fn lifecycle() {
        assert_eq!(apply(Status::Active, Action::Suspend), Outcome::To(Status::Suspended));
        assert_eq!(apply(Status::Suspended, Action::Suspend), Outcome::Unchanged);
        assert_eq!(apply(Status::Suspended, Action::Reinstate), Outcome::To(Status::Active));
        assert_eq!(apply(Status::Suspended, Action::Revoke), Outcome::To(Status::Revoked));
        assert_eq!(apply(Status::Revoked, Action::Reinstate), Outcome::Refused);
        assert_eq!(apply(Status::Revoked, Action::Revoke), Outcome::Unchanged);
        assert_eq!(apply(Status::Expired, Action::Extend), Outcome::Refused);
        assert_eq!(apply(Status::Expired, Action::Suspend), Outcome::Refused);
        assert_eq!(apply(Status::Revoked, Action::ChangeSeats), Outcome::Refused);
    }

    #[test]
    fn seat_count_never_below_usage() {
        assert_eq!(check_seat_change(10, 10), Ok(()));
        assert_eq!(check_seat_change(9, 10), Err(SeatChangeError::BelowUsage));
        assert_eq!(check_seat_change(0, 0), Err(SeatChangeError::OutOfRange));
        assert_eq!(check_seat_change(MAX_SEATS + 1, 0), Err(SeatChangeError::OutOfRange));
    }
}
