//! Item 12: a package is downloaded as a stream of bounded chunks, and the instructor's lists are
//! cursor-paginated.

use crate::support::{metadata, Market};
use futures_util::StreamExt;
use marketplace::content::{ContentStore, LocalDir, CHUNK};
use platform::auth::Role;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use uuid::Uuid;

/// A zip-looking package of `len` bytes that no two positions repeat in a short period.
fn package(len: usize) -> Vec<u8> {
    let mut bytes = b"PK\x03\x04".to_vec();
    let mut x: u32 = 0x9e37_79b9;
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push(x as u8);
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_mib_package_downloads_exactly_in_bounded_chunks() {
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    let bytes = package(6 * 1024 * 1024 + 123);
    let res = m.upload(instructor, &metadata("Big course", "5.00"), &bytes, "application/zip").await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let course: Value = res.json().await.unwrap();
    let id = course["id"].as_str().unwrap();

    let res = m.get(Some((instructor, &[Role::Instructor])), &format!("/api/courses/{id}/content")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], bytes.len().to_string().as_str());
    let sha = res.headers()["x-content-sha256"].to_str().unwrap().to_string();
    let got = res.bytes().await.unwrap();
    assert!(got.as_ref() == bytes.as_slice(), "the exact bytes ({} of {})", got.len(), bytes.len());
    assert_eq!(sha, hex::encode(Sha256::digest(&bytes)));

    // The store the handler streams from yields the package in chunks of at most CHUNK bytes:
    // a download holds one chunk at a time, never the whole package.
    let key = std::fs::read_dir(&m.content_dir)
        .unwrap()
        .flatten()
        .find(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .expect("the stored package");
    let store = LocalDir::new(&m.content_dir).unwrap();
    let reading = store.open(&key).await.unwrap();
    assert_eq!(reading.size, bytes.len() as u64);
    let chunks: Vec<_> = reading.chunks.map(|c| c.unwrap()).collect().await;
    assert!(chunks.len() >= bytes.len() / CHUNK, "{} chunks", chunks.len());
    assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
    assert_eq!(chunks.concat(), bytes);
    m.stop().await;
}

/// Every page of `path` (a `Page` list) at `limit`, as ids, with the number of pages.
async fn all_pages(m: &Market, caller: Uuid, path: &str, limit: usize) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let page = m.get_json(Some((caller, &[Role::Instructor])), &url).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= limit);
        ids.extend(data.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (ids, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instructors_courses_and_payouts_are_cursor_paginated() {
    let m = Market::start().await;
    let instructor = Uuid::now_v7();
    for n in 0..23 {
        let meta = metadata(&format!("Course {n}"), "1.00");
        assert_eq!(m.upload(instructor, &meta, crate::support::ZIP, "application/zip").await.status(), 201);
    }
    m.upload(Uuid::now_v7(), &metadata("Someone else's", "1.00"), crate::support::ZIP, "application/zip").await;
    let (ids, pages) = all_pages(&m, instructor, "/api/instructors/me/courses", 10).await;
    assert_eq!((ids.len(), pages), (23, 3));
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 23, "no course twice");
    let first = m.get_json(Some((instructor, &[Role::Instructor])), "/api/instructors/me/courses").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 20, "default page size");

    // Payouts (written straight to the store: earning 23 payouts' worth is beside the point).
    {
        let mut conn = m.svc.pool.get().await.unwrap();
        let start = chrono::Utc::now();
        for n in 0..23 {
            let at = start - chrono::Duration::minutes(n);
            let amount = rust_decimal::Decimal::from(50 + n);
            marketplace::store::payouts::insert(&mut conn, Uuid::now_v7(), instructor, amount, "USD", at)
                .await
                .unwrap();
        }
    }
    let (ids, pages) = all_pages(&m, instructor, "/api/instructors/me/payouts", 10).await;
    assert_eq!((ids.len(), pages), (23, 3));
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 23, "no payout twice");

    let res = m.get(Some((instructor, &[Role::Instructor])), "/api/instructors/me/courses?cursor=bm9wZQ").await;
    assert_eq!(res.status(), 422);
    m.stop().await;
}
