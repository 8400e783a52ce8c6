//! The event catalog and `proto-schemas/events/**` describe the same set of events.

use events::catalog::all_event_types;
use std::collections::BTreeSet;

/// `billing.payment.succeeded.v1` -> `events/billing/payment.succeeded.v1.json`
fn schema_path(event_type: &str) -> String {
    let (service, rest) = event_type.split_once('.').expect("service prefix");
    format!("events/{service}/{rest}.json")
}

#[test]
fn every_event_type_has_a_schema_and_every_schema_an_event_type() {
    let types: BTreeSet<String> = all_event_types().iter().map(|t| schema_path(t)).collect();
    let dir = testkit::schema::proto_dir().join("events");
    let mut files = BTreeSet::new();
    for service in std::fs::read_dir(&dir).expect("proto-schemas/events") {
        let service = service.expect("entry").path();
        for file in std::fs::read_dir(&service).expect("service dir") {
            let file = file.expect("entry").path();
            let rel = file.strip_prefix(testkit::schema::proto_dir()).expect("relative").to_string_lossy().to_string();
            files.insert(rel);
        }
    }
    let missing: Vec<_> = types.difference(&files).collect();
    let orphans: Vec<_> = files.difference(&types).collect();
    assert!(missing.is_empty(), "event types without a schema: {missing:?}");
    assert!(orphans.is_empty(), "schemas without an event type: {orphans:?}");
    for path in &files {
        let schema = testkit::schema::load(path).expect("valid JSON");
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{path}");
        assert_eq!(schema["additionalProperties"], false, "{path}");
    }
}

#[test]
fn dataschema_paths_match_the_files() {
    use events::DomainEvent;
    assert_eq!(events::catalog::billing::PaymentSucceeded::schema_path(), "events/billing/payment.succeeded.v1.json");
    assert_eq!(
        events::catalog::marketplace::CoursePurchased::schema_path(),
        "events/marketplace/course.purchased.v1.json"
    );
}

#[test]
fn an_envelope_validates_against_the_envelope_schema() {
    let event = events::catalog::billing::PaymentFailed {
        payment_id: uuid::Uuid::now_v7(),
        user_id: uuid::Uuid::now_v7(),
        amount: platform::money::Money::new("9.99".parse().unwrap(), platform::money::Currency::USD).unwrap(),
        tax: None,
        purpose: events::catalog::billing::PaymentPurpose::Subscription,
        reference_id: "r".into(),
        failure_code: Some("card_declined".into()),
        failure_message: None,
        failed_at: chrono::Utc::now(),
    };
    let envelope =
        events::CloudEvent::new(&event, Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()))
            .unwrap();
    let json = serde_json::to_value(&envelope).unwrap();
    testkit::schema::assert_valid_event(&json);
    let mut broken = json.clone();
    broken["data"]["amount"]["amount"] = serde_json::json!(9.99);
    assert!(!testkit::schema::event_errors(&broken).is_empty(), "a float amount must break the contract");
}

#[test]
fn asyncapi_has_a_channel_and_a_message_for_every_event_type() {
    let text = std::fs::read_to_string(testkit::schema::proto_dir().join("asyncapi.yaml")).expect("asyncapi.yaml");
    for event_type in all_event_types() {
        assert!(
            text.contains(&format!("\n  {event_type}:\n    address: {event_type}\n")),
            "no channel for {event_type}"
        );
        assert!(text.contains(&format!("'#/components/messages/{event_type}'")), "no message for {event_type}");
        assert!(
            text.contains(&format!("./events/{}", schema_path(event_type).trim_start_matches("events/"))),
            "no payload schema for {event_type}"
        );
    }
}
