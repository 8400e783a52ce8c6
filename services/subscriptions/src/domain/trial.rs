//! Free trials: whether a subscribe starts one, when it ends, when its reminder is due. Pure
//! rules; the tier says how long and in which mode (`tiers.trial_days`, `tiers.trial_mode`).

use chrono::{DateTime, Duration, Utc};

/// `trial_will_end` goes out this long before the trial ends (Stripe's `trial_will_end`).
pub const WILL_END_NOTICE_DAYS: i64 = 3;

/// What a subscribe to a tier is offered, before the once-per-user claim is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// The tier has no trial.
    None,
    /// A trial, if the user has not had this one.
    Trial,
    /// A trial, but the tier wants a saved default card and the user has none: refused if the
    /// trial would be granted (a user who had it is charged as usual and needs no card up front).
    NeedsCard,
}

/// The offer for a tier with `trial_days` in `mode` (`card_required` | `no_card`); `has_card`:
/// billing's answer, `None` when not asked.
pub fn offered(trial_days: i32, mode: &str, has_card: Option<bool>) -> Offer {
    if trial_days <= 0 {
        return Offer::None;
    }
    if mode == "card_required" && has_card != Some(true) {
        return Offer::NeedsCard;
    }
    Offer::Trial
}

/// Whether the subscribe must ask billing for a saved card before deciding.
pub fn needs_card_check(trial_days: i32, mode: &str) -> bool {
    trial_days > 0 && mode == "card_required"
}

/// When a trial of `days` started at `start` ends (whole days of 24 h, Stripe's `trial_period_days`).
pub fn end(start: DateTime<Utc>, days: i32) -> DateTime<Utc> {
    start + Duration::days(i64::from(days))
}

/// When the trial's `trial_will_end` is due.
pub fn will_end_due(trial_end: DateTime<Utc>) -> DateTime<Utc> {
    trial_end - Duration::days(WILL_END_NOTICE_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_tier_without_days_offers_nothing_whatever_the_card() {
        for card in [None, Some(false), Some(true)] {
            assert_eq!(offered(0, "card_required", card), Offer::None);
            assert_eq!(offered(0, "no_card", card), Offer::None);
        }
    }

    #[test]
    fn card_required_needs_billing_to_have_said_yes() {
        assert_eq!(offered(14, "card_required", Some(true)), Offer::Trial);
        assert_eq!(offered(14, "card_required", Some(false)), Offer::NeedsCard);
        assert_eq!(offered(14, "card_required", None), Offer::NeedsCard);
        assert_eq!(offered(14, "no_card", None), Offer::Trial);
        assert!(needs_card_check(14, "card_required"));
        assert!(!needs_card_check(14, "no_card"));
        assert!(!needs_card_check(0, "card_required"));
    }

    #[test]
    fn the_end_and_the_reminder() {
        let start = Utc.with_ymd_and_hms(2026, 2, 20, 10, 30, 0).unwrap();
        let end = end(start, 14);
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 3, 6, 10, 30, 0).unwrap());
        assert_eq!(will_end_due(end), Utc.with_ymd_and_hms(2026, 3, 3, 10, 30, 0).unwrap());
    }
}
