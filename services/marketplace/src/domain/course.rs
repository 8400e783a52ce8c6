//! What a course is allowed to look like: metadata validation and the package type check.

use platform::money::Money;
use platform::problem::FieldError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub const DRAFT: &str = "draft";
pub const PUBLISHED: &str = "published";
pub const UNPUBLISHED: &str = "unpublished";

pub const LEVELS: &[&str] = &["beginner", "intermediate", "advanced", "all_levels"];
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_LEN: usize = 30;
/// The most a course may cost, in major units of its currency.
const MAX_PRICE: i64 = 100_000;

/// The metadata part of an upload (sent as a JSON string in the `metadata` form part).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseMetadata {
    /// 3-200 characters.
    #[schema(example = "Rust for payments")]
    pub title: String,
    /// 1-20000 characters.
    pub description: String,
    /// 1-50 lower-case letters, digits or hyphens.
    #[schema(example = "programming")]
    pub category: String,
    /// `beginner`, `intermediate`, `advanced` or `all_levels`.
    #[schema(example = "beginner")]
    pub level: String,
    /// ISO 639-1, optionally with a region: `en`, `pt-BR`.
    #[schema(example = "en")]
    pub language: String,
    /// At most 10 tags of 1-30 characters; stored trimmed, lower-case, without duplicates.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The primary price: the catalogue's, and what a purchase naming no currency pays.
    /// `{"amount": "0", ...}` makes the course free.
    pub price: Money,
    /// Prices in other currencies (USD, EUR, GBP, BRL; one each, not the primary's), which a
    /// purchase may name. A free course has none.
    #[serde(default)]
    pub prices: Vec<Money>,
}

/// `PATCH /api/courses/{id}`: every field optional, with the rules of [`CourseMetadata`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoursePatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub level: Option<String>,
    pub language: Option<String>,
    pub tags: Option<Vec<String>>,
    pub price: Option<Money>,
    /// Replaces the prices in other currencies (`[]` removes them). A price in the primary's
    /// currency is dropped when the primary changes to it; a course made free keeps none.
    pub prices: Option<Vec<Money>>,
}

fn push(errors: &mut Vec<FieldError>, field: &str, message: &str) {
    errors.push(FieldError { field: field.into(), message: message.into() });
}

fn check_len(errors: &mut Vec<FieldError>, field: &str, value: &str, min: usize, max: usize) {
    let n = value.trim().chars().count();
    if n < min || n > max {
        push(errors, field, &format!("must be {min}-{max} characters"));
    }
}

fn check_title(e: &mut Vec<FieldError>, v: &str) {
    check_len(e, "title", v, 3, 200);
}
fn check_description(e: &mut Vec<FieldError>, v: &str) {
    check_len(e, "description", v, 1, 20_000);
}
fn check_category(e: &mut Vec<FieldError>, v: &str) {
    let ok =
        (1..=50).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        push(e, "category", "must be 1-50 lower-case letters, digits or hyphens");
    }
}
fn check_level(e: &mut Vec<FieldError>, v: &str) {
    if !LEVELS.contains(&v) {
        push(e, "level", "must be one of beginner, intermediate, advanced, all_levels");
    }
}
/// ISO 639-1, optionally with a region: `en`, `pt-BR`.
pub fn is_language(v: &str) -> bool {
    let b = v.as_bytes();
    match b.len() {
        2 => b.iter().all(u8::is_ascii_lowercase),
        5 => b[..2].iter().all(u8::is_ascii_lowercase) && b[2] == b'-' && b[3..].iter().all(u8::is_ascii_uppercase),
        _ => false,
    }
}
fn check_language(e: &mut Vec<FieldError>, v: &str) {
    if !is_language(v) {
        push(e, "language", "must be an ISO 639-1 code such as en or pt-BR");
    }
}
fn check_tags(e: &mut Vec<FieldError>, tags: &[String]) {
    if tags.len() > MAX_TAGS {
        push(e, "tags", &format!("at most {MAX_TAGS} tags"));
    }
    if tags.iter().any(|t| t.trim().is_empty() || t.chars().count() > MAX_TAG_LEN) {
        push(e, "tags", &format!("each tag must be 1-{MAX_TAG_LEN} characters"));
    }
}
fn check_price(e: &mut Vec<FieldError>, price: &Money) {
    if price.amount < Decimal::ZERO {
        push(e, "price", "must not be negative");
    } else if price.amount > Decimal::from(MAX_PRICE) {
        push(e, "price", &format!("must be at most {MAX_PRICE}"));
    } else if Money::new(price.amount, price.currency).is_err() {
        push(e, "price", &format!("has more decimals than {} allows", price.currency));
    }
}

