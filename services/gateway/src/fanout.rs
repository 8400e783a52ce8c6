//! Answers the gateway assembles from every service's part (the merged audit log, the data
//! export): the signed-in caller, then one GET per service with the caller's identity in the
//! internal token, on the next replica in the round-robin and, when that replica refuses the
//! connection, on the others (`proxy::send_with_failover`: a GET is safe to send again).

use crate::jwt::Identity;
use crate::State;
use actix_web::{HttpMessage, HttpRequest};
use platform::http::RequestId;
use platform::Problem;
use serde::de::DeserializeOwned;
use std::net::IpAddr;

/// Who asks, as every service's part is asked for.
pub struct Caller {
    pub identity: Identity,
    pub request_id: String,
    pub client_ip: IpAddr,
}

/// The signed-in caller of the gateway's own route `route` (its metrics label), rate-limited like
/// any forwarded request, and as an expensive one (every own route fans out to every service):
/// 401 without a valid token.
pub async fn caller(req: &HttpRequest, state: &State, route: &'static str) -> Result<Caller, Problem> {
    req.extensions_mut().insert(platform::metrics::RouteLabel(route));
    let client_ip = state.client_ip(req);
    state.limits.check_ip(client_ip)?;
    let identity =
        crate::proxy::authenticate(req, state).await?.ok_or_else(|| Problem::unauthorized("send a bearer token"))?;
    state.limits.check_user(identity.user_id)?;
    state
        .limits
        .check_expensive(crate::rate_limit::Caller::User(identity.user_id))
        .inspect_err(|_| state.metrics.rate_limited.inc(&["expensive"]))?;
    Ok(Caller { identity, request_id: RequestId::of(req), client_ip })
}

/// Why a service's part is missing.
#[derive(Debug)]
pub enum Failure {
    /// No answer: every replica down, a timeout, a 5xx, an unreadable body.
    Unavailable,
    /// A 4xx: the service refused the caller (its problem, when it sent one).
    Refused(u16, Option<Problem>),
}

/// GET `path_and_query` at `service` as `caller`.
pub async fn get<T: DeserializeOwned>(
    state: &State,
    service: &'static str,
    path_and_query: &str,
    caller: &Caller,
) -> Result<T, Failure> {
    let Some(upstream) = state.routes.upstreams().into_iter().find(|u| u.service == service) else {
        tracing::error!(service, "fan-out: no upstream configured");
        return Err(Failure::Unavailable);
    };
    let urls: Vec<reqwest::Url> = upstream
        .rotation()
        .filter_map(|replica| reqwest::Url::parse(&format!("{}{path_and_query}", replica.base_url)).ok())
        .collect();
    let Some((first, spares)) = urls.split_first() else {
        return Err(Failure::Unavailable);
    };
    let id = &caller.identity;
    let token = state
        .internal
        .mint(service, &id.user_id.to_string(), &id.roles, id.org_id, Some(&caller.request_id))
        .map_err(|_| Failure::Unavailable)?;
    let request = state
        .client
        .get(first.clone())
        .timeout(state.timeout)
        .header(platform::auth::INTERNAL_TOKEN_HEADER.as_str(), token)
        .header("x-request-id", caller.request_id.as_str())
        .header("x-forwarded-for", caller.client_ip.to_string());
    let request = platform::telemetry::inject_reqwest(request).build().map_err(|_| Failure::Unavailable)?;
    let response = crate::proxy::send_with_failover(state, service, request, spares).await.map_err(|e| {
        tracing::warn!(service, error = %e, "fan-out: the service did not answer");
        Failure::Unavailable
    })?;
    let status = response.status();
    if status.is_client_error() {
        tracing::warn!(service, status = status.as_u16(), "fan-out: the service refused");
        return Err(Failure::Refused(status.as_u16(), response.json().await.ok()));
    }
    if !status.is_success() {
        tracing::warn!(service, status = status.as_u16(), "fan-out: the service failed");
        return Err(Failure::Unavailable);
    }
    response.json().await.map_err(|e| {
        tracing::warn!(service, error = %e, "fan-out: an unreadable answer");
        Failure::Unavailable
    })
}
