//! What every service refuses in its input before anything reaches the database, and how an
//! input error names its field. Pure functions: the extractors and middleware in [`crate::http`]
//! call them, and so does any handler that reads JSON out of something else (a multipart part).
//!
//! The rules, documented for clients in docs/api.md ("Text"):
//! - No control character (Unicode `Cc`: U+0000-U+001F, U+007F-U+009F) anywhere: PostgreSQL
//!   refuses NUL outright (a 500 before this check), and the others are never meant in an id,
//!   a title, a query parameter or a path.
//! - Except tab, newline and carriage return in *long text*: a JSON body field whose name is in
//!   [`LONG_TEXT_FIELDS`] (descriptions, review and ticket bodies, reasons). Query and path
//!   parameters are never long text.
//! - A field is named as a path: `title`, `price.amount`, `items[0].code`, `query.min_price`,
//!   `path.course_id`, whatever the kind of the wrong value.

use crate::problem::FieldError;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// JSON field names holding free text written by people, where line breaks and tabs are content.
/// One list for every service: the names mean the same thing wherever they appear.
pub const LONG_TEXT_FIELDS: &[&str] = &["description", "body", "comment", "message", "reason", "text"];

/// Whether `c` is refused in text: a control character, unless `long` text allows it.
fn refused(c: char, long: bool) -> bool {
    c.is_control() && !(long && matches!(c, '\t' | '\n' | '\r'))
}

/// Refuse `text` when it holds a control character (`long` text may hold tab, LF and CR).
pub fn check_text(field: &str, text: &str, long: bool) -> Result<(), FieldError> {
    match text.chars().find(|c| refused(*c, long)) {
        None => Ok(()),
        Some(c) => Err(FieldError {
            field: field.to_string(),
            message: format!(
                "must not contain control characters (found U+{:04X}){}",
                c as u32,
                if long { "; only tab, newline and carriage return are allowed" } else { "" }
            ),
        }),
    }
}

/// Walk a JSON document and refuse the first string (or object key) holding a control character,
/// naming it by its path. `prefix` names the document itself (empty for a request body).
pub fn check_json(prefix: &str, value: &Value) -> Result<(), FieldError> {
    walk(&mut prefix.to_string(), None, value)
}

fn walk(path: &mut String, key: Option<&str>, value: &Value) -> Result<(), FieldError> {
    match value {
        Value::String(s) => {
            let long = key.is_some_and(|k| LONG_TEXT_FIELDS.contains(&k));
            check_text(path_or_body(path), s, long)
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                // An array of long text (several comments) is long text too.
                walk(path, key, item)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                check_text(path, k, false)?;
                walk(path, Some(k), v)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn path_or_body(path: &str) -> &str {
    if path.is_empty() {
        "body"
    } else {
        path
    }
}

/// Deserialize `T` from a JSON document already checked by [`check_json`], naming the field of
/// any error as a path under `prefix` (empty for a request body).
pub fn from_json_value<T: DeserializeOwned>(prefix: &str, value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| field_error(prefix, e.path(), &e.inner().to_string()))
}

/// Every request document of this API is a JSON object: serde would read a struct from an array
/// (`[null, null]` as `{}`), so anything else is refused before it is deserialized.
pub fn require_object(prefix: &str, value: &Value) -> Result<(), FieldError> {
    if value.is_object() {
        return Ok(());
    }
    Err(FieldError { field: path_or_body(prefix).to_string(), message: "must be a JSON object".to_string() })
}

/// A JSON document in bytes (a multipart part, a body read by hand): syntax errors, control
/// characters and type errors all answer a [`FieldError`] naming the field under `prefix`.
pub fn from_json_slice<T: DeserializeOwned>(prefix: &str, bytes: &[u8]) -> Result<T, FieldError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| FieldError {
        field: path_or_body(prefix).to_string(),
        message: format!("is not valid JSON: {}", strip_position(&e.to_string())),
    })?;
    require_object(prefix, &value)?;
    check_json(prefix, &value)?;
    from_json_value(prefix, value)
}

