//! Idempotency-Key semantics through a real actix app and database.

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use platform::db::Pool;
use platform::http::Json;
use platform::idempotency::{self, IdempotencyKey, Step};
use platform::Problem;
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
async fn transfer(pool: web::Data<Pool>, key: IdempotencyKey, body: Json<Transfer>) -> Result<HttpResponse, Problem> {
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
    crate::support::migrated(
        "platform",
        25,
        &["CREATE TABLE transfers (id BIGSERIAL PRIMARY KEY, amount BIGINT NOT NULL)"],
    )
    .await
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

/// An endpoint that calls out in the middle (`execute_with_call`): prepare records a pending
/// charge (once per key), the call stands in for billing or Stripe, finish settles the charge.
struct Outside {
    calls: AtomicUsize,
    fail_next: AtomicBool,
    call_time: Duration,
}

async fn charge(
    pool: web::Data<Pool>,
    outside: web::Data<Outside>,
    key: IdempotencyKey,
    body: Json<Transfer>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let amount = body.amount;
    let charge_key = key.0.clone();
    idempotency::execute_with_call(
        &pool,
        "user-1:POST /charge",
        &key,
        &body,
        move |conn| {
            Box::pin(async move {
                diesel::sql_query("INSERT INTO charges (key, amount) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                    .bind::<Text, _>(&charge_key)
                    .bind::<BigInt, _>(amount)
                    .execute(conn)
                    .await?;
                Ok(Step::Call(charge_key))
            })
        },
        async |charge_key: String| {
            outside.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(outside.call_time).await;
            if outside.fail_next.swap(false, Ordering::SeqCst) {
                return Err(Problem::new(StatusCode::BAD_GATEWAY, "outside_unavailable", "the call failed"));
            }
            Ok(charge_key)
        },
        move |conn, charge_key: String| {
            Box::pin(async move {
                let row: Id =
                    diesel::sql_query("UPDATE charges SET finished = finished + 1 WHERE key = $1 RETURNING id")
                        .bind::<Text, _>(&charge_key)
                        .get_result(conn)
                        .await?;
                Ok((StatusCode::CREATED, Transferred { id: row.id, amount }))
            })
        },
    )
    .await
}

/// A read that needs a pooled connection, to show none is held during the call.
async fn ping(pool: web::Data<Pool>) -> Result<HttpResponse, Problem> {
    platform::db::ping(&pool).await.map_err(Problem::internal)?;
    Ok(HttpResponse::Ok().finish())
}

async fn charge_setup(pool_size: u32) -> (testkit::TestEnv, Pool) {
    let env = testkit::TestEnv::new();
    let url = testkit::database_url();
    let schema = env.schema("platform");
    platform::db::migrate(&url, &schema, &platform::MIGRATIONS).await.unwrap();
    let pool = platform::db::connect(&url, &schema, pool_size).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query(
        "CREATE TABLE charges (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE, amount BIGINT NOT NULL, \
         finished INT NOT NULL DEFAULT 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    (env, pool)
}

/// (rows in `charges`, sum of their `finished` counts)
async fn charges(pool: &Pool) -> (i64, i64) {
    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = BigInt)]
        rows: i64,
        #[diesel(sql_type = BigInt)]
        finished: i64,
    }
    let mut conn = pool.get().await.unwrap();
    let c: Counts =
        diesel::sql_query("SELECT count(*) AS rows, COALESCE(sum(finished), 0)::bigint AS finished FROM charges")
            .get_result(&mut conn)
            .await
            .unwrap();
    (c.rows, c.finished)
}

macro_rules! charge_app {
    ($pool:expr, $outside:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($pool.clone()))
                .app_data($outside.clone())
                .configure(platform::http::configure_extractors)
                .route("/charge", web::post().to(charge))
                .route("/ping", web::get().to(ping)),
        )
        .await
    };
}

fn post_charge(key: &str, amount: i64) -> actix_http::Request {
    test::TestRequest::post()
        .uri("/charge")
        .set_json(serde_json::json!({ "amount": amount }))
        .insert_header(("Idempotency-Key", key))
        .to_request()
}

fn outside(call_ms: u64) -> web::Data<Outside> {
    web::Data::new(Outside {
        calls: AtomicUsize::new(0),
        fail_next: AtomicBool::new(false),
        call_time: Duration::from_millis(call_ms),
    })
}

#[actix_web::test]
async fn no_connection_is_held_while_calling_out_and_the_answer_is_replayed() {
    // One connection in all: if the charge kept it across its call, the ping would wait for it.
    let (env, pool) = charge_setup(1).await;
    let outside = outside(800);
    let app = Rc::new(charge_app!(pool, outside));
    let charging = {
        let app = app.clone();
        async move {
            let res = test::call_service(&*app, post_charge("c-1", 7)).await;
            (res.status(), Instant::now())
        }
    };
    let pinging = {
        let app = app.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(200)).await; // the charge is in its call by now
            let res = test::call_service(&*app, test::TestRequest::get().uri("/ping").to_request()).await;
            (res.status(), Instant::now())
        }
    };
    let ((charged, charged_at), (pinged, pinged_at)) = futures_util::join!(charging, pinging);
    assert_eq!((charged, pinged), (StatusCode::CREATED, StatusCode::OK));
    assert!(pinged_at + Duration::from_millis(300) < charged_at, "the ping waited for the call to end");

    let replay = test::call_service(&*app, post_charge("c-1", 7)).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(AtomicUsize::load(&outside.calls, Ordering::SeqCst), 1, "a replay does not call out again");
    assert_eq!(charges(&pool).await, (1, 1));
    let reused = test::call_service(&*app, post_charge("c-1", 8)).await;
    assert_eq!(reused.status(), 422, "same key, other body");
    env.cleanup(&["platform"]).await;
}

