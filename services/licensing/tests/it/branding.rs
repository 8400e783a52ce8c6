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

/// The public lookup is served from memory, and a change by any writer (here an operator's SQL,
/// which no handler sees: another replica's change reaches this one the same way) reaches it
/// through the database's notification, well before the copy's TTL (60 s here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_branding_follows_every_change_of_its_tables() {
    let s = Stack::start().await;
    let x_org = org_of(&s.license(3).await);
    let domain = format!("learn-{}.acme.example.com", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let admin = Caller::org_admin(x_org);
    let res = s
        .req(Method::PUT, &format!("/api/enterprise/organizations/{x_org}/branding"), Some(&admin))
        .json(&branding(&domain))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    let record = &saved["custom_domain_claim"]["verification"];
    s.dns.publish(record["name"].as_str().unwrap(), record["value"].as_str().unwrap());
    let verify = format!("/api/enterprise/organizations/{x_org}/custom-domain/verify");
    assert_eq!(s.req(Method::POST, &verify, Some(&admin)).send().await.unwrap().status(), 200);
    let st = &s;
    let lookup = |domain: String| async move {
        let res = st.req(Method::GET, &format!("/api/enterprise/branding?domain={domain}"), None).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap_or(Value::Null)["display_name"].clone())
    };
    assert_eq!(lookup(domain.clone()).await, (200, json!("Acme Academy")));
    // A later lookup is served from memory. Not necessarily the second: the invalidation listener
    // empties the caches once as it starts listening (what changed while nobody listened was not
    // heard), and on a busy machine that can fall between the first two lookups.
    testkit::eventually("a lookup served from memory", std::time::Duration::from_secs(5), || async {
        let hits_before = cache_hits(st);
        assert_eq!(lookup(domain.clone()).await, (200, json!("Acme Academy")));
        (cache_hits(st) > hits_before).then_some(())
    })
    .await;

    let sql = |statement: String| async move {
        let mut conn = st.svc.pool.get().await.unwrap();
        diesel_async::RunQueryDsl::execute(diesel::sql_query(statement), &mut conn).await.unwrap();
    };
    sql(format!("UPDATE branding SET display_name = 'Acme Institute' WHERE organization_id = '{x_org}'")).await;
    testkit::eventually("the SQL change served", std::time::Duration::from_secs(5), || {
        let domain = domain.clone();
        async move { (lookup(domain).await == (200, json!("Acme Institute"))).then_some(()) }
    })
    .await;
    // The organisation's own domain moves: the old one stops answering, the new one answers.
    let own = |org: &str| format!("{org}.example.com");
    sql(format!("UPDATE organizations SET domain = '{}' WHERE id = '{x_org}'", own("before"))).await;
    sql(format!("UPDATE branding SET custom_domain = NULL WHERE organization_id = '{x_org}'")).await;
    let before = format!("before-{}", &x_org.simple().to_string()[..8]);
    sql(format!("UPDATE organizations SET domain = '{}' WHERE id = '{x_org}'", own(&before))).await;
    testkit::eventually("the own domain served", std::time::Duration::from_secs(5), || {
        let d = own(&before);
        async move { (lookup(d).await == (200, json!("Acme Institute"))).then_some(()) }
    })
    .await;
    let after = format!("after-{}", &x_org.simple().to_string()[..8]);
    sql(format!("UPDATE organizations SET domain = '{}' WHERE id = '{x_org}'", own(&after))).await;
    testkit::eventually("the old own domain gone", std::time::Duration::from_secs(5), || {
        let d = own(&before);
        async move { (lookup(d).await.0 == 404).then_some(()) }
    })
    .await;
    assert_eq!(lookup(own(&after)).await, (200, json!("Acme Institute")));
    s.stop().await;
}

/// Lookups the branding cache answered, from the service's metrics.
fn cache_hits(s: &Stack) -> u64 {
    let lookups = s.svc.metrics.counter("monetization_cache_lookups", "", &["cache", "result"]);
    lookups.get(&[licensing::BRANDING_CACHE, "hit"])
}
