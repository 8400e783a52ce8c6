//! HTTP handlers.

pub mod coupons;
pub mod features;
pub mod reports;
pub mod subscriptions;
pub mod test_clocks;
pub mod tiers;

use actix_web::web;

/// The media type of every error answer (RFC 9457), for the handlers' OpenAPI annotations.
pub const PROBLEM: &str = platform::problem::CONTENT_TYPE;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/subscriptions/tiers", web::get().to(tiers::list))
        .route("/api/subscriptions", web::post().to(subscriptions::subscribe))
        .route("/api/subscriptions/me", web::get().to(subscriptions::me))
        .route("/api/subscriptions/me/change", web::post().to(subscriptions::change))
        .route("/api/subscriptions/me/change/preview", web::get().to(subscriptions::preview))
        .route("/api/subscriptions/me/cancel", web::post().to(subscriptions::cancel))
        .route("/api/subscriptions/me/resume", web::post().to(subscriptions::resume))
        .route("/api/subscriptions/me/pause", web::post().to(subscriptions::pause))
        .route("/api/subscriptions/me/discount", web::post().to(subscriptions::apply_discount))
        .route("/api/admin/coupons", web::post().to(coupons::create))
        .route("/api/admin/coupons", web::get().to(coupons::list))
        .route("/api/admin/coupons/{id}/promotion-codes", web::post().to(coupons::create_code))
        .route("/api/admin/coupons/{id}/deactivate", web::post().to(coupons::deactivate))
        .route("/api/admin/coupons/{id}/promotion-codes/{code_id}/deactivate", web::post().to(coupons::deactivate_code))
        .route("/api/admin/reports/subscriptions", web::get().to(reports::subscriptions))
        .route("/api/test-clocks", web::post().to(test_clocks::create))
        .route("/api/test-clocks", web::get().to(test_clocks::list))
        .route("/api/test-clocks/{id}", web::get().to(test_clocks::get))
        .route("/api/test-clocks/{id}", web::delete().to(test_clocks::delete))
        .route("/api/test-clocks/{id}/advance", web::post().to(test_clocks::advance))
        .route("/api/features/{feature}", web::get().to(features::check))
        .route("/internal/features/check", web::post().to(features::batch));
}
