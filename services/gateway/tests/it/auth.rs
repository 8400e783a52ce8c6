use crate::support::{assert_problem, Stack};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::auth::Role;
use serde_json::Value;
use testkit::jwt::{self, claims, now, sign};

const WHOAMI: &str = "/api/billing/whoami";

async fn call(stack: &Stack, token: Option<&str>) -> reqwest::Response {
    let mut req = stack.http.get(stack.url(WHOAMI));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_a_401_problem() {
    let stack = Stack::start().await;
    let user = uuid::Uuid::now_v7().to_string();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims(&user, &["learner"]);
        edit(&mut c);
        sign(Algorithm::RS256, &c)
    };
    let valid = sign(Algorithm::RS256, &claims(&user, &["learner"]));
    let mut bad_signature = valid.clone();
    let last = bad_signature.pop().unwrap();
    bad_signature.push(if last == 'A' { 'B' } else { 'A' });
    let mut confusion_header = Header::new(Algorithm::HS256);
    confusion_header.kid = Some("test-rs256".into());
    let confusion = jwt::sign_with(
        confusion_header,
        &claims(&user, &["admin"]),
        &EncodingKey::from_secret(&jwt::public_pem("test-rs256")),
    );
    let mut unknown_kid_header = Header::new(Algorithm::EdDSA);
    unknown_kid_header.kid = Some("someone-elses-key".into());
    let eddsa_pem = std::fs::read(format!("{}/test-eddsa.key.pem", jwt::keys_dir())).unwrap();
    let unknown_kid = jwt::sign_with(
        unknown_kid_header,
        &claims(&user, &["learner"]),
        &EncodingKey::from_ed_pem(&eddsa_pem).unwrap(),
    );

    let cases: Vec<(&str, Option<String>)> = vec![
        ("expired", Some(with(&|c| c["exp"] = (now() - 120).into()))),
        ("not yet valid", Some(with(&|c| c["nbf"] = (now() + 120).into()))),
        ("wrong iss", Some(with(&|c| c["iss"] = "https://evil.example".into()))),
        ("wrong aud", Some(with(&|c| c["aud"] = "another-api".into()))),
        ("no exp", Some(with(&|c| c.as_object_mut().unwrap().remove("exp").map(|_| ()).unwrap()))),
        ("no sub", Some(with(&|c| c.as_object_mut().unwrap().remove("sub").map(|_| ()).unwrap()))),
        ("bad signature", Some(bad_signature)),
        ("alg none", Some(jwt::unsigned_token(&claims(&user, &["admin"])))),
        ("HS256 with the RSA public key", Some(confusion)),
        ("unknown kid", Some(unknown_kid)),
        ("garbage", Some("not.a.jwt".into())),
        ("missing", None),
    ];
    for (name, token) in cases {
        let res = call(&stack, token.as_deref()).await;
        assert_eq!(res.status(), 401, "{name}");
        assert_problem(res, 401, "unauthorized").await;
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_tokens_reach_the_service_with_the_right_principal() {
    let stack = Stack::start().await;
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let user = uuid::Uuid::now_v7();
        let org = uuid::Uuid::now_v7();
        let mut c = claims(&user.to_string(), &["learner", "org_admin", "service"]);
        c["org_id"] = org.to_string().into();
        let res = call(&stack, Some(&sign(alg, &c))).await;
        assert_eq!(res.status(), 200, "{alg:?}");
        assert!(res.headers().contains_key("x-request-id"));
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["sub"], user.to_string());
        assert_eq!(p["org_id"], org.to_string());
        // `service` can never come from a client token.
        assert_eq!(p["roles"], serde_json::json!(["learner", "org_admin"]));
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_identity_headers_are_never_trusted() {
    let stack = Stack::start().await;
    let me = uuid::Uuid::now_v7().to_string();
    let victim = uuid::Uuid::now_v7().to_string();
    let forged = testkit::internal_token("billing", &victim, &[Role::Admin]);
    let res = stack
        .http
        .get(stack.url(WHOAMI))
        .bearer_auth(jwt::user_token(&me, &["learner"]))
        .header("x-internal-token", &forged)
        .header("x-user-id", &victim)
        .header("x-roles", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["sub"], me);
    assert_eq!(p["roles"], serde_json::json!(["learner"]));

    // Without a JWT the forged internal token is stripped, and the route is not public.
    let res = stack.http.get(stack.url(WHOAMI)).header("x-internal-token", &forged).send().await.unwrap();
    assert_problem(res, 401, "unauthorized").await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_called_directly_refuses_missing_or_foreign_internal_tokens() {
    let stack = Stack::start().await;
    let direct = format!("{}{WHOAMI}", stack.billing.url());
    let res = stack.http.get(&direct).send().await.unwrap();
    assert_problem(res, 401, "unauthorized").await;
    // An external JWT is not an internal token.
    let res = stack
        .http
        .get(&direct)
        .header("x-internal-token", jwt::user_token(&uuid::Uuid::now_v7().to_string(), &["admin"]))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthorized").await;
    // A token minted for another service is refused (audience).
    let other = testkit::internal_token("rewards", &uuid::Uuid::now_v7().to_string(), &[Role::Admin]);
    let res = stack.http.get(&direct).header("x-internal-token", other).send().await.unwrap();
    assert_problem(res, 401, "unauthorized").await;
    let ok = testkit::internal_token("billing", &uuid::Uuid::now_v7().to_string(), &[Role::Learner]);
    assert_eq!(stack.http.get(&direct).header("x-internal-token", ok).send().await.unwrap().status(), 200);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_is_refused_unless_enabled() {
    let secret = "dev-only-hs256-secret-for-this-test";
    let user = uuid::Uuid::now_v7().to_string();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hs256".into());
    let token = jwt::sign_with(header, &claims(&user, &["learner"]), &EncodingKey::from_secret(secret.as_bytes()));

    let stack = Stack::start_with(|c| c.jwt_hs256_secret = Some(platform::config::Secret::new(secret))).await;
    assert_problem(call(&stack, Some(&token)).await, 401, "unauthorized").await;
    stack.stop().await;

    let stack = Stack::start_with(|c| {
        c.jwt_allow_hs256 = true;
        c.jwt_algorithms = "EdDSA,HS256".into();
        c.jwt_hs256_secret = Some(platform::config::Secret::new(secret));
    })
    .await;
    assert_eq!(call(&stack, Some(&token)).await.status(), 200);
    stack.stop().await;
}
