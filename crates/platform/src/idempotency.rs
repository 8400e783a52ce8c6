//! `Idempotency-Key` with Stripe's semantics.
//!
//! The whole request runs in one transaction that first takes a transaction-scoped advisory lock
//! on (scope, key): a concurrent duplicate fails to take it and gets 409 at once. Under the lock,
//! a stored response for the key is replayed (`Idempotent-Replayed: true`) when the request body
//! matches, or refused with 422 when it does not. Otherwise the handler's effect and the stored
//! response commit together, so a crash can never leave an effect without its key (or a key
//! without its effect). Only successful responses are stored: a failed request changed nothing
//! and may be retried with the same key. A request that must call another service on the way
//! uses [`execute_with_call`] instead, which holds no transaction across the call.
//!
//! A hot write can instead run as ONE statement: a SQL function of the service that calls the
//! `idempotency_claim` and `idempotency_record` functions (this crate's migrations) around its
//! effect, its result read by [`ended`]. Same lock, lookup and record, in one round trip and
//! one commit instead of a dozen.

use crate::db::Pool;
use crate::problem::Problem;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::{ready, Ready};

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// The longest key accepted (visible ASCII, 1 to this many characters).
pub const MAX_KEY_LEN: usize = 255;

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

mod sql {
    use diesel::sql_types::Text;
    diesel::define_sql_function! {
        /// Migration 2026-12-11-200001_idempotency_claim.
        fn idempotency_claim(scope: Text, key: Text, hash: Text) -> diesel::sql_types::Jsonb;
    }
}

/// The client's `Idempotency-Key` header: required on every POST that moves money, tokens or seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let ok = !raw.is_empty() && raw.len() <= MAX_KEY_LEN && raw.bytes().all(|b| (0x21..0x7f).contains(&b));
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

/// `Idempotency-Key` where it is optional (the operation is naturally idempotent, the key makes
/// retries replay the first answer): absent is fine, malformed is a 422.
pub struct OptionalIdempotencyKey(pub Option<IdempotencyKey>);

