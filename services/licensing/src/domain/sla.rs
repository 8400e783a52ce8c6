//! Support tickets against SLA clocks: priorities, statuses, business-hours calendars, pauses,
//! due times and breaches.
//!
//! A target is an amount of working time. P1/P2 count around the clock; P3/P4 count only inside
//! the organisation's business hours, in its IANA time zone (so DST and weekends are where the
//! customer is). Time spent waiting on the customer (or resolved, until reopened) does not count.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::P1, Priority::P2, Priority::P3, Priority::P4];
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "P1" => Some(Priority::P1),
            "P2" => Some(Priority::P2),
            "P3" => Some(Priority::P3),
            "P4" => Some(Priority::P4),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    Open,
    WaitingOnCustomer,
    InProgress,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 5] = [
        TicketStatus::Open,
        TicketStatus::WaitingOnCustomer,
        TicketStatus::InProgress,
        TicketStatus::Resolved,
        TicketStatus::Closed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::WaitingOnCustomer => "waiting_on_customer",
            TicketStatus::InProgress => "in_progress",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(TicketStatus::Open),
            "waiting_on_customer" => Some(TicketStatus::WaitingOnCustomer),
            "in_progress" => Some(TicketStatus::InProgress),
            "resolved" => Some(TicketStatus::Resolved),
            "closed" => Some(TicketStatus::Closed),
            _ => None,
        }
    }
    /// The SLA clock stands still in these statuses.
    pub fn pauses_clock(self) -> bool {
        matches!(self, TicketStatus::WaitingOnCustomer | TicketStatus::Resolved)
    }
}

/// Who changes a ticket: platform support (agents) or the organisation's members (customers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Agent,
    Customer,
}

/// Agents move tickets freely (except out of `closed`, which is final). Customers may close a
/// ticket, and reopen a resolved one or one waiting on them.
pub fn may_transition(from: TicketStatus, to: TicketStatus, actor: Actor) -> bool {
    use TicketStatus as S;
    if from == S::Closed || from == to {
        return false;
    }
    match actor {
        Actor::Agent => true,
        Actor::Customer => matches!((from, to), (_, S::Closed) | (S::Resolved | S::WaitingOnCustomer, S::Open)),
    }
}

/// Business hours: `[start, end)` minutes after local midnight on the days in `days`
/// (bit 0 = Monday .. bit 6 = Sunday), in `tz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    pub tz: Tz,
    pub start_minute: u32,
    pub end_minute: u32,
    pub days: u8,
}

impl BusinessHours {
    pub fn new(tz: Tz, start_minute: u32, end_minute: u32, days: u8) -> Result<Self, &'static str> {
        if start_minute >= end_minute || end_minute > 24 * 60 {
            return Err("business hours must start before they end, within one day");
        }
        if days & 0x7f == 0 || days > 0x7f {
            return Err("at least one business day is needed");
        }
        Ok(Self { tz, start_minute, end_minute, days })
    }

    fn is_business_day(&self, day: NaiveDate) -> bool {
        self.days & (1 << day.weekday().num_days_from_monday()) != 0
    }

    /// The business window that contains `t`, or the next one after it.
    fn window_at_or_after(&self, t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let local_day = t.with_timezone(&self.tz).date_naive();
        // Start a day early: a window of yesterday's local date can still be open at `t`.
        let mut day = local_day.pred_opt().unwrap_or(local_day);
        for _ in 0..10 {
            if self.is_business_day(day) {
                let start = self.at(day, self.start_minute);
                let end = self.at(day, self.end_minute);
                if end > t && end > start {
                    return (start.max(t), end);
                }
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        // Unreachable with at least one business day; never stall the caller.
        (t, t.checked_add_signed(Duration::days(1)).unwrap_or(DateTime::<Utc>::MAX_UTC))
    }

    /// `minute` after local midnight of `day`, as UTC. In a DST gap the wall clock skips ahead
    /// (02:30 that does not exist is 03:30); in an overlap the earlier instant counts.
    fn at(&self, day: NaiveDate, minute: u32) -> DateTime<Utc> {
        let midnight = NaiveDateTime::new(day, NaiveTime::MIN);
        let base = midnight.checked_add_signed(Duration::minutes(i64::from(minute))).unwrap_or(midnight);
        let mut local = base;
        for _ in 0..8 {
            match self.tz.from_local_datetime(&local) {
                LocalResult::Single(x) => return x.with_timezone(&Utc),
                LocalResult::Ambiguous(a, _) => return a.with_timezone(&Utc),
                LocalResult::None => match local.checked_add_signed(Duration::minutes(30)) {
                    Some(next) => local = next,
                    None => break,
                },
            }
        }
        Utc.from_utc_datetime(&base)
    }
}

/// How a target's time counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calendar {
    /// 24x7.
    Continuous,
    Business(BusinessHours),
}

