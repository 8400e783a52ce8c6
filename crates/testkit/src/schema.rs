//! Checking events against the published contracts in `proto-schemas/`.
//!
//! A small JSON Schema (2020-12) validator for the subset the contracts use: `type`, `required`,
//! `properties`, `additionalProperties: false`, `enum`, `const`, `pattern`, `anyOf`, `minimum`,
//! `maximum`, `items`, `format: uuid | date-time`, and `$ref` to `#/$defs/...`. Every schema
//! keyword outside that subset makes validation fail, so a contract can never silently go
//! unchecked.

use serde_json::{Map, Value};
use std::path::PathBuf;

pub fn proto_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto-schemas"))
}

pub fn load(relative: &str) -> Result<Value, String> {
    let path = proto_dir().join(relative);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

const KNOWN: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "title",
    "description",
    "type",
    "required",
    "properties",
    "additionalProperties",
    "enum",
    "const",
    "pattern",
    "anyOf",
    "minimum",
    "maximum",
    "items",
    "format",
    "$ref",
    "examples",
    "minItems",
];

/// Validate `instance` against `schema`; errors name the JSON path.
pub fn validate(instance: &Value, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(instance, schema, schema, "$", &mut errors);
    errors
}

fn check(v: &Value, s: &Value, root: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(s) = s.as_object() else {
        errors.push(format!("{path}: schema is not an object"));
        return;
    };
    for key in s.keys() {
        if !KNOWN.contains(&key.as_str()) {
            errors.push(format!("{path}: unsupported schema keyword {key}"));
        }
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r.strip_prefix("#/").map(|p| p.split('/').try_fold(root, |node, part| node.get(part)));
        match target.flatten() {
            Some(t) => check(v, t, root, path, errors),
            None => errors.push(format!("{path}: unresolvable $ref {r}")),
        }
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "null" => v.is_null(),
            _ => false,
        };
        if !ok {
            errors.push(format!("{path}: expected {t}, got {v}"));
            return;
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            errors.push(format!("{path}: expected {c}, got {v}"));
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            errors.push(format!("{path}: {v} is not one of {options:?}"));
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(|alt| validate_with_root(v, alt, root).is_empty()) {
            errors.push(format!("{path}: matches none of anyOf"));
        }
    }
    if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), v.as_str()) {
        match regex::Regex::new(p) {
            Ok(re) if re.is_match(text) => {}
            Ok(_) => errors.push(format!("{path}: {text:?} does not match {p}")),
            Err(e) => errors.push(format!("{path}: bad pattern {p}: {e}")),
        }
    }
    if let Some(text) = v.as_str() {
        let len = text.chars().count() as u64;
        if s.get("minLength").and_then(Value::as_u64).is_some_and(|m| len < m) {
            errors.push(format!("{path}: shorter than minLength"));
        }
        if s.get("maxLength").and_then(Value::as_u64).is_some_and(|m| len > m) {
            errors.push(format!("{path}: longer than maxLength"));
        }
    }
    if let (Some(f), Some(text)) = (s.get("format").and_then(Value::as_str), v.as_str()) {
        let ok = match f {
            "uuid" => uuid::Uuid::parse_str(text).is_ok(),
            "date-time" => chrono_like_rfc3339(text),
            _ => false,
        };
        if !ok {
            errors.push(format!("{path}: {text:?} is not a {f}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if s.get("minimum").and_then(Value::as_f64).is_some_and(|m| n < m) {
            errors.push(format!("{path}: {n} below minimum"));
        }
        if s.get("maximum").and_then(Value::as_f64).is_some_and(|m| n > m) {
            errors.push(format!("{path}: {n} above maximum"));
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(item, items, root, &format!("{path}[{i}]"), errors);
        }
    }
    if let Some(obj) = v.as_object() {
        check_object(obj, s, root, path, errors);
    }
}

fn check_object(obj: &Map<String, Value>, s: &Map<String, Value>, root: &Value, path: &str, errors: &mut Vec<String>) {
    let props = s.get("properties").and_then(Value::as_object);
    for req in s.get("required").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = req.as_str() {
            if !obj.contains_key(name) {
                errors.push(format!("{path}: missing required {name}"));
            }
        }
    }
    for (k, val) in obj {
        match props.and_then(|p| p.get(k)) {
            Some(ps) => check(val, ps, root, &format!("{path}.{k}"), errors),
            None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                errors.push(format!("{path}: unexpected property {k}"))
            }
            None => {}
        }
    }
}

fn validate_with_root(v: &Value, s: &Value, root: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(v, s, root, "$", &mut errors);
    errors
}

fn chrono_like_rfc3339(text: &str) -> bool {
    // 2026-11-26T08:00:00Z or with fraction/offset: the shape chrono writes.
    regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
        .is_ok_and(|re| re.is_match(text))
}

/// Validate a whole envelope: the CloudEvents envelope schema, then `data` against its `dataschema`.
pub fn event_errors(envelope: &Value) -> Vec<String> {
    let mut errors = match load("envelope.json") {
        Ok(s) => validate(envelope, &s),
        Err(e) => return vec![e],
    };
    let Some(dataschema) = envelope.get("dataschema").and_then(Value::as_str) else {
        errors.push("no dataschema".into());
        return errors;
    };
    match load(dataschema) {
        Ok(s) => errors
            .extend(validate(&envelope["data"], &s).into_iter().map(|e| format!("data{}", e.trim_start_matches('$')))),
        Err(e) => errors.push(e),
    }
    errors
}

/// Panic with the reasons when `envelope` breaks its contract.
pub fn assert_valid_event(envelope: &Value) {
    let errors = event_errors(envelope);
    assert!(errors.is_empty(), "event {} breaks its contract: {errors:#?}", envelope["type"]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn catches_what_the_contract_forbids() {
        let schema = json!({
            "type": "object", "required": ["a", "m"], "additionalProperties": false,
            "properties": {"a": {"type": "string", "format": "uuid"}, "m": {"$ref": "#/$defs/money"}, "n": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}},
            "$defs": {"money": {"type": "object", "properties": {"amount": {"type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$"}}}}
        });
        let ok = json!({"a": uuid::Uuid::nil(), "m": {"amount": "1.00"}, "n": null});
        assert!(validate(&ok, &schema).is_empty(), "{:?}", validate(&ok, &schema));
        assert_eq!(validate(&json!({"a": "x", "m": {"amount": "1"}, "n": 0, "z": 1}), &schema).len(), 4);
        assert_eq!(validate(&json!({}), &schema).len(), 2);
        assert!(!validate(&json!(1), &json!({"type": "integer", "oneOf": []})).is_empty(), "unknown keywords fail");
    }
}
