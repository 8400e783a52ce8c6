//! The internal call to rewards: "reserve this voucher for this purchase". Rewards owns vouchers;
//! reserving is atomic there (two purchases with one voucher: exactly one gets it) and idempotent
//! per purchase id, so a retry after a timeout reaches the same reservation.

use crate::error::MarketError;
use chrono::{DateTime, Utc};
use platform::auth::InternalAuth;
use platform::internal::{CallError, InternalClient};
use platform::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone)]
pub struct RewardsClient {
    client: InternalClient,
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
    /// `RW-` and the code's first group.
    pub code_prefix: String,
    pub value: Money,
    pub expires_at: DateTime<Utc>,
}

impl RewardsClient {
    pub fn new(base_url: &str, timeout: Duration, auth: InternalAuth) -> Result<Self, String> {
        Ok(Self { client: InternalClient::new(base_url, "rewards", timeout, auth)? })
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
        // No idempotency key: the reservation's natural key is the purchase id in the body.
        self.client.post("/internal/vouchers/reserve", None, &body).await.map_err(|e| match e {
            CallError::Refused { status: 422, problem } if problem.code.starts_with("voucher_") => {
                MarketError::VoucherRefused(problem)
            }
            CallError::Refused { status, problem } => {
                MarketError::RewardsUnavailable(format!("rewards refused: {status} {}", problem.code))
            }
            CallError::Unavailable(cause) => MarketError::RewardsUnavailable(cause),
        })
    }
}
