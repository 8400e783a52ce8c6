//! Issue 21, point 4: secrets stay out of logs and problem bodies.
//!
//! [`no_secret_reaches_a_log_line_or_a_problem_body`] runs [`drive_the_flows_with_debug_logs`] in
//! a child process of this test binary with `RUST_LOG=debug`, the whole platform's logs (every
//! service, the gateway, the runtime, the libraries: one process, one subscriber) going to a
//! file. A child, because the subscriber is global and installed once per process, with logs off
//! for the other flows. The child drives the main flows through the gateway (subscribe and pay,
//! a course bought with a voucher, its refund, a license's seat activation, Stripe's webhooks, a
//! token redemption) plus the wrong inputs around each secret (a tampered JWT, license key and
//! voucher code, a forged webhook), and writes the secret values it used and every problem body
//! it saw to a JSON file. The parent then searches the log and the bodies for each value.
//!
//! stripe-fake plays Stripe, whose logs hold Stripe's own secrets by nature: its lines are left
//! out (`stripe_fake=off`); it is never deployed.

use crate::support::{str_of, unique_word, Platform, Res, User, WEBHOOK_SECRET};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

const OUT_VAR: &str = "E2E_HYGIENE_OUT";
const CHILD: &str = "hygiene::drive_the_flows_with_debug_logs";

/// A test PAN (Visa's): it must never reach the platform at all (clients confirm with Stripe).
const CARD_NUMBER: &str = "4242424242424242";

/// What the flows used and saw.
#[derive(Default)]
struct Seen {
    secrets: Vec<(String, String)>,
    problems: Vec<String>,
}

impl Seen {
    fn secret(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        assert!(value.len() >= 8, "{name}: too short to search for");
        self.secrets.push((name.to_string(), value));
    }

