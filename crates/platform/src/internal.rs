//! Calls from one service to another's `/internal` routes (marketplace → billing and rewards,
//! subscriptions → billing): a service token for the callee, trace context, a timeout, and a
//! retry that is safe because every such call is idempotent at the callee (an `Idempotency-Key`,
//! or a natural key such as the purchase id in the body).

use crate::auth::InternalAuth;
use crate::Problem;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

const ATTEMPTS: u32 = 3;

/// Why an internal call did not answer 2xx.
#[derive(Debug)]
pub enum CallError {
    /// The callee refused the request (a 4xx): final, never retried.
    Refused { status: u16, problem: Problem },
    /// No answer worth acting on after the retries (network, timeout, 5xx, an unreadable body).
    Unavailable(String),
}

impl CallError {
    /// The refusal's problem code, or `None` when the callee was unavailable.
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Refused { problem, .. } => Some(problem.code.as_str()),
            CallError::Unavailable(_) => None,
        }
    }
}

#[derive(Clone)]
pub struct InternalClient {
    http: reqwest::Client,
    base_url: String,
    /// The callee's service name: the audience of the token minted for it.
    callee: &'static str,
    auth: InternalAuth,
}

impl InternalClient {
    pub fn new(base_url: &str, callee: &'static str, timeout: Duration, auth: InternalAuth) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').into(), callee, auth })
    }

    /// POST `body` to `path`, retried (with the same idempotency key) on network errors, 5xx and
    /// `idempotency_in_progress` (the same request still running at the callee); any other 4xx
    /// is final.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        idempotency_key: Option<&str>,
        body: &B,
    ) -> Result<T, CallError> {
        let mut last_error = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            let token =
                self.auth.mint_service(self.callee).map_err(|p| CallError::Unavailable(p.detail.unwrap_or(p.title)))?;
            let mut request = self
                .http
                .post(format!("{}{path}", self.base_url))
                .header(crate::auth::INTERNAL_TOKEN_HEADER.as_str(), token)
                .json(body);
            if let Some(key) = idempotency_key {
                request = request.header(crate::idempotency::HEADER, key);
            }
            match crate::telemetry::inject_reqwest(request).send().await {
                Ok(res) if res.status().is_success() => {
                    return res.json().await.map_err(|e| CallError::Unavailable(e.to_string()));
                }
                Ok(res) if res.status().is_client_error() => {
                    let status = res.status().as_u16();
                    let problem = res.json::<Problem>().await.unwrap_or_else(|_| {
                        Problem::new(actix_web::http::StatusCode::BAD_GATEWAY, "refused", "the call was refused")
                    });
                    if problem.code != "idempotency_in_progress" {
                        return Err(CallError::Refused { status, problem });
                    }
                    last_error = problem.code;
                }
                Ok(res) => last_error = format!("{} answered {}", self.callee, res.status()),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(CallError::Unavailable(last_error))
    }
}
