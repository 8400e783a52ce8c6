//! The internal call to rewards: "reserve this voucher for this purchase". Rewards owns vouchers;
//! reserving is atomic there (two purchases with one voucher: exactly one gets it) and idempotent
//! per purchase id, so a retry after a timeout reaches the same reservation.

use crate::error::MarketError;
use chrono::{DateTime, Utc};
use platform::auth::InternalAuth;
use platform::money::{Currency, Money};
use platform::Problem;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

const ATTEMPTS: u32 = 3;

#[derive(Clone)]
pub struct RewardsClient {
    http: reqwest::Client,
    base_url: String,
    auth: InternalAuth,
}

#[derive(Debug, Serialize)]
struct Reserve<'a> {
    code: &'a str,
    user_id: Uuid,
    purchase_id: Uuid,
    currency: Currency,
}

/// The part of rewards' answer marketplace needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Reserved {
    pub code: String,
    pub value: Money,
    pub expires_at: DateTime<Utc>,
}

impl RewardsClient {
    pub fn new(base_url: &str, timeout: Duration, auth: InternalAuth) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').into(), auth })
    }

    /// Reserve `code` for the buyer's purchase. A refusal (`voucher_not_found`, `voucher_used`,
    /// `voucher_expired`, `voucher_currency_mismatch`) comes back as rewards' 422, which names
    /// `voucher_code`, for the buyer as it is.
    pub async fn reserve(
        &self,
        code: &str,
        user_id: Uuid,
        purchase_id: Uuid,
        currency: Currency,
    ) -> Result<Reserved, MarketError> {
        let body = Reserve { code, user_id, purchase_id, currency };
        let mut last_error = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            let token = self.auth.mint_service("rewards")?;
            let request = self
                .http
                .post(format!("{}/internal/vouchers/reserve", self.base_url))
                .header(platform::auth::INTERNAL_TOKEN_HEADER.as_str(), token)
                .json(&body);
            match platform::telemetry::inject_reqwest(request).send().await {
                Ok(res) if res.status().is_success() => {
                    return res.json().await.map_err(|e| MarketError::RewardsUnavailable(e.to_string()));
                }
                Ok(res) if res.status() == reqwest::StatusCode::UNPROCESSABLE_ENTITY => {
                    let problem: Problem =
                        res.json().await.map_err(|e| MarketError::RewardsUnavailable(e.to_string()))?;
                    if problem.code.starts_with("voucher_") {
                        return Err(MarketError::VoucherRefused(problem));
                    }
                    return Err(MarketError::RewardsUnavailable(format!("rewards refused: {}", problem.code)));
                }
                Ok(res) if res.status().is_client_error() => {
                    return Err(MarketError::RewardsUnavailable(format!("rewards answered {}", res.status())));
                }
                Ok(res) => last_error = format!("rewards answered {}", res.status()),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(MarketError::RewardsUnavailable(last_error))
    }
}
