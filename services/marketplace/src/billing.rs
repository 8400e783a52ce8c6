//! The internal call to billing: "take this payment for this purchase". Retried only with the same
//! idempotency key (derived from the purchase id), so a retry after a timeout reaches the same
//! payment instead of creating a second one.

use crate::error::MarketError;
use platform::auth::InternalAuth;
use platform::money::Money;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

const ATTEMPTS: u32 = 3;

#[derive(Clone)]
pub struct BillingClient {
    http: reqwest::Client,
    base_url: String,
    auth: InternalAuth,
}

#[derive(Debug, Serialize)]
struct CreatePayment<'a> {
    user_id: Uuid,
    amount: Money,
    purpose: &'static str,
    reference_id: String,
    description: &'a str,
}

/// The part of billing's answer marketplace needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Payment {
    pub id: Uuid,
    pub status: String,
    pub client_secret: Option<String>,
}

impl BillingClient {
    pub fn new(base_url: &str, timeout: Duration, auth: InternalAuth) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').into(), auth })
    }

    /// The billing idempotency key of a purchase: the same purchase always reaches the same payment.
    pub fn idempotency_key(purchase_id: Uuid) -> String {
        format!("purchase-{purchase_id}")
    }

    pub async fn create_payment(
        &self,
        user_id: Uuid,
        amount: Money,
        purchase_id: Uuid,
        description: &str,
    ) -> Result<Payment, MarketError> {
        let body = CreatePayment {
            user_id,
            amount,
            purpose: "course_purchase",
            reference_id: purchase_id.to_string(),
            description,
        };
        let mut last_error = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            let token = self.auth.mint_service("billing")?;
            let request = self
                .http
                .post(format!("{}/internal/payments", self.base_url))
                .header(platform::auth::INTERNAL_TOKEN_HEADER.as_str(), token)
                .header(platform::idempotency::HEADER, Self::idempotency_key(purchase_id))
                .json(&body);
            match platform::telemetry::inject_reqwest(request).send().await {
                Ok(res) if res.status().is_success() => {
                    return res.json().await.map_err(|e| MarketError::BillingUnavailable(e.to_string()));
                }
                Ok(res) if res.status().is_client_error() => {
                    let status = res.status();
                    let problem: serde_json::Value = res.json().await.unwrap_or_default();
                    let code = problem["code"].as_str().unwrap_or("refused").to_string();
                    // Only "the same request is still running there" is worth waiting for.
                    if code != "idempotency_in_progress" {
                        return Err(MarketError::BillingUnavailable(format!(
                            "billing refused the payment: {status} {code}"
                        )));
                    }
                    last_error = code;
                }
                Ok(res) => last_error = format!("billing answered {}", res.status()),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(MarketError::BillingUnavailable(last_error))
    }
}
