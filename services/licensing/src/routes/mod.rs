//! HTTP handlers: parse, authorise, call the domain and the store, answer.
//!
//! Cross-organisation reads answer 404, so ids leak nothing; a caller of the right organisation
//! without the needed role gets 403.

pub mod access;
pub mod certificates;
pub mod licenses;
pub mod organizations;
pub mod reports;
pub mod seats;
pub mod tickets;
pub mod usage;
pub mod views;

use actix_web::web;
use chrono::{DateTime, Utc};
use platform::pagination::PageQuery;
use platform::Problem;
use serde::de::DeserializeOwned;

/// The media type of every error answer (RFC 9457), for the handlers' OpenAPI annotations.
pub const PROBLEM: &str = platform::problem::CONTENT_TYPE;

pub fn configure(cfg: &mut web::ServiceConfig) {
    const L: &str = "/api/enterprise/licenses";
    cfg.route(&format!("{L}/create"), web::post().to(licenses::create))
        .route(&format!("{L}/activate"), web::post().to(seats::activate))
        .route(&format!("{L}/public-key"), web::get().to(certificates::public_key))
        .route(L, web::get().to(licenses::list))
        .route(&format!("{L}/{{id}}"), web::get().to(licenses::get))
        .route(&format!("{L}/{{id}}/seat-count"), web::post().to(licenses::change_seats))
        .route(&format!("{L}/{{id}}/extend"), web::post().to(licenses::extend))
        .route(&format!("{L}/{{id}}/suspend"), web::post().to(licenses::suspend))
        .route(&format!("{L}/{{id}}/reinstate"), web::post().to(licenses::reinstate))
        .route(&format!("{L}/{{id}}/revoke"), web::post().to(licenses::revoke))
        .route(&format!("{L}/{{id}}/seats"), web::get().to(seats::list))
        .route(&format!("{L}/{{id}}/seats/{{user_id}}"), web::delete().to(seats::release))
        .route(&format!("{L}/{{id}}/certificate"), web::get().to(certificates::certificate))
        .route(&format!("{L}/{{id}}/usage"), web::get().to(usage::usage))
        .route("/api/enterprise/seats/me", web::get().to(seats::mine))
        .route("/api/enterprise/branding", web::get().to(organizations::public_branding))
        .route("/api/enterprise/organizations/{id}", web::get().to(organizations::get))
        .route("/api/enterprise/organizations/{id}/branding", web::put().to(organizations::put_branding))
        .route("/api/enterprise/organizations/{id}/custom-domain/verify", web::post().to(organizations::verify_domain))
        .route("/api/enterprise/organizations/{id}/business-hours", web::put().to(organizations::put_business_hours))
        .route("/api/enterprise/support/tickets", web::post().to(tickets::create))
        .route("/api/enterprise/support/tickets", web::get().to(tickets::list))
        .route("/api/enterprise/support/tickets/{id}", web::get().to(tickets::get))
        .route("/api/enterprise/support/tickets/{id}/comments", web::post().to(tickets::comment))
        .route("/api/enterprise/support/tickets/{id}/comments", web::get().to(tickets::comments))
        .route("/api/enterprise/support/tickets/{id}/status", web::post().to(tickets::set_status))
        .route("/api/admin/reports/licensing", web::get().to(reports::tickets))
        .route("/api/admin/reports/licensing/licenses", web::get().to(reports::licenses))
        .route("/api/admin/reports/licensing/utilization", web::get().to(reports::utilization))
        .route("/api/admin/reports/licensing/renewals", web::get().to(reports::renewals));
}

/// The decoded cursor of `page` with its time range-checked: cursors are opaque, so a crafted one
/// answers 422 naming `cursor` instead of reaching the database with a time it cannot store.
pub fn time_cursor<C: DeserializeOwned>(
    page: &PageQuery,
    at: impl Fn(&C) -> DateTime<Utc>,
) -> Result<Option<C>, Problem> {
    let cursor: Option<C> = page.cursor()?;
    if cursor.as_ref().is_some_and(|c| !crate::domain::time::in_range(at(c))) {
        return Err(Problem::field("cursor", "is not a cursor this API issued"));
    }
    Ok(cursor)
}

pub use platform::idempotency::OptionalIdempotencyKey;
