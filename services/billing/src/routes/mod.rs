//! HTTP handlers: parse, authorise, call the domain and the store, answer.

pub mod internal;
pub mod invoices;
pub mod methods;
pub mod payments;
pub mod refunds;
pub mod reports;
pub mod tax;
pub mod views;
pub mod webhook;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/internal/payments", web::post().to(internal::create_payment))
        .route("/internal/payments/{id}/cancel", web::post().to(internal::cancel_payment))
        .route("/internal/customers/default-card", web::post().to(internal::default_card))
        .route("/api/payments/webhook", web::post().to(webhook::receive))
        .route("/api/admin/reports/payments", web::get().to(reports::payments))
        .route("/api/admin/reports/payments/tax", web::get().to(reports::tax))
        .route("/api/admin/tax-rates", web::post().to(tax::create_rate))
        .route("/api/admin/tax-rates", web::get().to(tax::list_rates))
        .route("/api/admin/tax-rates/{id}/deactivate", web::post().to(tax::deactivate_rate))
        .route("/api/payments/billing-details", web::get().to(tax::get_details))
        .route("/api/payments/billing-details", web::put().to(tax::put_details))
        .route("/api/payments/invoices", web::get().to(invoices::list))
        .route("/api/payments/invoices/{id}", web::get().to(invoices::get))
        .route("/api/payments/credit-notes", web::get().to(invoices::list_credit_notes))
        .route("/api/payments/credit-notes/{id}", web::get().to(invoices::get_credit_note))
        .route("/api/payments/history", web::get().to(payments::history))
        // Before `/api/payments/{id}`, which would take `methods` for an id.
        .route("/api/payments/methods", web::get().to(methods::list))
        .route("/api/payments/methods/setup", web::post().to(methods::setup))
        .route("/api/payments/methods/{id}/default", web::post().to(methods::make_default))
        .route("/api/payments/methods/{id}", web::delete().to(methods::remove))
        .route("/api/payments/{id}", web::get().to(payments::get))
        .route("/api/payments/{id}/receipt", web::get().to(payments::receipt))
        .route("/api/payments/{id}/refunds", web::post().to(refunds::create));
}
