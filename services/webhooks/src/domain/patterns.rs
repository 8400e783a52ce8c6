//! Which events an endpoint wants: catalog event types, or every type of one service
//! (`billing.*`). Patterns are checked against `events::catalog` when an endpoint is saved, so a
//! typo is refused instead of silently matching nothing.

/// Why a pattern is refused, or `None` when it names catalog events.
pub fn check(pattern: &str, catalog: &[&str]) -> Option<String> {
    match pattern.strip_suffix(".*") {
        Some(service) if !service.is_empty() && !service.contains('.') => {
            let prefix = format!("{service}.");
            if catalog.iter().any(|t| t.starts_with(&prefix)) {
                None
            } else {
                Some(format!("no event of the catalog comes from {service:?}"))
            }
        }
        Some(_) => Some(format!("{pattern:?}: a wildcard names one service, like billing.*")),
        None if catalog.contains(&pattern) => None,
        None => Some(format!("{pattern:?} is not an event type of the catalog (or a wildcard like billing.*)")),
    }
}

/// Whether `event_type` is wanted by any of `patterns`.
pub fn matches(patterns: &[String], event_type: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix),
        None => p == event_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &[&str] = &["billing.payment.succeeded.v1", "rewards.tokens.awarded.v1"];

    #[test]
    fn accepts_types_and_service_wildcards_only() {
        assert_eq!(check("billing.payment.succeeded.v1", CATALOG), None);
        assert_eq!(check("billing.*", CATALOG), None);
        assert!(check("billing.payment.*", CATALOG).is_some());
        assert!(check("nobody.*", CATALOG).is_some());
        assert!(check("*", CATALOG).is_some());
        assert!(check(".*", CATALOG).is_some());
        assert!(check("billing.payment.succeeded.v2", CATALOG).is_some());
    }

    #[test]
    fn matching() {
        let p = vec!["billing.*".to_string(), "rewards.tokens.awarded.v1".to_string()];
        assert!(matches(&p, "billing.payment.succeeded.v1"));
        assert!(matches(&p, "rewards.tokens.awarded.v1"));
        assert!(!matches(&p, "rewards.tokens.redeemed.v1"));
        assert!(!matches(&p, "billingx.payment.succeeded.v1"));
    }
}
