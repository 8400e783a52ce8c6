//! The course upload's multipart reader: actix-multipart's parser over arbitrary bytes with the
//! service's own handling of each part (metadata JSON and its rules, declared type vs content
//! sniffing, the file name kept).
#![no_main]
use actix_web::http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use marketplace::domain::course::{content_matches, safe_filename};
use marketplace::routes::upload::parse_metadata;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("multipart/form-data; boundary=fuzzboundary"));
    let body = bytes::Bytes::copy_from_slice(data);
    let stream = futures_util::stream::iter([Ok::<_, actix_web::error::PayloadError>(body)]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    // The service bounds the read (`upload_timeout_secs`): a body that ends inside a part leaves
    // actix-multipart waiting for more forever (found here; regression test
    // `marketplace it upload::a_body_that_ends_inside_a_part_is_refused_in_bounded_time`).
    let read = async move {
        let mut form = actix_multipart::Multipart::new(&headers, stream);
        while let Some(Ok(mut field)) = form.next().await {
            let name = field.name().map(str::to_string);
            let declared = field.content_type().map(|m| m.essence_str().to_ascii_lowercase()).unwrap_or_default();
            let filename = safe_filename(field.content_disposition().and_then(|d| d.get_filename()));
            assert!(filename.len() <= 100 && !filename.contains('/'), "unsafe file name {filename:?}");
            let mut raw = Vec::new();
            while let Some(Ok(chunk)) = field.next().await {
                raw.extend_from_slice(&chunk);
            }
            match name.as_deref() {
                Some("metadata") => {
                    let _ = parse_metadata(&raw);
                }
                _ => {
                    let _ = content_matches(&declared, &raw[..raw.len().min(512)]);
                }
            }
        }
    };
    let _ = runtime.block_on(async { tokio::time::timeout(std::time::Duration::from_millis(200), read).await });
});
