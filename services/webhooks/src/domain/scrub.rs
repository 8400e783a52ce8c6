//! Erasing a person from a stored CloudEvents envelope (issue 18's erasure, webhooks' part): the
//! envelope keeps what the delivery log and the partners' deduplication rely on (`id`, `type`,
//! `time`, `source`, `specversion`, `dataschema`, `datacontenttype`) and loses, everywhere else,
//! every string that contains the person's id and every personal text field of the catalog
//! ([`PERSONAL_FIELDS`]). What remains is the event's shape, amounts and other records' ids: a
//! replay after the erasure sends this scrubbed envelope.

use serde_json::Value;
use uuid::Uuid;

/// What an erased value becomes (the marker the other services use for erased text).
pub const MARKER: &str = "[erased]";

/// Envelope attributes kept as they are: the event's identity, not the person's.
const KEPT: &[&str] = &["id", "type", "time", "source", "specversion", "dataschema", "datacontenttype"];

/// Free-text fields of the event catalog that describe the person in an event that names them
/// (a card's brand and last digits, the card issuer's message). The test
/// `every_free_text_field_of_the_catalog_is_classified` fails when an event gains a free-text
/// field that is in neither this list nor [`NOT_PERSONAL_FIELDS`].
pub const PERSONAL_FIELDS: &[&str] = &["brand", "last4", "failure_message"];

/// Free-text fields that are not about the person: codes, the platform's own references (ids,
/// erased anyway when they contain the person's id), an organisation's domain, an admin's or
/// the system's reason.
pub const NOT_PERSONAL_FIELDS: &[&str] =
    &["failure_code", "organization_domain", "reason", "reference", "reference_id", "rule"];

/// Event types that exist to name the person to erase (the erasure protocol and the identity
/// provider's announcement): partners need the id to erase on their side, so they are neither
/// scrubbed nor listed as the person's events.
pub fn is_erasure_protocol(event_type: &str) -> bool {
    events::catalog::erasure::TYPES.contains(&event_type) || events::catalog::identity::TYPES.contains(&event_type)
}

/// Does the stored payload name `user` anywhere (as the ids are written: lowercase, hyphenated)?
pub fn names(payload: &str, user: Uuid) -> bool {
    payload.contains(&user.to_string())
}

