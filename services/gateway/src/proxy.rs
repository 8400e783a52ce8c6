//! Forwarding one request to its upstream: identity in, identity headers out, bodies streamed.

use crate::jwt::Identity;
use crate::rate_limit::Caller;
use crate::route_table::{is_expensive, is_public, is_upload, Replica, Upstream};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use platform::auth::INTERNAL_TOKEN_HEADER;
use platform::http::RequestId;
use platform::Problem;
use std::net::IpAddr;

/// Headers never forwarded upstream: hop-by-hop ones, and every header a client could use to
/// claim an identity. Services only believe the internal token the gateway mints.
const STRIPPED_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "x-internal-token",
    "x-user-id",
    "x-user-roles",
    "x-roles",
    "x-org-id",
    "x-principal",
    "x-forwarded-user",
    "x-auth-user",
    "x-remote-user",
    "remote-user",
    "cookie",
    "host",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "x-forwarded-for",
    "forwarded",
    "content-length",
];
const HOP_BY_HOP_RESPONSE: &[&str] =
    &["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"];

pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> Result<HttpResponse, Problem> {
    let client_ip = state.client_ip(&req);
    let m = &state.metrics;
    state.limits.check_ip(client_ip).inspect_err(|_| m.rate_limited.inc(&["ip"]))?;
    let path = req.path();
    let (prefix, upstream) = state.routes.route(path).ok_or_else(|| Problem::not_found("route"))?;
    let upstream = upstream.clone();
    // Label the request by the route-table entry: the gateway has no route templates of its own.
    req.extensions_mut().insert(platform::metrics::RouteLabel(prefix));
    let identity = authenticate(&req, &state).await?;
    let caller = match &identity {
        Some(id) => {
            state.limits.check_user(id.user_id).inspect_err(|_| m.rate_limited.inc(&["user"]))?;
            Caller::User(id.user_id)
        }
        None if is_public(req.method().as_str(), path) => Caller::Ip(client_ip),
        None => return Err(Problem::unauthorized("send a bearer token")),
    };
    if is_expensive(req.method().as_str(), path, req.query_string()) {
        state.limits.check_expensive(caller).inspect_err(|_| m.rate_limited.inc(&["expensive"]))?;
    }
    let (body_limit, timeout) = state.budget(req.method().as_str(), path);
    if let Some(len) = req.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<usize>().ok()) {
        if len > body_limit {
            return Err(too_large());
        }
    }
    let request_id = RequestId::of(&req);
    // Every replica's URL, in the order this request tries them (the round-robin's next first).
    let urls = upstream.rotation().map(|replica| upstream_url(&req, replica)).collect::<Result<Vec<_>, _>>()?;
    let Some((first, spares)) = urls.split_first() else {
        return Err(Problem::not_found("route"));
    };
    let builder = build_request(&req, &state, &upstream, first.clone(), identity.as_ref(), &request_id, client_ip)?;
    let builder = attach_body(builder.timeout(timeout), &req, payload, body_limit).await?;
    let request = builder.build().map_err(|e| upstream_error(&upstream, &e))?;
    let started = std::time::Instant::now();
    let sent = send_with_failover(&state, upstream.service, request, spares).await;
    m.upstream_duration.observe_since(&[upstream.service], started);
    let response = sent.map_err(|e| {
        let problem = upstream_error(&upstream, &e);
        let outcome = if e.is_timeout() { "timeout" } else { "unavailable" };
        m.upstream.inc(&[upstream.service, outcome]);
        problem
    })?;
    m.upstream.inc(&[upstream.service, crate::metrics::status_class(response.status().as_u16())]);
    relay_response(response, &upstream).await
}

/// Send `request`; when its replica refuses the connection, send it to the next of `spares`:
/// a refused connection carried no byte of the request, so nothing can have happened upstream.
/// A GET or HEAD whose connection is lost before any answer (a replica closing its connections as
/// it stops) goes to the next one too: reading has no effect, so sending it again is safe (RFC 9110
/// §9.2.2). Any other failure (a POST reset mid-request, a timeout) is answered as it is, because
/// the request may have reached the service and a POST must not run twice. A streamed upload cannot
/// be sent twice either (`try_clone` is `None` for it): it gets one replica.
pub(crate) async fn send_with_failover(
    state: &State,
    service: &'static str,
    mut request: reqwest::Request,
    spares: &[reqwest::Url],
) -> Result<reqwest::Response, reqwest::Error> {
    let mut spares = spares.iter();
    let safe = matches!(*request.method(), reqwest::Method::GET | reqwest::Method::HEAD);
    loop {
        let again = request.try_clone();
        match state.client.execute(request).await {
            Err(e) if e.is_connect() || (safe && !e.is_timeout()) => match (again, spares.next()) {
                (Some(mut next), Some(url)) => {
                    tracing::warn!(service, error = %error_chain(&e), next = %url, "an upstream replica refused or lost the connection: trying the next");
                    state.metrics.failovers.inc(&[service]);
                    *next.url_mut() = url.clone();
                    request = next;
                }
                _ => return Err(e),
            },
            answered => return answered,
        }
    }
}

pub(crate) async fn authenticate(req: &HttpRequest, state: &State) -> Result<Option<Identity>, Problem> {
    let Some(value) = req.headers().get("authorization") else {
        return Ok(None);
    };
    let token =
        value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))).ok_or_else(
            || {
                state.metrics.jwt_failures.inc(&["malformed"]);
                Problem::unauthorized("use Authorization: Bearer <token>")
            },
        )?;
    state.verifier.verify(token.trim()).await.map(Some).map_err(|e| {
        let message = e.to_string();
        state.metrics.jwt_failures.inc(&[crate::metrics::jwt_reason(&message)]);
        Problem::unauthorized(message)
    })
}

