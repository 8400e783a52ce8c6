//! Erasure, rewards' part (issue 18, point 3): rewards owns the platform's erasure requests (see
//! docs/operations.md, "Audit and privacy", for why), and like every service erases the user in
//! its own tables when `rewards.erasure.requested.v1` arrives (`events::erasure`).

use crate::store::{erasures, schema};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::catalog::erasure::{ErasureConfirmation, ErasureOrigin, ErasureRequested, SERVICES};
use events::erasure::Eraser;
use events::HandlerError;
use futures_util::future::BoxFuture;
use serde::Serialize;
use uuid::Uuid;

/// Rewards' personal data: the display name and the friend graph. The token ledger, balances,
/// redemptions and vouchers are financial records: kept, under the user's opaque id.
pub struct RewardsEraser;

impl Eraser for RewardsEraser {
    fn erase<'a>(&'a self, conn: &'a mut AsyncPgConnection, user: Uuid) -> BoxFuture<'a, Result<(), HandlerError>> {
        use schema::{friend_requests as fr, friendships as f, profiles as p};
        Box::pin(async move {
            diesel::delete(p::table.filter(p::user_id.eq(user))).execute(conn).await?;
            diesel::delete(f::table.filter(f::user_id.eq(user).or(f::friend_id.eq(user)))).execute(conn).await?;
            diesel::delete(fr::table.filter(fr::requester_id.eq(user).or(fr::addressee_id.eq(user))))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}

/// Open an erasure request and announce it, in the caller's transaction.
pub async fn request(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    origin: ErasureOrigin,
    requested_by: &str,
    now: DateTime<Utc>,
) -> QueryResult<ErasureView> {
    let request = erasures::Request {
        id: Uuid::now_v7(),
        user_id,
        origin: origin.as_str().to_string(),
        requested_by: requested_by.to_string(),
        requested_at: now,
        completed_at: None,
    };
    erasures::insert(conn, &request).await?;
    let event = ErasureRequested { erasure_id: request.id, user_id, origin, requested_at: now };
    events::outbox::enqueue(conn, &event).await?;
    Ok(ErasureView::new(request, Vec::new()))
}

/// A service's `<service>.user.erased.v1`. An unknown request (another deployment's, or one
/// whose row is not there) is rejected to the dead-letter queue, never silently dropped.
pub async fn confirmed(
    conn: &mut AsyncPgConnection,
    c: &ErasureConfirmation,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    if !SERVICES.contains(&c.service.as_str()) {
        return Err(HandlerError::Reject(format!("erasure confirmed by unknown service {:?}", c.service)));
    }
    if !erasures::confirm(conn, c.erasure_id, &c.service, c.erased_at, now, SERVICES).await? {
        return Err(HandlerError::Reject(format!("no erasure request {}", c.erasure_id)));
    }
    Ok(())
}

/// `GET /api/admin/erasures/{id}`: the request and each service's part.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErasureView {
    pub id: Uuid,
    pub user_id: Uuid,
    /// `admin` or `identity` (the identity provider's `identity.user.erased.v1`).
    pub origin: String,
    /// `requested` (no service has confirmed yet), `in_progress` (some have) or `completed`.
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// One entry per service, in name order.
    pub services: Vec<ServiceErasure>,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ServiceErasure {
    pub service: String,
    /// `pending` or `done`.
    pub status: String,
    pub erased_at: Option<DateTime<Utc>>,
}

impl ErasureView {
    pub fn new(request: erasures::Request, confirmations: Vec<erasures::Confirmation>) -> Self {
        let services: Vec<ServiceErasure> = SERVICES
            .iter()
            .map(|s| {
                let done = confirmations.iter().find(|c| c.service == *s);
                ServiceErasure {
                    service: s.to_string(),
                    status: if done.is_some() { "done" } else { "pending" }.to_string(),
                    erased_at: done.map(|c| c.erased_at),
                }
            })
            .collect();
        let status = if request.completed_at.is_some() {
            "completed"
        } else if confirmations.is_empty() {
            "requested"
        } else {
            "in_progress"
        };
        Self {
            id: request.id,
            user_id: request.user_id,
            origin: request.origin,
            status: status.to_string(),
            requested_at: request.requested_at,
            completed_at: request.completed_at,
            services,
        }
    }
}