/// Every UUID written in `payload` (ids embedded in references such as `purchase:<id>` too).
pub fn uuids_in(payload: &str) -> Vec<Uuid> {
    let bytes = payload.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 36 <= bytes.len() {
        // A hyphenated UUID is 36 ASCII bytes with hyphens at 8, 13, 18 and 23.
        let window = &bytes[i..i + 36];
        if [8, 13, 18, 23].iter().all(|&h| window[h] == b'-') {
            if let Some(id) = std::str::from_utf8(window).ok().and_then(|s| Uuid::parse_str(s).ok()) {
                found.push(id);
                i += 36;
                continue;
            }
        }
        i += 1;
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// `payload` (a CloudEvents envelope as stored) without `user`: `None` when it does not name
/// them, or is not a JSON object (nothing the consumer stores).
pub fn scrub(payload: &str, user: Uuid) -> Option<String> {
    if !names(payload, user) {
        return None;
    }
    let mut envelope: Value = serde_json::from_str(payload).ok()?;
    let object = envelope.as_object_mut()?;
    let id = user.to_string();
    for (key, value) in object.iter_mut() {
        if !KEPT.contains(&key.as_str()) {
            scrub_value(value, &id);
        }
    }
    serde_json::to_string(&envelope).ok()
}

fn scrub_value(value: &mut Value, id: &str) {
    match value {
        Value::String(s) if s.contains(id) => *s = MARKER.to_string(),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, id)),
        Value::Object(fields) => {
            for (key, v) in fields.iter_mut() {
                if PERSONAL_FIELDS.contains(&key.as_str()) && !v.is_null() {
                    *v = Value::String(MARKER.to_string());
                } else {
                    scrub_value(v, id);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(user: Uuid, other: Uuid) -> String {
        json!({
            "specversion": "1.0", "id": "0190a0a0-0000-7000-8000-000000000001", "type": "billing.payment.failed.v1",
            "source": "/services/billing", "time": "2026-12-01T10:00:00Z", "subject": user.to_string(),
            "dataschema": "events/billing/payment.failed.v1.json", "traceparent": "00-abc-def-01",
            "data": {"payment_id": other.to_string(), "user_id": user.to_string(), "reference_id": format!("purchase:{user}"),
                     "amount": {"amount": "9.99", "currency": "USD"}, "failure_code": "card_declined",
                     "failure_message": "Your card was declined", "card": {"brand": "visa", "last4": "4242"},
                     "tags": [user.to_string(), "x"], "tax": null}
        })
        .to_string()
    }

    #[test]
    fn the_person_goes_and_the_events_identity_stays() {
        let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
        let scrubbed = scrub(&envelope(user, other), user).expect("it names the user");
        assert!(!scrubbed.contains(&user.to_string()), "{scrubbed}");
        let v: Value = serde_json::from_str(&scrubbed).unwrap();
        let before: Value = serde_json::from_str(&envelope(user, other)).unwrap();
        for kept in ["id", "type", "time", "source", "specversion", "dataschema"] {
            assert_eq!(v[kept], before[kept], "{kept}");
        }
        assert_eq!(v["subject"], MARKER);
        assert_eq!(v["data"]["user_id"], MARKER);
        assert_eq!(v["data"]["reference_id"], MARKER, "a reference embedding the id");
        assert_eq!(v["data"]["failure_message"], MARKER);
        assert_eq!(v["data"]["card"], json!({"brand": MARKER, "last4": MARKER}));
        assert_eq!(v["data"]["tags"], json!([MARKER, "x"]));
        // Not about the person: another record's id, the amount, a code, an absent value.
        assert_eq!(v["data"]["payment_id"], json!(other));
        assert_eq!(v["data"]["amount"], before["data"]["amount"]);
        assert_eq!(v["data"]["failure_code"], "card_declined");
        assert_eq!(v["data"]["tax"], Value::Null);
        assert_eq!(v["traceparent"], before["traceparent"]);
        // Scrubbing again finds nothing (an erasure is idempotent).
        assert_eq!(scrub(&scrubbed, user), None);
    }

    #[test]
    fn an_event_not_naming_the_person_is_left_alone() {
        let (user, other, third) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(scrub(&envelope(other, third), user), None);
    }

    #[test]
    fn uuids_are_found_inside_strings() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let text = format!(r#"{{"x":"purchase:{a}","y":["{b}","{a}"],"z":"not-a-uuid-0000"}}"#);
        let mut expected = vec![a, b];
        expected.sort_unstable();
        assert_eq!(uuids_in(&text), expected);
        assert!(uuids_in("{}").is_empty());
    }

    #[test]
    fn the_protocol_events_name_the_person_on_purpose() {
        assert!(is_erasure_protocol("rewards.erasure.requested.v1"));
        assert!(is_erasure_protocol("webhooks.user.erased.v1"));
        assert!(is_erasure_protocol("identity.user.erased.v1"));
        assert!(!is_erasure_protocol("billing.payment.failed.v1"));
    }

    /// Every string property of the event schemas without a format, pattern, enum or constant
    /// (free text) is classified as personal or not: a new one must be decided on.
    #[test]
    fn every_free_text_field_of_the_catalog_is_classified() {
        fn walk(schema: &Value, name: Option<&str>, file: &str, out: &mut Vec<(String, String)>) {
            match schema {
                Value::Object(o) => {
                    let is_string = match o.get("type") {
                        Some(Value::String(t)) => t == "string",
                        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                        _ => false,
                    };
                    let constrained = ["format", "enum", "const", "pattern", "$ref"].iter().any(|k| o.contains_key(*k));
                    if let (true, false, Some(name)) = (is_string, constrained, name) {
                        out.push((name.to_string(), file.to_string()));
                    }
                    for (k, v) in o {
                        if k == "properties" {
                            for (p, s) in v.as_object().into_iter().flatten() {
                                walk(s, Some(p.as_str()), file, out);
                            }
                        } else {
                            walk(v, name, file, out);
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, name, file, out)),
                _ => {}
            }
        }
        let dir = testkit::schema::proto_dir().join("events");
        let mut free_text = Vec::new();
        for service in std::fs::read_dir(&dir).expect("proto-schemas/events") {
            for file in std::fs::read_dir(service.expect("entry").path()).expect("a service's schemas") {
                let path = file.expect("entry").path();
                let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
                walk(&schema, None, &path.display().to_string(), &mut free_text);
            }
        }
        assert!(free_text.iter().any(|(f, _)| f == "last4"), "the walk finds the free-text fields: {free_text:?}");
        let unclassified: Vec<_> = free_text
            .iter()
            .filter(|(f, _)| !PERSONAL_FIELDS.contains(&f.as_str()) && !NOT_PERSONAL_FIELDS.contains(&f.as_str()))
            .collect();
        assert!(unclassified.is_empty(), "classify in domain::scrub: {unclassified:?}");
    }
}
