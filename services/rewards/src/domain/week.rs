//! ISO 8601 weeks in UTC: weeks start Monday 00:00 UTC, and week 1 holds the year's first Thursday.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u32,
}

impl IsoWeek {
    pub fn of(at: DateTime<Utc>) -> Self {
        let w = at.iso_week();
        IsoWeek { year: w.year(), week: w.week() }
    }

    /// Monday 00:00 UTC of this week.
    pub fn starts_at(&self) -> Option<DateTime<Utc>> {
        let monday = NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)?;
        Some(Utc.from_utc_datetime(&monday.and_hms_opt(0, 0, 0)?))
    }

    /// The key of this week's board in the score histogram.
    pub fn board(&self) -> String {
        format!("week:{self}")
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

impl FromStr for IsoWeek {
    type Err = String;

    /// `2026-W48`; the week must exist in that year (W53 only in long years).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an ISO week like 2026-W48");
        let (year, week) = s.split_once("-W").ok_or_else(bad)?;
        if year.len() != 4 || week.len() != 2 {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let week: u32 = week.parse().map_err(|_| bad())?;
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(|| format!("{s} does not exist"))?;
        Ok(IsoWeek { year, week })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn the_week_turns_at_monday_midnight_utc() {
        let sunday_late = at("2026-11-29T23:59:59.999Z");
        let monday = at("2026-11-30T00:00:00Z");
        assert_eq!(IsoWeek::of(sunday_late).to_string(), "2026-W48");
        assert_eq!(IsoWeek::of(monday).to_string(), "2026-W49");
        assert_eq!(IsoWeek::of(monday).starts_at(), Some(monday));
    }

    #[test]
    fn year_boundaries_follow_iso_rules() {
        assert_eq!(IsoWeek::of(at("2021-01-03T12:00:00Z")).to_string(), "2020-W53");
        assert_eq!(IsoWeek::of(at("2024-12-30T00:00:00Z")).to_string(), "2025-W01");
        assert_eq!(IsoWeek::of(at("2026-01-01T00:00:00Z")).to_string(), "2026-W01");
    }

    #[test]
    fn parsing_round_trips_and_refuses_nonsense() {
        let w: IsoWeek = "2026-W48".parse().unwrap_or(IsoWeek { year: 0, week: 0 });
        assert_eq!(w, IsoWeek { year: 2026, week: 48 });
        assert_eq!(w.to_string(), "2026-W48");
        assert!("2020-W53".parse::<IsoWeek>().is_ok());
        for bad in ["2026-W54", "2025-W53", "2026-W00", "2026W48", "2026-48", "26-W48", "2026-W4", ""] {
            assert!(bad.parse::<IsoWeek>().is_err(), "{bad}");
        }
    }
}
