//! Driving one service's part of an erasure (issue 18, point 3) from its own tests: announce a
//! request as rewards would, wait for the service's confirmation, deliver the same request again
//! and check nothing more is confirmed (the inbox makes the redelivery a no-op).

use crate::bus::{publish_raw, Capture};
use crate::TestEnv;
use events::catalog::erasure::{ErasureOrigin, ErasureRequested};
use events::CloudEvent;
use std::time::Duration;
use uuid::Uuid;

/// Request `user`'s erasure, return `service`'s `<service>.user.erased.v1` once it came, after
/// checking that a redelivery of the request confirms nothing again.
pub async fn erase_and_redeliver(env: &TestEnv, service: &str, user: Uuid) -> CloudEvent {
    let queue = env.topology().queue(service);
    crate::eventually(&format!("{service}'s queue"), Duration::from_secs(15), || {
        let queue = queue.clone();
        async move { crate::bus::queue_depth(&queue).await }
    })
    .await;
    let confirmation_type = format!("{service}.user.erased.v1");
    let mut bus = Capture::bind(env, &[&confirmation_type]).await;
    let request = ErasureRequested {
        erasure_id: Uuid::now_v7(),
        user_id: user,
        origin: ErasureOrigin::Admin,
        requested_at: chrono::Utc::now(),
    };
    let envelope = CloudEvent::new(&request, None).expect("an envelope");
    publish_raw(env, &envelope).await;
    let confirmed = bus.expect(&confirmation_type, Duration::from_secs(20)).await;
    assert_eq!(confirmed.data["erasure_id"], serde_json::json!(request.erasure_id));
    assert_eq!(confirmed.data["service"], service);
    publish_raw(env, &envelope).await;
    let again = bus.drain(Duration::from_secs(2)).await;
    assert!(again.is_empty(), "a redelivered erasure request was confirmed again: {again:?}");
    confirmed
}

/// The columns of `schema` that still hold any of `needles` (`platform::erasure::find_strings`).
pub async fn leftovers(schema: &str, needles: &[&str]) -> Vec<platform::erasure::Hit> {
    use diesel_async::AsyncConnection;
    let mut conn =
        diesel_async::AsyncPgConnection::establish(&crate::database_url()).await.expect("a database connection");
    platform::erasure::find_strings(&mut conn, schema, needles).await.expect("the scan")
}
