//! `Idempotency-Key` with Stripe's semantics.
//!
//! The whole request runs in one transaction that first takes a transaction-scoped advisory lock
//! on (scope, key): a concurrent duplicate fails to take it and gets 409 at once. Under the lock,
//! a stored response for the key is replayed (`Idempotent-Replayed: true`) when the request body
//! matches, or refused with 422 when it does not. Otherwise the handler's effect and the stored
//! response commit together, so a crash can never leave an effect without its key (or a key
//! without its effect). Only successful responses are stored: a failed request changed nothing
//! and may be retried with the same key.

use crate::db::Pool;
use crate::problem::Problem;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::{ready, Ready};

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// Keys are kept at least this long (Stripe keeps them 24 hours).
pub const RETENTION_HOURS: i64 = 48;

diesel::table! {
    idempotency_keys (scope, key) {
        scope -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> SmallInt,
        response_body -> Jsonb,
        created_at -> Timestamptz,
    }
}

/// The client's `Idempotency-Key` header: required on every POST that moves money, tokens or seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let ok = !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| (0x21..0x7f).contains(&b));
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(Problem::field(HEADER, "must be 1-255 visible ASCII characters"))
        }
    }
}

impl FromRequest for IdempotencyKey {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
            Some(raw) => IdempotencyKey::parse(raw),
            None => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "This request needs an Idempotency-Key header",
            )),
        })
    }
}

/// Fingerprint of a request body, compared on replay.
pub fn fingerprint(body: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Run `effect` at most once per (scope, key). `scope` should name the caller and the operation,
/// e.g. `"<user id>:POST /api/tokens/redeem"`, so two users' keys never collide.
pub async fn execute<T, F>(
    pool: &Pool,
    scope: &str,
    key: &IdempotencyKey,
    request: &impl Serialize,
    effect: F,
) -> Result<HttpResponse, Problem>
where
    T: Serialize + Send,
    F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<(StatusCode, T), Problem>> + Send,
{
    let hash = fingerprint(request);
    let mut conn = pool.get().await?;
    let scope = scope.to_string();
    let key = key.0.clone();
    let (status, body, replayed) = diesel_async::AsyncConnection::transaction(&mut *conn, async move |conn| {
        let lock_id = format!("{scope}\u{1f}{key}");
        if !crate::db::try_advisory_xact_lock(conn, &lock_id).await? {
            return Err(Problem::conflict(
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
            ));
        }
        let stored = idempotency_keys::table
            .filter(idempotency_keys::scope.eq(&scope).and(idempotency_keys::key.eq(&key)))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::response_status,
                idempotency_keys::response_body,
            ))
            .first::<(String, i16, serde_json::Value)>(conn)
            .await
            .optional()?;
        if let Some((stored_hash, status, body)) = stored {
            if stored_hash != hash {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with a different request",
                ));
            }
            return Ok((status as u16, body, true));
        }
        let (status, value) = effect(conn).await?;
        let body = serde_json::to_value(&value).map_err(Problem::internal)?;
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::scope.eq(&scope),
                idempotency_keys::key.eq(&key),
                idempotency_keys::request_hash.eq(&hash),
                idempotency_keys::response_status.eq(status.as_u16() as i16),
                idempotency_keys::response_body.eq(&body),
            ))
            .execute(conn)
            .await?;
        Ok((status.as_u16(), body, false))
    })
    .await?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut builder = HttpResponse::build(status);
    if replayed {
        builder.insert_header((REPLAYED_HEADER, "true"));
    }
    Ok(builder.json(body))
}

/// Forget keys older than the retention; run periodically by each service.
pub async fn purge_expired(pool: &Pool) -> Result<usize, Problem> {
    let mut conn = pool.get().await?;
    let n =
        diesel::sql_query("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1::int)")
            .bind::<BigInt, _>(RETENTION_HOURS)
            .execute(&mut conn)
            .await?;
    Ok(n)
}
