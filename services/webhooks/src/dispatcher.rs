//! The dispatcher: takes due deliveries (`store::deliveries::claim_due`, SKIP LOCKED with a lease,
//! so replicas share the work and a crash only delays an attempt), POSTs the envelope signed in
//! the Standard Webhooks format, logs the attempt and schedules the next one; an endpoint that
//! has failed for longer than `WEBHOOKS_DISABLE_AFTER_SECS` is disabled, and
//! `webhooks.endpoint.disabled.v1` goes out through the outbox in the same transaction.
//!
//! At-least-once: a receiver may see a `webhook-id` twice (a lease that ended during a slow
//! answer, a replay) and dedupes by it; ordering between events is not promised.

use crate::domain::schedule::Schedule;
use crate::domain::signing;
use crate::domain::ssrf::Allowlist;
use crate::sealing::Sealer;
use crate::store::{deliveries, endpoints};
use chrono::{DateTime, Utc};
use events::catalog::webhooks::EndpointDisabled;
use platform::clock::SharedClock;
use platform::db::Pool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The part of an answer kept in the log.
pub const BODY_LIMIT: usize = 1024;

pub struct Dispatcher {
    pub pool: Pool,
    pub sealer: Arc<Sealer>,
    pub allow: Arc<Allowlist>,
    pub client: reqwest::Client,
    pub schedule: Schedule,
    pub clock: SharedClock,
    pub timeout: Duration,
    pub disable_after: chrono::Duration,
    pub interval: Duration,
    pub batch: i64,
    pub metrics: crate::metrics::Metrics,
}

impl Dispatcher {
    pub fn spawn(self, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let busy = match self.run_once().await {
                    Ok(n) => n > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook dispatcher round failed");
                        false
                    }
                };
                if *shutdown.borrow() {
                    break;
                }
                if !busy {
                    tokio::select! {
                        _ = tokio::time::sleep(self.interval) => {}
                        _ = shutdown.changed() => break,
                    }
                }
            }
        })
    }

    /// One round: take what is due, send it all concurrently, record. Returns how many were sent.
    pub async fn run_once(&self) -> Result<usize, String> {
        let now = self.clock.now();
        // The lease outlives the attempt's deadline, so no other replica sends it meanwhile.
        let lease = now + chrono::Duration::from_std(self.timeout * 2 + Duration::from_secs(5)).unwrap_or_default();
        let claimed = {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            deliveries::claim_due(&mut conn, now, lease, self.batch).await.map_err(|e| e.to_string())?
        };
        let n = claimed.len();
        futures_util::future::join_all(claimed.into_iter().map(|c| self.deliver(c))).await;
        Ok(n)
    }

    async fn deliver(&self, c: deliveries::Claimed) {
        let attempted_at = self.clock.now();
        let started = Instant::now();
        let outcome = self.send(&c, attempted_at).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.metrics.latency.observe_since(&[], started);
        let result = match outcome {
            Ok((code, body)) => deliveries::AttemptResult {
                attempted_at,
                status_code: Some(i32::from(code)),
                latency_ms,
                response_body: Some(body),
                error: None,
                succeeded: (200..300).contains(&code),
            },
            Err(error) => deliveries::AttemptResult {
                attempted_at,
                status_code: None,
                latency_ms,
                response_body: None,
                error: Some(error),
                succeeded: false,
            },
        };
        let made = usize::try_from(c.attempts).unwrap_or(0) + 1;
        let next = if result.succeeded {
            None
        } else {
            self.schedule
                .next_delay(made, rand::random::<f64>())
                .map(|d| attempted_at + chrono::Duration::from_std(d).unwrap_or_default())
        };
        if let Err(e) = self.record(&c, &result, next).await {
            // The lease ends and the attempt is made again: at least once.
            tracing::warn!(error = %e, delivery = %c.id, "recording a webhook attempt failed");
        }
    }

    async fn record(
        &self,
        c: &deliveries::Claimed,
        r: &deliveries::AttemptResult,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), String> {
        let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
        let disable_after = self.disable_after;
        let (status, disabled) = diesel_async::AsyncConnection::transaction(&mut *conn, async |conn| {
            let status = deliveries::record(conn, c, r, next).await?;
            let mut disabled = false;
            if r.succeeded {
                endpoints::mark_healthy(conn, c.endpoint_id).await?;
            } else {
                let since = endpoints::mark_failing(conn, c.endpoint_id, r.attempted_at).await?;
                if r.attempted_at - since >= disable_after {
                    let reason = format!(
                        "failing since {since}: {}",
                        r.error.clone().unwrap_or_else(|| format!("HTTP {}", r.status_code.unwrap_or_default()))
                    );
                    if endpoints::disable(conn, c.endpoint_id, &reason, r.attempted_at).await? {
                        let event = EndpointDisabled {
                            endpoint_id: c.endpoint_id,
                            failing_since: since,
                            disabled_at: r.attempted_at,
                            reason,
                        };
                        events::outbox::enqueue(conn, &event).await?;
                        disabled = true;
                    }
                }
            }
            Ok::<_, diesel::result::Error>((status, disabled))
        })
        .await
        .map_err(|e| e.to_string())?;
        self.metrics.attempts.inc(&[if r.succeeded { "succeeded" } else { "failed" }]);
        if status == deliveries::FAILED {
            self.metrics.exhausted.inc(&[]);
        }
        if disabled {
            tracing::warn!(endpoint = %c.endpoint_id, "webhook endpoint disabled after failing too long");
            self.metrics.disabled.inc(&[]);
        }
        Ok(())
    }

    /// The signing secrets in force: the current one, and the previous one during its grace.
    fn secrets(&self, c: &deliveries::Claimed, now: DateTime<Utc>) -> Result<Vec<String>, String> {
        let mut secrets = vec![self.sealer.open(c.endpoint_id, &c.secret_sealed)?];
        if let (Some(old), Some(until)) = (&c.previous_secret_sealed, c.previous_secret_expires_at) {
            if now < until {
                secrets.push(self.sealer.open(c.endpoint_id, old)?);
            }
        }
        Ok(secrets)
    }

    /// POST the envelope; the status code and the answer's first KiB, or why nothing came back.
    async fn send(&self, c: &deliveries::Claimed, now: DateTime<Utc>) -> Result<(u16, String), String> {
        let url = crate::guard::parse_url(&c.url)?;
        crate::guard::check_literal(&self.allow, &url)?;
        let secrets = self.secrets(c, now)?;
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let id = c.event_id.to_string();
        let timestamp = now.timestamp();
        let signature = signing::header(&refs, &id, timestamp, c.payload.as_bytes())?;
        let mut response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(c.payload.clone())
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let code = response.status().as_u16();
        let mut body = Vec::new();
        // Read no more than the log keeps: a receiver answering megabytes costs nothing.
        while body.len() < BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(BODY_LIMIT);
        Ok((code, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// An error with its causes (reqwest's own text omits them: "error sending request").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
