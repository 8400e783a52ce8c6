//! Idempotency-Key semantics through a real actix app and database.

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use platform::db::Pool;
use platform::idempotency::{self, IdempotencyKey};
use platform::Problem;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Transfer {
    amount: i64,
}

#[derive(Serialize)]
struct Transferred {
    id: i64,
    amount: i64,
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A money-moving endpoint: one row in `transfers` per effect.
async fn transfer(
    pool: web::Data<Pool>,
    key: IdempotencyKey,
    body: web::Json<Transfer>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let amount = body.amount;
    idempotency::execute(&pool, "user-1:POST /transfer", &key, &body, move |conn| {
        Box::pin(async move {
            // Slow enough that concurrent duplicates overlap.
            diesel::sql_query("SELECT pg_sleep(0.2)").execute(conn).await?;
            let row: Id = diesel::sql_query("INSERT INTO transfers (amount) VALUES ($1) RETURNING id")
                .bind::<BigInt, _>(amount)
                .get_result(conn)
                .await?;
            Ok((StatusCode::CREATED, Transferred { id: row.id, amount }))
        })
    })
    .await
}

async fn setup() -> (testkit::TestEnv, Pool) {
    let env = testkit::TestEnv::new();
    let url = testkit::database_url();
    let schema = env.schema("platform");
    platform::db::migrate(&url, &schema, &platform::MIGRATIONS).await.unwrap();
    let pool = platform::db::connect(&url, &schema, 25).await.unwrap();
    {
        let mut conn = pool.get().await.unwrap();
        diesel::sql_query("CREATE TABLE transfers (id BIGSERIAL PRIMARY KEY, amount BIGINT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    (env, pool)
}

async fn transfers(pool: &Pool) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query("SELECT count(*) AS n FROM transfers").get_result::<N>(&mut conn).await.unwrap().n
}

macro_rules! app {
    ($pool:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($pool.clone()))
                .configure(platform::http::configure_extractors)
                .route("/transfer", web::post().to(transfer)),
        )
        .await
    };
}

fn post(key: Option<&str>, body: serde_json::Value) -> actix_http::Request {
    let mut req = test::TestRequest::post().uri("/transfer").set_json(body);
    if let Some(k) = key {
        req = req.insert_header(("Idempotency-Key", k));
    }
    req.to_request()
}

#[actix_web::test]
async fn replay_returns_the_first_response_and_a_different_body_is_422() {
    let (env, pool) = setup().await;
    let app = app!(pool);
    let first = test::call_service(&app, post(Some("k-1"), serde_json::json!({"amount": 5}))).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: serde_json::Value = test::read_body_json(first).await;

    let again = test::call_service(&app, post(Some("k-1"), serde_json::json!({"amount": 5}))).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    let again: serde_json::Value = test::read_body_json(again).await;
    assert_eq!(again, first);

    let other = test::call_service(&app, post(Some("k-1"), serde_json::json!({"amount": 6}))).await;
    assert_eq!(other.status(), 422);
    let problem: serde_json::Value = test::read_body_json(other).await;
    assert_eq!(problem["code"], "idempotency_key_reused");

    let missing = test::call_service(&app, post(None, serde_json::json!({"amount": 5}))).await;
    assert_eq!(missing.status(), 400);
    let unknown = test::call_service(&app, post(Some("k-2"), serde_json::json!({"amount": 5, "owner": "x"}))).await;
    assert_eq!(unknown.status(), 422, "unknown fields are refused");
    let problem: serde_json::Value = test::read_body_json(unknown).await;
    assert_eq!(problem["errors"][0]["field"], "owner");

    assert_eq!(transfers(&pool).await, 1);
    env.cleanup(&["platform"]).await;
}

#[actix_web::test]
async fn twenty_concurrent_requests_with_one_key_have_one_effect() {
    let (env, pool) = setup().await;
    let app = Rc::new(app!(pool));
    let calls = (0..20).map(|_| {
        let app = app.clone();
        async move { test::call_service(&*app, post(Some("same-key"), serde_json::json!({"amount": 9}))).await.status() }
    });
    let statuses = futures_util::future::join_all(calls).await;
    let created = statuses.iter().filter(|s| **s == 201).count();
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert!(created >= 1, "{statuses:?}");
    assert_eq!(created + conflicts, 20, "{statuses:?}");
    assert_eq!(transfers(&pool).await, 1, "exactly one effect");
    // After the first finished, a retry replays it.
    let replay = test::call_service(&*app, post(Some("same-key"), serde_json::json!({"amount": 9}))).await;
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    env.cleanup(&["platform"]).await;
}
