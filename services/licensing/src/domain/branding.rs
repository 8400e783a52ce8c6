//! White-label branding: what an organisation may put in front of its members.

use platform::problem::FieldError;

pub struct BrandingInput<'a> {
    pub display_name: &'a str,
    pub logo_url: Option<&'a str>,
    pub primary_color: Option<&'a str>,
    pub secondary_color: Option<&'a str>,
    pub support_email: Option<&'a str>,
    pub custom_domain: Option<&'a str>,
}

/// Every problem with the input, each naming its field.
pub fn validate(input: &BrandingInput<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: &str| {
        errors.push(FieldError { field: field.into(), message: message.into() });
    };
    let name = input.display_name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        fail("display_name", "must be 1-100 characters");
    }
    if let Some(url) = input.logo_url {
        if !is_https_url(url) {
            fail("logo_url", "must be an https:// URL");
        }
    }
    for (field, value) in [("primary_color", input.primary_color), ("secondary_color", input.secondary_color)] {
        if value.is_some_and(|v| !is_hex_color(v)) {
            fail(field, "must be a hex colour #RRGGBB");
        }
    }
    if input.support_email.is_some_and(|e| !is_email(e)) {
        fail("support_email", "must be an email address");
    }
    if input.custom_domain.is_some_and(|d| !is_domain(d)) {
        fail("custom_domain", "must be a domain name such as learn.example.com");
    }
    errors
}

/// The label under a custom domain whose TXT record proves control of it:
/// `_monetization-verification.learn.acme.com`.
pub const VERIFICATION_LABEL: &str = "_monetization-verification";

pub fn verification_name(domain: &str) -> String {
    format!("{VERIFICATION_LABEL}.{domain}")
}

/// Whether one of the TXT values of the verification name is the claim's token.
pub fn proves(txt_values: &[String], token: &str) -> bool {
    !token.is_empty() && txt_values.iter().any(|v| v.trim() == token)
}

/// What a branding update does to the organisation's custom domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainChange {
    /// No custom domain (any verified one stops being served, any claim is dropped).
    Clear,
    /// The domain it already verified: nothing to prove again.
    KeepVerified,
    /// The domain it already claimed: keep the token, so a TXT record already published still counts.
    KeepPending,
    /// A new claim: stored unverified with a fresh token, never served until verified.
    Claim,
}

pub fn domain_change(requested: Option<&str>, verified: Option<&str>, pending: Option<&str>) -> DomainChange {
    match requested {
        None => DomainChange::Clear,
        Some(d) if verified == Some(d) => DomainChange::KeepVerified,
        Some(d) if pending == Some(d) => DomainChange::KeepPending,
        Some(_) => DomainChange::Claim,
    }
}

/// `#RRGGBB`, stored upper case.
pub fn is_hex_color(v: &str) -> bool {
    v.len() == 7 && v.starts_with('#') && v[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn normalize_color(v: &str) -> String {
    v.to_ascii_uppercase()
}

/// `https://host[:port]/path`, no credentials, no whitespace or control characters.
pub fn is_https_url(url: &str) -> bool {
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return false,
        None => authority,
    };
    is_domain(&host.to_ascii_lowercase())
}

/// A lower-case DNS name with at least two labels.
pub fn is_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels.last().is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_lowercase()))
}

pub fn is_email(e: &str) -> bool {
    let Some((local, domain)) = e.rsplit_once('@') else { return false };
    !local.is_empty()
        && local.len() <= 64
        && !local.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@')
        && is_domain(&domain.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>() -> BrandingInput<'a> {
        BrandingInput {
            display_name: "Acme Academy",
            logo_url: Some("https://cdn.acme.com/logo.png"),
            primary_color: Some("#1A2B3C"),
            secondary_color: Some("#ffffff"),
            support_email: Some("help@acme.com"),
            custom_domain: Some("learn.acme.com"),
        }
    }

    #[test]
    fn valid_branding_passes() {
        assert!(validate(&input()).is_empty());
        assert!(validate(&BrandingInput {
            logo_url: None,
            primary_color: None,
            secondary_color: None,
            support_email: None,
            custom_domain: None,
            ..input()
        })
        .is_empty());
    }

    #[test]
    fn refuses_http_logos_and_bad_colours() {
        let bad = BrandingInput {
            logo_url: Some("http://cdn.acme.com/logo.png"),
            primary_color: Some("#12345"),
            secondary_color: Some("red"),
            ..input()
        };
        let fields: Vec<String> = validate(&bad).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["logo_url", "primary_color", "secondary_color"]);
        for url in ["javascript:alert(1)", "https://user@evil.com/x", "https:///x", "https://a b.com/", "//cdn.com/x"] {
            assert!(!is_https_url(url), "{url}");
        }
        assert!(is_https_url("https://cdn.acme.com:8443/a/b.svg?v=1"));
        for c in ["#GGGGGG", "123456", "#1234567", "#12345G"] {
            assert!(!is_hex_color(c), "{c}");
        }
    }

    #[test]
    fn custom_domain_changes_and_proofs() {
        use DomainChange as C;
        assert_eq!(domain_change(None, Some("a.com"), None), C::Clear);
        assert_eq!(domain_change(Some("a.com"), Some("a.com"), Some("b.com")), C::KeepVerified);
        assert_eq!(domain_change(Some("b.com"), Some("a.com"), Some("b.com")), C::KeepPending);
        assert_eq!(domain_change(Some("c.com"), Some("a.com"), Some("b.com")), C::Claim);
        assert_eq!(domain_change(Some("c.com"), None, None), C::Claim);
        assert_eq!(verification_name("learn.acme.com"), "_monetization-verification.learn.acme.com");
        assert!(proves(&["other".into(), " tok ".into()], "tok"));
        assert!(!proves(&["tok-longer".into()], "tok"));
        assert!(!proves(&[String::new()], ""));
        assert!(!proves(&[], "tok"));
    }

    #[test]
    fn domains_and_emails() {
        assert!(is_domain("learn.acme.com"));
        assert!(!is_domain("localhost"));
        assert!(!is_domain("Acme.com"));
        assert!(!is_domain("-a.com"));
        assert!(!is_domain("a..com"));
        assert!(!is_domain("1.2.3.4"));
        assert!(is_email("help@acme.com"));
        assert!(!is_email("help@"));
        assert!(!is_email("help acme.com"));
    }
}