/// The other-currency prices: supported currencies, one each, positive, not the primary's
/// currency (when known), none for a free course.
fn check_prices(e: &mut Vec<FieldError>, primary: Option<&Money>, prices: &[Money]) {
    let mut seen = Vec::new();
    for p in prices {
        let code = p.currency.code();
        if !p.currency.is_price_currency() {
            push(e, "prices", &format!("{code}: courses are priced in USD, EUR, GBP or BRL only"));
        } else if seen.contains(&code) || primary.is_some_and(|m| m.currency == p.currency) {
            push(e, "prices", &format!("{code}: one price per currency, the primary price's currency not again"));
        } else if p.amount <= Decimal::ZERO {
            push(e, "prices", &format!("{code}: must be positive (a course is free in every currency or none)"));
        } else if p.amount > Decimal::from(MAX_PRICE) || Money::new(p.amount, p.currency).is_err() {
            push(e, "prices", &format!("{code}: at most {MAX_PRICE}, on the currency's minor unit"));
        }
        seen.push(code);
    }
    if primary.is_some_and(|m| m.amount.is_zero()) && !prices.is_empty() {
        push(e, "prices", "a free course has no other prices");
    }
}

/// A patch's other-currency prices against the primary price the course has after the patch.
pub fn check_other_prices(primary: &Money, prices: &[Money]) -> Vec<FieldError> {
    let mut e = Vec::new();
    check_prices(&mut e, Some(primary), prices);
    e
}

impl CourseMetadata {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        check_title(&mut e, &self.title);
        check_description(&mut e, &self.description);
        check_category(&mut e, &self.category);
        check_level(&mut e, &self.level);
        check_language(&mut e, &self.language);
        check_tags(&mut e, &self.tags);
        check_price(&mut e, &self.price);
        check_prices(&mut e, Some(&self.price), &self.prices);
        e
    }

    pub fn normalized_tags(&self) -> Vec<String> {
        normalize_tags(&self.tags)
    }
}

impl CoursePatch {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if let Some(v) = &self.title {
            check_title(&mut e, v);
        }
        if let Some(v) = &self.description {
            check_description(&mut e, v);
        }
        if let Some(v) = &self.category {
            check_category(&mut e, v);
        }
        if let Some(v) = &self.level {
            check_level(&mut e, v);
        }
        if let Some(v) = &self.language {
            check_language(&mut e, v);
        }
        if let Some(v) = &self.tags {
            check_tags(&mut e, v);
        }
        if let Some(v) = &self.price {
            check_price(&mut e, v);
        }
        if let Some(v) = &self.prices {
            check_prices(&mut e, self.price.as_ref(), v);
        }
        e
    }
}

/// Tags are matched case-insensitively: stored trimmed, lower-case, without duplicates.
pub fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Whether a package's first bytes match its declared type: a client could lie in the header.
pub fn content_matches(content_type: &str, head: &[u8]) -> bool {
    match content_type {
        "application/zip" | "application/x-zip-compressed" => {
            head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
        }
        "application/pdf" => head.starts_with(b"%PDF-"),
        "application/gzip" | "application/x-gzip" => head.starts_with(&[0x1f, 0x8b]),
        "video/mp4" => head.len() >= 8 && &head[4..8] == b"ftyp",
        // A type an operator allowed without a known signature: the declared type is all we have.
        _ => true,
    }
}

