//! Secrets at rest (issue 21): a license key is kept only as its keyed hash. It is shown in full
//! once, in the answer that created the license; afterwards (reads, lists, a replay of that very
//! answer) only its prefix. Activation looks the key up by its hash, under the current hash key
//! or a previous one during a rotation (and moves it to the current one).

use crate::support::{code, config, id_of, key_of, Caller, Stack};
use diesel::sql_types::{Bytea, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use platform::code_hash::{CodeHasher, DEV_KEY};
use platform::config::Secret;
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

#[derive(diesel::QueryableByName)]
struct Hash {
    #[diesel(sql_type = Bytea)]
    license_key_hash: Vec<u8>,
}

async fn stored_hash(s: &Stack, license: &str) -> Vec<u8> {
    let mut conn = AsyncPgConnection::establish(&testkit::database_url()).await.unwrap();
    let sql = format!("SELECT license_key_hash FROM {}.licenses WHERE id = $1", s.env.schema("licensing"));
    let id: Uuid = license.parse().unwrap();
    diesel::sql_query(sql).bind::<SqlUuid, _>(id).get_result::<Hash>(&mut conn).await.unwrap().license_key_hash
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_shown_once_then_only_its_prefix_and_the_database_never_holds_it() {
    let s = Stack::start().await;
    let body = s.license_body("keys-at-rest.example.com", 3, chrono::Duration::days(30));
    let send = || {
        s.req(Method::POST, "/api/enterprise/licenses/create", Some(&s.admin))
            .header("idempotency-key", "create-once")
            .json(&body)
            .send()
    };
    let created: Value = send().await.unwrap().json().await.unwrap();
    let key = key_of(&created);
    let canonical = key.replace('-', "");
    assert_eq!(created["license_key_prefix"], canonical[..5]);
    let id = id_of(&created);

    // A replay answers the same license, without the key: it was never stored to replay.
    let replay = send().await.unwrap();
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["id"], created["id"]);
    assert!(replay.get("license_key").is_none(), "{replay}");
    assert_eq!(replay["license_key_prefix"], created["license_key_prefix"]);

    let one: Value = s.get(&format!("/api/enterprise/licenses/{id}"), &s.admin).await.json().await.unwrap();
    assert!(one.get("license_key").is_none(), "{one}");
    assert_eq!(one["license_key_prefix"], canonical[..5]);
    let org_admin = Caller::org_admin(crate::support::org_of(&created));
    let list: Value = s.get("/api/enterprise/licenses", &org_admin).await.json().await.unwrap();
    assert_eq!(list["data"][0]["license_key_prefix"], canonical[..5]);
    assert!(list["data"][0].get("license_key").is_none(), "{list}");

    // The key still works, by its hash; then nothing in the schema holds it, in any form.
    let member = Caller::member(crate::support::org_of(&created));
    assert_eq!(s.activate(&member, &key).await.status(), 201);
    let hits = testkit::erasure::leftovers(&s.env.schema("licensing"), &[&key, &canonical, &canonical[5..]]).await;
    assert!(hits.is_empty(), "the license key is stored in clear: {hits:?}");
    let hasher = CodeHasher::new(&Secret::new(DEV_KEY), None).unwrap();
    assert!(hasher.matches(&canonical, &stored_hash(&s, &id).await));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_still_fails_as_before_the_hashing() {
    let s = Stack::start().await;
    let license = s.license(2).await;
    let key = key_of(&license);
    let user = Caller::member(crate::support::org_of(&license));
    // A mistyped character is refused by the check character, before any lookup.
    let mut chars: Vec<char> = key.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    let typo: String = chars.into_iter().collect();
    assert_eq!(code(s.activate(&user, &typo).await).await, (422, "invalid_license_key".into()));
    // A well-formed key never issued (so no hash matches): 404 as any unknown license.
    let unknown = licensing::domain::license_key::LicenseKey::generate().display();
    assert_eq!(code(s.activate(&user, &unknown).await).await, (404, "not_found".into()));
    // The prefix alone is not a key.
    let prefix = license["license_key_prefix"].as_str().unwrap().to_string();
    assert_eq!(code(s.activate(&user, &prefix).await).await, (422, "invalid_license_key".into()));
    // Typed as people do: lower case, spaces for dashes.
    assert_eq!(s.activate(&user, &key.to_lowercase().replace('-', " ")).await.status(), 201);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rotation_a_key_hashed_under_the_previous_key_activates_and_moves_to_the_new_one() {
    let s = Stack::start().await;
    let license = s.license(2).await;
    let key = key_of(&license);
    let id = id_of(&license);
    // A second instance on the same schema, after the rotation: new key, the old one previous.
    let new_key = "rotated-code-hash-key-0123456789";
    let rotated_config = licensing::Config {
        code_hash_key: Secret::new(new_key),
        code_hash_previous_keys: Some(Secret::new(DEV_KEY)),
        ..config()
    };
    let rotated = testkit::service::start(&s.env, &licensing::SPEC, |ctx| licensing::setup(ctx, rotated_config)).await;
    let member = Caller::member(crate::support::org_of(&license));
    let res = s
        .http
        .post(format!("{}/api/enterprise/licenses/activate", rotated.url()))
        .header("x-internal-token", member.token())
        .json(&serde_json::json!({"license_key": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let now_current = CodeHasher::new(&Secret::new(new_key), None).unwrap();
    assert!(now_current.matches(&key.replace('-', ""), &stored_hash(&s, &id).await), "re-hashed under the new key");
    // Without the old key configured any more, the re-hashed key still works (here: the seat
    // already held answers 200); a key only the old key knew would not.
    let res = s
        .http
        .post(format!("{}/api/enterprise/licenses/activate", rotated.url()))
        .header("x-internal-token", member.token())
        .json(&serde_json::json!({"license_key": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The first instance knows only the old key: the moved hash no longer matches there.
    assert_eq!(code(s.activate(&Caller::member(crate::support::org_of(&license)), &key).await).await.0, 404);
    rotated.stop().await;
    s.stop().await;
}
