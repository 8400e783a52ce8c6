//! The range of times this API takes from clients (request fields, decoded cursors).
//!
//! chrono decodes years from -262143 to +262143, PostgreSQL stores 4713 BC to 294276 AD, and the
//! SLA clock adds working time to them: a time outside a sane window would surface as a database
//! error (500) or an overflow. Years 1970 to 9999 cover every real license, ticket and cursor.

use chrono::{DateTime, Datelike, Utc};

pub const MIN_YEAR: i32 = 1970;
pub const MAX_YEAR: i32 = 9999;

pub fn in_range(t: DateTime<Utc>) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&t.year())
}

/// The field error message for a time out of range.
pub const OUT_OF_RANGE: &str = "must be a time between the years 1970 and 9999";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn window() {
        assert!(in_range(Utc::now()));
        assert!(in_range(Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap()));
        assert!(!in_range(Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap()));
        assert!(!in_range(Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap()));
        assert!(!in_range(DateTime::<Utc>::MIN_UTC));
        assert!(!in_range(DateTime::<Utc>::MAX_UTC));
    }
}
