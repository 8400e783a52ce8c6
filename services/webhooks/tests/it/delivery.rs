use crate::support::{config, tokens_awarded, Receiver, Webhooks};
use diesel_async::RunQueryDsl;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::bus::{publish_raw, Capture};

#[tokio::test]
async fn an_event_is_delivered_signed_logged_and_replayed() {
    let w = Webhooks::start(config()).await;
    let rx = Receiver::start(0).await;
    let (_, created) = w.create(&rx.url, &["rewards.*"]).await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    // Another endpoint wants other events only: it gets nothing.
    let other = Receiver::start(0).await;
    w.create(&other.url, &["billing.payment.succeeded.v1"]).await;

    let event = tokens_awarded();
    publish_raw(&w.env, &event).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].id, event.id.to_string());
    assert!(got[0].verifies_with(&secret), "signature {:?}", got[0].signature);
    assert!(!got[0].verifies_with(&webhooks::domain::signing::new_secret()));
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "rewards.tokens.awarded.v1");
    assert_eq!(body["id"], event.id.to_string());
    let ts: i64 = got[0].timestamp.parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);

    // The log, per endpoint and per event.
    let log = testkit::eventually("the attempt in the log", Duration::from_secs(10), || async {
        let a = w.attempts(&format!("/api/admin/webhooks/endpoints/{id}/attempts")).await;
        (!a.is_empty()).then_some(a)
    })
    .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status_code"], 200);
    assert_eq!(log[0]["succeeded"], true);
    assert_eq!(log[0]["response_body"], "ok");
    assert_eq!(log[0]["attempt"], 1);
    let by_event = w.attempts(&format!("/api/admin/webhooks/events/{}/attempts", event.id)).await;
    assert_eq!(by_event.len(), 1);

    // A redelivered event (the same id) creates no second delivery.
    publish_raw(&w.env, &event).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.received().len(), 1);
    assert!(other.received().is_empty());

    // Replay: once per Idempotency-Key.
    let path = format!("/api/admin/webhooks/endpoints/{id}/replay");
    let body = json!({"event_id": event.id});
    let (status, r) = w.call(Method::POST, &path, Some(body.clone()), Some("replay-1")).await;
    assert_eq!(status, 202, "{r}");
    assert_eq!(r["replayed"], 1);
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].id, event.id.to_string());
    let (status, _) = w.call(Method::POST, &path, Some(body), Some("replay-1")).await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), 2, "the replayed key sent nothing more");
    let (status, p) =
        w.call(Method::POST, &path, Some(json!({"event_id": uuid::Uuid::new_v4()})), Some("replay-2")).await;
    assert_eq!(status, 404, "{p}");
    let (status, _) = w.call(Method::POST, &path, Some(json!({})), Some("replay-3")).await;
    assert_eq!(status, 422);
    rx.stop().await;
    other.stop().await;
    w.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_the_schedule_until_it_recovers() {
    let w = Webhooks::start(webhooks::Config { retry_schedule: "0s,300ms,300ms,300ms".into(), ..config() }).await;
    let rx = Receiver::start(2).await;
    let (_, created) = w.create(&rx.url, &["rewards.tokens.awarded.v1"]).await;
    let id = created["id"].as_str().unwrap().to_string();
    publish_raw(&w.env, &tokens_awarded()).await;
    rx.wait_for(3).await;
    let log = testkit::eventually("three attempts in the log", Duration::from_secs(10), || async {
        let a = w.attempts(&format!("/api/admin/webhooks/endpoints/{id}/attempts")).await;
        (a.len() == 3).then_some(a)
    })
    .await;
    // Newest first: two 500s, then the 200.
    let codes: Vec<i64> = log.iter().rev().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, vec![500, 500, 200]);
    assert_eq!(log[2]["response_body"], "receiver failing on purpose");
    let times: Vec<chrono::DateTime<chrono::Utc>> =
        log.iter().rev().map(|a| a["attempted_at"].as_str().unwrap().parse().unwrap()).collect();
    for pair in times.windows(2) {
        // 300 ms, plus up to 20% jitter, plus the dispatcher's polling.
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!((300..2000).contains(&gap), "gap {gap} ms");
    }
    let (_, ep) = w.call(Method::GET, &format!("/api/admin/webhooks/endpoints/{id}"), None, None).await;
    assert!(ep["failing_since"].is_null(), "a success clears the failure record: {ep}");
    rx.stop().await;
    w.stop().await;
}

