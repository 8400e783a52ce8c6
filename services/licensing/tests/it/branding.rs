use crate::support::{code, org_of, Caller, Stack};
use reqwest::Method;
use serde_json::{json, Value};

fn branding(domain: &str) -> Value {
    json!({
        "display_name": "Acme Academy",
        "logo_url": "https://cdn.acme.example.com/logo.svg",
        "primary_color": "#1a2b3c",
        "secondary_color": "#FFFFFF",
        "support_email": "help@acme.example.com",
        "custom_domain": domain,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branding_is_validated_owned_and_served_with_an_etag() {
    let s = Stack::start().await;
    let x = s.license(3).await;
    let y = s.license(3).await;
    let (x_org, y_org) = (org_of(&x), org_of(&y));
    let x_admin = Caller::org_admin(x_org);
    let st = &s;
    let put = |caller: Caller, org: uuid::Uuid, body: Value| async move {
        st.req(Method::PUT, &format!("/api/enterprise/organizations/{org}/branding"), Some(&caller))
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let domain = format!("learn-{}.acme.example.com", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    // http: logos and bad colours are refused, each field named.
    let mut bad = branding(&domain);
    bad["logo_url"] = json!("http://cdn.acme.example.com/logo.svg");
    bad["primary_color"] = json!("#12345");
    bad["secondary_color"] = json!("blue");
    let res = put(x_admin.clone(), x_org, bad).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["logo_url", "primary_color", "secondary_color"]);

    // Not another organisation's admin, not a plain member.
    assert_eq!(put(Caller::org_admin(y_org), x_org, branding(&domain)).await.status(), 404);
    assert_eq!(put(Caller::member(x_org), x_org, branding(&domain)).await.status(), 403);

    let res = put(x_admin.clone(), x_org, branding(&domain)).await;
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["primary_color"], "#1A2B3C");
    // Served once verified (see domains.rs for the claim rules).
    let record = &saved["custom_domain_claim"]["verification"];
    s.dns.publish(record["name"].as_str().unwrap(), record["value"].as_str().unwrap());
    let res = s
        .req(Method::POST, &format!("/api/enterprise/organizations/{x_org}/custom-domain/verify"), Some(&x_admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A verified custom domain is unique across organisations.
    assert_eq!(
        code(put(Caller::org_admin(y_org), y_org, branding(&domain)).await).await,
        (409, "custom_domain_taken".into())
    );
    assert_eq!(put(s.admin.clone(), y_org, branding(&format!("y.{domain}"))).await.status(), 200);

    // Public lookup: no credentials, strong ETag, 304 on a match.
    let lookup = |etag: Option<String>| {
        let mut b = s.req(Method::GET, &format!("/api/enterprise/branding?domain={}", domain.to_uppercase()), None);
        if let Some(e) = etag {
            b = b.header("if-none-match", e);
        }
        b.send()
    };
    let res = lookup(None).await.unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers().get("etag").unwrap().to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    assert!(res.headers().get("cache-control").unwrap().to_str().unwrap().contains("max-age"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["display_name"], "Acme Academy");
    let res = lookup(Some(etag.clone())).await.unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers().get("etag").unwrap().to_str().unwrap(), etag);
    // A change of branding changes the tag.
    let mut changed = branding(&domain);
    changed["display_name"] = json!("Acme University");
    assert_eq!(put(x_admin, x_org, changed).await.status(), 200);
    let res = lookup(Some(etag.clone())).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_ne!(res.headers().get("etag").unwrap().to_str().unwrap(), etag);
    let res = s.req(Method::GET, "/api/enterprise/branding?domain=nobody.example.com", None).send().await.unwrap();
    assert_eq!(res.status(), 404);
    s.stop().await;
}