/// A period the clock stood (or stands, `end: None`) still.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// When `target` of working time will have elapsed since `start`, skipping non-working time and
/// pauses. `None` while an open pause holds the clock before the target is reached.
pub fn due_at(calendar: &Calendar, start: DateTime<Utc>, target: Duration, pauses: &[Pause]) -> Option<DateTime<Utc>> {
    let mut t = start;
    let mut remaining = target;
    // Bounded: each turn consumes a window or a pause; a year of windows is far beyond any target.
    for _ in 0..10_000 {
        if let Some(p) = pauses.iter().find(|p| p.start <= t && p.end.is_none_or(|e| e > t)) {
            t = p.end?;
            continue;
        }
        let (window_start, window_end) = match calendar {
            Calendar::Continuous => {
                (t, t.checked_add_signed(Duration::days(36_500)).unwrap_or(DateTime::<Utc>::MAX_UTC))
            }
            Calendar::Business(hours) => hours.window_at_or_after(t),
        };
        if window_start > t {
            t = window_start;
            continue;
        }
        let next_pause = pauses.iter().map(|p| p.start).filter(|s| *s > t).min();
        let segment_end = next_pause.map_or(window_end, |p| p.min(window_end));
        let available = segment_end - t;
        if remaining <= available {
            return t.checked_add_signed(remaining);
        }
        remaining -= available;
        t = segment_end;
    }
    None
}

/// `HH:MM` as minutes after midnight, `00:00` to `24:00`. Each part is range-checked before any
/// arithmetic, so a value such as `99999999:00` is refused, never overflowed.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let digits = |p: &str| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let total = h.checked_mul(60)?.checked_add(m)?;
    (h <= 24 && m < 60 && total <= 24 * 60).then_some(total)
}

