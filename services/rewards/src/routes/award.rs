//! `POST /api/tokens/award`: admins grant tokens, with a reason, recorded in the audit log.

use super::PROBLEM;
use crate::domain::validate;
use crate::error::RewardsError;
use crate::ledger::{self, Credit};
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::audit::{Action, AuditContext};
use platform::auth::{Principal, Role};
use platform::http::Json;
use platform::idempotency::{self, Audited, IdempotencyKey};
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardRequest {
    pub user_id: Uuid,
    /// Whole tokens, 1 to 1,000,000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub amount: i64,
    /// Shown in the user's ledger and kept in the audit log; 1-500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AwardView {
    pub transaction_id: Uuid,
    pub user_id: Uuid,
    pub amount: i64,
    pub reason: String,
    pub balance_after: i64,
    pub created_at: DateTime<Utc>,
}

/// Admins: grant a user tokens, with a reason, recorded in the audit log.
#[utoipa::path(post, path = "/api/tokens/award", tag = "rewards", operation_id = "awardTokens",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; replays the first response, and the same admin's key never awards twice")),
    request_body = AwardRequest,
    responses((status = 201, body = AwardView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "idempotency_key_required, bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: admins only"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "duplicate_award, idempotency_in_progress"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`amount`, `reason`), idempotency_key_reused")))]
pub async fn award(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    key: IdempotencyKey,
    body: Json<AwardRequest>,
) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let req = body.into_inner();
    let errors = validate::award(req.amount, &req.reason);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let scope = format!("{}:POST /api/tokens/award", principal.sub);
    let now = state.clock.now();
    let key_text = key.0.clone();
    let audited = Audited { ctx: audit_ctx, at: now };
    idempotency::create_audited(&state.pool, &scope, &key, &req.clone(), audited, move |conn| {
        Box::pin(async move {
            // Keyed by admin and Idempotency-Key, so even a replay after the key store forgot it
            // cannot award twice.
            let once = format!("{}:{key_text}", principal.sub);
            let reason = req.reason.trim();
            let tx = ledger::award(
                conn,
                now,
                &Credit {
                    user: req.user_id,
                    amount: req.amount,
                    reason,
                    reference: None,
                    source: ledger::SOURCE_ADMIN,
                    idempotency_ref: &once,
                },
            )
            .await?
            .ok_or(RewardsError::DuplicateAward)?;
            let changes = serde_json::json!({
                "amount": req.amount,
                "reason": reason,
                "transaction_id": tx.id,
                "balance_after": tx.balance_after,
            });
            let action = Action::new("tokens.award", format!("user:{}", req.user_id), changes);
            let view = AwardView {
                transaction_id: tx.id,
                user_id: tx.user_id,
                amount: tx.amount,
                reason: tx.reason,
                balance_after: tx.balance_after,
                created_at: tx.created_at,
            };
            Ok((view, action))
        })
    })
    .await
}
