//! Data-subject export: everything the platform holds about one user, as one JSON document.
//!
//! Each service names what it holds about a user as [`Section`]s (a name and one query of the
//! user's rows, `$1` = the user id) in its `privacy.rs`, and registers [`routes`]:
//! `GET /internal/privacy/users/{user_id}/export` answers that service's [`UserExport`]. The
//! gateway serves `GET /api/me/export` (the caller) and `GET /api/admin/users/{user_id}/export`
//! (admins), asks every service and assembles an [`ExportDocument`]; when one service does not
//! answer, the whole export is a 503, never a document with a part missing.
//!
//! The internal route is not routed by the gateway's prefix table (only `/api/**` is), so only
//! the gateway's fan-out reaches it, with the client's identity in the internal token. Each
//! service checks again that the caller is the user or an admin, and writes an `admin.read`
//! audit entry (resource `export`) when an admin reads someone else's data.
//!
//! Rows are exported whole (`to_jsonb` of the section's query), so a column added to a table is
//! exported without anyone remembering to: a section leaves a column out only by naming the
//! columns it selects (secrets such as a payment's client secret). Decimal values (money,
//! NUMERIC columns) are exact decimal strings with trailing zeros trimmed; integers are numbers.

use crate::auth::Principal;
use crate::db::Pool;
use crate::problem::Problem;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The internal route each service serves (actix pattern).
pub const ROUTE: &str = "/internal/privacy/users/{user_id}/export";
/// The caller's own export, served by the gateway.
pub const ME_PATH: &str = "/api/me/export";
/// Any user's export, for admins, served by the gateway (actix pattern).
pub const ADMIN_PATH: &str = "/api/admin/users/{user_id}/export";
/// The audit entry's resource for an admin's read of another user's export.
pub const AUDIT_RESOURCE: &str = "export";

/// The internal path of `user`'s export at one service.
pub fn internal_path(user: Uuid) -> String {
    ROUTE.replace("{user_id}", &user.to_string())
}

/// One part of what a service holds about a user: a name (`payments`) and a query of the user's
/// rows, with the user id as `$1`. The query's ORDER BY is the rows' order in the export.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub name: &'static str,
    pub sql: &'static str,
    /// Columns left out: secrets (a client secret, an idempotency key) and other people's ids
    /// (the admin who paid a payout).
    pub omit: &'static [&'static str],
}

impl Section {
    pub const fn new(name: &'static str, sql: &'static str) -> Self {
        Self { name, sql, omit: &[] }
    }

    pub const fn omit(self, omit: &'static [&'static str]) -> Self {
        Self { omit, ..self }
    }
}

/// What one service holds about a user: each section's rows, by section name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserExport(pub BTreeMap<String, Vec<serde_json::Value>>);

impl UserExport {
    /// The rows of section `name` (none when the service has no such section).
    pub fn rows(&self, name: &str) -> &[serde_json::Value] {
        self.0.get(name).map(Vec::as_slice).unwrap_or_default()
    }
}

/// The document a user (or an admin) gets: every service's [`UserExport`], by service name.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportDocument {
    pub user_id: Uuid,
    pub generated_at: DateTime<Utc>,
    /// `billing`, `licensing`, `marketplace`, `rewards`, `subscriptions`, `webhooks`: each service's sections
    /// by name (`payments`, `ledger`, ...), each a list of rows (objects with the record's columns).
    #[schema(value_type = Object)]
    pub services: BTreeMap<String, UserExport>,
}

#[derive(QueryableByName)]
struct Rows {
    #[diesel(sql_type = Text)]
    doc: String,
}

