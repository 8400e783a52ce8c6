//! HTTP handlers: parse, authorise, call the ledger and the store, answer. The gateway forwards
//! `/api/tokens/**`, `/api/leaderboard/**`, `/api/friends/**` and `/api/rewards/**` here with an
//! internal token; ownership and roles are checked in each handler.

pub mod award;
pub mod erasures;
pub mod friends;
pub mod internal;
pub mod leaderboard;
pub mod profile;
pub mod redeem;
pub mod reports;
pub mod tokens;

use actix_web::web;
use platform::auth::Principal;
use platform::Problem;
use uuid::Uuid;

/// The media type of every error answer (RFC 9457), for the handlers' OpenAPI annotations.
pub const PROBLEM: &str = platform::problem::CONTENT_TYPE;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/tokens/balance", web::get().to(tokens::balance))
        .route("/api/tokens/transactions", web::get().to(tokens::transactions))
        .route("/api/tokens/catalog", web::get().to(tokens::catalog))
        .route("/api/tokens/award", web::post().to(award::award))
        .route("/api/tokens/redeem", web::post().to(redeem::redeem))
        .route("/api/leaderboard/global", web::get().to(leaderboard::global))
        .route("/api/leaderboard/weekly", web::get().to(leaderboard::weekly))
        .route("/api/leaderboard/friends", web::get().to(leaderboard::friends))
        .route("/api/friends", web::get().to(friends::list))
        .route("/api/friends/requests", web::get().to(friends::pending))
        .route("/api/friends/requests", web::post().to(friends::request))
        .route("/api/friends/requests/{user_id}/accept", web::post().to(friends::accept))
        .route("/api/friends/requests/{user_id}/decline", web::post().to(friends::decline))
        .route("/api/friends/{user_id}", web::delete().to(friends::remove))
        .route("/api/rewards/profile", web::get().to(profile::get))
        .route("/api/rewards/profile", web::put().to(profile::put))
        .route("/api/admin/reports/rewards", web::get().to(reports::tokens))
        .route("/api/admin/reports/rewards/vouchers", web::get().to(reports::vouchers))
        .route("/api/admin/reports/rewards/liability", web::get().to(reports::liability))
        .route("/api/admin/users/{user_id}/erasure", web::post().to(erasures::request))
        .route("/api/admin/erasures/{id}", web::get().to(erasures::get))
        .route("/internal/vouchers/reserve", web::post().to(internal::reserve));
}

/// [`subject`], and an audit entry when an admin reads another user's `resource`.
pub async fn audited_subject(
    pool: &platform::db::Pool,
    http: &actix_web::HttpRequest,
    principal: &Principal,
    requested: Option<Uuid>,
    resource: &str,
) -> Result<Uuid, Problem> {
    let user = subject(principal, requested)?;
    platform::audit::audit_read_of(pool, http, principal, user, resource).await?;
    Ok(user)
}

/// Whose data a read is about: the caller's own, or (admins only) `requested`.
pub fn subject(principal: &Principal, requested: Option<Uuid>) -> Result<Uuid, Problem> {
    let me = principal.user_id().ok();
    match requested {
        Some(other) if Some(other) == me => Ok(other),
        Some(other) if principal.is_admin() => Ok(other),
        Some(_) => Err(Problem::forbidden().with_detail("only admins may read another user's tokens")),
        None => principal.user_id(),
    }
}
