//! The customer's billing details (their own only) and the admin's tax rates.

use crate::domain::country::is_iso_country;
use crate::domain::tax::{in_eu, vat_id_looks_valid};
use crate::store::{billing_details, tax_rates};
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::audit::{self, Action, AuditContext};
use platform::auth::Principal;
use platform::http::Json;
use platform::problem::FieldError;
use platform::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: Option<String>,
    /// State, province or region, where tax differs by it (matched against a rate's region).
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

/// What the customer sets; invoices print it and tax is computed from it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingDetails {
    pub name: String,
    pub company: Option<String>,
    pub address: Address,
    /// An EU VAT id is checked for its country's FORMAT only (not against VIES).
    pub vat_id: Option<String>,
    /// Buying as a business: with a valid-looking EU VAT id in another EU country than the
    /// seller's, the payment is reverse-charged (no VAT).
    #[serde(default)]
    pub business: bool,
}

/// The details as set, with what the server derived. Its own fields, not `BillingDetails`
/// flattened: that schema refuses additional properties (requests), which the two derived ones
/// would be in the document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BillingDetailsView {
    pub name: String,
    pub company: Option<String>,
    pub address: Address,
    pub vat_id: Option<String>,
    pub business: bool,
    /// Whether the VAT id has the format of its country's (EU only; format check only).
    pub vat_id_format_valid: Option<bool>,
    pub updated_at: DateTime<Utc>,
}

/// The OpenAPI document states this rule (contracts/src/rules.rs, `billing`).
fn text(errors: &mut Vec<FieldError>, field: &str, value: &str, required: bool) {
    let trimmed = value.trim();
    // Characters, as the message (and the document's maxLength) say, not bytes.
    if (required && trimmed.is_empty()) || value.chars().count() > 200 || value.chars().any(char::is_control) {
        let need = if required { "1-200" } else { "at most 200" };
        errors.push(FieldError {
            field: field.into(),
            message: format!("must be {need} characters, no control characters"),
        });
    }
}

fn validate(d: &BillingDetails) -> Result<(), Problem> {
    let mut errors = Vec::new();
    text(&mut errors, "name", &d.name, true);
    text(&mut errors, "address.line1", &d.address.line1, true);
    text(&mut errors, "address.city", &d.address.city, true);
    for (field, value) in [
        ("company", &d.company),
        ("address.line2", &d.address.line2),
        ("address.postal_code", &d.address.postal_code),
        ("address.region", &d.address.region),
    ] {
        if let Some(v) = value {
            text(&mut errors, field, v, false);
        }
    }
    if !is_iso_country(&d.address.country) {
        errors.push(FieldError {
            field: "address.country".into(),
            message: "must be an ISO 3166-1 alpha-2 code in upper case (GB, DE, US...)".into(),
        });
    }
    if let Some(vat) = &d.vat_id {
        let bad_shape = in_eu(&d.address.country) && !vat_id_looks_valid(&d.address.country, vat);
        if vat.trim().is_empty() || vat.chars().count() > 32 || bad_shape {
            errors.push(FieldError {
                field: "vat_id".into(),
                message: format!("is not a well-formed VAT id of {} (format check only)", d.address.country),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors))
    }
}

fn view(d: billing_details::Details) -> BillingDetailsView {
    let country = d.country.trim().to_string();
    let vat_id_format_valid = d.vat_id.as_deref().filter(|_| in_eu(&country)).map(|v| vat_id_looks_valid(&country, v));
    BillingDetailsView {
        name: d.name,
        company: d.company,
        address: Address {
            line1: d.line1,
            line2: d.line2,
            city: d.city,
            postal_code: d.postal_code,
            region: d.region,
            country,
        },
        vat_id: d.vat_id,
        business: d.business,
        vat_id_format_valid,
        updated_at: d.updated_at,
    }
}

/// The caller's billing details.
#[utoipa::path(get, path = "/api/payments/billing-details", tag = "billing", operation_id = "get_billing_details", security(("bearer" = [])),
    responses((status = 200, body = BillingDetailsView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "none set yet")))]
pub async fn get_details(state: web::Data<State>, principal: Principal) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let conn = state.pool.get().await?;
    let details = billing_details::find(&conn, user).await?.ok_or_else(|| Problem::not_found("billing details"))?;
    Ok(HttpResponse::Ok().json(view(details)))
}

/// Set (replace) the caller's billing details. Payments made from now on are taxed from them;
/// invoices already issued keep the details they were issued with.
#[utoipa::path(put, path = "/api/payments/billing-details", tag = "billing", operation_id = "put_billing_details", security(("bearer" = [])),
    request_body = BillingDetails,
    responses((status = 200, body = BillingDetailsView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "bad_request: the body is not valid JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed")))]
