//! `POST /api/courses/upload`: multipart with a `metadata` part (JSON) and a `file` part (the
//! package). The package streams into a staged object while its size, SHA-256 and leading bytes
//! are checked; the course row and the object's commit share one transaction, so a failed upload
//! leaves neither a row nor a file.

use super::views::CourseView;
use crate::content::Staged;
use crate::domain::course::{content_matches, safe_filename, CourseMetadata, SNIFF_LEN};
use crate::error::MarketError;
use crate::store::courses::{self, NewCourse};
use crate::State;
use actix_multipart::{Multipart, MultipartError};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use platform::auth::{Principal, Role};
use platform::problem::FieldError;
use platform::Problem;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Room for the metadata part and multipart framing beside the package itself.
const FORM_OVERHEAD: u64 = 128 * 1024;
const MAX_METADATA: usize = 64 * 1024;

struct Package {
    staged: Box<dyn Staged>,
    content_type: String,
    filename: String,
    size: u64,
    sha256: String,
}

/// The multipart form of `POST /api/courses/upload`, for the API document only: the handler reads
/// the parts as a stream.
#[derive(utoipa::ToSchema)]
#[schema(as = CourseUploadForm)]
pub struct UploadForm {
    /// The course's metadata as a JSON document (schema `CourseMetadata`), at most 64 KiB.
    #[schema(
        content_media_type = "application/json",
        example = r#"{"title":"Rust for payments","description":"Build a payment system","category":"programming","level":"beginner","language":"en","tags":["rust"],"price":{"amount":"9.99","currency":"USD"}}"#
    )]
    pub metadata: String,
    /// The package: one of the accepted types (by default `application/zip`,
    /// `application/x-zip-compressed`, `application/pdf`, `video/mp4`), declared in the part's
    /// Content-Type and matching the file's first bytes; not empty, at most the upload limit
    /// (200 MiB by default).
    #[schema(format = Binary, value_type = String)]
    pub file: Vec<u8>,
}

/// Upload a new course (instructors): metadata and package in one multipart form. The course
/// starts as a `draft`; publish it with `POST /api/courses/{id}/publish`.
#[utoipa::path(post, path = "/api/courses/upload", tag = "marketplace", operation_id = "uploadCourse",
    security(("bearer" = [])),
    request_body(content((UploadForm = "multipart/form-data",
            encoding(("metadata" = (content_type = "application/json")), ("file" = (content_type = "application/zip, application/x-zip-compressed, application/pdf, video/mp4"))))),
        description = "A `metadata` part (JSON) and a `file` part (the package), each exactly once"),
    responses((status = 201, description = "The new draft course", body = CourseView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "bad_request: malformed multipart body"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not an instructor"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "payload_too_large: the package exceeds the upload limit"),
        (status = 415, body = Problem, content_type = "application/problem+json",
            description = "unsupported_media_type: not multipart/form-data, a package type that is not accepted, or a file whose content does not match its declared type"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "validation_failed: invalid `metadata.*` fields, a missing, repeated, unknown or empty part")))]
pub async fn upload(
    state: web::Data<State>,
    principal: Principal,
    req: HttpRequest,
    form: Multipart,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Instructor])?;
    let instructor = principal.user_id()?;
    let limit = state.config.max_upload_bytes;
    // Refuse a body announced too large before reading any of it.
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + FORM_OVERHEAD) {
        return Err(MarketError::TooLarge { limit }.into());
    }
    // Bounded: a body that ends before the form's closing boundary never finishes otherwise.
    let read_for = std::time::Duration::from_secs(state.config.upload_timeout_secs);
    let (meta, package) = actix_web::rt::time::timeout(read_for, receive(&state, form)).await.map_err(|_| {
        Problem::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "bad_request",
            "The upload did not complete in time, or its body ended before the form's closing boundary",
        )
    })??;
    let id = Uuid::now_v7();
    let key = format!("{id}.pkg");
    let tags = meta.normalized_tags();
    let commit_key = key.clone();
    let result = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let course = courses::insert(
                conn,
                &NewCourse {
                    id,
                    instructor_id: instructor,
                    title: meta.title.trim(),
                    description: meta.description.trim(),
                    category: &meta.category,
                    level: &meta.level,
                    language: &meta.language,
                    tags: &tags,
                    price: meta.price.amount,
                    currency: meta.price.currency.code(),
                    content_key: &commit_key,
                    content_type: &package.content_type,
                    content_size: package.size as i64,
                    content_sha256: &package.sha256,
                    content_filename: &package.filename,
                },
            )
            .await?;
            let others: Vec<_> = meta.prices.iter().map(|p| (p.currency.code().to_string(), p.amount)).collect();
            courses::set_other_prices(conn, &course, Some(&others)).await?;
            let view = CourseView::one(conn, &course).await?;
            // Last step of the transaction: if the commit below fails, the file is removed again.
            package.staged.commit(commit_key).await.map_err(Problem::internal)?;
            Ok::<_, Problem>(view)
        })
    })
    .await;
    match result {
        Ok(view) => Ok(HttpResponse::Created().json(view)),
        Err(e) => {
            if let Err(cleanup) = state.content.delete(&key).await {
                tracing::error!(error = %cleanup, %key, "could not remove the package of a failed upload");
            }
            Err(e)
        }
    }
}