#[tokio::test]
async fn an_endpoint_failing_too_long_is_disabled_with_an_event_and_failed_ones_replay() {
    let w = Webhooks::start(webhooks::Config {
        retry_schedule: "0s,200ms,200ms".into(),
        disable_after_secs: 0,
        ..config()
    })
    .await;
    let mut capture = Capture::bind(&w.env, &["webhooks.endpoint.disabled.v1"]).await;
    let rx = Receiver::start(usize::MAX).await;
    let (_, created) = w.create(&rx.url, &["rewards.*"]).await;
    let id = created["id"].as_str().unwrap().to_string();
    let since = chrono::Utc::now();
    let event = tokens_awarded();
    publish_raw(&w.env, &event).await;
    let disabled = capture.expect("webhooks.endpoint.disabled.v1", Duration::from_secs(20)).await;
    assert_eq!(disabled.subject, id);
    let (_, ep) = w.call(Method::GET, &format!("/api/admin/webhooks/endpoints/{id}"), None, None).await;
    assert_eq!(ep["enabled"], false);
    assert!(ep["disabled_reason"].as_str().unwrap().contains("HTTP 500"), "{ep}");
    // Disabled: the rest of the schedule is not attempted.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.received().len(), 1);

    // Enabled again (with the receiver fixed), the pending delivery resumes by itself: it never
    // failed for good, so a replay of the failed ones has nothing to do.
    rx.fail_first.store(0, std::sync::atomic::Ordering::SeqCst);
    let (status, _) = w
        .call(Method::PATCH, &format!("/api/admin/webhooks/endpoints/{id}"), Some(json!({"enabled": true})), None)
        .await;
    assert_eq!(status, 200);
    rx.wait_for(2).await;
    let path = format!("/api/admin/webhooks/endpoints/{id}/replay");
    let (status, r) = w.call(Method::POST, &path, Some(json!({"failed_since": since})), Some("again")).await;
    assert_eq!(status, 202, "{r}");
    assert_eq!(r["replayed"], 0, "nothing failed for good");
    rx.stop().await;
    w.stop().await;
}

