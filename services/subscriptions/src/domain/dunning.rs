//! Dunning and the customer's card: a renewal that failed is retried at once when the customer
//! sets a new default card, instead of waiting for the next scheduled retry. The retry brought
//! forward is the next one of the schedule (it counts as that attempt): if the new card fails
//! too, dunning continues with the retries left.

use super::lifecycle::Status;
use chrono::{DateTime, Utc};

/// When the next retry should be, given a new default card: `Some(now)` for a past-due
/// subscription whose retry is still ahead; `None` when nothing changes (not past due, or due
/// already).
pub fn retry_on_new_card(
    status: Status,
    next_retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match (status, next_retry_at) {
        (Status::PastDue, Some(at)) if at > now => Some(now),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn only_a_past_due_retry_still_ahead_is_brought_forward() {
        let now = Utc::now();
        let later = Some(now + Duration::days(3));
        assert_eq!(retry_on_new_card(Status::PastDue, later, now), Some(now));
        assert_eq!(retry_on_new_card(Status::PastDue, Some(now - Duration::seconds(1)), now), None, "due already");
        assert_eq!(retry_on_new_card(Status::PastDue, None, now), None, "dunning exhausted");
        for status in [Status::Active, Status::Incomplete, Status::Canceled, Status::IncompleteExpired] {
            assert_eq!(retry_on_new_card(status, later, now), None, "{status:?}");
        }
    }
}
