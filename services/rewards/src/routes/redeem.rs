//! `POST /api/tokens/redeem`: spend tokens on a catalogue item.

use super::tokens::voucher_value;
use super::PROBLEM;
use crate::error::RewardsError;
use crate::ledger;
use crate::store::{accounts, catalog};
use crate::State;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::http::Json;
use platform::idempotency::{self, IdempotencyKey};
use platform::money::Money;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    /// A catalogue item: `pro_month` or `course_voucher`.
    #[schema(example = "pro_month")]
    pub item: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoucherView {
    /// Single use; show it to the user, who enters it at checkout. Only in the answer that issues
    /// it: it is stored as a keyed hash and cannot be shown again (a replay of this answer has
    /// `code_prefix` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `RW-` and the code's first group, to recognise it.
    pub code_prefix: String,
    pub value: Money,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RedemptionView {
    pub redemption_id: Uuid,
    pub item: String,
    pub cost: i64,
    pub balance_after: i64,
    pub transaction_id: Uuid,
    pub redeemed_at: DateTime<Utc>,
    /// For `course_voucher`: the voucher bought; `null` otherwise.
    pub voucher: Option<VoucherView>,
}

/// Spend tokens on a catalogue item (a Pro month, a course voucher).
#[utoipa::path(post, path = "/api/tokens/redeem", tag = "rewards", operation_id = "redeemTokens",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response")),
    request_body = RedeemRequest,
    responses((status = 201, body = RedemptionView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "insufficient_tokens, idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (unknown `item`), idempotency_key_reused")))]
pub async fn redeem(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<RedeemRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    let scope = format!("{user}:POST /api/tokens/redeem");
    let now = state.clock.now();
    let valid_days = state.config.voucher_valid_days;
    let codes = state.codes.clone();
    idempotency::execute_concealed(&state.pool, &scope, &key, &req.clone(), conceal_code, move |conn| {
        Box::pin(async move {
            let item = catalog::find_active(conn, &req.item)
                .await?
                .ok_or_else(|| RewardsError::UnknownItem(req.item.clone()))?;
            let Some(done) = ledger::redeem(conn, now, user, &item, valid_days, &codes).await? else {
                let balance = accounts::find(conn, user).await?.map(|a| a.balance).unwrap_or(0);
                return Err(RewardsError::InsufficientTokens { cost: item.cost, balance }.into());
            };
            let voucher = match done.voucher {
                Some((v, code)) => Some(VoucherView {
                    value: voucher_value(Some(v.discount), Some(&v.currency))?
                        .ok_or_else(|| Problem::internal("voucher without value"))?,
                    code: Some(code),
                    code_prefix: v.code_prefix,
                    expires_at: v.expires_at,
                }),
                None => None,
            };
            let view = RedemptionView {
                redemption_id: done.redemption_id,
                item: item.item,
                cost: item.cost,
                balance_after: done.transaction.balance_after,
                transaction_id: done.transaction.id,
                redeemed_at: now,
                voucher,
            };
            Ok((StatusCode::CREATED, view))
        })
    })
    .await
}

/// Take the voucher's code out of the stored answer (`idempotency::execute_concealed`).
fn conceal_code(body: &mut serde_json::Value) {
    if let Some(voucher) = body.get_mut("voucher").and_then(|v| v.as_object_mut()) {
        voucher.remove("code");
    }
}