/// Refuse control characters in a query string's names and values (`query.<name>`).
pub fn check_query(raw: &str) -> Result<(), FieldError> {
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        let field = format!("query.{name}");
        check_text(&field, &name, false)?;
        check_text(&field, &value, false)?;
    }
    Ok(())
}

/// Deserialize `T` from a query string, naming the field of any error `query.<name>`.
pub fn from_query<T: DeserializeOwned>(raw: &str) -> Result<T, FieldError> {
    check_query(raw)?;
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| field_error("query", e.path(), &e.inner().to_string()))
}

/// Refuse control characters in the segments of a request path (already percent-decoded), naming
/// the segment by the route pattern's parameter (`path.course_id`) when `pattern` has one there.
pub fn check_path(pattern: Option<&str>, decoded: &str) -> Result<(), FieldError> {
    let names: Vec<&str> = pattern.map(|p| p.split('/').collect()).unwrap_or_default();
    for (i, segment) in decoded.split('/').enumerate() {
        let name = names
            .get(i)
            .and_then(|n| n.strip_prefix('{'))
            .and_then(|n| n.strip_suffix('}'))
            .map(|n| n.split(':').next().unwrap_or(n));
        let field = match name {
            Some(n) => format!("path.{n}"),
            None => "path".to_string(),
        };
        check_text(&field, segment, false)?;
    }
    Ok(())
}

/// Percent-decode a request path (lossy: an invalid UTF-8 sequence becomes U+FFFD, which is not
/// a control character; the route's own extractor refuses it).
pub fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Build the field error for a deserialization failure at `path` under `prefix`. serde reports a
/// missing or unknown field on the object holding it, so its name (between backticks in the
/// message) is appended; every other message is about the value at `path` itself.
fn field_error(prefix: &str, path: &serde_path_to_error::Path, message: &str) -> FieldError {
    let mut field = prefix.to_string();
    let at = path.to_string();
    if at != "." {
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(&at);
    }
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|lead| message.strip_prefix(lead))
        .and_then(|rest| rest.split('`').next());
    if let Some(name) = named {
        if !path.iter().any(|s| matches!(s, serde_path_to_error::Segment::Map { key } if key == name)) {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(name);
        }
    }
    if field.is_empty() || field.starts_with('[') {
        field.insert_str(0, "body");
    }
    FieldError { field, message: strip_position(message) }
}