    /// Keep every error answer's body: problems must not echo what the caller sent.
    fn answer(&mut self, res: Res) -> Res {
        if res.status >= 400 {
            self.problems.push(res.body.to_string());
        }
        res
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line_or_a_problem_body() {
    let dir = std::env::temp_dir().join(format!("e2e-hygiene-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let (log_path, out_path) = (dir.join("platform.log"), dir.join("seen.json"));
    let log = std::fs::File::create(&log_path).expect("the log file");
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args([CHILD, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("RUST_LOG", "debug,stripe_fake=off")
        .env("NO_COLOR", "1")
        .env(OUT_VAR, &out_path)
        .stdout(Stdio::from(log.try_clone().expect("the log file")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("the child starts");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("joined").expect("the child ends");
    let text = without_ansi(&std::fs::read_to_string(&log_path).expect("the log"));
    let tail: String = text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    // A failed flow's panic is followed by every service's shutdown lines: show the panic itself.
    let panic: String = text.lines().skip_while(|l| !l.contains("panicked at")).take(15).collect::<Vec<_>>().join("\n");
    assert!(status.success(), "the flows failed ({status}):\n{panic}\nthe log ends with:\n{tail}");
    let seen: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).expect("seen.json")).expect("JSON");

    // The log is the platform's at debug level: without that, finding nothing proves nothing.
    let lines: Vec<&str> = text.lines().collect();
    let debug = lines.iter().filter(|l| l.contains("DEBUG")).count();
    assert!(debug > 100, "only {debug} debug lines of {}: was RUST_LOG applied?\n{tail}", lines.len());
    // Every service ran in it, and every flow's requests were logged inside their spans (the
    // services share the process: a request's lines carry its `url.path`).
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    for service in ["billing", "subscriptions", "marketplace", "rewards", "licensing"] {
        assert!(has(&format!("service=\"{service}\"")), "no line from {service}");
    }
    for path in [
        "url.path=/api/subscriptions ",
        "url.path=/api/tokens/redeem ",
        "url.path=/api/courses/purchase ",
        "url.path=/api/payments/webhook ",
        "/refunds ",
        "url.path=/api/enterprise/licenses/activate ",
    ] {
        assert!(has(path), "no request line with {path}");
    }
    assert!(has("DEBUG") && has("tokio_postgres"), "the database client's debug lines are in");

    let secrets: Vec<(String, String)> =
        seen["secrets"].as_array().expect("secrets").iter().map(|s| (str_of(&s[0]), str_of(&s[1]))).collect();
    let names: Vec<&str> = secrets.iter().map(|(n, _)| n.as_str()).collect();
    for wanted in ["jwt", "internal token secret", "stripe key", "webhook secret", "client secret", "license key"] {
        assert!(names.iter().any(|n| n.starts_with(wanted)), "the flows collected no {wanted}: {names:?}");
    }
    for wanted in ["license signing key", "card number", "voucher code"] {
        assert!(names.iter().any(|n| n.starts_with(wanted)), "the flows collected no {wanted}: {names:?}");
    }
    let problems: Vec<String> = seen["problems"].as_array().expect("problems").iter().map(str_of).collect();
    assert!(problems.len() >= 5, "the wrong inputs were answered: {problems:?}");

    let mut leaks = Vec::new();
    for (name, value) in &secrets {
        for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.contains(value.as_str())) {
            leaks.push(format!("{name} in log line {}: {}", i + 1, line.replace(value.as_str(), "<SECRET>")));
        }
        for body in problems.iter().filter(|b| b.contains(value.as_str())) {
            leaks.push(format!("{name} in a problem body: {}", body.replace(value.as_str(), "<SECRET>")));
        }
    }
    // Any JWT at all (the gateway mints an internal one per request, each a different value).
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| has_jwt(l)) {
        leaks.push(format!("a JWT in log line {}: {}", i + 1, &line[..line.len().min(300)]));
    }
    assert!(leaks.is_empty(), "{} leak(s) (the log: {}):\n{}", leaks.len(), log_path.display(), leaks.join("\n"));
    // Kept when a check fails, to read.
    let _ = std::fs::remove_dir_all(&dir);
}

/// `text` without terminal colour sequences (`ESC [ ... m`), which could split what is searched.
fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A compact JWS: base64url of a JSON header (`eyJ`), a dot, base64url of JSON claims (`eyJ`).
fn has_jwt(line: &str) -> bool {
    line.match_indices("eyJ").any(|(at, _)| {
        let rest = &line[at..];
        let header = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
        header >= 10 && rest[header..].starts_with(".eyJ")
    })
}

#[test]
fn the_jwt_detector_finds_tokens_and_nothing_else() {
    let token = testkit::jwt::user_token(&Uuid::now_v7().to_string(), &["learner"]);
    assert!(has_jwt(&format!("DEBUG forwarding authorization=Bearer {token} done")));
    assert!(has_jwt(&format!("token={token}")));
    assert!(!has_jwt("eyJ alone, or eyJhbGciOi without a payload"));
    assert!(!has_jwt("a plain debug line about request 0192f0c4"));
    assert_eq!(without_ansi("\u{1b}[3murl.path\u{1b}[0m\u{1b}[2m=\u{1b}[0m/api"), "url.path=/api");
}

/// The flows, run by the test above in a child process (nothing to check here on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by hygiene::no_secret_reaches_a_log_line_or_a_problem_body with RUST_LOG=debug"]
async fn drive_the_flows_with_debug_logs() {
    let out = std::env::var(OUT_VAR).expect("run by no_secret_reaches_a_log_line_or_a_problem_body");
    let p = Platform::start().await;
    let mut seen = Seen::default();
    seen.secret("internal token secret", testkit::INTERNAL_SECRET);
    seen.secret("stripe key", p.fake.api_key());
    seen.secret("webhook secret", WEBHOOK_SECRET);
    seen.secret("card number", CARD_NUMBER);
    seen.secret("rewards handle secret", rewards::Config::default().leaderboard_handle_secret.expose());
    seen.secret("webhooks secret key", crate::support::webhooks_config().secret_key.expose());
    let pem = include_str!("../../../services/licensing/dev-keys/certificate-signing.dev-only.key.pem");
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        seen.secret("license signing key (PEM)", line);
    }

    let admin = User::admin();
    let instructor = User::instructor();
    let learner = User::learner();
    for (who, u) in [("admin", &admin), ("instructor", &instructor), ("learner", &learner)] {
        seen.secret(&format!("jwt of the {who}"), u.token.as_str());
    }

    subscribe_and_pay(&p, &mut seen).await;
    let payment_id = buy_with_a_voucher(&p, &mut seen, &instructor, &learner, &admin).await;
    refund(&p, &mut seen, &admin, &learner, &payment_id).await;
    activate_a_seat(&p, &mut seen, &admin).await;
    forged_webhook_and_tampered_token(&p, &mut seen, &learner).await;
    outgoing_webhook_secrets(&p, &mut seen, &admin).await;

    let doc = json!({"secrets": seen.secrets, "problems": seen.problems});
    std::fs::write(out, doc.to_string()).expect("seen.json");
    p.stop().await;
}

/// Flow 3's start: subscribe to Pro, pay the first month (Stripe's webhook through the gateway).
async fn subscribe_and_pay(p: &Platform, seen: &mut Seen) {
    let user = User::learner();
    seen.secret("jwt of the subscriber", user.token.as_str());
    let key = Uuid::new_v4().to_string();
    let res = seen.answer(p.post_key(&user, "/api/subscriptions", json!({"tier": "pro"}), &key).await);
    assert_eq!(res.status, 201, "{}", res.body);
    let client_secret = res.body["client_secret"].clone();
    seen.secret("client secret of the subscription", str_of(&client_secret));
    p.confirm(&client_secret, "pm_card_visa");
    p.wait_feature(&user, "certificates", true).await;
}

/// Flows 5 and 1: tokens redeemed for a course voucher, a course bought with it; the voucher
/// code mistyped and used by a stranger on the way. Returns the payment id.
async fn buy_with_a_voucher(p: &Platform, seen: &mut Seen, instructor: &User, learner: &User, admin: &User) -> String {
    let award = json!({"user_id": learner.id, "amount": 300, "reason": "e2e: hygiene"});
    let awarded = seen.answer(p.post_key(admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await);
    assert_eq!(awarded.status, 201, "{}", awarded.body);
    let redeem = json!({"item": "course_voucher"});
    let redeemed = seen.answer(p.post_key(learner, "/api/tokens/redeem", redeem, &Uuid::new_v4().to_string()).await);
    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    let code = str_of(&redeemed.body["voucher"]["code"]);
    seen.secret("voucher code", code.as_str());
    seen.secret("voucher code (lower case)", code.to_lowercase());

    let title = format!("{} secret hygiene", unique_word());
    let course = str_of(&p.publish_course(instructor, &title, "19.99").await["id"]);
    let purchase = |buyer: User, code: String| {
        let course = course.clone();
        async move {
            let body = json!({"course_id": course, "voucher_code": code});
            p.post_key(&buyer, "/api/courses/purchase", body, &Uuid::new_v4().to_string()).await
        }
    };
    // Wrong inputs: a stranger's use of the code, a mistyped code.
    let stranger = seen.answer(purchase(User::learner(), code.clone()).await);
    assert_eq!(stranger.status, 422, "{}", stranger.body);
    // The last symbol changed to another one (a code ending in X stays valid with X: 1 in 32).
    let last = if code.ends_with('X') { 'Y' } else { 'X' };
    let typo = format!("{}{last}", &code[..code.len() - 1]);
    seen.secret("voucher code (mistyped)", typo.as_str());
    let mistyped = seen.answer(purchase(learner.clone(), typo).await);
    assert_eq!(mistyped.status, 422, "{}", mistyped.body);

    let res = seen.answer(purchase(learner.clone(), code).await);
    assert_eq!(res.status, 201, "{}", res.body);
    seen.secret("client secret of the purchase", str_of(&res.body["client_secret"]));
    p.confirm(&res.body["client_secret"], "pm_card_visa");
    p.wait_owned(learner, &course).await;
    str_of(&res.body["payment_id"])
}

/// Flow 2: the admin refunds; Stripe's `charge.refunded` webhook; access revoked.
async fn refund(p: &Platform, seen: &mut Seen, admin: &User, learner: &User, payment_id: &str) {
    let path = format!("/api/payments/{payment_id}/refunds");
    let body = json!({"reason": "requested_by_customer"});
    let stranger = seen.answer(p.post_key(learner, &path, json!({"reason": "fraudulent"}), "hygiene-stranger").await);
    assert!(stranger.status >= 400, "{}", stranger.body);
    let res = seen.answer(p.post_key(admin, &path, body, &Uuid::new_v4().to_string()).await);
    assert!(res.is_success(), "{} {}", res.status, res.body);
    p.events.wait_for("billing.payment.refunded.v1", |d| d["payment_id"] == payment_id).await;
}

/// Flow 4: a license, its key tampered with, then a seat activated with the right key.
async fn activate_a_seat(p: &Platform, seen: &mut Seen, admin: &User) {
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let body = json!({
        "organization": {"name": format!("Hygiene {suffix}"), "domain": format!("hygiene-{suffix}.example.com")},
        "seats": 2,
        "tier": "enterprise",
        "starts_at": now - chrono::Duration::hours(1),
        "expires_at": now + chrono::Duration::days(30),
    });
    let created =
        seen.answer(p.post_key(admin, "/api/enterprise/licenses/create", body, &Uuid::new_v4().to_string()).await);
    assert_eq!(created.status, 201, "{}", created.body);
    let key = str_of(&created.body["license_key"]);
    seen.secret("license key", key.as_str());
    let member = User::learner();
    seen.secret("jwt of the member", member.token.as_str());
    let activate = "/api/enterprise/licenses/activate";
    // The check character makes most typos detectable; a changed character elsewhere too.
    let flipped: String = key.chars().rev().collect();
    for (name, wrong) in [("license key (tampered)", tamper(&key)), ("license key (reversed)", flipped)] {
        seen.secret(name, wrong.as_str());
        let res = seen.answer(p.post(&member, activate, json!({"license_key": wrong})).await);
        assert!((400..500).contains(&res.status), "{}", res.body);
    }
    let seat = seen.answer(p.post(&member, activate, json!({"license_key": key})).await);
    assert_eq!(seat.status, 201, "{}", seat.body);
    p.wait_feature(&member, "team.management", true).await;
}

/// `key` with its first letter or digit after the prefix changed.
fn tamper(key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    if let Some(c) = chars.iter_mut().skip(4).find(|c| c.is_ascii_alphanumeric()) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

/// A webhook signed with the wrong secret, and a JWT with a changed signature.
async fn forged_webhook_and_tampered_token(p: &Platform, seen: &mut Seen, learner: &User) {
    let http = testkit::http();
    let forged_secret = "whsec_forged_by_an_attacker";
    seen.secret("webhook secret (forged)", forged_secret);
    let body = json!({"id": "evt_forged", "type": "payment_intent.succeeded", "data": {"object": {}}}).to_string();
    let at = chrono::Utc::now().timestamp();
    let res = http
        .post(p.url("/api/payments/webhook"))
        .header("stripe-signature", stripe::sign(forged_secret, at, body.as_bytes()))
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the gateway answers");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    seen.answer(Res { status, body: Value::String(text) });
    assert_eq!(status, 400);

    let mut tampered = learner.token.clone();
    let last = if tampered.ends_with('A') { 'B' } else { 'A' };
    tampered.pop();
    tampered.push(last);
    let forger = User { id: learner.id, token: tampered };
    seen.secret("jwt (tampered)", forger.token.as_str());
    let res = seen.answer(p.get(Some(&forger), "/api/tokens/balance").await);
    assert_eq!(res.status, 401, "{}", res.body);
}

/// Every configuration struct, loaded from the environment as the binaries load it with a known
/// value in each secret variable, formats with `{:?}` without any of them (issue 21, point 4).
#[test]
fn no_config_debug_shows_a_secret() {
    let tag = Uuid::new_v4().simple().to_string();
    let secret = |name: &str| format!("{name}-{tag}");
    let pem = secret("pem-body");
    let vars = |prefix: &str, own: &[(&str, String)]| -> Vec<(String, String)> {
        let common = [
            ("DATABASE_URL", format!("postgres://svc:{}@db:5432/platform", secret("db-password"))),
            ("AMQP_URL", format!("amqp://svc:{}@mq:5672/%2f", secret("amqp-password"))),
            ("PORT", "8081".into()),
            ("INTERNAL_TOKEN_SECRET", secret("internal")),
            ("INTERNAL_TOKEN_PREVIOUS_SECRET", secret("internal-previous")),
        ];
        common.iter().chain(own).map(|(k, v)| (format!("{prefix}{k}"), v.clone())).collect()
    };
    let mut shown: Vec<(String, String)> = Vec::new();
    let mut show = |what: &str, debug: String| shown.push((what.to_string(), debug));

    for prefix in ["BILLING_", "SUBSCRIPTIONS_", "MARKETPLACE_", "REWARDS_", "LICENSING_", "WEBHOOKS_"] {
        let common: platform::config::ServiceConfig =
            platform::config::load_from(prefix, vars(prefix, &[])).expect("the common settings");
        show(prefix, format!("{common:?}"));
    }
    let billing: billing::Config = platform::config::load_from(
        "BILLING_",
        vars(
            "BILLING_",
            &[
                ("STRIPE_API_BASE", "https://api.stripe.com".into()),
                ("STRIPE_API_KEY", secret("sk_live")),
                ("STRIPE_WEBHOOK_SECRETS", format!("{},{}", secret("whsec-new"), secret("whsec-old"))),
                ("MERCHANT_NAME", "Learning Platform Inc.".into()),
                ("MERCHANT_ADDRESS", "1 Example Street".into()),
            ],
        ),
    )
    .expect("billing's settings");
    show("billing", format!("{billing:?}"));
    let rewards: rewards::Config = platform::config::load_from(
        "REWARDS_",
        vars(
            "REWARDS_",
            &[("LEADERBOARD_HANDLE_SECRET", secret("handles")), ("CODE_HASH_KEY", secret("voucher-code-hash-key"))],
        ),
    )
    .expect("rewards' settings");
    show("rewards", format!("{rewards:?}"));
    let licensing: licensing::Config = platform::config::load_from(
        "LICENSING_",
        vars(
            "LICENSING_",
            &[
                (
                    "CERTIFICATE_SIGNING_KEY_PEM",
                    format!("-----BEGIN PRIVATE KEY-----\n{pem}\n-----END PRIVATE KEY-----"),
                ),
                ("CERTIFICATE_PUBLIC_KEY_PEM", "-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----".into()),
                ("CODE_HASH_KEY", secret("license-key-hash-key")),
            ],
        ),
    )
    .expect("licensing's settings");
    show("licensing", format!("{licensing:?}"));
    let subscriptions: subscriptions::Config = platform::config::load_from(
        "SUBSCRIPTIONS_",
        vars("SUBSCRIPTIONS_", &[("BILLING_URL", "http://billing:8081".into())]),
    )
    .expect("subscriptions' settings");
    show("subscriptions", format!("{subscriptions:?}"));
    let marketplace: marketplace::Config = platform::config::load_from(
        "MARKETPLACE_",
        vars(
            "MARKETPLACE_",
            &[("BILLING_URL", "http://billing:8081".into()), ("REWARDS_URL", "http://rewards:8084".into())],
        ),
    )
    .expect("marketplace's settings");
    show("marketplace", format!("{marketplace:?}"));
    let webhooks: webhooks::config::WebhooksConfig =
        platform::config::load_from("WEBHOOKS_", vars("WEBHOOKS_", &[("SECRET_KEY", secret("webhooks-sealing-key"))]))
            .expect("webhooks' settings");
    show("webhooks", format!("{webhooks:?}"));
    let gateway_vars = [
        ("GATEWAY_PORT", "8080".to_string()),
        ("GATEWAY_INTERNAL_TOKEN_SECRET", secret("internal")),
        ("GATEWAY_JWT_HS256_SECRET", secret("hs256")),
        ("GATEWAY_JWT_ISSUER", "https://id.example.com".into()),
        ("GATEWAY_JWT_AUDIENCE", "monetization".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(
        ["BILLING", "SUBSCRIPTIONS", "MARKETPLACE", "REWARDS", "LICENSING", "WEBHOOKS"]
            .map(|s| (format!("GATEWAY_{s}_URL"), format!("http://{}:8080", s.to_lowercase()))),
    );
    let gateway: gateway::config::GatewayConfig =
        platform::config::load_from("GATEWAY_", gateway_vars).expect("the gateway's settings");
    show("gateway", format!("{gateway:?}"));
    // What billing builds from its settings, and the fake's own.
    show(
        "stripe client",
        format!("{:?}", stripe::ClientConfig::new("https://api.stripe.com", billing.stripe_api_key.expose())),
    );
    show("webhook verifier", format!("{:?}", stripe::WebhookVerifier::new([billing.stripe_webhook_secrets.expose()])));
    let fake = stripe_fake::FakeConfig {
        api_keys: vec![secret("sk_test")],
        webhook_secret: secret("whsec-fake"),
        ..stripe_fake::FakeConfig::for_tests()
    };
    show("stripe-fake", format!("{fake:?}"));

    // The secrets were loaded (a test that loads none proves nothing) and none is shown.
    assert_eq!(billing.stripe_api_key.expose(), secret("sk_live"));
    assert_eq!(webhooks.secret_key.expose(), secret("webhooks-sealing-key"));
    assert!(licensing.certificate_signing_key_pem.expose().contains(&pem));
    assert_eq!(gateway.jwt_hs256_secret.as_ref().map(|s| s.expose().to_string()), Some(secret("hs256")));
    let mut leaks = Vec::new();
    for (what, debug) in &shown {
        assert!(debug.len() > 20, "{what}: {debug}");
        // Every secret carries the tag; the DSNs' user and host may show, their passwords not.
        if debug.contains(&tag) {
            leaks.push(format!("{what}: {debug}"));
        }
    }
    assert!(leaks.is_empty(), "secrets in Debug output:\n{}", leaks.join("\n"));
}

/// Outgoing webhooks (issue 23): an endpoint's signing secret, shown at its creation and at its
/// rotation, then used to sign deliveries (to a port where nobody listens: every attempt fails
/// and is logged, with the debug logs on).
async fn outgoing_webhook_secrets(p: &Platform, seen: &mut Seen, admin: &User) {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let body = json!({"url": format!("http://127.0.0.1:{unused}/hooks"), "event_types": ["rewards.*"]});
    let res = seen.answer(p.post_key(admin, "/api/admin/webhooks/endpoints", body, &Uuid::new_v4().to_string()).await);
    assert_eq!(res.status, 201, "{}", res.body);
    seen.secret("outgoing webhook secret", str_of(&res.body["secret"]));
    seen.secret("outgoing webhook secret (key bytes)", str_of(&res.body["secret"]).trim_start_matches("whsec_"));
    let id = str_of(&res.body["id"]);
    let path = format!("/api/admin/webhooks/endpoints/{id}/rotate-secret");
    let res = seen.answer(p.call(reqwest::Method::POST, &path, Some(admin), None, Some("rotate")).await);
    assert_eq!(res.status, 201, "{}", res.body);
    seen.secret("rotated outgoing webhook secret", str_of(&res.body["secret"]));
    // A delivery attempt, signed with both, while the debug logs run.
    let award = json!({"user_id": admin.id, "amount": 1, "reason": "hygiene"});
    let res = p.post_key(admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await;
    assert_eq!(res.status, 201, "{}", res.body);
    p.eventually("a logged webhook attempt", || async {
        let log = p.get(Some(admin), &format!("/api/admin/webhooks/endpoints/{id}/attempts")).await;
        (log.body["data"].as_array().is_some_and(|a| !a.is_empty())).then_some(())
    })
    .await;
}
