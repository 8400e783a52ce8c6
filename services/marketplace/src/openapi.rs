//! Marketplace's part of the public API document.

use crate::domain::course::{CourseMetadata, CoursePatch};
use crate::domain::listing::Sort;
use crate::domain::review::{ReviewInput, ReviewSort};
use crate::reports::{InstructorSalesRow, PayoutRow, SalesRow, TopCourseRow};
use crate::routes::instructors::{EarningsView, PayoutRequest, Totals};
use crate::routes::purchases::PurchaseRequest;
use crate::routes::reports::{TopBy, TopCourses};
use crate::routes::reviews::ReplyInput;
use crate::routes::upload::UploadForm;
use crate::routes::views::{
    CoursePackageBytes, CourseView, EarningView, OwnedCourseView, Package, PayoutView, PurchaseView, Rating, ReplyView,
    ReviewView,
};
use platform::money::{Currency, Money};
use platform::pagination::Page;
use platform::problem::{FieldError, Problem};
use platform::reports::{Interval, Report, Snapshot};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::routes::upload::upload,
        crate::routes::catalog::list,
        crate::routes::catalog::mine,
        crate::routes::purchases::purchase,
        crate::routes::promotions::create,
        crate::routes::promotions::list,
        crate::routes::promotions::deactivate,
        crate::routes::courses::get,
        crate::routes::courses::patch,
        crate::routes::courses::publish,
        crate::routes::courses::unpublish,
        crate::routes::courses::content,
        crate::routes::reviews::list,
        crate::routes::reviews::create,
        crate::routes::reviews::edit_mine,
        crate::routes::reviews::reply,
        crate::routes::reviews::helpful,
        crate::routes::instructors::courses,
        crate::routes::instructors::earnings,
        crate::routes::instructors::payouts,
        crate::routes::instructors::request_payout,
        crate::routes::instructors::mark_paid,
        crate::routes::reports::sales,
        crate::routes::reports::payouts,
        crate::routes::reports::top_courses,
        crate::routes::reports::instructor_sales,
    ),
    components(schemas(
        CourseView, Rating, Package, CoursePackageBytes, Page<CourseView>, OwnedCourseView, Page<OwnedCourseView>,
        PurchaseView, ReviewView, ReplyView, Page<ReviewView>, EarningView, EarningsView, Totals, PayoutView,
        Page<PayoutView>, CourseMetadata, CoursePatch, UploadForm, PurchaseRequest,
        crate::promotions::NewPromotionCode, crate::promotions::PromotionCodeView, ReviewInput, ReplyInput,
        ReviewSort, Sort, PayoutRequest, Money, Currency, Problem, FieldError, SalesRow, Report<SalesRow>,
        PayoutRow, Snapshot<PayoutRow>, TopCourseRow, TopCourses, TopBy, InstructorSalesRow,
        Report<InstructorSalesRow>, Interval
    )),
    tags((name = "marketplace", description = "Courses, search, purchases, reviews, instructor earnings and payouts"))
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use super::ApiDoc;
    use serde_json::Value;
    use utoipa::OpenApi;

    const PUBLIC: &[(&str, &str)] =
        &[("get", "/api/courses/list"), ("get", "/api/courses/{id}"), ("get", "/api/courses/{id}/reviews")];

    fn doc() -> Value {
        let text = ApiDoc::openapi().to_json().expect("the document serializes");
        serde_json::from_str(&text).expect("the document is JSON")
    }

    #[test]
    fn every_api_operation_documents_security_and_problem_errors() {
        let doc = doc();
        let paths = doc["paths"].as_object().expect("paths");
        let mut operations = 0;
        for (path, item) in paths {
            assert!(path.starts_with("/api/"), "{path}: only public API paths belong in the document");
            for (method, op) in item.as_object().expect("path item") {
                operations += 1;
                let name = format!("{method} {path}");
                let security =
                    op.get("security").and_then(Value::as_array).unwrap_or_else(|| panic!("{name}: no security"));
                let public = PUBLIC.contains(&(method.as_str(), path.as_str()));
                let bearer = security.iter().any(|s| s.get("bearer").is_some());
                assert_eq!(!bearer, public, "{name}: bearer security on every route but the public ones");
                let responses = op["responses"].as_object().expect("responses");
                let problem = responses.values().any(|r| r["content"].get("application/problem+json").is_some());
                assert!(problem, "{name}: documents no problem+json error");
                assert_eq!(op["tags"], serde_json::json!(["marketplace"]), "{name}: tag");
                let takes_key = op.to_string().contains("Idempotency-Key");
                assert_eq!(
                    takes_key,
                    matches!(
                        name.as_str(),
                        "post /api/courses/purchase"
                            | "post /api/instructors/me/payouts"
                            | "post /api/courses/promotion-codes"
                    ),
                    "{name}: Idempotency-Key documented exactly where the handler takes one"
                );
            }
        }
        assert_eq!(operations, 26, "every route of routes::configure but health and /internal");
    }

    #[test]
    fn request_bodies_refuse_unknown_fields_and_schemas_resolve() {
        let doc = doc();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in [
            "CoursePatch",
            "CourseMetadata",
            "PurchaseRequest",
            "ReviewInput",
            "ReviewReplyInput",
            "PayoutRequest",
            "NewPromotionCode",
        ] {
            assert_eq!(schemas[name]["additionalProperties"], Value::Bool(false), "{name}");
        }
        // Every `$ref` names a schema of this document.
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or_default();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
        let upload = &doc["paths"]["/api/courses/upload"]["post"]["requestBody"]["content"]["multipart/form-data"];
        assert!(upload.is_object(), "upload documents its multipart body");
        let list = &doc["paths"]["/api/courses/list"]["get"]["parameters"];
        let names: Vec<&str> = list.as_array().expect("params").iter().filter_map(|p| p["name"].as_str()).collect();
        for n in ["q", "min_price", "sort", "cursor"] {
            assert!(names.contains(&n), "list query documents `{n}`: {names:?}");
        }
    }
}
