//! Webhooks' part of the data-subject export and of erasure (issue 18's protocol): the stored
//! events naming a user are listed (ids, types, times) and, on erasure, scrubbed; the answers to
//! their deliveries are dropped; a replay sends the scrubbed payload; an event about the user that
//! arrives later is stored scrubbed; the erasure is confirmed once.

use crate::support::{config, Receiver, Webhooks};
use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use events::CloudEvent;
use platform::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::publish_raw;
use uuid::Uuid;

/// A failed payment of `user`, with the card issuer's message (a personal field) set to `message`.
fn payment_failed(user: Uuid, message: &str) -> CloudEvent {
    let event = events::catalog::billing::PaymentFailed {
        payment_id: Uuid::now_v7(),
        user_id: user,
        amount: platform::money::Money::new("9.99".parse().unwrap(), platform::money::Currency::USD).unwrap(),
        tax: None,
        purpose: events::catalog::billing::PaymentPurpose::Subscription,
        reference_id: format!("subscription:{user}"),
        failure_code: Some("card_declined".into()),
        failure_message: Some(message.into()),
        failed_at: chrono::Utc::now(),
    };
    CloudEvent::new(&event, None).unwrap()
}

#[derive(diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    payload: String,
}

#[derive(diesel::QueryableByName)]
struct Body {
    #[diesel(sql_type = Nullable<Text>)]
    response_body: Option<String>,
}

async fn stored(w: &Webhooks, event: Uuid) -> Value {
    let mut conn = w.svc.pool.get().await.unwrap();
    let row: Stored = diesel::sql_query("SELECT payload FROM events WHERE id = $1")
        .bind::<SqlUuid, _>(event)
        .get_result(&mut conn)
        .await
        .unwrap();
    serde_json::from_str(&row.payload).unwrap()
}

async fn bodies(w: &Webhooks, event: Uuid) -> Vec<Option<String>> {
    let mut conn = w.svc.pool.get().await.unwrap();
    let rows: Vec<Body> = diesel::sql_query("SELECT response_body FROM attempts WHERE event_id = $1")
        .bind::<SqlUuid, _>(event)
        .load(&mut conn)
        .await
        .unwrap();
    rows.into_iter().map(|r| r.response_body).collect()
}

