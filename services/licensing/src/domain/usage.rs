//! Seat utilisation: alert thresholds and the daily series.

use chrono::NaiveDate;

/// Utilisation thresholds that raise an alert, in percent.
pub const THRESHOLDS: [u8; 2] = [75, 100];

/// The highest threshold reached by `used` of `seats` (0 if none).
pub fn level(used: i32, seats: i32) -> u8 {
    if seats <= 0 {
        return 0;
    }
    // Integer math: 75% of 10 seats is reached at 8 (7.5 rounds up), never by a float.
    let used = i64::from(used) * 100;
    THRESHOLDS.iter().rev().copied().find(|t| used >= i64::from(*t) * i64::from(seats)).unwrap_or(0)
}

/// Compare against the level last announced: the new level to store and the thresholds crossed
/// upward (to announce). Falling below a threshold re-arms it.
pub fn crossings(announced: u8, used: i32, seats: i32) -> (u8, Vec<u8>) {
    let now = level(used, seats);
    let crossed = THRESHOLDS.iter().copied().filter(|t| *t > announced && *t <= now).collect();
    (now, crossed)
}

/// Whole-percent utilisation, rounded down (100 only when every seat is taken).
pub fn percent(used: i32, seats: i32) -> u32 {
    if seats <= 0 {
        return 0;
    }
    (i64::from(used.max(0)) * 100 / i64::from(seats)) as u32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayUsage {
    pub day: NaiveDate,
    pub seats_used: i32,
    pub peak: i32,
}

/// One point per day from `from` to `to` inclusive. A day without a row (no change and no
/// snapshot, e.g. the service was down) carries the previous day's closing value; days before
/// the first known value are left out.
pub fn fill_series(rows: &[DayUsage], from: NaiveDate, to: NaiveDate) -> Vec<DayUsage> {
    let mut out = Vec::new();
    let mut carry: Option<i32> = None;
    let mut rows = rows.iter().peekable();
    let mut day = from;
    while day <= to {
        while rows.peek().is_some_and(|r| r.day < day) {
            carry = rows.next().map(|r| r.seats_used);
        }
        match rows.peek() {
            Some(r) if r.day == day => {
                out.push(**r);
                carry = Some(r.seats_used);
                rows.next();
            }
            _ => {
                if let Some(used) = carry {
                    out.push(DayUsage { day, seats_used: used, peak: used });
                }
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level(0, 10), 0);
        assert_eq!(level(7, 10), 0);
        assert_eq!(level(8, 10), 75);
        assert_eq!(level(9, 10), 75);
        assert_eq!(level(10, 10), 100);
        assert_eq!(level(3, 4), 75);
        assert_eq!(level(1, 1), 100);
    }

    #[test]
    fn each_crossing_is_announced_once() {
        assert_eq!(crossings(0, 7, 10), (0, vec![]));
        assert_eq!(crossings(0, 8, 10), (75, vec![75]));
        assert_eq!(crossings(75, 9, 10), (75, vec![]));
        assert_eq!(crossings(75, 10, 10), (100, vec![100]));
        assert_eq!(crossings(100, 10, 10), (100, vec![]));
        // Falling below re-arms; a jump announces every threshold passed.
        assert_eq!(crossings(100, 9, 10), (75, vec![]));
        assert_eq!(crossings(75, 10, 10), (100, vec![100]));
        assert_eq!(crossings(0, 1, 1), (100, vec![75, 100]));
        // Cutting seats can cross a threshold without any activation.
        assert_eq!(crossings(0, 6, 8), (75, vec![75]));
    }

    #[test]
    fn percent_rounds_down() {
        assert_eq!(percent(10, 10), 100);
        assert_eq!(percent(2, 3), 66);
        assert_eq!(percent(0, 3), 0);
    }

    #[test]
    fn series_carries_gaps_forward() {
        let d = |n| NaiveDate::from_ymd_opt(2030, 1, n).unwrap_or_default();
        let rows = [DayUsage { day: d(2), seats_used: 3, peak: 4 }, DayUsage { day: d(5), seats_used: 1, peak: 3 }];
        let s = fill_series(&rows, d(1), d(6));
        let used: Vec<(u32, i32, i32)> =
            s.iter().map(|u| (chrono::Datelike::day(&u.day), u.seats_used, u.peak)).collect();
        assert_eq!(used, vec![(2, 3, 4), (3, 3, 3), (4, 3, 3), (5, 1, 3), (6, 1, 1)]);
        // A row before the window seeds the carry.
        let s = fill_series(&rows, d(3), d(3));
        assert_eq!(s, vec![DayUsage { day: d(3), seats_used: 3, peak: 3 }]);
    }
}