#[actix_web::test]
async fn a_failed_call_stores_no_answer_and_the_retry_finishes_once() {
    let (env, pool) = charge_setup(5).await;
    let outside = outside(10);
    let app = charge_app!(pool, outside);
    outside.fail_next.store(true, Ordering::SeqCst);
    let failed = test::call_service(&app, post_charge("c-2", 3)).await;
    assert_eq!(failed.status(), 502);
    assert_eq!(charges(&pool).await, (1, 0), "prepared, not finished");
    let retried = test::call_service(&app, post_charge("c-2", 3)).await;
    assert_eq!(retried.status(), 201);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    assert_eq!(charges(&pool).await, (1, 1), "prepare found its pending charge; finished once");
    assert_eq!(AtomicUsize::load(&outside.calls, Ordering::SeqCst), 2);
    env.cleanup(&["platform"]).await;
}

#[actix_web::test]
async fn concurrent_duplicates_of_a_call_out_finish_once_and_agree() {
    let (env, pool) = charge_setup(25).await;
    let outside = outside(150);
    let app = Rc::new(charge_app!(pool, outside));
    let calls = (0..20).map(|_| {
        let app = app.clone();
        async move {
            let res = test::call_service(&*app, post_charge("c-3", 11)).await;
            let status = res.status();
            let body: serde_json::Value = test::read_body_json(res).await;
            (status, body)
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    let created: Vec<&serde_json::Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b).collect();
    let conflicts = answers.iter().filter(|(s, _)| *s == 409).count();
    assert!(!created.is_empty(), "{answers:?}");
    assert_eq!(created.len() + conflicts, 20, "{answers:?}");
    assert!(created.iter().all(|b| *b == created[0]), "every answer is the one stored: {created:?}");
    assert_eq!(charges(&pool).await, (1, 1), "one charge, finished once");
    env.cleanup(&["platform"]).await;
}

/// A pooled connection whose server process went away (restart, failover, idle kill) is not
/// handed out again: the checkout sees the closed socket without a query and opens a new one.
#[actix_web::test]
async fn a_connection_closed_by_the_server_is_replaced_on_checkout() {
    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let (env, pool) = charge_setup(1).await;
    let first: Pid = {
        let mut conn = pool.get().await.unwrap();
        diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(&mut conn).await.unwrap()
    };
    let mut admin = pool.dedicated_connection().await.unwrap();
    diesel::sql_query(format!("SELECT pg_terminate_backend({})", first.pid)).execute(&mut admin).await.unwrap();
    // The client notices the closed socket as soon as its connection task reads the EOF; from
    // then on no request may be handed the dead connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut conn = pool.get().await.unwrap();
    let replaced: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(&mut conn)
        .await
        .expect("the first request after the server closed the old connection works");
    let replaced = replaced.pid;
    assert_ne!(replaced, first.pid);
    env.cleanup(&["platform"]).await;
}

/// `idempotency_claim`'s lookup goes through the key's index even on a session whose first calls
/// met an empty table: PL/pgSQL keeps a generic plan per session, and one made from an empty
/// table's statistics is a Seq Scan, which then read every stored key on every claim (`make bench`
/// on a fresh database: 78 million rows read in one purchase round; docs/performance.md, round 13).
#[actix_web::test]
async fn the_claim_never_reads_the_stored_keys_one_by_one() {
    const STORED: i64 = 5000;
    let (env, pool) = setup().await;
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query("ANALYZE idempotency_keys").execute(&mut conn).await.unwrap();
    let claim = |i: i64| format!("SELECT idempotency_claim('test:claim', 'key-{i}', 'hash')");
    // Past the custom plans PL/pgSQL tries first: from here the session keeps its generic plan.
    for i in 0..10 {
        diesel::sql_query(claim(i)).execute(&mut conn).await.unwrap();
    }
    diesel::sql_query(format!(
        "INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body) \
         SELECT 'test:claim', 'stored-' || i, 'hash', 200, '{{}}' FROM generate_series(1, {STORED}) AS i"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
    for i in 10..15 {
        diesel::sql_query(claim(i)).execute(&mut conn).await.unwrap();
    }
    let read = testkit::plan::rows_read_sequentially_in_transaction(&mut conn, "idempotency_keys").await;
    diesel::sql_query("COMMIT").execute(&mut conn).await.unwrap();
    assert!(read < STORED, "five claims read {read} rows sequentially: the claim scans the stored keys");
    drop(conn);
    env.cleanup(&["platform"]).await;
}