/// Every section's rows for `user`. Run it in one snapshot ([`crate::db::snapshot`]) so the
/// sections agree with each other.
pub async fn collect(
    conn: &mut AsyncPgConnection,
    sections: &[Section],
    user: Uuid,
) -> diesel::QueryResult<UserExport> {
    let mut export = BTreeMap::new();
    for section in sections {
        // Rows as JSON objects; a NUMERIC value (a number with a decimal point: integer columns
        // never have one) becomes its exact decimal string, since JSON readers turn numbers into
        // floating point.
        let sql = format!(
            "SELECT coalesce(jsonb_agg((SELECT jsonb_object_agg(e.key, CASE \
                 WHEN jsonb_typeof(e.value) = 'number' AND e.value::text LIKE '%.%' \
                 THEN to_jsonb(trim_scale(e.value::text::numeric)::text) ELSE e.value END) \
               FROM jsonb_each(to_jsonb(q) - $2::text[]) e)), '[]'::jsonb)::text AS doc \
             FROM ({}) q",
            section.sql
        );
        let omit: Vec<&str> = section.omit.to_vec();
        let rows: Rows =
            diesel::sql_query(sql).bind::<SqlUuid, _>(user).bind::<Array<Text>, _>(omit).get_result(conn).await?;
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&rows.doc).map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
        export.insert(section.name.to_string(), rows);
    }
    Ok(UserExport(export))
}

/// May `principal` read `user`'s data: the user themself, or an admin.
pub fn may_export(principal: &Principal, user: Uuid) -> Result<(), Problem> {
    if principal.user_id().ok() == Some(user) || principal.is_admin() {
        Ok(())
    } else {
        Err(Problem::forbidden().with_detail("only the user themself or an admin may export a user's data"))
    }
}

#[derive(Clone)]
struct Exporter {
    pool: Pool,
    sections: &'static [Section],
}

async fn export(
    req: HttpRequest,
    principal: Principal,
    user: web::Path<Uuid>,
    exporter: web::Data<Exporter>,
) -> Result<HttpResponse, Problem> {
    let user = user.into_inner();
    may_export(&principal, user)?;
    // Recorded before the read: no admin read of someone else's data goes unrecorded.
    crate::audit::audit_read_of(&exporter.pool, &req, &principal, user, AUDIT_RESOURCE).await?;
    let sections = exporter.sections;
    let export = crate::db::snapshot(&exporter.pool, move |c| {
        Box::pin(async move { collect(c, sections, user).await.map_err(Problem::from) })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header((actix_web::http::header::CACHE_CONTROL, "no-store")).json(export))
}

/// Register `GET /internal/privacy/users/{user_id}/export` answering `sections` of `pool`'s schema.
pub fn routes(pool: Pool, sections: &'static [Section]) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::resource(ROUTE)
                .app_data(web::Data::new(Exporter { pool: pool.clone(), sections }))
                .route(web::get().to(export)),
        );
    }
}

/// The caller's own data, from every service.
#[utoipa::path(get, path = "/api/me/export", operation_id = "exportMyData", tag = "gateway",
    security(("bearer" = [])),
    responses((status = 200, body = ExportDocument, description = "Everything every service holds about the caller"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: a service token, not a user"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "unavailable: a service did not answer; no partial export is served")))]
#[allow(dead_code)]
fn export_mine() {}

/// Admins: any user's data, from every service; each service records the read in its audit log.
#[utoipa::path(get, path = "/api/admin/users/{user_id}/export", operation_id = "exportUserData", tag = "gateway",
    security(("bearer" = [])), params(("user_id" = Uuid, Path, description = "The user whose data to export")),
    responses((status = 200, body = ExportDocument, description = "Everything every service holds about the user"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: admins only"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: the id is not a UUID"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "unavailable: a service did not answer; no partial export is served")))]
#[allow(dead_code)]
fn export_any() {}

/// The two export operations the gateway serves, for the public API document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(export_mine, export_any), components(schemas(ExportDocument)),
        tags((name = "gateway", description = "What the gateway answers itself from every service's part: a user's data export")))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn principal(sub: &str, roles: &[Role]) -> Principal {
        Principal { sub: sub.into(), roles: roles.to_vec(), org_id: None, request_id: None }
    }

    #[test]
    fn the_user_and_admins_may_export_nobody_else() {
        let user = Uuid::now_v7();
        assert!(may_export(&principal(&user.to_string(), &[Role::Learner]), user).is_ok());
        assert!(may_export(&principal(&Uuid::now_v7().to_string(), &[Role::Admin]), user).is_ok());
        assert!(may_export(&principal(&Uuid::now_v7().to_string(), &[Role::Learner, Role::OrgAdmin]), user).is_err());
        assert!(may_export(&principal("service:rewards", &[Role::Service]), user).is_err());
        assert_eq!(internal_path(user), format!("/internal/privacy/users/{user}/export"));
    }
}
