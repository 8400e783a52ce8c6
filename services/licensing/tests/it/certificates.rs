use crate::support::{id_of, org_of, Caller, Stack};
use jsonwebtoken::DecodingKey;
use licensing::certificate::verify_with;
use reqwest::Method;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_verifies_with_the_published_key_and_not_when_altered() {
    let s = Stack::start().await;
    let license = s.license(10).await;
    let id = id_of(&license);
    let org_admin = Caller::org_admin(org_of(&license));
    let res = s.get(&format!("/api/enterprise/licenses/{id}/certificate"), &org_admin).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let token = body["certificate"].as_str().unwrap().to_string();

    // The public key, fetched without any credentials.
    let res = s.req(Method::GET, "/api/enterprise/licenses/public-key", None).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let published: Value = res.json().await.unwrap();
    assert_eq!(published["kid"], body["kid"]);
    let pem_key = DecodingKey::from_ed_pem(published["pem"].as_str().unwrap().as_bytes()).unwrap();
    let jwk_key = DecodingKey::from_ed_components(published["jwk"]["x"].as_str().unwrap()).unwrap();

    let claims = verify_with(&token, &pem_key).expect("verifies with the PEM");
    assert_eq!(claims.sub, id);
    assert_eq!(claims.tier, "enterprise");
    assert_eq!(claims.seats, 10);
    assert_eq!(claims.organization.id, org_of(&license));
    assert_eq!(
        claims.license_expires_at.to_rfc3339(),
        chrono::DateTime::parse_from_rfc3339(license["expires_at"].as_str().unwrap()).unwrap().to_rfc3339()
    );
    verify_with(&token, &jwk_key).expect("verifies with the JWK");

    // Any one changed byte (header, claims or signature) breaks it.
    let bytes = token.as_bytes();
    for i in [5, bytes.len() / 2, bytes.len() - 3] {
        let mut altered = bytes.to_vec();
        if altered[i] == b'.' {
            continue;
        }
        altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(verify_with(&altered, &pem_key).is_err(), "byte {i} changed and it still verified");
    }

    // Members without the role, and other organisations, get none.
    assert_eq!(
        s.get(&format!("/api/enterprise/licenses/{id}/certificate"), &Caller::member(org_of(&license))).await.status(),
        403
    );
    assert_eq!(s.get(&format!("/api/enterprise/licenses/{id}/certificate"), &Caller::learner()).await.status(), 404);
    // A suspended license gets no certificate.
    s.post(&format!("/api/enterprise/licenses/{id}/suspend"), &s.admin, serde_json::json!({})).await;
    let res = s.get(&format!("/api/enterprise/licenses/{id}/certificate"), &org_admin).await;
    assert_eq!(res.status(), 403);
    s.stop().await;
}
