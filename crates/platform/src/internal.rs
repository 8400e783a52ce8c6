//! Calls from one service to another's `/internal` routes (marketplace → billing and rewards,
//! subscriptions → billing): a service token for the callee, trace context, a timeout, and a
//! retry that is safe because every such call is idempotent at the callee (an `Idempotency-Key`,
//! or a natural key such as the purchase id in the body).
//!
//! The base URL may list several replicas, comma-separated (`http://billing-1:8081,http://billing-2:8081`),
//! for deployments without a load balancer in front of the callee (on Kubernetes, the Service URL is
//! the one entry). Calls start at the next replica in turn, and each retry goes to the following
//! one, so a replica that is down or restarting costs a retry, not the call.

pub mod billing;

use crate::auth::InternalAuth;
use crate::Problem;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
    /// One or more replicas of the callee.
    base_urls: Arc<[String]>,
    /// Round-robin position, shared by the clones of this client.
    next: Arc<AtomicUsize>,
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
        let base_urls: Arc<[String]> = base_urls(base_url)?.into();
        Ok(Self { http, base_urls, next: Arc::new(AtomicUsize::new(0)), callee, auth })
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
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let mut refused = false;
        for attempt in 0..ATTEMPTS {
            // A refused connection never reached the callee: another replica is tried at once.
            let another_replica = refused && self.base_urls.len() > 1;
            if attempt > 0 && !another_replica {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            let base_url = &self.base_urls[(first + attempt as usize) % self.base_urls.len()];
            let token =
                self.auth.mint_service(self.callee).map_err(|p| CallError::Unavailable(p.detail.unwrap_or(p.title)))?;
            let mut request = self
                .http
                .post(format!("{base_url}{path}"))
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
                Err(e) => {
                    refused = e.is_connect();
                    last_error = e.to_string();
                    continue;
                }
            }
            refused = false;
        }
        Err(CallError::Unavailable(last_error))
    }
}

/// The replicas' base URLs in `list` (comma-separated; one is the usual case).
fn base_urls(list: &str) -> Result<Vec<String>, String> {
    let urls: Vec<String> =
        list.split(',').map(|u| u.trim().trim_end_matches('/').to_string()).filter(|u| !u.is_empty()).collect();
    if urls.is_empty() {
        return Err(format!("no base URL in {list:?}"));
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_several_base_urls() {
        assert_eq!(base_urls("http://billing:8081/").unwrap(), vec!["http://billing:8081"]);
        assert_eq!(
            base_urls("http://b1:8081, http://b2:8081/,").unwrap(),
            vec!["http://b1:8081".to_string(), "http://b2:8081".to_string()]
        );
        assert!(base_urls(" , ").is_err());
    }
}
