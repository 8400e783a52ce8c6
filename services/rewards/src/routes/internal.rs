//! Service-to-service: marketplace reserves a voucher for a purchase at checkout.
//!
//! Not behind the gateway (it routes `/api/**` only); callers authenticate with an internal token
//! minted as themselves (`service:<name>`, role `service`), as marketplace does for billing.
//! Idempotent by construction: reserving again for the same purchase answers the same voucher, so
//! the caller may retry after a timeout without an Idempotency-Key.

use super::tokens::voucher_value;
use crate::domain::voucher::{self, Held, Reserve};
use crate::error::RewardsError;
use crate::store::vouchers;
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::money::{Currency, Money};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveVoucher {
    pub code: String,
    /// The buyer: only the user who redeemed the voucher may use it.
    pub user_id: Uuid,
    pub purchase_id: Uuid,
    /// The course's currency.
    pub currency: Currency,
}

#[derive(Debug, Serialize)]
pub struct ReservedVoucher {
    /// `RW-` and the code's first group (the code itself is not kept).
    pub code_prefix: String,
    pub purchase_id: Uuid,
    pub value: Money,
    pub expires_at: DateTime<Utc>,
}

/// `POST /internal/vouchers/reserve` (role `service`): hold the voucher for the purchase, or a 422
/// naming `voucher_code` with `voucher_not_found`, `voucher_used`, `voucher_expired` or
/// `voucher_currency_mismatch`.
pub async fn reserve(
    state: web::Data<State>,
    principal: Principal,
    body: platform::http::Json<ReserveVoucher>,
) -> Result<HttpResponse, Problem> {
    principal.require_service()?;
    let req = body.into_inner();
    // Codes are shown grouped and upper case; a buyer may type them otherwise.
    let code = voucher::canonical(&req.code);
    if code.is_empty() || code.len() > 64 || code.chars().any(char::is_control) {
        return Err(RewardsError::Voucher(voucher::Refusal::NotFound).into());
    }
    // Only keyed hashes are stored: look up by the code's hash under every configured key.
    let hashes = state.codes.candidates(&code);
    let now = state.clock.now();
    let reserved = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let found = vouchers::lock_by_code_hash(conn, &hashes).await?;
            if let Some(v) = found.as_ref().filter(|v| v.code_hash != hashes[0]) {
                // Matched under a previous hash key: move it to the current one while we hold it.
                vouchers::rehash_code(conn, v.redemption_id, &hashes[0]).await?;
            }
            let held = found.as_ref().map(|v| Held {
                owner: v.user_id,
                status: &v.status,
                currency: &v.currency,
                expires_at: v.expires_at,
                purchase_id: v.purchase_id,
            });
            let v = match voucher::reserve(held.as_ref(), req.user_id, req.purchase_id, req.currency.code(), now) {
                Reserve::Refuse(r) => return Err(RewardsError::Voucher(r)),
                Reserve::AlreadyHeld => found.ok_or_else(|| Problem::internal("voucher vanished"))?,
                Reserve::Take => vouchers::reserve(conn, v_id(&found)?, req.purchase_id, now)
                    .await?
                    .ok_or(RewardsError::Voucher(voucher::Refusal::Used))?,
            };
            tracing::info!(purchase = %req.purchase_id, "voucher reserved");
            Ok::<_, RewardsError>(v)
        })
    })
    .await?;
    let value = voucher_value(Some(reserved.discount), Some(&reserved.currency))?
        .ok_or_else(|| Problem::internal("voucher without value"))?;
    Ok(HttpResponse::Ok().json(ReservedVoucher {
        code_prefix: reserved.code_prefix,
        purchase_id: req.purchase_id,
        value,
        expires_at: reserved.expires_at,
    }))
}

/// The id of the voucher found (the domain decided to take it, so it exists).
fn v_id(found: &Option<crate::store::catalog::Voucher>) -> Result<Uuid, RewardsError> {
    found.as_ref().map(|v| v.redemption_id).ok_or_else(|| Problem::internal("voucher vanished").into())
}
