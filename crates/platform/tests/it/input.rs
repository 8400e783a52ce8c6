//! The input rules on a real actix app, as every service mounts them (runtime): the extractors,
//! `screen_input`, the documented query parameters and the 405 fallback.

use actix_web::middleware::from_fn;
use actix_web::{test, web, App, HttpResponse};
use platform::http::{Json, Operations, Query};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Review {
    rating: u8,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListQuery {
    q: Option<String>,
    #[param(value_type = Option<String>)]
    min_price: Option<rust_decimal::Decimal>,
}

#[utoipa::path(get, path = "/api/things", params(ListQuery), responses((status = 200)))]
async fn list(q: Query<ListQuery>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"q": q.q}))
}

#[utoipa::path(post, path = "/api/things/{id}/reviews", request_body = Review, responses((status = 201)))]
async fn review(_id: web::Path<String>, body: Json<Review>) -> HttpResponse {
    HttpResponse::Created().json(json!({"rating": body.rating, "body": body.body}))
}

#[utoipa::path(get, path = "/api/things/{id}", responses((status = 200)))]
async fn get(id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"id": id.into_inner()}))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, review, get))]
struct Doc;

macro_rules! app {
    () => {
        test::init_service(
            App::new()
                .app_data(Operations::from_openapi(&<Doc as utoipa::OpenApi>::openapi()))
                .configure(platform::http::configure_extractors)
                .configure(platform::health::routes)
                .route("/api/things", web::get().to(list))
                .route("/api/things/{id}", web::get().to(get))
                .route("/api/things/{id}/reviews", web::post().to(review))
                .configure(platform::http::fallback)
                .wrap(from_fn(platform::http::screen_input)),
        )
        .await
    };
}

async fn call(req: test::TestRequest) -> (u16, Option<String>, Value) {
    let app = app!();
    let res = test::call_service(&app, req.to_request()).await;
    let status = res.status().as_u16();
    let allow = res.headers().get("allow").map(|v| v.to_str().unwrap().to_string());
    let body = test::read_body(res).await;
    (status, allow, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn field(body: &Value) -> &str {
    body["errors"][0]["field"].as_str().unwrap_or_else(|| panic!("no field: {body}"))
}

#[actix_web::test]
async fn query_errors_name_query_dot_field() {
    for (uri, named) in [
        ("/api/things?q=%00", "query.q"),
        ("/api/things?min_price=a%60b", "query.min_price"),
        ("/api/things?colour=red", "query.colour"),
        ("/api/things/x?expand=1", "query.expand"),
    ] {
        let (status, _, body) = call(test::TestRequest::get().uri(uri)).await;
        assert_eq!(status, 422, "{uri}: {body}");
        assert_eq!(field(&body), named, "{uri}");
    }
    let (status, _, body) = call(test::TestRequest::get().uri("/api/things?q=caf%C3%A9")).await;
    assert_eq!((status, body), (200, json!({"q": "café"})));
}

#[actix_web::test]
async fn body_and_path_errors_name_the_field() {
    let post = |body: Value| test::TestRequest::post().uri("/api/things/x/reviews").set_json(body);
    for (body, named) in [
        (json!({"rating": 2.0}), "rating"),
        (json!({"rating": "5"}), "rating"),
        (json!({"rating": 5, "body": "a\u{0}b"}), "body"),
        (json!({"rating": 5, "extra": 1}), "extra"),
        (json!({}), "rating"),
    ] {
        let (status, _, res) = call(post(body.clone())).await;
        assert_eq!(status, 422, "{body}: {res}");
        assert_eq!(field(&res), named, "{body}");
    }
    let (status, _, res) = call(post(json!({"rating": 5, "body": "one\n\ttwo"}))).await;
    assert_eq!((status, res), (201, json!({"rating": 5, "body": "one\n\ttwo"})));
    let (status, _, res) = call(test::TestRequest::get().uri("/api/things/a%00b")).await;
    assert_eq!(status, 422);
    assert_eq!(field(&res), "path.id");
}

#[actix_web::test]
async fn a_wrong_method_is_405_with_allow_and_an_unknown_path_404() {
    for (req, allow) in [
        (test::TestRequest::delete().uri("/api/things"), "GET"),
        (test::TestRequest::put().uri("/api/things/x"), "GET"),
        (test::TestRequest::get().uri("/api/things/x/reviews"), "POST"),
        (test::TestRequest::post().uri("/health/live"), "GET"),
    ] {
        let (status, got, body) = call(req).await;
        assert_eq!(status, 405, "{body}");
        assert_eq!(got.as_deref(), Some(allow));
        assert_eq!(body["code"], "method_not_allowed");
    }
    let (status, allow, body) = call(test::TestRequest::get().uri("/nothing/here")).await;
    assert_eq!((status, allow), (404, None));
    assert_eq!(body["code"], "not_found");
}
