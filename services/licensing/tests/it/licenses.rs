use crate::support::{code, id_of, key_of, org_of, start_capturing, Caller, Stack};
use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_create_licenses_and_bad_input_is_refused() {
    let s = Stack::start().await;
    let body = s.license_body("acme-create.example.com", 10, Duration::days(30));
    for caller in [Caller::learner(), Caller::org_admin(uuid::Uuid::now_v7())] {
        assert_eq!(code(s.create_license_as(&caller, body.clone()).await).await, (403, "forbidden".into()));
    }
    let res = s.req(Method::POST, "/api/enterprise/licenses/create", None).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // No Idempotency-Key.
    let res = s.post("/api/enterprise/licenses/create", &s.admin, body.clone()).await;
    assert_eq!(code(res).await, (400, "idempotency_key_required".into()));
    let mut bad = body.clone();
    bad["tier"] = json!("platinum");
    assert_eq!(code(s.create_license_as(&s.admin, bad).await).await, (422, "validation_failed".into()));
    let mut bad = body.clone();
    bad["expires_at"] = bad["starts_at"].clone();
    assert_eq!(code(s.create_license_as(&s.admin, bad).await).await, (422, "validation_failed".into()));
    let mut bad = body.clone();
    bad["seats"] = json!(0);
    assert_eq!(code(s.create_license_as(&s.admin, bad).await).await, (422, "validation_failed".into()));
    let mut bad = body.clone();
    bad["is_admin"] = json!(true);
    assert_eq!(code(s.create_license_as(&s.admin, bad).await).await, (422, "validation_failed".into()));

    // Same key + same body replays; the organisation is reused by domain for a second license.
    let send = |b: Value| {
        s.req(Method::POST, "/api/enterprise/licenses/create", Some(&s.admin))
            .header("idempotency-key", "create-acme")
            .json(&b)
            .send()
    };
    let first = send(body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let replay = send(body.clone()).await.unwrap();
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["id"], first["id"]);
    let key = key_of(&first);
    assert_eq!(key.len(), 35);
    assert_eq!(key.split('-').count(), 6);
    assert_eq!(first["tier"], "enterprise");
    assert_eq!(first["status"], "active");
    let second: Value = s.create_license_as(&s.admin, body).await.json().await.unwrap();
    assert_eq!(second["organization"]["id"], first["organization"]["id"]);
    assert_ne!(second["license_key"], first["license_key"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_one_organisation_cannot_read_anothers_license_or_usage() {
    let s = Stack::start().await;
    let x = s.license(5).await;
    let y = s.license(5).await;
    let (x_org, y_org) = (org_of(&x), org_of(&y));
    let x_admin = Caller::org_admin(x_org);
    // Their own: yes.
    assert_eq!(s.get(&format!("/api/enterprise/licenses/{}", id_of(&x)), &x_admin).await.status(), 200);
    assert_eq!(s.get(&format!("/api/enterprise/licenses/{}/usage", id_of(&x)), &x_admin).await.status(), 200);
    // Another organisation's: the same 404 as an unknown id.
    for path in ["", "/usage", "/certificate", "/seats"] {
        let res = s.get(&format!("/api/enterprise/licenses/{}{path}", id_of(&y)), &x_admin).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    // A plain member of X may not manage X's license either.
    let member = Caller::member(x_org);
    assert_eq!(s.get(&format!("/api/enterprise/licenses/{}/usage", id_of(&x)), &member).await.status(), 403);
    assert_eq!(s.get("/api/enterprise/licenses", &member).await.status(), 403);
    // Lists: the org admin sees their organisation's only; the admin sees all.
    let list: Value = s.get("/api/enterprise/licenses", &x_admin).await.json().await.unwrap();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![id_of(&x).as_str()]);
    let res = s.get(&format!("/api/enterprise/licenses?organization_id={y_org}"), &x_admin).await;
    assert_eq!(res.status(), 403);
    let list: Value = s.get("/api/enterprise/licenses?limit=1", &s.admin).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let cursor = list["next_cursor"].as_str().unwrap().to_string();
    let list: Value =
        s.get(&format!("/api/enterprise/licenses?limit=1&cursor={cursor}"), &s.admin).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seat_count_cannot_drop_below_the_seats_in_use() {
    let s = Stack::start().await;
    let license = s.license(5).await;
    let (id, key, org) = (id_of(&license), key_of(&license), org_of(&license));
    for _ in 0..3 {
        assert_eq!(s.activate(&Caller::member(org), &key).await.status(), 201);
    }
    let path = format!("/api/enterprise/licenses/{id}/seat-count");
    let res = s.post(&path, &s.admin, json!({"seats": 2})).await;
    assert_eq!(code(res).await, (409, "seats_below_usage".into()));
    assert_eq!(
        code(s.post(&path, &Caller::org_admin(org), json!({"seats": 3})).await).await,
        (403, "forbidden".into())
    );
    let res = s.post(&path, &s.admin, json!({"seats": 3})).await;
    assert_eq!(res.status(), 200);
    let got: Value = res.json().await.unwrap();
    assert_eq!((got["seats"].clone(), got["seats_used"].clone()), (json!(3), json!(3)));
    assert_eq!(code(s.activate(&Caller::member(org), &key).await).await, (409, "seat_limit_reached".into()));
    let res = s.post(&path, &s.admin, json!({"seats": 4})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(s.activate(&Caller::member(org), &key).await.status(), 201);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_and_revocation_refuse_activation_with_distinct_codes() {
    let (s, mut events) = start_capturing(crate::support::start_time()).await;
    let license = s.license(5).await;
    let (id, key, org) = (id_of(&license), key_of(&license), org_of(&license));
    let holder = Caller::member(org);
    assert_eq!(s.activate(&holder, &key).await.status(), 201);

    let res = s.post(&format!("/api/enterprise/licenses/{id}/suspend"), &s.admin, json!({"reason": "unpaid"})).await;
    assert_eq!(res.status(), 200);
    let e = events.expect("licensing.license.suspended.v1", std::time::Duration::from_secs(10)).await;
    assert_eq!(e.data["reason"], "unpaid");
    assert_eq!(code(s.activate(&Caller::member(org), &key).await).await, (403, "license_suspended".into()));
    // Suspending again changes nothing; reinstating restores.
    assert_eq!(s.post(&format!("/api/enterprise/licenses/{id}/suspend"), &s.admin, json!({})).await.status(), 200);
    let res =
        s.req(Method::POST, &format!("/api/enterprise/licenses/{id}/reinstate"), Some(&s.admin)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    events.expect("licensing.license.reinstated.v1", std::time::Duration::from_secs(10)).await;
    assert_eq!(s.activate(&Caller::member(org), &key).await.status(), 201);

    // Extending moves the expiry later only.
    let later = s.clock_now() + Duration::days(500);
    let res = s.post(&format!("/api/enterprise/licenses/{id}/extend"), &s.admin, json!({"expires_at": later})).await;
    assert_eq!(res.status(), 200);
    let e = events.expect("licensing.license.extended.v1", std::time::Duration::from_secs(10)).await;
    assert_eq!(e.data["license_id"], id.as_str());
    let sooner = s.clock_now() + Duration::days(10);
    let res = s.post(&format!("/api/enterprise/licenses/{id}/extend"), &s.admin, json!({"expires_at": sooner})).await;
    assert_eq!(res.status(), 422);

    let res =
        s.req(Method::POST, &format!("/api/enterprise/licenses/{id}/revoke"), Some(&s.admin)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let got: Value = res.json().await.unwrap();
    assert_eq!(got["status"], "revoked");
    assert_eq!(got["seats_used"], 0);
    let e = events.expect("licensing.license.revoked.v1", std::time::Duration::from_secs(10)).await;
    assert_eq!(e.data["seats_released"], 2);
    assert_eq!(code(s.activate(&holder, &key).await).await, (403, "license_revoked".into()));
    let res =
        s.req(Method::POST, &format!("/api/enterprise/licenses/{id}/reinstate"), Some(&s.admin)).send().await.unwrap();
    assert_eq!(code(res).await, (409, "invalid_state_transition".into()));
    s.stop().await;
}