#[tokio::test]
async fn exhausted_deliveries_fail_and_replay_since_a_time() {
    let w = Webhooks::start(webhooks::Config { retry_schedule: "0s,100ms".into(), ..config() }).await;
    let rx = Receiver::start(2).await;
    let (_, created) = w.create(&rx.url, &["rewards.*"]).await;
    let id = created["id"].as_str().unwrap().to_string();
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    publish_raw(&w.env, &tokens_awarded()).await;
    rx.wait_for(2).await;
    let path = format!("/api/admin/webhooks/endpoints/{id}/replay");
    let replayed = testkit::eventually("the delivery failed", Duration::from_secs(10), || {
        let (w, path) = (&w, path.clone());
        async move {
            let (_, r) = w
                .call(
                    Method::POST,
                    &path,
                    Some(json!({"failed_since": since})),
                    Some(&uuid::Uuid::new_v4().to_string()),
                )
                .await;
            (r["replayed"] == 1).then_some(r)
        }
    })
    .await;
    assert_eq!(replayed["replayed"], 1);
    let got = rx.wait_for(3).await;
    assert_eq!(got[2].id, got[0].id, "the same webhook-id: receivers dedupe by it");
    rx.stop().await;
    w.stop().await;
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_during_the_grace_then_the_new_one() {
    let w = Webhooks::start(webhooks::Config { rotation_grace_secs: 2, ..config() }).await;
    let rx = Receiver::start(0).await;
    let (_, created) = w.create(&rx.url, &["rewards.*"]).await;
    let old = created["secret"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/admin/webhooks/endpoints/{id}/rotate-secret");
    let (status, rotated) = w.call(Method::POST, &path, None, Some("rot-1")).await;
    assert_eq!(status, 201, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let (_, replay) = w.call(Method::POST, &path, None, Some("rot-1")).await;
    assert!(replay["secret"].is_null());

    publish_raw(&w.env, &tokens_awarded()).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].signature.split(' ').count(), 2);
    assert!(got[0].verifies_with(&old) && got[0].verifies_with(&new));

    tokio::time::sleep(Duration::from_millis(2100)).await;
    publish_raw(&w.env, &tokens_awarded()).await;
    let got = rx.wait_for(2).await;
    assert!(got[1].verifies_with(&new));
    assert!(!got[1].verifies_with(&old), "the old secret stops signing after the grace");
    rx.stop().await;
    w.stop().await;
}

#[tokio::test]
async fn a_url_that_turned_private_is_refused_at_delivery() {
    let w = Webhooks::start(webhooks::Config { allowed_hosts: String::new(), ..config() }).await;
    let rx = Receiver::start(0).await;
    // Registered while public; its name now points at loopback (as after a DNS change): the
    // delivery must not go there. The row is changed directly, as the API would refuse it.
    let (status, created) = w.create("https://93.184.216.34/hooks", &["rewards.*"]).await;
    assert_eq!(status, 201, "{created}");
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let local = rx.url.replace("127.0.0.1", "localhost");
    for url in [rx.url.clone(), local] {
        let mut conn = w.svc.pool.get().await.unwrap();
        diesel::sql_query("UPDATE endpoints SET url = $1 WHERE id = $2")
            .bind::<diesel::sql_types::Text, _>(&url)
            .bind::<diesel::sql_types::Uuid, _>(id)
            .execute(&mut conn)
            .await
            .unwrap();
        drop(conn);
        let event = tokens_awarded();
        publish_raw(&w.env, &event).await;
        let log = testkit::eventually("the refused attempt", Duration::from_secs(10), || async {
            let a = w.attempts(&format!("/api/admin/webhooks/events/{}/attempts", event.id)).await;
            (!a.is_empty()).then_some(a)
        })
        .await;
        assert!(log[0]["status_code"].is_null());
        assert!(log[0]["error"].as_str().unwrap().contains("refused"), "{url}: {}", log[0]);
    }
    assert!(rx.received().is_empty());
    rx.stop().await;
    w.stop().await;
}

#[tokio::test]
async fn two_replicas_deliver_each_event_once() {
    let w = Webhooks::start(config()).await;
    let second =
        runtime::start(&webhooks::SPEC, w.env.service_config("webhooks"), |ctx| webhooks::setup(ctx, config()))
            .await
            .expect("a second replica starts");
    let rx = Receiver::start(0).await;
    w.create(&rx.url, &["rewards.*"]).await;
    let sent: Vec<String> = futures_util::future::join_all((0..12).map(|_| async {
        let e = tokens_awarded();
        publish_raw(&w.env, &e).await;
        e.id.to_string()
    }))
    .await;
    rx.wait_for(12).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut got: Vec<String> = rx.received().into_iter().map(|r| r.id).collect();
    got.sort();
    let mut want = sent;
    want.sort();
    assert_eq!(got, want, "each event once, whichever replica took it");
    second.stop().await;
    rx.stop().await;
    w.stop().await;
}

#[tokio::test]
async fn the_retention_job_forgets_old_delivered_events_and_their_log() {
    let w = Webhooks::start(webhooks::Config { retention_days: 1, ..config() }).await;
    let rx = Receiver::start(0).await;
    w.create(&rx.url, &["rewards.*"]).await;
    let event = tokens_awarded();
    publish_raw(&w.env, &event).await;
    rx.wait_for(1).await;
    let path = format!("/api/admin/webhooks/events/{}/attempts", event.id);
    testkit::eventually("the attempt logged", Duration::from_secs(10), || async {
        (!w.attempts(&path).await.is_empty()).then_some(())
    })
    .await;
    let mut conn = w.svc.pool.get().await.unwrap();
    diesel::sql_query("UPDATE events SET received_at = now() - interval '2 days'").execute(&mut conn).await.unwrap();
    drop(conn);
    w.svc.retention.run_once().await;
    let log = w.attempts(&path).await;
    assert!(log.is_empty(), "the event's log went with it");
    rx.stop().await;
    w.stop().await;
}
