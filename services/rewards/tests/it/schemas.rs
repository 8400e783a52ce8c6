//! The JSON Schemas in proto-schemas/events/rewards/ describe exactly what rewards publishes.

use chrono::Utc;
use events::catalog::rewards::{TokensAwarded, TokensClawedBack, TokensRedeemed, TYPES};
use events::DomainEvent;
use serde_json::Value;
use std::collections::BTreeSet;
use uuid::Uuid;

fn schema_of<E: DomainEvent>() -> Value {
    let path = format!("{}/../../proto-schemas/{}", env!("CARGO_MANIFEST_DIR"), E::schema_path());
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

fn check<E: DomainEvent>(sample: &E) {
    let schema = schema_of::<E>();
    assert_eq!(schema["additionalProperties"], false, "{}", E::TYPE);
    let data = serde_json::to_value(sample).unwrap();
    let errors = testkit::schema::validate(&data, &schema);
    assert!(errors.is_empty(), "{}: {errors:?}", E::TYPE);
    let fields: BTreeSet<&str> = data.as_object().unwrap().keys().map(String::as_str).collect();
    let properties: BTreeSet<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    let required: BTreeSet<&str> = schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(fields, properties, "{}: properties", E::TYPE);
    assert_eq!(fields, required, "{}: every field is required (nullable ones may be null)", E::TYPE);
    assert!(schema["title"].as_str().unwrap().starts_with(E::TYPE));
    let back: E = serde_json::from_value(data).unwrap();
    assert_eq!(serde_json::to_value(back).unwrap(), serde_json::to_value(sample).unwrap());
}

#[test]
fn each_rewards_event_matches_its_schema() {
    assert_eq!(TYPES.len(), 3);
    let id = Uuid::now_v7();
    check(&TokensAwarded {
        transaction_id: id,
        user_id: id,
        kind: "earn".into(),
        amount: 59,
        rule: Some("course_purchased".into()),
        reason: "Course purchased".into(),
        reference: Some(id.to_string()),
        balance_after: 59,
        awarded_at: Utc::now(),
    });
    check(&TokensRedeemed {
        redemption_id: id,
        user_id: id,
        item: "pro_month".into(),
        cost: 1000,
        transaction_id: id,
        balance_after: 0,
        redeemed_at: Utc::now(),
    });
    check(&TokensClawedBack {
        transaction_id: id,
        user_id: id,
        amount: 59,
        reason: "Course purchase refunded".into(),
        reference: Some(id.to_string()),
        balance_after: -59,
        clawed_back_at: Utc::now(),
    });
    let unknown = serde_json::json!({"redemption_id": id, "user_id": id, "item": "pro_month", "cost": 1,
        "transaction_id": id, "balance_after": 0, "redeemed_at": Utc::now(), "extra": 1});
    assert!(serde_json::from_value::<TokensRedeemed>(unknown).is_err(), "unknown fields are refused");
}