/// Whether a target is missed at `now`: met late, or not met and past due.
pub fn is_breached(due: Option<DateTime<Utc>>, met_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match (due, met_at) {
        (Some(due), Some(met)) => met > due,
        (Some(due), None) => now > due,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap_or_default()
    }

    fn nine_to_five(tz: Tz) -> Calendar {
        Calendar::Business(BusinessHours::new(tz, 9 * 60, 17 * 60, 0b001_1111).unwrap_or(BusinessHours {
            tz,
            start_minute: 540,
            end_minute: 1020,
            days: 31,
        }))
    }

    #[test]
    fn hhmm_is_range_checked() {
        assert_eq!(parse_hhmm("09:00"), Some(540));
        assert_eq!(parse_hhmm("9:05"), Some(545));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        for bad in [
            "99999999:00",
            "24:01",
            "25:00",
            "12:60",
            "-1:00",
            "12:-5",
            "+9:00",
            "12",
            ":",
            "",
            "1:2:3",
            "4294967296:00",
        ] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
    }

    #[test]
    fn due_times_near_the_end_of_time_never_overflow() {
        let end = DateTime::<Utc>::MAX_UTC - Duration::minutes(5);
        assert_eq!(due_at(&Calendar::Continuous, end, Duration::hours(1), &[]), None);
        let cal = nine_to_five(Tz::UTC);
        let _ = due_at(&cal, end, Duration::hours(1), &[]);
    }

    #[test]
    fn continuous_targets_ignore_weekends() {
        // Saturday 2030-01-05 23:30 UTC + 1 h.
        let due = due_at(&Calendar::Continuous, utc(2030, 1, 5, 23, 30), Duration::hours(1), &[]);
        assert_eq!(due, Some(utc(2030, 1, 6, 0, 30)));
    }

    #[test]
    fn business_hours_roll_over_the_weekend() {
        // Friday 2030-01-04 16:00 UTC, 8 business hours: 1 h on Friday, 7 h on Monday -> Monday 16:00.
        let cal = nine_to_five(Tz::UTC);
        let due = due_at(&cal, utc(2030, 1, 4, 16, 0), Duration::hours(8), &[]);
        assert_eq!(due, Some(utc(2030, 1, 7, 16, 0)));
        // Opened on Saturday: the clock starts Monday 09:00.
        let due = due_at(&cal, utc(2030, 1, 5, 12, 0), Duration::hours(1), &[]);
        assert_eq!(due, Some(utc(2030, 1, 7, 10, 0)));
        // 24 business hours from Wednesday 09:00 = three full days -> Friday 17:00.
        let due = due_at(&cal, utc(2030, 1, 2, 9, 0), Duration::hours(24), &[]);
        assert_eq!(due, Some(utc(2030, 1, 4, 17, 0)));
        // Ending exactly at closing time stays on that day.
        let due = due_at(&cal, utc(2030, 1, 4, 9, 0), Duration::hours(8), &[]);
        assert_eq!(due, Some(utc(2030, 1, 4, 17, 0)));
    }

    #[test]
    fn business_hours_are_in_the_organisations_time_zone() {
        // New York in January is UTC-5. Friday 16:00 local = 21:00 UTC; 8 business hours ->
        // Monday 16:00 local = 21:00 UTC.
        let cal = nine_to_five(chrono_tz::America::New_York);
        let due = due_at(&cal, utc(2030, 1, 4, 21, 0), Duration::hours(8), &[]);
        assert_eq!(due, Some(utc(2030, 1, 7, 21, 0)));
        // Saturday 02:00 UTC is still Friday 21:00 in New York: after hours, so Monday 09:00 local.
        let due = due_at(&cal, utc(2030, 1, 5, 2, 0), Duration::hours(1), &[]);
        assert_eq!(due, Some(utc(2030, 1, 7, 15, 0)));
        // Tokyo (UTC+9): Friday 2030-01-04 23:00 UTC is already Saturday 08:00 there.
        let cal = nine_to_five(chrono_tz::Asia::Tokyo);
        let due = due_at(&cal, utc(2030, 1, 4, 23, 0), Duration::hours(2), &[]);
        assert_eq!(due, Some(utc(2030, 1, 7, 2, 0)));
    }

    #[test]
    fn business_hours_follow_daylight_saving() {
        // Europe/Berlin switches to summer time on Sunday 2030-03-31. Friday 2030-03-29 16:00
        // local (15:00 UTC, UTC+1) + 2 business hours -> Monday 10:00 local = 08:00 UTC (UTC+2).
        let cal = nine_to_five(chrono_tz::Europe::Berlin);
        let due = due_at(&cal, utc(2030, 3, 29, 15, 0), Duration::hours(2), &[]);
        assert_eq!(due, Some(utc(2030, 4, 1, 8, 0)));
    }

    #[test]
    fn weekend_business_days_can_be_configured() {
        // Sunday to Thursday.
        let hours = BusinessHours::new(Tz::UTC, 8 * 60, 16 * 60, 0b100_1111).ok();
        let cal =
            Calendar::Business(hours.unwrap_or(BusinessHours { tz: Tz::UTC, start_minute: 0, end_minute: 1, days: 1 }));
        // Thursday 2030-01-03 15:00 + 2 h -> Sunday 09:00.
        assert_eq!(due_at(&cal, utc(2030, 1, 3, 15, 0), Duration::hours(2), &[]), Some(utc(2030, 1, 6, 9, 0)));
        assert!(BusinessHours::new(Tz::UTC, 600, 600, 1).is_err());
        assert!(BusinessHours::new(Tz::UTC, 0, 1440, 0).is_err());
    }

    #[test]
    fn waiting_on_the_customer_pauses_the_clock() {
        let start = utc(2030, 1, 7, 10, 0); // Monday
        let target = Duration::hours(1);
        // 20 minutes in, the agent asks the customer; they answer 3 h later.
        let paused = Pause { start: start + Duration::minutes(20), end: Some(start + Duration::minutes(200)) };
        assert_eq!(due_at(&Calendar::Continuous, start, target, &[paused]), Some(start + Duration::minutes(240)));
        // Still waiting: no due time while the clock stands.
        let open = Pause { start: start + Duration::minutes(20), end: None };
        assert_eq!(due_at(&Calendar::Continuous, start, target, &[open]), None);
        // A pause that starts after the target was reached changes nothing.
        let late = Pause { start: start + Duration::minutes(90), end: None };
        assert_eq!(due_at(&Calendar::Continuous, start, target, &[late]), Some(start + target));
        // Pauses and business hours together: Friday 16:00 + 2 bh with a pause 16:30-Monday 10:00
        // -> 30 min on Friday, the rest from Monday 10:00 -> Monday 11:30.
        let cal = nine_to_five(Tz::UTC);
        let pause = Pause { start: utc(2030, 1, 4, 16, 30), end: Some(utc(2030, 1, 7, 10, 0)) };
        assert_eq!(due_at(&cal, utc(2030, 1, 4, 16, 0), Duration::hours(2), &[pause]), Some(utc(2030, 1, 7, 11, 30)));
        // Several pauses add up.
        let pauses = [
            Pause { start: start + Duration::minutes(10), end: Some(start + Duration::minutes(20)) },
            Pause { start: start + Duration::minutes(30), end: Some(start + Duration::minutes(60)) },
        ];
        assert_eq!(due_at(&Calendar::Continuous, start, target, &pauses), Some(start + Duration::minutes(100)));
    }

    #[test]
    fn breaches() {
        let due = Some(utc(2030, 1, 7, 10, 0));
        assert!(!is_breached(due, None, utc(2030, 1, 7, 10, 0)));
        assert!(is_breached(due, None, utc(2030, 1, 7, 10, 1)));
        assert!(!is_breached(due, Some(utc(2030, 1, 7, 9, 0)), utc(2030, 1, 8, 0, 0)));
        assert!(is_breached(due, Some(utc(2030, 1, 7, 10, 1)), utc(2030, 1, 8, 0, 0)));
        assert!(!is_breached(None, None, utc(2031, 1, 1, 0, 0)));
    }

    #[test]
    fn who_may_move_a_ticket() {
        use TicketStatus as S;
        assert!(may_transition(S::Open, S::InProgress, Actor::Agent));
        assert!(may_transition(S::InProgress, S::WaitingOnCustomer, Actor::Agent));
        assert!(!may_transition(S::Closed, S::Open, Actor::Agent));
        assert!(!may_transition(S::Open, S::Open, Actor::Agent));
        assert!(may_transition(S::Resolved, S::Open, Actor::Customer));
        assert!(may_transition(S::InProgress, S::Closed, Actor::Customer));
        assert!(!may_transition(S::Open, S::Resolved, Actor::Customer));
        assert!(!may_transition(S::Open, S::InProgress, Actor::Customer));
        assert!(S::WaitingOnCustomer.pauses_clock() && S::Resolved.pauses_clock() && !S::Open.pauses_clock());
    }
}
