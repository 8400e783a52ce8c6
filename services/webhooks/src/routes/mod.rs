//! HTTP handlers (admins only): endpoints, their delivery log, replays. The gateway forwards
//! `/api/admin/webhooks/**` here with an internal token.

pub mod endpoints;
pub mod log;
pub mod replay;

use actix_web::web;

/// The media type of every error answer (RFC 9457), for the handlers' OpenAPI annotations.
pub const PROBLEM: &str = platform::problem::CONTENT_TYPE;

pub const ENDPOINTS: &str = "/api/admin/webhooks/endpoints";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(ENDPOINTS, web::post().to(endpoints::create))
        .route(ENDPOINTS, web::get().to(endpoints::list))
        .route("/api/admin/webhooks/endpoints/{id}", web::get().to(endpoints::get))
        .route("/api/admin/webhooks/endpoints/{id}", web::patch().to(endpoints::update))
        .route("/api/admin/webhooks/endpoints/{id}", web::delete().to(endpoints::delete))
        .route("/api/admin/webhooks/endpoints/{id}/rotate-secret", web::post().to(endpoints::rotate))
        .route("/api/admin/webhooks/endpoints/{id}/attempts", web::get().to(log::by_endpoint))
        .route("/api/admin/webhooks/events/{event_id}/attempts", web::get().to(log::by_event))
        .route("/api/admin/webhooks/endpoints/{id}/replay", web::post().to(replay::replay));
}
