//! Flow 8, the generative API test: Schemathesis reads the OpenAPI document the gateway serves
//! (`GET /api/openapi.json`) and sends generated valid and invalid requests to every operation
//! (`scripts/api-fuzz.sh`), as two users and an admin, on seeded courses, reviews, payments,
//! licenses, organisations and tickets. It fails on any 5xx, any status, content type or body the
//! document does not allow, any 2xx to a request the document calls invalid, and any refusal of a
//! request the document calls valid for anything but who asks or what state things are in.

use crate::support::{str_of, unique_word, Platform, User};
use chrono::Duration;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Instant;
use uuid::Uuid;

/// A real JWT for `roles`, valid for an hour: the run is a few minutes, the default 10 is tight.
fn long_lived(roles: &[&str]) -> User {
    let id = Uuid::now_v7();
    let mut claims = testkit::jwt::claims(&id.to_string(), roles);
    claims["exp"] = json!(testkit::jwt::now() + 3600);
    User { id, token: testkit::jwt::sign(jsonwebtoken::Algorithm::EdDSA, &claims) }
}

/// Ids of seeded resources, by the first path segment after `/api/` they live under.
struct Seeds {
    course: String,
    review: String,
    payment: String,
    license: String,
    organization: String,
    ticket: Option<String>,
    user: Uuid,
    other: Uuid,
}

impl Seeds {
    /// `{"<path template>": {"<param>": "<id>"}}` for every documented path with ids we have.
    fn for_paths(&self, doc: &Value) -> Value {
        let mut out = Map::new();
        for path in doc["paths"].as_object().expect("paths").keys() {
            let mut params = Map::new();
            let mut set = |name: &str, value: &str| {
                if path.contains(&format!("{{{name}}}")) {
                    params.insert(name.into(), json!(value));
                }
            };
            if path.starts_with("/api/courses/") {
                set("id", &self.course);
                set("review_id", &self.review);
            } else if path.starts_with("/api/payments/") {
                set("id", &self.payment);
            } else if path.starts_with("/api/enterprise/licenses/") {
                set("id", &self.license);
                set("user_id", &self.other.to_string());
            } else if path.starts_with("/api/enterprise/organizations/") {
                set("id", &self.organization);
            } else if path.starts_with("/api/enterprise/support/tickets/") {
                if let Some(ticket) = &self.ticket {
                    set("id", ticket);
                }
            } else if path.starts_with("/api/friends/") {
                set("user_id", &self.user.to_string());
            }
            if !params.is_empty() {
                out.insert(path.clone(), Value::Object(params));
            }
        }
        Value::Object(out)
    }
}

async fn seed(p: &Platform, user: &User, other: &User, admin: &User) -> Seeds {
    // A course by the first user (an instructor), bought and reviewed by the second.
    let course = p.publish_course(user, &format!("{} fuzzing", unique_word()), "19.00").await;
    let course_id = str_of(&course["id"]);
    let bought = p.buy(other, &course_id).await;
    let review =
        p.post(other, &format!("/api/courses/{course_id}/reviews"), json!({"rating": 4, "body": "Useful."})).await;
    assert_eq!(review.status, 201, "{}", review.body);

    // Tokens for both, and a friendship request between them.
    for u in [user, other] {
        let award = json!({"user_id": u.id, "amount": 5000, "reason": "fuzzing seed"});
        let res = p.post_key(admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await;
        assert_eq!(res.status, 201, "{}", res.body);
    }
    let friend = p.post(user, "/api/friends/requests", json!({"user_id": other.id})).await;
    assert!(friend.is_success(), "{}", friend.body);

    // A license for an organisation, a seat for the second user, and their support ticket.
    let now = chrono::Utc::now();
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let license = json!({
        "organization": {"name": format!("Fuzz {suffix}"), "domain": format!("fuzz-{suffix}.example.org")},
        "seats": 5, "tier": "enterprise",
        "starts_at": now - Duration::hours(1), "expires_at": now + Duration::days(90),
    });
    let created = p.post_key(admin, "/api/enterprise/licenses/create", license, &Uuid::new_v4().to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let seat =
        p.post(other, "/api/enterprise/licenses/activate", json!({"license_key": created.body["license_key"]})).await;
    assert_eq!(seat.status, 201, "{}", seat.body);
    let ticket = json!({"subject": "Cannot see the course", "description": "Since this morning.", "priority": "P3"});
    let ticket = p.post(other, "/api/enterprise/support/tickets", ticket).await;
    assert_eq!(ticket.status, 201, "{}", ticket.body);

    Seeds {
        course: course_id,
        review: str_of(&review.body["id"]),
        payment: bought.payment_id,
        license: str_of(&created.body["id"]),
        organization: str_of(&created.body["organization"]["id"]),
        ticket: Some(str_of(&ticket.body["id"])),
        user: user.id,
        other: other.id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_the_answers_the_openapi_document_promises() {
    let p = Platform::start().await;
    let user = long_lived(&["learner", "instructor"]);
    let other = long_lived(&["learner"]);
    let admin = long_lived(&["admin"]);
    let seeds = seed(&p, &user, &other, &admin).await;

    let served = p.get(None, "/api/openapi.json").await;
    assert_eq!(served.status, 200, "{}", served.body);
    let seeds = seeds.for_paths(&served.body);

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let report = std::env::temp_dir().join(format!("api-fuzz-{}.json", Uuid::new_v4()));
    let mut command = std::process::Command::new(root.join("scripts/api-fuzz.sh"));
    command
        .arg(p.gateway.url())
        .env("API_FUZZ_TOKEN_USER", &user.token)
        .env("API_FUZZ_TOKEN_OTHER", &other.token)
        .env("API_FUZZ_TOKEN_ADMIN", &admin.token)
        .env("API_FUZZ_SEEDS", seeds.to_string())
        .env("API_FUZZ_REPORT", &report);
    // By hand: `API_FUZZ_HOLD=<file>` writes the stack's URL and the environment to <file> and
    // keeps the stack up until the file is removed, to run scripts/api-fuzz.sh against it.
    if let Ok(hold) = std::env::var("API_FUZZ_HOLD") {
        let mut text = format!("API_FUZZ_URL={}\n", p.gateway.url());
        for (k, v) in command.get_envs() {
            let (k, v) = (k.to_string_lossy(), v.map(|v| v.to_string_lossy()).unwrap_or_default());
            text.push_str(&format!("{k}='{v}'\n"));
        }
        std::fs::write(&hold, text).expect("write API_FUZZ_HOLD");
        while std::path::Path::new(&hold).exists() {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || command.status()).await.expect("join").expect("api-fuzz.sh runs");
    let wall = started.elapsed();

    let summary = std::fs::read_to_string(&report).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let _ = std::fs::remove_file(&report);
    let (operations, cases) = summary.as_ref().map(counts).unwrap_or_default();
    println!("api-fuzz: {operations} operations, {cases} cases, {:.1} s", wall.as_secs_f64());
    assert!(status.success(), "api-fuzz.sh failed ({status}): see its output above");
    assert!(operations > 0 && cases > 0, "the report counts no operations or cases: {summary:?}");
    p.stop().await;
}

/// (operations tested, test cases sent) from Schemathesis' JSON report.
fn counts(report: &Value) -> (u64, u64) {
    let operations = report["operations"]["tested"].as_u64().unwrap_or_default();
    let cases = report["test_cases"]["generated"].as_u64().unwrap_or_default();
    (operations, cases)
}
