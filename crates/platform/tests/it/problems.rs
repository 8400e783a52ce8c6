//! Error mapping every service shares: real PostgreSQL errors and money errors into the problem a
//! client can act on (404, 409 retry, 422 on the amount, 503, and a 500 that leaks nothing), and
//! the problem+json answer itself.

use actix_web::http::StatusCode;
use actix_web::ResponseError;
use diesel_async::RunQueryDsl;
use platform::money::{Currency, Money, MoneyError};
use platform::Problem;
use rust_decimal::Decimal;
use std::str::FromStr;

#[derive(diesel::QueryableByName, Debug)]
struct N {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    n: i32,
}

async fn pool(env: &testkit::TestEnv, size: u32) -> platform::db::Pool {
    platform::db::connect(&testkit::database_url(), &env.schema("problems"), size).await.expect("pool")
}

#[tokio::test]
async fn database_errors_become_problems_a_client_can_act_on_and_leak_no_sql() {
    let env = testkit::TestEnv::new();
    let pool = pool(&env, 2).await;
    let mut conn = pool.get().await.unwrap();

    let missing = diesel::sql_query("SELECT 1 AS n WHERE false").get_result::<N>(&mut conn).await.unwrap_err();
    let p = Problem::from(missing);
    assert_eq!((p.status, p.code.as_str()), (404, "not_found"), "{p}");

    // A serializable transaction that lost: 409 with a code that says retrying is right.
    let lost = diesel::sql_query(
        "DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = 'serialization_failure'; END $$",
    )
    .execute(&mut conn)
    .await
    .unwrap_err();
    let p = Problem::from(lost);
    assert_eq!((p.status, p.code.as_str()), (409, "concurrent_update"), "{p}");

    // An amount too large for its column: the client's input, named, not a server error.
    let overflow = diesel::sql_query("SELECT (12345678901234.5::numeric(12,2))::int AS n")
        .get_result::<N>(&mut conn)
        .await
        .unwrap_err();
    let p = Problem::from(overflow);
    assert_eq!((p.status, p.code.as_str()), (422, "validation_failed"), "{p}");
    assert_eq!(p.errors[0].field, "amount");

    // Anything else is a 500 whose body says nothing of the SQL or the database's message.
    let other = diesel::sql_query("SELECT 1 / 0 AS n").get_result::<N>(&mut conn).await.unwrap_err();
    let p = Problem::from(other);
    assert_eq!((p.status, p.code.as_str(), p.detail.as_deref()), (500, "internal_error", None));
    let body = serde_json::to_string(&p).unwrap();
    assert!(!body.contains("division") && !body.contains("SELECT"), "{body}");
    drop(conn);
    env.cleanup(&["problems"]).await;
}

#[tokio::test]
async fn an_exhausted_pool_is_a_503_not_a_500() {
    let env = testkit::TestEnv::new();
    let pool = pool(&env, 1).await;
    let _held = pool.get().await.unwrap();
    // The pool's checkout wait passes with its only connection in use: the database is up but
    // busy, so the answer is `overloaded` (retry later), not `unavailable`.
    let err = pool.get().await.map(|_| ()).unwrap_err();
    let p = Problem::from(err);
    assert_eq!((p.status, p.code.as_str()), (503, "overloaded"), "{p}");
    drop(_held);
    env.cleanup(&["problems"]).await;
}

#[tokio::test]
async fn a_problem_answers_as_problem_json_with_retry_after_and_without_internal_fields() {
    let mut p =
        Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests").with_detail("slow down");
    p.retry_after = Some(7);
    assert_eq!(p.to_string(), "429 rate_limited: slow down");
    let res = p.error_response();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers().get("content-type").unwrap(), platform::problem::CONTENT_TYPE);
    assert_eq!(res.headers().get("retry-after").unwrap(), "7");
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["type"], "https://errors.monetization.example/rate_limited");
    assert_eq!((json["status"].as_u64(), json["code"].as_str()), (Some(429), Some("rate_limited")));
    assert!(json.get("retry_after").is_none() && json.get("errors").is_none(), "{json}");

    // Without a retry hint there is no header; a bad request keeps its detail.
    let res = Problem::bad_request("not JSON").error_response();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("retry-after").is_none());
    assert_eq!(Problem::forbidden().to_string(), "403 forbidden");
}

#[test]
fn money_finer_than_the_minor_unit_is_a_422_on_the_amount_naming_the_currency() {
    let usd = Currency::USD;
    let err = Money::new(Decimal::from_str("9.999").unwrap(), usd).unwrap_err();
    assert!(matches!(err, MoneyError::TooPrecise { exponent: 2, .. }), "{err:?}");
    let p = Problem::from(err);
    assert_eq!((p.status, p.errors[0].field.as_str()), (422, "amount"));
    assert!(p.errors[0].message.contains("USD allows (2)"), "{:?}", p.errors);
    let jpy: Currency = "JPY".parse().unwrap();
    assert!(Money::new(Decimal::from_str("500.5").unwrap(), jpy).is_err(), "yen has no minor unit");
    // Trailing zeros are not precision: 500.00 JPY is 500 JPY.
    assert_eq!(Money::new(Decimal::from_str("500.00").unwrap(), jpy).unwrap().to_string(), "500 JPY");
}

#[test]
fn zero_and_display_carry_the_currencys_minor_unit_for_every_code_sold() {
    assert_eq!(Money::zero(Currency::USD).to_string(), "0.00 USD");
    assert_eq!(Money::zero("JPY".parse().unwrap()).to_string(), "0 JPY");
    assert_eq!(Money::zero("KWD".parse().unwrap()).to_string(), "0.000 KWD");
    let codes: Vec<&str> = Currency::codes().collect();
    assert!(codes.contains(&"USD") && codes.contains(&"JPY") && codes.contains(&"KWD"), "{codes:?}");
    for code in codes {
        let currency: Currency = code.parse().unwrap_or_else(|e| panic!("{code}: {e:?}"));
        assert_eq!(currency.to_string(), code);
        let zero = Money::zero(currency);
        assert_eq!(zero.amount.scale(), currency.exponent(), "{code}");
        assert_eq!(zero.to_minor_units().unwrap(), 0, "{code}");
    }
}