/// Read the form: validated metadata and the staged package. Any error drops the staged object,
/// which deletes it.
async fn receive(state: &State, mut form: Multipart) -> Result<(CourseMetadata, Package), Problem> {
    let mut meta: Option<CourseMetadata> = None;
    let mut package: Option<Package> = None;
    while let Some(field) = form.next().await {
        let field = field.map_err(multipart_problem)?;
        match field.name() {
            Some("metadata") => meta = Some(read_metadata(field).await?),
            Some("file") if package.is_none() => package = Some(read_package(state, field).await?),
            Some("file") => return Err(Problem::field("file", "send exactly one package")),
            other => {
                return Err(Problem::field(other.unwrap_or("form"), "unknown part; send `metadata` and `file`"));
            }
        }
    }
    let mut errors = Vec::new();
    if meta.is_none() {
        errors.push(FieldError { field: "metadata".into(), message: "is required".into() });
    }
    if package.is_none() {
        errors.push(FieldError { field: "file".into(), message: "is required".into() });
    }
    match (meta, package) {
        (Some(m), Some(p)) => Ok((m, p)),
        _ => Err(Problem::validation(errors)),
    }
}

async fn read_metadata(mut field: actix_multipart::Field) -> Result<CourseMetadata, Problem> {
    let mut raw = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(multipart_problem)?;
        if raw.len() + chunk.len() > MAX_METADATA {
            return Err(Problem::field("metadata", format!("must be at most {MAX_METADATA} bytes")));
        }
        raw.extend_from_slice(&chunk);
    }
    parse_metadata(&raw)
}

/// The `metadata` part's bytes as validated course metadata (fuzzed: fuzz/fuzz_targets/upload.rs).
pub fn parse_metadata(raw: &[u8]) -> Result<CourseMetadata, Problem> {
    // The same rules as a JSON body: control characters refused, errors named `metadata.<path>`.
    let meta: CourseMetadata =
        platform::input::from_json_slice("metadata", raw).map_err(|e| Problem::validation(vec![e]))?;
    let errors = meta.validate();
    if errors.is_empty() {
        Ok(meta)
    } else {
        Err(Problem::validation(errors))
    }
}

async fn read_package(state: &State, mut field: actix_multipart::Field) -> Result<Package, Problem> {
    let declared = field.content_type().map(|m| m.essence_str().to_ascii_lowercase()).unwrap_or_default();
    let allowed = state.config.content_types();
    if !allowed.contains(&declared) {
        return Err(MarketError::UnsupportedContent(format!(
            "package type {declared:?} is not accepted; use one of {}",
            allowed.join(", ")
        ))
        .into());
    }
    let filename = safe_filename(field.content_disposition().and_then(|d| d.get_filename()));
    let limit = state.config.max_upload_bytes;
    let mut staged = state.content.begin().await.map_err(Problem::internal)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_LEN);
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(multipart_problem)?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(MarketError::TooLarge { limit }.into());
        }
        if head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() == SNIFF_LEN && !content_matches(&declared, &head) {
                return Err(mismatch(&declared));
            }
        }
        hasher.update(&chunk);
        staged.write(chunk).await.map_err(Problem::internal)?;
    }
    if size == 0 {
        return Err(Problem::field("file", "is empty"));
    }
    if head.len() < SNIFF_LEN && !content_matches(&declared, &head) {
        return Err(mismatch(&declared));
    }
    Ok(Package { staged, content_type: declared, filename, size, sha256: hex::encode(hasher.finalize()) })
}

fn mismatch(declared: &str) -> Problem {
    MarketError::UnsupportedContent(format!("the file's content is not {declared}")).into()
}

fn multipart_problem(e: MultipartError) -> Problem {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => {
            MarketError::UnsupportedContent("send multipart/form-data with a `metadata` part and a `file` part".into())
                .into()
        }
        other => Problem::bad_request(format!("malformed multipart body: {other}")),
    }
}