async fn export(w: &Webhooks, caller: Uuid, roles: &[Role], user: Uuid) -> (u16, Value) {
    let res = w
        .http
        .get(format!("{}{}", w.svc.url(), platform::privacy::internal_path(user)))
        .header("x-internal-token", testkit::internal_token("webhooks", &caller.to_string(), roles))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_events_are_exported_then_scrubbed_on_erasure_and_replays_send_the_scrubbed_payload() {
    let w = Webhooks::start(config()).await;
    let rx = Receiver::start(0).await;
    let (_, created) = w.create(&rx.url, &["billing.*", "rewards.erasure.requested.v1"]).await;
    let endpoint = created["id"].as_str().unwrap().to_string();
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let secret_text = format!("Card of Ada {}", Uuid::new_v4().simple());
    let theirs = payment_failed(ada, &secret_text);
    let others = payment_failed(bob, "Bob's card");
    publish_raw(&w.env, &theirs).await;
    publish_raw(&w.env, &others).await;
    rx.wait_for(2).await;
    let wr = &w;
    for event in [theirs.id, others.id] {
        testkit::eventually("the attempt's answer in the log", Duration::from_secs(10), || async move {
            (bodies(wr, event).await == [Some("ok".to_string())]).then_some(())
        })
        .await;
    }

    // The export: Ada's event only, by id, type and time; for Ada or an admin, nobody else.
    let (status, part) = export(&w, ada, &[Role::Learner], ada).await;
    assert_eq!(status, 200, "{part}");
    let rows = part["events"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{part}");
    assert_eq!(rows[0]["id"], json!(theirs.id));
    assert_eq!(rows[0]["event_type"], "billing.payment.failed.v1");
    let occurred: chrono::DateTime<chrono::Utc> = serde_json::from_value(rows[0]["occurred_at"].clone()).unwrap();
    // PostgreSQL keeps microseconds.
    assert!((occurred - theirs.time).num_microseconds().is_some_and(|d| d.abs() <= 1), "{occurred}");
    assert!(rows[0]["received_at"].is_string());
    assert!(rows[0].get("payload").is_none(), "other people's data stays out: {part}");
    let (status, by_admin) = export(&w, Uuid::now_v7(), &[Role::Admin], ada).await;
    assert_eq!((status, &by_admin), (200, &part));
    assert_eq!(export(&w, bob, &[Role::Learner], ada).await.0, 403);

    // The erasure: confirmed once (a redelivery confirms nothing again).
    let confirmed = testkit::erasure::erase_and_redeliver(&w.env, "webhooks", ada).await;
    assert_eq!(confirmed.data["user_id"], json!(ada));
    assert_eq!(confirmed.event_type, "webhooks.user.erased.v1");

    // Ada's event: no id, no card message; its identity and the log's consistency kept.
    let scrubbed = stored(&w, theirs.id).await;
    let text = scrubbed.to_string();
    assert!(!text.contains(&ada.to_string()) && !text.contains(&secret_text), "{text}");
    assert_eq!(
        (&scrubbed["id"], &scrubbed["type"], &scrubbed["time"]),
        (&json!(theirs.id), &json!("billing.payment.failed.v1"), &json!(theirs.time))
    );
    assert_eq!(
        (&scrubbed["data"]["user_id"], &scrubbed["data"]["failure_message"]),
        (&json!("[erased]"), &json!("[erased]"))
    );
    assert_eq!(scrubbed["data"]["payment_id"], json!(theirs.data["payment_id"]));
    assert_eq!(bodies(&w, theirs.id).await, [None::<String>], "the answer to Ada's delivery is dropped");
    let log = w.attempts(&format!("/api/admin/webhooks/events/{}/attempts", theirs.id)).await;
    assert_eq!((log.len(), &log[0]["status_code"]), (1, &json!(200)), "the log keeps the attempt");
    // Bob's untouched.
    assert_eq!(stored(&w, others.id).await, serde_json::to_value(&others).unwrap());
    assert_eq!(bodies(&w, others.id).await, [Some("ok".to_string())]);
    // Nothing else in the schema holds Ada's card message.
    let left = testkit::erasure::leftovers(&w.env.schema("webhooks"), &[&secret_text]).await;
    assert!(left.is_empty(), "{left:?}");
    // The request itself was delivered, with the id (partners erase too), after the erasure.
    let got = testkit::eventually("the erasure request delivered", Duration::from_secs(10), || async {
        let got = rx.received();
        got.iter().any(|r| r.body.contains("rewards.erasure.requested.v1")).then_some(got)
    })
    .await;
    assert!(got.iter().any(|r| r.body.contains("rewards.erasure.requested.v1") && r.body.contains(&ada.to_string())));
    // The export lists only the erasure protocol's events now (the request, webhooks' own
    // confirmation, which it also keeps: its queue is bound to every event).
    let (_, part) = export(&w, ada, &[Role::Learner], ada).await;
    let types: Vec<&str> = part["events"].as_array().unwrap().iter().filter_map(|r| r["event_type"].as_str()).collect();
    assert!(types.contains(&"rewards.erasure.requested.v1"), "{part}");
    assert!(types.iter().all(|t| webhooks::domain::scrub::is_erasure_protocol(t)), "{part}");

    // A replay sends the scrubbed payload, signed as it is now.
    let sent = rx.received().len();
    let (status, r) = w
        .call(
            Method::POST,
            &format!("/api/admin/webhooks/endpoints/{endpoint}/replay"),
            Some(json!({"event_id": theirs.id})),
            Some("replay-after-erasure"),
        )
        .await;
    assert_eq!(status, 202, "{r}");
    let replayed = rx.wait_for(sent + 1).await;
    let replayed = replayed.last().unwrap();
    assert_eq!(replayed.id, theirs.id.to_string());
    assert!(!replayed.body.contains(&ada.to_string()) && !replayed.body.contains(&secret_text), "{}", replayed.body);

    // An event about Ada that comes after her erasure is stored (and delivered) scrubbed.
    let late = payment_failed(ada, &secret_text);
    let sent = rx.received().len();
    publish_raw(&w.env, &late).await;
    let got = rx.wait_for(sent + 1).await;
    let delivered = got.iter().find(|r| r.id == late.id.to_string()).expect("the late event delivered");
    assert!(!delivered.body.contains(&ada.to_string()) && !delivered.body.contains(&secret_text), "{}", delivered.body);
    let text = stored(&w, late.id).await.to_string();
    assert!(!text.contains(&ada.to_string()) && text.contains("[erased]"), "{text}");
    rx.stop().await;
    w.stop().await;
}
