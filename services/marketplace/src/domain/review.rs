//! Review rules: rating range, text limits, the exact average.

use platform::problem::FieldError;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

pub const MAX_BODY: usize = 4_000;
pub const MAX_REPLY: usize = 2_000;

/// Order of a course's reviews: newest first, or most helpful first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewSort {
    Newest,
    Helpful,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// A whole number from 1 to 5.
    #[schema(minimum = 1, maximum = 5, example = 5)]
    pub rating: i64,
    /// At most 4000 characters; may be empty.
    #[serde(default)]
    pub body: String,
}

impl ReviewInput {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if !(1..=5).contains(&self.rating) {
            e.push(FieldError { field: "rating".into(), message: "must be a whole number from 1 to 5".into() });
        }
        if self.body.chars().count() > MAX_BODY {
            e.push(FieldError { field: "body".into(), message: format!("must be at most {MAX_BODY} characters") });
        }
        e
    }
}

pub fn validate_reply(text: &str) -> Vec<FieldError> {
    let n = text.trim().chars().count();
    if n == 0 || n > MAX_REPLY {
        vec![FieldError { field: "body".into(), message: format!("must be 1-{MAX_REPLY} characters") }]
    } else {
        Vec::new()
    }
}

/// The average of `count` ratings summing to `sum`, to two decimals (half-even); `None` unrated.
pub fn average(sum: i64, count: i32) -> Option<Decimal> {
    (count > 0).then(|| {
        let mut avg = (Decimal::from(sum) / Decimal::from(count))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
        avg.rescale(2);
        avg
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_and_text_limits() {
        assert!(ReviewInput { rating: 5, body: "great".into() }.validate().is_empty());
        assert!(ReviewInput { rating: 1, body: String::new() }.validate().is_empty());
        assert_eq!(ReviewInput { rating: 0, body: String::new() }.validate()[0].field, "rating");
        assert_eq!(ReviewInput { rating: 6, body: String::new() }.validate()[0].field, "rating");
        assert_eq!(ReviewInput { rating: 3, body: "x".repeat(MAX_BODY + 1) }.validate()[0].field, "body");
        assert!(!validate_reply("  ").is_empty());
        assert!(validate_reply("thanks").is_empty());
    }

    #[test]
    fn average_is_exact_to_two_decimals() {
        assert_eq!(average(0, 0), None);
        assert_eq!(average(171, 50), Some(Decimal::new(342, 2)));
        assert_eq!(average(10, 3), Some(Decimal::new(333, 2)));
        assert_eq!(average(5, 1), Some(Decimal::from(5)));
    }
}