impl FromRequest for OptionalIdempotencyKey {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.headers().get(HEADER) {
            None => Ok(Self(None)),
            Some(v) => v
                .to_str()
                .map_err(|_| Problem::field(HEADER, "must be visible ASCII"))
                .and_then(IdempotencyKey::parse)
                .map(|k| Self(Some(k))),
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
    execute_concealed(pool, scope, key, request, |_| {}, effect).await
}

/// Who made an audited creation, and when: the audit entry's context and time.
pub struct Audited {
    pub ctx: crate::audit::AuditContext,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// An audited creation, at most once per (scope, key): `effect` creates and returns what it made
/// with its audit action, the entry is recorded in the same transaction (it commits with the
/// creation or not at all), and the answer is 201 with what was made (a replay answers the same).
/// The scaffolding every create handler had around its effect.
pub async fn create_audited<T, F>(
    pool: &Pool,
    scope: &str,
    key: &IdempotencyKey,
    request: &impl Serialize,
    audited: Audited,
    effect: F,
) -> Result<HttpResponse, Problem>
where
    T: Serialize + Send,
    F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<(T, crate::audit::Action<'static>), Problem>>
        + Send
        + 'static,
{
    create_audited_concealed(pool, scope, key, request, |_| {}, audited, effect).await
}

/// [`create_audited`] for a creation whose answer shows a secret once ([`execute_concealed`]).
pub async fn create_audited_concealed<T, F>(
    pool: &Pool,
    scope: &str,
    key: &IdempotencyKey,
    request: &impl Serialize,
    conceal: fn(&mut serde_json::Value),
    audited: Audited,
    effect: F,
) -> Result<HttpResponse, Problem>
where
    T: Serialize + Send,
    F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<(T, crate::audit::Action<'static>), Problem>>
        + Send
        + 'static,
{
    execute_concealed(pool, scope, key, request, conceal, move |conn| {
        Box::pin(async move {
            let (made, action) = effect(conn).await?;
            crate::audit::record(conn, &audited.ctx, audited.at, action).await?;
            Ok((StatusCode::CREATED, made))
        })
    })
    .await
}

/// [`execute`] for a creation whose answer shows a secret once (a license key, a voucher code):
/// the first response carries it, but what is stored, and so what a replay answers, is the body
/// after `conceal` took the secret out. The secret is never kept at rest, not even here.
pub async fn execute_concealed<T, F>(
    pool: &Pool,
    scope: &str,
    key: &IdempotencyKey,
    request: &impl Serialize,
    conceal: fn(&mut serde_json::Value),
    effect: F,
) -> Result<HttpResponse, Problem>
where
    T: Serialize + Send,
    F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<(StatusCode, T), Problem>> + Send,
{
    let record = Claim::new(scope, key, request);
    let mut conn = pool.get().await?;
    let answer = diesel_async::AsyncConnection::transaction(&mut *conn, async |conn| {
        if let Some(stored) = record.lock_and_find(conn).await? {
            return Ok(stored);
        }
        let (status, value) = effect(conn).await?;
        let body = to_body(&value)?;
        let mut kept = body.clone();
        conceal(&mut kept);
        record.store(conn, status, &kept).await?;
        Ok::<_, Problem>(Answer { status: status.as_u16(), body, replayed: false })
    })
    .await?;
    Ok(answer.into_response())
}

/// What the first step of [`execute_with_call`] decided.
pub enum Step<T, C> {
    /// The answer, without calling out (e.g. a free course, an existing purchase).
    Done(StatusCode, T),
    /// Call out with this, then finish.
    Call(C),
}

/// [`execute`] for an operation that must call another service (billing, Stripe) in the middle:
/// no transaction and no pooled connection is held across that call, which would otherwise bound
/// the operation's concurrency by the pool size and keep its locks for the callee's latency.
///
/// 1. One transaction under the key's lock: a stored answer is replayed; otherwise `prepare` runs
///    and commits (it may record what is needed to resume, e.g. a pending purchase). If it is
///    [`Step::Done`], the answer is stored with it.
/// 2. `call`, with no connection. It must be idempotent by itself (the callee's own idempotency
///    key, derived from this request's), because a retry, or a concurrent duplicate that passes
///    step 1 before this one stored its answer, calls again.
/// 3. A second transaction under the key's lock: an answer stored meanwhile by a duplicate is
///    replayed; otherwise `finish` records the result and the answer is stored with it.
///
/// `prepare` must be safe to run again for the same key (after a failed call, the client retries):
/// it finds what the earlier attempt committed instead of creating it twice.
pub async fn execute_with_call<T, C, R, P, K, KF, F>(
    pool: &Pool,
    scope: &str,
    key: &IdempotencyKey,
    request: &impl Serialize,
    prepare: P,
    call: K,
    finish: F,
) -> Result<HttpResponse, Problem>
where
    T: Serialize + Send,
    C: Send,
    R: Send,
    P: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<Step<T, C>, Problem>> + Send,
    K: FnOnce(C) -> KF,
    KF: std::future::Future<Output = Result<R, Problem>>,
    F: for<'c> FnOnce(&'c mut AsyncPgConnection, R) -> BoxFuture<'c, Result<(StatusCode, T), Problem>> + Send,
{
    let record = Claim::new(scope, key, request);
    let first = {
        let mut conn = pool.get().await?;
        diesel_async::AsyncConnection::transaction(&mut *conn, async |conn| {
            if let Some(stored) = record.lock_and_find(conn).await? {
                return Ok::<_, Problem>(Step::Done(StatusCode::OK, stored));
            }
            match prepare(conn).await? {
                Step::Done(status, value) => {
                    let body = to_body(&value)?;
                    record.store(conn, status, &body).await?;
                    Ok(Step::Done(status, Answer { status: status.as_u16(), body, replayed: false }))
                }
                Step::Call(c) => Ok(Step::Call(c)),
            }
        })
        .await?
    };
    let called = match first {
        Step::Done(_, answer) => return Ok(answer.into_response()),
        Step::Call(c) => call(c).await?,
    };
    let mut conn = pool.get().await?;
    let answer = diesel_async::AsyncConnection::transaction(&mut *conn, async |conn| {
        if let Some(stored) = record.lock_and_find(conn).await? {
            return Ok(stored);
        }
        let (status, value) = finish(conn, called).await?;
        let body = to_body(&value)?;
        record.store(conn, status, &body).await?;
        Ok::<_, Problem>(Answer { status: status.as_u16(), body, replayed: false })
    })
    .await?;
    Ok(answer.into_response())
}

/// One request's idempotency record: where it is kept and the fingerprint of its body. A
/// one-statement write ([`ended`]) passes these to `idempotency_claim` and
/// `idempotency_record`.
pub struct Claim {
    pub scope: String,
    pub key: String,
    /// [`fingerprint`] of the request body.
    pub hash: String,
}

impl Claim {
    pub fn new(scope: &str, key: &IdempotencyKey, request: &impl Serialize) -> Self {
        Self { scope: scope.to_string(), key: key.0.clone(), hash: fingerprint(request) }
    }
}

/// What a one-statement write's SQL function returns (as JSONB): `outcome` is `stored` (the effect
/// ran and its answer was recorded), `replayed`, `in_progress` or `reused` (from
/// `idempotency_claim`), or a refusal of the service's own (nothing was written; `response_body`
/// may carry its details).
#[derive(Debug, serde::Deserialize)]
pub struct Outcome {
    pub outcome: String,
    #[serde(default)]
    pub response_status: Option<u16>,
    #[serde(default)]
    pub response_body: Option<serde_json::Value>,
}

/// How a one-statement write ended.
pub enum Ended {
    /// The answer to send: stored just now or replayed.
    Answer(HttpResponse),
    /// The service's own refusal (`outcome`, details): map it to the service's error.
    Refused(String, Option<serde_json::Value>),
}

/// Finish a write that ran as ONE statement outside any explicit transaction (the statement is its
/// own transaction, so the advisory lock `idempotency_claim` takes is held until its commit, and
/// the effect and its record commit together or not at all): `returned` is what the service's SQL
/// function returned, having been called with the [`Claim`]'s fields.
pub fn ended(returned: serde_json::Value) -> Result<Ended, Problem> {
    ended_revealing(returned, |_| {})
}

/// [`ended`] for a creation whose answer shows a secret once (the one-statement counterpart of
/// [`execute_concealed`]): the SQL function was given, and stored, the answer without the secret;
/// `reveal` puts the secret back into the answer sent when the effect ran just now (`stored`),
/// never into a replay, which answers what was stored.
pub fn ended_revealing(
    returned: serde_json::Value,
    reveal: impl FnOnce(&mut serde_json::Value),
) -> Result<Ended, Problem> {
    let outcome: Outcome = serde_json::from_value(returned).map_err(Problem::internal)?;
    let answer = |replayed| Answer {
        status: outcome.response_status.unwrap_or(200),
        body: outcome.response_body.clone().unwrap_or(serde_json::Value::Null),
        replayed,
    };
    Ok(match outcome.outcome.as_str() {
        "stored" => {
            let mut fresh = answer(false);
            reveal(&mut fresh.body);
            Ended::Answer(fresh.into_response())
        }
        "replayed" => Ended::Answer(answer(true).into_response()),
        "in_progress" => return Err(in_progress()),
        "reused" => return Err(reused()),
        _ => Ended::Refused(outcome.outcome, outcome.response_body),
    })
}

/// [`ended`] for a one-statement fast path whose function answers `general` when the case is not
/// its own (having written nothing): `None` then, and the caller runs its general path. Any other
/// refusal is a fault of the function, which `function` names.
pub fn ended_or_general(returned: serde_json::Value, function: &str) -> Result<Option<HttpResponse>, Problem> {
    match ended(returned)? {
        Ended::Answer(answer) => Ok(Some(answer)),
        Ended::Refused(outcome, _) if outcome == "general" => Ok(None),
        Ended::Refused(outcome, _) => Err(Problem::internal(format!("{function} answered {outcome:?}"))),
    }
}

fn in_progress() -> Problem {
    Problem::conflict("idempotency_in_progress", "a request with this Idempotency-Key is still being processed")
}

fn reused() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "This Idempotency-Key was used with a different request",
    )
}

fn to_body(value: &impl Serialize) -> Result<serde_json::Value, Problem> {
    serde_json::to_value(value).map_err(Problem::internal)
}

/// An answer to send: stored just now, or replayed.
struct Answer {
    status: u16,
    body: serde_json::Value,
    replayed: bool,
}

impl Answer {
    fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut builder = HttpResponse::build(status);
        if self.replayed {
            builder.insert_header((REPLAYED_HEADER, "true"));
        }
        builder.json(self.body)
    }
}

