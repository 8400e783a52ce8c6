//! `POST /api/tokens/redeem`: spend tokens on a catalogue item.

use super::tokens::voucher_value;
use super::PROBLEM;
use crate::error::RewardsError;
use crate::ledger;
use crate::store::catalog::{self, Item};
use crate::store::redeem::{self, RedeemOnce};
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::http::Json;
use platform::idempotency::{self, Claim, Ended, IdempotencyKey};
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
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (unknown `item`), idempotency_key_reused"),
        (status = 503, body = Problem, content_type = PROBLEM, description = "overloaded: no database connection became free within the pool wait (`<S>_DATABASE_POOL_WAIT_MS`); nothing was written; retry after `Retry-After` seconds")))]
pub async fn redeem(
    state: web::Data<State>,
    principal: Principal,
    key: IdempotencyKey,
    body: Json<RedeemRequest>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let req = body.into_inner();
    let claim = Claim::new(&format!("{user}:POST /api/tokens/redeem"), &key, &req);
    let now = state.clock.now();
    let mut conn = state.pool.get().await?;
    // The catalogue is read outside the statement (so everything else can be built here); the
    // statement checks the row still says the same and answers `item_changed` when an admin
    // changed it in between, which a fresh read settles.
    for _ in 0..3 {
        let item = catalog::find_active(&mut conn, &req.item).await?;
        let valid_days = state.config.voucher_valid_days;
        let prepared = item.as_ref().map(|i| ledger::redemption(now, user, i, valid_days, &state.codes));
        // What is stored (and so what a replay answers) has no code: the code is only hashed at
        // rest, and shown once, put back below into the answer of the execution that issued it.
        let answer = match (&item, &prepared) {
            (Some(item), Some(r)) => answer(item, r)?,
            _ => serde_json::Value::Null,
        };
        let code = prepared.as_ref().and_then(|r| r.voucher.as_ref()).map(|(_, code)| code.clone());
        let placeholder = ledger::redemption(now, user, &unknown_item(&req.item), 0, &state.codes);
        let r = prepared.as_ref().unwrap_or(&placeholder);
        let returned = redeem::redeem_once(
            &mut conn,
            &RedeemOnce {
                claim: &claim,
                user,
                item_name: &req.item,
                item: item.as_ref(),
                redemption_id: r.redemption_id,
                transaction_id: r.transaction_id,
                voucher: r.voucher.as_ref().map(|(v, _)| v),
                event: &r.event,
                answer: &answer,
            },
        )
        .await?;
        match idempotency::ended_revealing(returned, |body| reveal_code(body, code))? {
            Ended::Answer(response) => return Ok(response),
            Ended::Refused(outcome, details) => match (outcome.as_str(), item) {
                ("item_changed", _) => continue,
                ("unknown_item", _) => return Err(RewardsError::UnknownItem(req.item).into()),
                ("insufficient_tokens", Some(item)) => {
                    let balance = details.and_then(|d| d["balance"].as_i64()).unwrap_or(0);
                    return Err(RewardsError::InsufficientTokens { cost: item.cost, balance }.into());
                }
                (other, _) => return Err(Problem::internal(format!("redeem_once answered {other:?}"))),
            },
        }
    }
    Err(Problem::conflict("concurrent_update", "the catalogue changed while redeeming; retry the request"))
}

/// The answer to a redemption, stored with it: without the voucher's code (`reveal_code` adds it
/// to the first answer only); `balance_after` is set by the statement.
fn answer(item: &Item, r: &ledger::Redemption) -> Result<serde_json::Value, Problem> {
    let voucher = match &r.voucher {
        Some((v, _)) => Some(VoucherView {
            value: voucher_value(Some(v.discount), Some(&v.currency))?
                .ok_or_else(|| Problem::internal("voucher without value"))?,
            code: None,
            code_prefix: v.code_prefix.clone(),
            expires_at: v.expires_at,
        }),
        None => None,
    };
    let view = RedemptionView {
        redemption_id: r.redemption_id,
        item: item.item.clone(),
        cost: item.cost,
        balance_after: 0,
        transaction_id: r.transaction_id,
        redeemed_at: r.event.redeemed_at,
        voucher,
    };
    serde_json::to_value(view).map_err(Problem::internal)
}

/// Stands in for an item the catalogue does not have: the statement then only looks for a stored
/// answer under the key (a replay) and otherwise refuses with `unknown_item`, writing nothing.
fn unknown_item(name: &str) -> Item {
    Item {
        item: name.to_string(),
        title: String::new(),
        cost: 0,
        voucher_discount: None,
        voucher_currency: None,
        active: false,
    }
}

/// Show the voucher's code in the answer of the redemption that issued it (never in a replay,
/// whose stored answer has only `code_prefix`).
fn reveal_code(body: &mut serde_json::Value, code: Option<String>) {
    if let (Some(voucher), Some(code)) = (body.get_mut("voucher").and_then(|v| v.as_object_mut()), code) {
        voucher.insert("code".into(), serde_json::Value::String(code));
    }
}
