//! HTTP handlers: parse, authorise, call the domain and the store, answer.

pub mod internal;
pub mod payments;
pub mod refunds;
pub mod reports;
pub mod views;
pub mod webhook;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/internal/payments", web::post().to(internal::create_payment))
        .route("/internal/payments/{id}/cancel", web::post().to(internal::cancel_payment))
        .route("/api/payments/webhook", web::post().to(webhook::receive))
        .route("/api/admin/reports/payments", web::get().to(reports::payments))
        .route("/api/payments/history", web::get().to(payments::history))
        .route("/api/payments/{id}", web::get().to(payments::get))
        .route("/api/payments/{id}/receipt", web::get().to(payments::receipt))
        .route("/api/payments/{id}/refunds", web::post().to(refunds::create));
}
