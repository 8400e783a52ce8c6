//! Monthly billing periods anchored on the start day: a subscription started on the 31st renews
//! on the 30th in 30-day months, the 28th/29th in February, and the 31st again when it can.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

fn last_day_of_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1).and_then(|d| d.pred_opt()).map(|d| d.day()).unwrap_or(28)
}

/// The period end after `start`: one month later on `anchor_day`, clamped to the month's last day,
/// at the same time of day.
pub fn next_period_end(start: DateTime<Utc>, anchor_day: u32) -> DateTime<Utc> {
    let (year, month) = if start.month() == 12 { (start.year() + 1, 1) } else { (start.year(), start.month() + 1) };
    let day = anchor_day.min(last_day_of_month(year, month));
    NaiveDate::from_ymd_opt(year, month, day)
        .map(|d| d.and_time(start.time()).and_utc())
        .unwrap_or(start + chrono::Duration::days(30))
}

/// The end of `periods` whole periods from `start` (on `anchor_day`): when a pause of that many
/// periods, starting at the end of the paid period, resumes.
pub fn end_after_periods(start: DateTime<Utc>, anchor_day: u32, periods: u32) -> DateTime<Utc> {
    (0..periods).fold(start, |end, _| next_period_end(end, anchor_day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 10, 30, 0).single().expect("date")
    }

    #[test]
    fn anchored_on_the_31st() {
        let mut end = at(2026, 1, 31);
        let mut ends = Vec::new();
        for _ in 0..4 {
            end = next_period_end(end, 31);
            ends.push(end);
        }
        assert_eq!(ends, vec![at(2026, 2, 28), at(2026, 3, 31), at(2026, 4, 30), at(2026, 5, 31)]);
    }

    #[test]
    fn leap_february_and_year_end() {
        assert_eq!(next_period_end(at(2028, 1, 30), 30), at(2028, 2, 29));
        assert_eq!(next_period_end(at(2026, 12, 15), 15), at(2027, 1, 15));
        assert_eq!(next_period_end(at(2026, 2, 28), 29), at(2026, 3, 29));
    }

    #[test]
    fn a_pause_resumes_whole_periods_later_on_the_anchor_day() {
        assert_eq!(end_after_periods(at(2026, 1, 31), 31, 0), at(2026, 1, 31));
        assert_eq!(end_after_periods(at(2026, 1, 31), 31, 1), at(2026, 2, 28));
        assert_eq!(end_after_periods(at(2026, 1, 31), 31, 3), at(2026, 4, 30));
        assert_eq!(end_after_periods(at(2026, 11, 15), 15, 3), at(2027, 2, 15));
    }
}
