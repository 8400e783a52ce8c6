//! The catalogue page cache is per replica and never invalidated across replicas: a course
//! published through replica A shows on replica B's cached page within the cache's TTL, never
//! later (docs/operations.md, "Per-pod caches").

use crate::support::{Market, Options};
use runtime::RunningService;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

const TTL_MS: u64 = 1_000;
/// A request's own time on a busy test runner, beyond the TTL.
const SLACK: Duration = Duration::from_millis(300);

async fn page_at(m: &Market, svc: &RunningService, path: &str) -> Vec<String> {
    let page: Value = m.http.get(format!("{}{path}", svc.url())).send().await.unwrap().json().await.unwrap();
    page["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replicas_catalogue_page_is_never_older_than_the_ttl() {
    let m = Market::start_with(Options {
        billing: false,
        rewards: false,
        tweak: Box::new(|c| c.catalog_cache_ms = TTL_MS),
    })
    .await;
    let b = m.start_replica(|c| c.catalog_cache_ms = TTL_MS).await;
    let author = Uuid::now_v7();
    let path = "/api/courses/list?q=weaving";
    let first = m.course(author, json!({"title": "Weaving Basics"}), true).await;
    let first = first["id"].as_str().unwrap().to_string();
    // B reads (and caches) the page, then A publishes a second course.
    let read = Instant::now();
    assert_eq!(page_at(&m, &b, path).await, vec![first.clone()]);
    let second = m.course(author, json!({"title": "Weaving Rugs"}), true).await;
    let second = second["id"].as_str().unwrap().to_string();
    let mut stale_answers = 0;
    loop {
        let ids = page_at(&m, &b, path).await;
        if ids.contains(&second) {
            break;
        }
        stale_answers += 1;
        assert!(
            read.elapsed() < Duration::from_millis(TTL_MS) + SLACK,
            "B still serves a page read {:?} ago, past its {TTL_MS} ms TTL",
            read.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "replica B showed A's new course {:?} after reading the page ({stale_answers} stale answers)",
        read.elapsed()
    );
    assert!(stale_answers > 0, "B answered from its own cache, so there was something to bound");
    assert_eq!(page_at(&m, &m.svc, path).await.len(), 2);
    b.stop().await;
    m.stop().await;
}