/// Bytes needed to tell a package's type.
pub const SNIFF_LEN: usize = 16;

/// A stored file name: the client's, reduced to safe characters (it is only ever shown back).
pub fn safe_filename(name: Option<&str>) -> String {
    let base = name.unwrap_or("package").rsplit(['/', '\\']).next().unwrap_or("package");
    let cleaned: String =
        base.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(100).collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "package".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::money::Currency;

    fn meta() -> CourseMetadata {
        CourseMetadata {
            title: "Rust for payments".into(),
            description: "Build a payment system".into(),
            category: "programming".into(),
            level: "beginner".into(),
            language: "en".into(),
            tags: vec!["Rust".into(), "rust ".into(), "payments".into()],
            price: Money::new(Decimal::new(999, 2), Currency::USD).expect("money"),
            prices: vec![],
        }
    }

    #[test]
    fn valid_metadata_passes_and_tags_normalize() {
        assert!(meta().validate().is_empty());
        assert_eq!(meta().normalized_tags(), vec!["rust", "payments"]);
    }

    #[test]
    fn every_invalid_field_is_named() {
        let bad = CourseMetadata {
            title: "x".into(),
            description: " ".into(),
            category: "Not A Slug".into(),
            level: "expert".into(),
            language: "english".into(),
            tags: (0..11).map(|i| format!("t{i}")).collect(),
            price: Money { amount: Decimal::new(-1, 0), currency: Currency::USD },
            prices: vec![],
        };
        let fields: Vec<String> = bad.validate().into_iter().map(|e| e.field).collect();
        for f in ["title", "description", "category", "level", "language", "tags", "price"] {
            assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
        }
        let precise =
            CourseMetadata { price: Money { amount: Decimal::new(9999, 3), currency: Currency::USD }, ..meta() };
        assert_eq!(precise.validate()[0].field, "price");
    }

    #[test]
    fn other_currency_prices_are_one_per_supported_currency_and_never_on_a_free_course() {
        let m = |a: i64, c: &str| Money::new(Decimal::new(a, 2), c.parse().expect("currency")).expect("money");
        let ok = CourseMetadata { prices: vec![m(899, "EUR"), m(4990, "BRL")], ..meta() };
        assert!(ok.validate().is_empty());
        for prices in [vec![m(899, "EUR"), m(999, "EUR")], vec![m(999, "USD")], vec![m(1000, "JPY")], vec![m(0, "GBP")]]
        {
            let bad = CourseMetadata { prices: prices.clone(), ..meta() };
            assert_eq!(bad.validate().first().map(|e| e.field.as_str()), Some("prices"), "{prices:?}");
        }
        let free = CourseMetadata { price: m(0, "USD"), prices: vec![m(899, "EUR")], ..meta() };
        assert_eq!(free.validate()[0].field, "prices");
    }

    #[test]
    fn languages() {
        assert!(is_language("en") && is_language("pt-BR"));
        assert!(!is_language("EN") && !is_language("eng") && !is_language("pt-br"));
    }

    #[test]
    fn declared_type_must_match_the_bytes() {
        assert!(content_matches("application/zip", b"PK\x03\x04rest"));
        assert!(!content_matches("application/zip", b"%PDF-1.7"));
        assert!(content_matches("application/pdf", b"%PDF-1.7"));
        assert!(content_matches("video/mp4", b"\0\0\0\x18ftypmp42"));
        assert!(!content_matches("video/mp4", b"PK\x03\x04"));
    }

    #[test]
    fn filenames_are_reduced_to_safe_characters() {
        assert_eq!(safe_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(safe_filename(Some("C:\\x\\my course.zip")), "mycourse.zip");
        assert_eq!(safe_filename(Some("..")), "package");
        assert_eq!(safe_filename(None), "package");
    }
}
