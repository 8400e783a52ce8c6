//! Secrets at rest: the SQL `code_hmac()` the conversion migrations use is the Rust helper's
//! HMAC, and a concealed idempotent answer never stores the secret it showed once.

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use diesel::sql_types::{Bytea, Text};
use diesel_async::RunQueryDsl;
use platform::code_hash::CodeHasher;
use platform::config::Secret;
use platform::db::Pool;
use platform::http::Json;
use platform::idempotency::{self, IdempotencyKey};
use platform::Problem;
use serde::{Deserialize, Serialize};

#[derive(diesel::QueryableByName)]
struct Hash {
    #[diesel(sql_type = Bytea)]
    h: Vec<u8>,
}

async fn setup() -> (testkit::TestEnv, Pool) {
    crate::support::migrated("platform", 4, &[]).await
}

async fn sql_hmac(pool: &Pool, key: &str, code: &str) -> Vec<u8> {
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query("SELECT code_hmac($1, $2) AS h")
        .bind::<Text, _>(key)
        .bind::<Text, _>(code)
        .get_result::<Hash>(&mut conn)
        .await
        .unwrap()
        .h
}

#[actix_web::test]
async fn the_sql_hmac_is_the_rust_helpers_for_every_key_length() {
    let (env, pool) = setup().await;
    // RFC 4231 test case 2, then keys shorter than, equal to and longer than the 64-byte block
    // (a longer key is hashed first), and a non-ASCII code.
    assert_eq!(
        hex::encode(sql_hmac(&pool, "Jefe", "what do ya want for nothing?").await),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    for key in [platform::code_hash::DEV_KEY.to_string(), "k".repeat(64), "long-key-".repeat(20)] {
        let rust = CodeHasher::new(&Secret::new(key.clone()), None).unwrap();
        for code in ["RW-7K2M-Q9XD-4HNB-T3VC", "0123456789ABCDEFGHJKMNPQRSTVWX", "ÄÖÜ-ß"] {
            assert_eq!(sql_hmac(&pool, &key, code).await, rust.hash(code), "key of {} bytes, {code}", key.len());
        }
    }
    env.cleanup(&["platform"]).await;
}

#[actix_web::test]
async fn the_conversion_refuses_to_run_without_a_key_and_reads_the_session_setting() {
    let (env, pool) = setup().await;
    let mut conn = pool.get().await.unwrap();
    let missing = diesel::sql_query("SELECT code_hmac(migration_code_hash_key('voucher codes'), 'X') AS h")
        .get_result::<Hash>(&mut conn)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(missing.contains("voucher codes must be hashed") && missing.contains("CODE_HASH_KEY"), "{missing}");
    // What `migrate` does on its connection (runtime::CODE_HASH_KEY_SETTING).
    diesel::sql_query("SELECT set_config('monetization.code_hash_key', $1, false)")
        .bind::<Text, _>(platform::code_hash::DEV_KEY)
        .execute(&mut conn)
        .await
        .unwrap();
    let h = diesel::sql_query("SELECT code_hmac(migration_code_hash_key('voucher codes'), 'RW-1') AS h")
        .get_result::<Hash>(&mut conn)
        .await
        .unwrap()
        .h;
    let rust = CodeHasher::new(&Secret::new(platform::code_hash::DEV_KEY), None).unwrap();
    assert!(rust.matches("RW-1", &h));
    env.cleanup(&["platform"]).await;
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    name: String,
}

#[derive(Serialize)]
struct Created {
    name: String,
    secret: Option<String>,
    secret_prefix: String,
}

const SECRET: &str = "SECRET-0123456789-ABCDEFGHJK";

fn conceal(body: &mut serde_json::Value) {
    if let Some(o) = body.as_object_mut() {
        o.remove("secret");
    }
}

async fn create(pool: web::Data<Pool>, key: IdempotencyKey, body: Json<Create>) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let name = body.name.clone();
    idempotency::execute_concealed(&pool, "user-1:POST /create", &key, &body, conceal, move |_conn| {
        Box::pin(async move {
            let created =
                Created { name, secret: Some(SECRET.into()), secret_prefix: platform::code_hash::prefix(SECRET, 6) };
            Ok((StatusCode::CREATED, created))
        })
    })
    .await
}

#[actix_web::test]
async fn a_concealed_answer_shows_the_secret_once_and_never_stores_it() {
    let (env, pool) = setup().await;
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(pool.clone()))
            .configure(platform::http::configure_extractors)
            .route("/create", web::post().to(create)),
    )
    .await;
    let post = || {
        test::TestRequest::post()
            .uri("/create")
            .insert_header(("Idempotency-Key", "k-1"))
            .set_json(serde_json::json!({"name": "a"}))
            .to_request()
    };
    let first: serde_json::Value = test::read_body_json(test::call_service(&app, post()).await).await;
    assert_eq!(first["secret"], SECRET);
    let again = test::call_service(&app, post()).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    let again: serde_json::Value = test::read_body_json(again).await;
    assert!(again.get("secret").is_none(), "{again}");
    assert_eq!(again["secret_prefix"], "SECRET");

    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = pool.get().await.unwrap();
    let holding = diesel::sql_query("SELECT count(*) AS n FROM idempotency_keys WHERE response_body::text LIKE $1")
        .bind::<Text, _>(format!("%{SECRET}%"))
        .get_result::<N>(&mut conn)
        .await
        .unwrap()
        .n;
    assert_eq!(holding, 0);
    env.cleanup(&["platform"]).await;
}