pub async fn put_details(
    state: web::Data<State>,
    principal: Principal,
    body: Json<BillingDetails>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let d = body.into_inner();
    validate(&d)?;
    let trim = |s: Option<String>| s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let row = billing_details::Details {
        user_id: user,
        name: d.name.trim().to_string(),
        company: trim(d.company),
        line1: d.address.line1.trim().to_string(),
        line2: trim(d.address.line2),
        city: d.address.city.trim().to_string(),
        postal_code: trim(d.address.postal_code),
        region: trim(d.address.region),
        country: d.address.country,
        vat_id: trim(d.vat_id).map(|v| v.to_ascii_uppercase()),
        business: d.business,
        updated_at: state.clock.now(),
    };
    let mut conn = state.pool.get().await?;
    let saved = billing_details::upsert(&mut conn, &row).await?;
    Ok(HttpResponse::Ok().json(view(saved)))
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaxRate {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// A region (state, province) with its own rate; absent: the whole country.
    pub region: Option<String>,
    /// 0 <= percentage < 100, at most 4 decimals, as a string ("19", "7.7").
    #[schema(value_type = String, example = "19")]
    #[serde(with = "rust_decimal::serde::str")]
    pub percentage: Decimal,
    /// Inclusive: prices already contain the tax (computed out of them). Exclusive: added on top.
    pub inclusive: bool,
    /// Printed on invoices: "VAT", "GST", "Sales tax"...
    pub display_name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaxRateView {
    pub id: Uuid,
    pub country: String,
    pub region: Option<String>,
    #[schema(value_type = String, example = "19")]
    #[serde(with = "rust_decimal::serde::str")]
    pub percentage: Decimal,
    pub inclusive: bool,
    pub display_name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<tax_rates::TaxRate> for TaxRateView {
    fn from(r: tax_rates::TaxRate) -> Self {
        Self {
            id: r.id,
            country: r.country.trim().to_string(),
            region: r.region,
            percentage: r.percentage.normalize(),
            inclusive: r.inclusive,
            display_name: r.display_name,
            active: r.active,
            created_at: r.created_at,
        }
    }
}

fn validate_rate(r: &CreateTaxRate) -> Result<(), Problem> {
    let mut errors = Vec::new();
    if !is_iso_country(&r.country) {
        errors.push(FieldError {
            field: "country".into(),
            message: "must be an ISO 3166-1 alpha-2 code in upper case".into(),
        });
    }
    if let Some(region) = &r.region {
        text(&mut errors, "region", region, true);
    }
    if r.percentage < Decimal::ZERO || r.percentage >= Decimal::ONE_HUNDRED || r.percentage.normalize().scale() > 4 {
        errors.push(FieldError {
            field: "percentage".into(),
            message: "must be at least 0, below 100, with at most 4 decimals".into(),
        });
    }
    text(&mut errors, "display_name", &r.display_name, true);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors))
    }
}

/// Define a tax rate (admin). One active rate per country and region: deactivate the old one
/// first (409 `tax_rate_exists` otherwise).
#[utoipa::path(post, path = "/api/admin/tax-rates", tag = "billing", operation_id = "create_tax_rate", security(("bearer" = [])),
    request_body = CreateTaxRate,
    responses((status = 201, body = TaxRateView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "bad_request: the body is not valid JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "tax_rate_exists"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed")))]
pub async fn create_rate(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    body: Json<CreateTaxRate>,
) -> Result<HttpResponse, Problem> {
    if !principal.is_admin() {
        return Err(Problem::forbidden());
    }
    let r = body.into_inner();
    validate_rate(&r)?;
    let now = state.clock.now();
    let row = tax_rates::TaxRate {
        id: Uuid::now_v7(),
        country: r.country.clone(),
        region: r.region.as_ref().map(|v| v.trim().to_string()),
        percentage: r.percentage,
        inclusive: r.inclusive,
        display_name: r.display_name.trim().to_string(),
        active: true,
        created_at: now,
    };
    let mut conn = state.pool.get().await?;
    let created = conn
        .build_transaction()
        .run(async |c| {
            let created = match tax_rates::insert(c, &row).await {
                Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                    return Err(Problem::conflict(
                        "tax_rate_exists",
                        "an active rate exists for this country and region: deactivate it first",
                    ))
                }
                other => other?,
            };
            let changes = serde_json::to_value(&r).map_err(Problem::internal)?;
            audit::record(
                c,
                &audit_ctx,
                now,
                Action::new("tax_rate.create", format!("tax_rate:{}", created.id), changes),
            )
            .await?;
            Ok::<_, Problem>(created)
        })
        .await?;
    Ok(HttpResponse::Created().json(TaxRateView::from(created)))
}

/// Every tax rate, active first (admin).
#[utoipa::path(get, path = "/api/admin/tax-rates", tag = "billing", operation_id = "list_tax_rates", security(("bearer" = [])),
    responses((status = 200, body = Vec<TaxRateView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_rates(state: web::Data<State>, principal: Principal) -> Result<HttpResponse, Problem> {
    if !principal.is_admin() {
        return Err(Problem::forbidden());
    }
    let mut conn = state.pool.get().await?;
    let rates: Vec<TaxRateView> = tax_rates::all(&mut conn).await?.into_iter().map(TaxRateView::from).collect();
    Ok(HttpResponse::Ok().json(rates))
}

/// Deactivate a rate (admin): payments made from now on no longer get it; the payments and
/// invoices that used it keep it. Rates are never deleted.
#[utoipa::path(post, path = "/api/admin/tax-rates/{id}/deactivate", tag = "billing", operation_id = "deactivate_tax_rate", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Tax rate id")),
    responses((status = 200, body = TaxRateView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn deactivate_rate(
    state: web::Data<State>,
    principal: Principal,
    audit_ctx: AuditContext,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    if !principal.is_admin() {
        return Err(Problem::forbidden());
    }
    let id = id.into_inner();
    let now = state.clock.now();
    let mut conn = state.pool.get().await?;
    let rate = conn
        .build_transaction()
        .run(async |c| {
            let rate = tax_rates::deactivate(c, id).await?.ok_or_else(|| Problem::not_found("tax rate"))?;
            let changes = serde_json::json!({"active": false});
            audit::record(c, &audit_ctx, now, Action::new("tax_rate.deactivate", format!("tax_rate:{id}"), changes))
                .await?;
            Ok::<_, Problem>(rate)
        })
        .await?;
    Ok(HttpResponse::Ok().json(TaxRateView::from(rate)))
}
