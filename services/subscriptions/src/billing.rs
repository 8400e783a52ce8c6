//! The internal call to billing: "take this payment". Retried only with the same idempotency key,
//! so a retry after a timeout reaches the same payment.

use crate::error::SubscriptionError;
use platform::auth::InternalAuth;
use platform::money::Money;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

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
    off_session: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Payment {
    pub id: Uuid,
    pub status: String,
    pub client_secret: Option<String>,
    pub failure_code: Option<String>,
}

impl BillingClient {
    pub fn new(base_url: &str, auth: InternalAuth) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').into(), auth })
    }

    /// Ask billing for a payment of `amount` for charge `charge_id`. `off_session` charges the saved card now.
    pub async fn create_payment(
        &self,
        user_id: Uuid,
        amount: Money,
        charge_id: Uuid,
        description: &str,
        off_session: bool,
    ) -> Result<Payment, SubscriptionError> {
        let body = CreatePayment {
            user_id,
            amount,
            purpose: "subscription",
            reference_id: charge_id.to_string(),
            description,
            off_session,
        };
        let mut last_error = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            let token = self.auth.mint_service("billing")?;
            let request = self
                .http
                .post(format!("{}/internal/payments", self.base_url))
                .header(platform::auth::INTERNAL_TOKEN_HEADER.as_str(), token)
                .header("Idempotency-Key", format!("charge-{charge_id}"))
                .json(&body);
            match platform::telemetry::inject_reqwest(request).send().await {
                Ok(res) if res.status().is_success() => {
                    return res.json().await.map_err(|e| SubscriptionError::BillingUnavailable(e.to_string()))
                }
                // Billing refused (e.g. no saved card): not worth retrying, unless the same request
                // is still in flight there.
                Ok(res) if res.status().is_client_error() => {
                    let problem: serde_json::Value = res.json().await.unwrap_or_default();
                    let code = problem["code"].as_str().unwrap_or("refused").to_string();
                    if code != "idempotency_in_progress" {
                        return Err(SubscriptionError::PaymentDeclined(code));
                    }
                    last_error = code;
                }
                Ok(res) => last_error = format!("billing answered {}", res.status()),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(SubscriptionError::BillingUnavailable(last_error))
    }
}
