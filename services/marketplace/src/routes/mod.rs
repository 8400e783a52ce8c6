//! HTTP handlers: parse, authorise, call the domain and the store, answer.

pub mod catalog;
pub mod courses;
pub mod instructors;
pub mod promotions;
pub mod purchases;
pub mod reports;
pub mod reviews;
pub mod upload;
pub mod views;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Fixed paths before `/api/courses/{id}`, which would otherwise swallow them.
    cfg.route("/api/courses/upload", web::post().to(upload::upload))
        .route("/api/courses/list", web::get().to(catalog::list))
        .route("/api/courses/mine", web::get().to(catalog::mine))
        .route("/api/courses/purchase", web::post().to(purchases::purchase))
        .route("/api/courses/promotion-codes", web::post().to(promotions::create))
        .route("/api/courses/promotion-codes", web::get().to(promotions::list))
        .route("/api/courses/promotion-codes/{id}/deactivate", web::post().to(promotions::deactivate))
        .route("/api/courses/{id}", web::get().to(courses::get))
        .route("/api/courses/{id}", web::patch().to(courses::patch))
        .route("/api/courses/{id}/publish", web::post().to(courses::publish))
        .route("/api/courses/{id}/unpublish", web::post().to(courses::unpublish))
        .route("/api/courses/{id}/content", web::get().to(courses::content))
        .route("/api/courses/{id}/reviews", web::get().to(reviews::list))
        .route("/api/courses/{id}/reviews", web::post().to(reviews::create))
        .route("/api/courses/{id}/reviews/mine", web::put().to(reviews::edit_mine))
        .route("/api/courses/{id}/reviews/{review_id}/reply", web::post().to(reviews::reply))
        .route("/api/courses/{id}/reviews/{review_id}/helpful", web::post().to(reviews::helpful))
        .route("/api/instructors/me/courses", web::get().to(instructors::courses))
        .route("/api/instructors/me/earnings", web::get().to(instructors::earnings))
        .route("/api/instructors/me/payouts", web::get().to(instructors::payouts))
        .route("/api/instructors/me/payouts", web::post().to(instructors::request_payout))
        .route("/api/instructors/me/reports/sales", web::get().to(reports::instructor_sales))
        .route("/api/marketplace/payouts/{id}/mark-paid", web::post().to(instructors::mark_paid))
        .route("/api/admin/reports/marketplace", web::get().to(reports::sales))
        .route("/api/admin/reports/marketplace/payouts", web::get().to(reports::payouts))
        .route("/api/admin/reports/marketplace/top-courses", web::get().to(reports::top_courses));
}