fn build_request(
    req: &HttpRequest,
    state: &State,
    upstream: &Upstream,
    url: reqwest::Url,
    identity: Option<&Identity>,
    request_id: &str,
    client_ip: IpAddr,
) -> Result<reqwest::RequestBuilder, Problem> {
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| Problem::bad_request("bad method"))?;
    let mut builder = state.client.request(method, url);
    for (name, value) in req.headers() {
        let lower = name.as_str();
        // The trace context is sent again below: the gateway's own span is the upstream's parent.
        if STRIPPED_REQUEST_HEADERS.contains(&lower) || matches!(lower, "x-request-id" | "traceparent" | "tracestate") {
            continue;
        }
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    if let Some(id) = identity {
        let token =
            state.internal.mint(upstream.service, &id.user_id.to_string(), &id.roles, id.org_id, Some(request_id))?;
        builder = builder.header(INTERNAL_TOKEN_HEADER.as_str(), token);
    }
    builder = builder.header("x-request-id", request_id).header("x-forwarded-for", client_ip.to_string());
    Ok(platform::telemetry::inject_reqwest(builder))
}

/// The URL on one replica: its base followed by the path exactly as the route table matched it.
/// The path checks (`crate::path`) leave reqwest's URL parser nothing to resolve or re-escape;
/// should it still change the path, the request is refused rather than sent somewhere else.
fn upstream_url(req: &HttpRequest, upstream: &Replica) -> Result<reqwest::Url, Problem> {
    let mut raw = format!("{}{}", upstream.base_url, req.path());
    if !req.query_string().is_empty() {
        raw.push('?');
        raw.push_str(req.query_string());
    }
    let url = reqwest::Url::parse(&raw).map_err(|_| crate::path::problem(crate::path::Abnormal::Unforwardable))?;
    let same = url.path().strip_prefix(upstream.base_path.as_str()) == Some(req.path());
    if !same {
        tracing::warn!(path = %req.path(), forwarded = %url.path(), "the upstream URL would change the path");
        return Err(crate::path::problem(crate::path::Abnormal::Unforwardable));
    }
    Ok(url)
}

/// Attach the client's body, if any. An upload is streamed (it may be hundreds of MiB); every
/// other body (at most `GATEWAY_BODY_LIMIT_BYTES`, small) is read whole first, so that the
/// request can go to another replica when the first one refuses the connection.
async fn attach_body(
    builder: reqwest::RequestBuilder,
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<reqwest::RequestBuilder, Problem> {
    let has_body = req.headers().contains_key("content-length") || req.headers().contains_key("transfer-encoding");
    if !has_body {
        return Ok(builder);
    }
    if is_upload(req.method().as_str(), req.path()) {
        return Ok(stream_body(builder, payload, limit));
    }
    Ok(builder.body(read_body(payload, limit).await?))
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, Problem> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Problem::bad_request("the request body could not be read"))?;
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Stream the client's body to the upstream. actix's payload is not `Send`, reqwest's body must
/// be, so a local task pumps chunks through a small channel, counting bytes against the limit.
fn stream_body(builder: reqwest::RequestBuilder, mut payload: web::Payload, limit: usize) -> reqwest::RequestBuilder {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(8);
    actix_web::rt::spawn(async move {
        let mut seen = 0usize;
        while let Some(chunk) = payload.next().await {
            let item = match chunk {
                Ok(bytes) => {
                    seen += bytes.len();
                    if seen > limit {
                        Err(std::io::Error::other("body too large"))
                    } else {
                        Ok(bytes)
                    }
                }
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    builder.body(reqwest::Body::wrap_stream(stream))
}

/// Bodies up to this size (every JSON answer) are read whole and sent with a `Content-Length` in
/// one write; larger or unsized ones (content downloads) are streamed.
const BUFFERED_BODY_MAX: u64 = 64 * 1024;

/// Streaming a small answer as chunks cost a 40 ms stall on ~1% of requests (Nagle's algorithm
/// holding the last chunk back until the client's delayed ACK), which was the whole p99 of every
/// read through the gateway.
async fn relay_response(response: reqwest::Response, upstream: &Upstream) -> Result<HttpResponse, Problem> {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if !HOP_BY_HOP_RESPONSE.contains(&name.as_str()) {
            out.append_header((name.as_str(), value.as_bytes()));
        }
    }
    if response.content_length().is_some_and(|len| len <= BUFFERED_BODY_MAX) {
        let body = response.bytes().await.map_err(|e| upstream_error(upstream, &e))?;
        return Ok(out.body(body));
    }
    Ok(out.streaming(response.bytes_stream()))
}

/// The error and its causes: reqwest's own message ("error sending request") names none.
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn upstream_error(upstream: &Upstream, e: &reqwest::Error) -> Problem {
    if e.is_timeout() {
        tracing::warn!(service = upstream.service, error = %error_chain(e), "upstream timed out");
        Problem::new(StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", "The service did not answer in time")
    } else if e.is_body() || e.is_request() && e.to_string().contains("body") {
        too_large()
    } else {
        tracing::warn!(service = upstream.service, error = %error_chain(e), "upstream unreachable");
        Problem::new(StatusCode::BAD_GATEWAY, "upstream_unavailable", "The service is unavailable")
    }
}

fn too_large() -> Problem {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is too large")
}