/// serde_json appends " at line 1 column 12": noise to a client that sent one line.
fn strip_position(message: &str) -> String {
    message.split(" at line ").next().unwrap_or(message).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Price {
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
        currency: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        rating: Option<u8>,
        tier: Option<String>,
        price: Option<Price>,
        description: Option<String>,
    }

    fn body(value: Value) -> Result<Body, FieldError> {
        check_json("", &value)?;
        from_json_value("", value)
    }

    fn field_of(value: Value) -> String {
        body(value).expect_err("refused").field
    }

    #[test]
    fn a_wrong_type_names_the_field_not_the_value() {
        assert_eq!(field_of(json!({"title": "t", "rating": 2.0})), "rating");
        assert_eq!(field_of(json!({"title": "t", "rating": "5"})), "rating");
        assert_eq!(field_of(json!({"title": "t", "tier": 5})), "tier");
        assert_eq!(field_of(json!({"title": "t", "price": {"amount": 9.99, "currency": "USD"}})), "price.amount");
        assert_eq!(field_of(json!({"title": "t", "price": {"amount": "x", "currency": "USD"}})), "price.amount");
    }

    #[test]
    fn missing_and_unknown_fields_are_named_where_they_belong() {
        assert_eq!(field_of(json!({})), "title");
        assert_eq!(field_of(json!({"title": "t", "owner_id": "x"})), "owner_id");
        assert_eq!(field_of(json!({"title": "t", "price": {"amount": "1"}})), "price.currency");
        assert_eq!(field_of(json!({"title": "t", "price": {"amount": "1", "currency": "USD", "x": 1}})), "price.x");
        assert_eq!(field_of(json!([1])), "body[0]", "an array where an object belongs");
        assert_eq!(field_of(json!("x")), "body");
    }

    #[test]
    fn control_characters_are_refused_by_path() {
        assert_eq!(field_of(json!({"title": "a\u{0}b"})), "title");
        assert_eq!(field_of(json!({"title": "a\nb"})), "title", "a title is not long text");
        assert_eq!(field_of(json!({"title": "t", "price": {"amount": "1", "currency": "US\u{7f}"}})), "price.currency");
        assert_eq!(field_of(json!({"title": "t", "description": "a\u{0}b"})), "description");
        assert_eq!(field_of(json!({"title": "t", "description": "a\u{1b}[31m"})), "description");
        assert_eq!(field_of(json!({"title": "t", "description": "\u{85}"})), "description", "C1 controls too");
        let err = check_json("", &json!({"tags": ["ok", "b\u{0}d"]})).expect_err("refused");
        assert_eq!(err.field, "tags[1]");
        let err = check_json("", &json!({"meta": {"k\u{0}": "v"}})).expect_err("refused");
        assert_eq!(err.field, "meta.k\u{0}");
    }

    #[test]
    fn long_text_keeps_tabs_and_line_breaks() {
        let ok =
            body(json!({"title": "Rust, ünïcode ✓", "description": "line one\r\n\tline two\n"})).expect("accepted");
        assert_eq!(ok.description.as_deref(), Some("line one\r\n\tline two\n"));
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct ListQuery {
        q: Option<String>,
        #[serde(default, with = "rust_decimal::serde::str_option")]
        min_price: Option<Decimal>,
        limit: Option<u32>,
    }

    #[test]
    fn query_errors_are_named_query_dot_name() {
        let err = from_query::<ListQuery>("min_price=a%60b").expect_err("refused");
        assert_eq!(err.field, "query.min_price");
        assert!(!err.message.contains("a`b`"), "{}", err.message);
        assert_eq!(from_query::<ListQuery>("q=%00").expect_err("refused").field, "query.q");
        assert_eq!(from_query::<ListQuery>("q=a%0Ab").expect_err("refused").field, "query.q");
        assert_eq!(from_query::<ListQuery>("limit=x").expect_err("refused").field, "query.limit");
        assert_eq!(from_query::<ListQuery>("sort=new").expect_err("refused").field, "query.sort");
        let ok = from_query::<ListQuery>("q=caf%C3%A9&min_price=1.50").expect("accepted");
        assert_eq!(ok.q.as_deref(), Some("café"));
    }

    #[test]
    fn path_segments_are_named_by_the_route_pattern() {
        let err = check_path(Some("/api/courses/{course_id}/reviews"), "/api/courses/a\u{0}/reviews").expect_err("x");
        assert_eq!(err.field, "path.course_id");
        let err = check_path(Some("/api/features/{feature:[a-z]+}"), "/api/features/\u{7}").expect_err("x");
        assert_eq!(err.field, "path.feature");
        assert_eq!(check_path(None, "/api/x\u{0}").expect_err("x").field, "path");
        assert!(check_path(Some("/api/courses/{id}"), "/api/courses/abc").is_ok());
    }

    #[test]
    fn paths_are_decoded_before_the_check() {
        assert_eq!(percent_decode("/a%00b/%C2%85/%zz%4"), "/a\u{0}b/\u{85}/%zz%4");
    }

    #[test]
    fn json_in_bytes_is_checked_the_same_way() {
        let err = from_json_slice::<Body>("metadata", br#"{"title": "a\u0000"}"#).expect_err("refused");
        assert_eq!(err.field, "metadata.title");
        let err = from_json_slice::<Body>("metadata", br#"{"title": 1}"#).expect_err("refused");
        assert_eq!(err.field, "metadata.title");
        let err = from_json_slice::<Body>("metadata", b"{").expect_err("refused");
        assert_eq!(err.field, "metadata");
    }
}
