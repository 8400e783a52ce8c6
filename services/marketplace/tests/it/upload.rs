use crate::support::{metadata, Market, Options, ZIP};
use platform::auth::Role;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_records_a_draft_with_its_checksum_then_publish_and_unpublish() {
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    let res = m.upload(instructor, &metadata("Rust for payments", "9.99"), ZIP, "application/zip").await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let course: Value = res.json().await.unwrap();
    assert_eq!(course["status"], "draft");
    assert_eq!(course["price"], json!({"amount": "9.99", "currency": "USD"}));
    assert_eq!(course["package"]["sha256"], hex::encode(Sha256::digest(ZIP)));
    assert_eq!(course["package"]["size_bytes"], ZIP.len());
    assert_eq!(m.stored_files().len(), 1);
    let id = course["id"].as_str().unwrap();

    // A draft is invisible to others, visible to its instructor.
    assert_eq!(m.get(None, &format!("/api/courses/{id}")).await.status(), 404);
    assert_eq!(m.get(Some((instructor, &[Role::Instructor])), &format!("/api/courses/{id}")).await.status(), 200);

    let published: Value = m
        .post(instructor, &[Role::Instructor], &format!("/api/courses/{id}/publish"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(published["status"], "published");
    let public = m.get_json(None, &format!("/api/courses/{id}")).await;
    assert_eq!(public["title"], "Rust for payments");

    // The package is for its instructor (and buyers) only.
    let res = m.get(Some((instructor, &[Role::Instructor])), &format!("/api/courses/{id}/content")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), ZIP);
    let res = m.get(Some((Uuid::now_v7(), &[Role::Learner])), &format!("/api/courses/{id}/content")).await;
    assert_eq!(res.status(), 403);

    let res = m.post(instructor, &[Role::Instructor], &format!("/api/courses/{id}/unpublish"), json!({})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "unpublished");
    assert_eq!(m.get(None, &format!("/api/courses/{id}")).await.status(), 404);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_edits_a_course_and_learners_cannot_upload() {
    let m = Market::start().await;
    let owner = Uuid::now_v7();
    let course = m.course(owner, json!({}), true).await;
    let id = course["id"].as_str().unwrap();
    let path = format!("/api/courses/{id}");

    let other = Uuid::now_v7();
    let res =
        m.send(reqwest::Method::PATCH, other, &[Role::Instructor], &path, json!({"title": "Mine now"}), None).await;
    assert_eq!(res.status(), 403);
    let res = m.post(other, &[Role::Instructor], &format!("{path}/unpublish"), json!({})).await;
    assert_eq!(res.status(), 403);

    let res = m
        .send(
            reqwest::Method::PATCH,
            owner,
            &[Role::Instructor],
            &path,
            json!({"title": "Rust for payment systems", "price": {"amount": "19.00", "currency": "USD"}, "tags": ["Rust", "rust", "Stripe"]}),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["title"], "Rust for payment systems");
    assert_eq!(edited["price"]["amount"], "19.00");
    assert_eq!(edited["tags"], json!(["rust", "stripe"]));

    let res = m.send(reqwest::Method::PATCH, owner, &[Role::Instructor], &path, json!({"owner": "x"}), None).await;
    assert_eq!(res.status(), 422, "unknown fields are refused");
    let res = m.send(reqwest::Method::PATCH, owner, &[Role::Instructor], &path, json!({"level": "guru"}), None).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["field"], "level");

    let learner = Uuid::now_v7();
    let res = m
        .http
        .post(m.url("/api/courses/upload"))
        .header("x-internal-token", Market::token(learner, &[Role::Learner]))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_wrong_type_or_invalid_uploads_leave_nothing_behind() {
    let m =
        Market::start_with(Options { billing: false, rewards: false, tweak: Box::new(|c| c.max_upload_bytes = 2_048) })
            .await;
    let instructor = Uuid::now_v7();
    let meta = metadata("Too big", "5.00");

    let mut big = ZIP.to_vec();
    big.resize(4_096, b'x');
    let res = m.upload(instructor, &meta, &big, "application/zip").await;
    assert_eq!(res.status(), 413);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "payload_too_large");

    let res = m.upload(instructor, &meta, b"plain text, not a package", "text/plain").await;
    assert_eq!(res.status(), 415);
    // Declared a zip, but the bytes say otherwise.
    let res = m.upload(instructor, &meta, b"%PDF-1.7 pretending to be a zip", "application/zip").await;
    assert_eq!(res.status(), 415);

    let mut bad = meta.clone();
    bad["title"] = json!("x");
    bad["price"] = json!({"amount": "9.999", "currency": "USD"});
    let res = m.upload(instructor, &bad, ZIP, "application/zip").await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["title", "price"]);

    assert!(m.stored_files().is_empty(), "{:?}", m.stored_files());
    assert_eq!(m.course_rows().await, 0);
    m.stop().await;
}

/// Found by the `upload` fuzz target: a body that ends inside a part, before the form's closing
/// boundary, left actix-multipart waiting for more forever, holding the request and its staged
/// file. The read is bounded (`MARKETPLACE_UPLOAD_TIMEOUT_SECS`): the answer is a 400 and nothing
/// is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_ends_inside_a_part_is_refused_in_bounded_time() {
    let m =
        Market::start_with(Options { billing: false, rewards: false, tweak: Box::new(|c| c.upload_timeout_secs = 1) })
            .await;
    let instructor = Uuid::now_v7();
    let truncated = "--fuzzboundary\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
                     Content-Type: application/json\r\n\r\n{\"title\":\"Rust\",\"price\":{\"amo\
                     fuzzboundary--\r\n";
    let started = std::time::Instant::now();
    let res = m
        .http
        .post(m.url("/api/courses/upload"))
        .header("x-internal-token", Market::token(instructor, &[Role::Instructor]))
        .header("content-type", "multipart/form-data; boundary=fuzzboundary")
        .body(truncated)
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .expect("an answer, not a hang");
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "bad_request");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(m.stored_files().is_empty(), "{:?}", m.stored_files());
    assert_eq!(m.course_rows().await, 0);
    m.stop().await;
}
