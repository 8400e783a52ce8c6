//! Input rules for request bodies, collected as field errors so a client sees every problem at once.

use platform::problem::FieldError;

/// The largest single admin award: a typo should not mint a fortune.
pub const MAX_AWARD: i64 = 1_000_000;
pub const MAX_REASON: usize = 500;
pub const MAX_DISPLAY_NAME: usize = 50;

fn error(field: &str, message: &str) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

pub fn award(amount: i64, reason: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !(1..=MAX_AWARD).contains(&amount) {
        errors.push(error("amount", &format!("must be a whole number of tokens from 1 to {MAX_AWARD}")));
    }
    errors.extend(reason_errors(reason));
    errors
}

fn reason_errors(reason: &str) -> Option<FieldError> {
    let trimmed = reason.trim();
    if trimmed.is_empty() {
        Some(error("reason", "is required"))
    } else if trimmed.chars().count() > MAX_REASON {
        Some(error("reason", &format!("must be at most {MAX_REASON} characters")))
    } else {
        None
    }
}

/// A display name: trimmed, 1-50 characters, no control characters. `None` clears it.
pub fn display_name(name: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(name) = name else { return Ok(None) };
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_DISPLAY_NAME {
        return Err(error("display_name", &format!("must be 1 to {MAX_DISPLAY_NAME} characters, or null")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(error("display_name", "must not contain control characters"));
    }
    Ok(Some(trimmed.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn award_needs_a_positive_bounded_amount_and_a_reason() {
        assert!(award(10, "Hackathon winner").is_empty());
        let fields: Vec<String> = award(0, "  ").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["amount", "reason"]);
        assert_eq!(award(-5, "x").len(), 1);
        assert_eq!(award(MAX_AWARD + 1, "x").len(), 1);
        assert_eq!(award(1, &"x".repeat(501)).len(), 1);
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(display_name(Some("  Ada ")).ok().flatten().as_deref(), Some("Ada"));
        assert_eq!(display_name(None).ok().flatten(), None);
        assert!(display_name(Some("")).is_err());
        assert!(display_name(Some(&"a".repeat(51))).is_err());
        assert!(display_name(Some("a\u{0}b")).is_err());
    }
}
