//! Who acted, and from where: taken from the request once, handed to [`super::record`].

use crate::auth::Principal;
use crate::http::RequestId;
use crate::problem::Problem;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::Serialize;
use std::future::{ready, Ready};
use uuid::Uuid;

/// The gateway replaces any client-sent `X-Forwarded-For` with the one address it trusts (its
/// peer, or the client named by a trusted proxy), so behind the gateway this header is that
/// address. Services are reachable only with an internal token, so nobody else sets it.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The caller of an audited action and the request it came with.
#[derive(Debug, Clone, Serialize)]
pub struct AuditContext {
    pub actor_sub: String,
    pub actor_roles: Vec<String>,
    pub actor_org: Option<Uuid>,
    pub request_id: Option<String>,
    /// The W3C trace id of the request's trace (32 hex digits), when one is being recorded.
    pub trace_id: Option<String>,
    /// The client's address as the gateway saw it.
    pub client_addr: Option<String>,
}

impl AuditContext {
    pub fn from_request(req: &HttpRequest, principal: &Principal) -> Self {
        let forwarded = req
            .headers()
            .get(FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && v.len() <= 64);
        let request_id = principal.request_id.clone().or_else(|| Some(RequestId::of(req)).filter(|r| !r.is_empty()));
        Self {
            actor_sub: principal.sub.clone(),
            actor_roles: principal.roles.iter().map(|r| role_name(*r)).collect(),
            actor_org: principal.org_id,
            request_id,
            trace_id: current_trace_id(),
            client_addr: forwarded.or_else(|| req.peer_addr().map(|a| a.ip().to_string())),
        }
    }

    /// The service itself acting on an event or a schedule (no request, no client).
    pub fn service(name: &str) -> Self {
        Self {
            actor_sub: format!("service:{name}"),
            actor_roles: vec!["service".into()],
            actor_org: None,
            request_id: None,
            trace_id: current_trace_id(),
            client_addr: None,
        }
    }
}

fn role_name(role: crate::auth::Role) -> String {
    serde_json::to_value(role).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The trace id out of the current span's `traceparent` (`00-<trace id>-<span id>-<flags>`).
fn current_trace_id() -> Option<String> {
    let traceparent = crate::telemetry::current_traceparent()?;
    let trace_id = traceparent.split('-').nth(1)?;
    (trace_id.len() == 32 && trace_id != "0".repeat(32)).then(|| trace_id.to_string())
}

/// Extracting it requires a signed-in caller (401 otherwise), like [`Principal`].
impl FromRequest for AuditContext {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let principal = Principal::from_request(req, payload).into_inner();
        ready(principal.map(|p| AuditContext::from_request(req, &p)))
    }
}