impl Claim {
    /// Take the key's lock for this transaction (409 if a duplicate holds it) and return the stored
    /// answer, if any (422 if it was stored for a different body): one round trip, through the
    /// `idempotency_claim` function a one-statement write calls too (same lock, same lookup).
    async fn lock_and_find(&self, conn: &mut AsyncPgConnection) -> Result<Option<Answer>, Problem> {
        let returned: serde_json::Value =
            diesel::select(sql::idempotency_claim(&self.scope, &self.key, &self.hash)).get_result(conn).await?;
        let outcome: Outcome = serde_json::from_value(returned).map_err(Problem::internal)?;
        match outcome.outcome.as_str() {
            "new" => Ok(None),
            "replayed" => Ok(Some(Answer {
                status: outcome.response_status.unwrap_or(200),
                body: outcome.response_body.unwrap_or(serde_json::Value::Null),
                replayed: true,
            })),
            "in_progress" => Err(in_progress()),
            "reused" => Err(reused()),
            other => Err(Problem::internal(format!("idempotency_claim answered {other:?}"))),
        }
    }

    async fn store(
        &self,
        conn: &mut AsyncPgConnection,
        status: StatusCode,
        body: &serde_json::Value,
    ) -> Result<(), Problem> {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::scope.eq(&self.scope),
                idempotency_keys::key.eq(&self.key),
                idempotency_keys::request_hash.eq(&self.hash),
                idempotency_keys::response_status.eq(status.as_u16() as i16),
                idempotency_keys::response_body.eq(body),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn reveal(body: &mut serde_json::Value) {
        body["secret"] = serde_json::json!("shown once");
    }

    fn sent(ended: Ended) -> (bool, serde_json::Value) {
        let Ended::Answer(response) = ended else { panic!("refused") };
        let replayed = response.headers().contains_key(REPLAYED_HEADER);
        let bytes = response.into_body().try_into_bytes().unwrap();
        (replayed, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn a_secret_is_revealed_in_the_fresh_answer_only_never_in_a_replay() {
        let returned =
            |outcome| serde_json::json!({"outcome": outcome, "response_status": 201, "response_body": {"id": 1}});
        let (replayed, body) = sent(ended_revealing(returned("stored"), reveal).unwrap());
        assert!(!replayed);
        assert_eq!(body, serde_json::json!({"id": 1, "secret": "shown once"}));
        let (replayed, body) = sent(ended_revealing(returned("replayed"), reveal).unwrap());
        assert!(replayed);
        assert_eq!(body, serde_json::json!({"id": 1}));
    }
}
