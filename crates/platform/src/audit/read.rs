//! Reading the log: `GET /api/admin/audit/<service>` (admins), newest first, filtered by actor,
//! target, action and time, with cursor pagination. The gateway's `GET /api/admin/audit` merges
//! every service's pages by time using the same [`Cursor`].

use super::audit_log;
use crate::auth::{Principal, Role};
use crate::db::Pool;
use crate::http::Query;
use crate::pagination::{Page, PageQuery};
use crate::problem::Problem;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The read path of `service`'s log.
pub fn path(service: &str) -> String {
    format!("/api/admin/audit/{service}")
}

/// Filters of a read; all optional, combined with AND.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// The actor's `sub` (a user id, or `service:<name>`).
    pub actor: Option<String>,
    /// The target exactly as recorded, e.g. `payment:<uuid>`.
    pub target: Option<String>,
    /// The action, e.g. `payment.refund`.
    pub action: Option<String>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The filters of the merged read (`GET /api/admin/audit`, served by the gateway): a service's
/// filters, plus which service's log alone.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MergedAuditFilter {
    /// One service's log only: `billing`, `licensing`, `marketplace`, `rewards`, `subscriptions` or
    /// `webhooks`.
    pub service: Option<String>,
    /// The actor's `sub` (a user id, or `service:<name>`).
    pub actor: Option<String>,
    /// The target exactly as recorded, e.g. `payment:<uuid>`.
    pub target: Option<String>,
    /// The action, e.g. `payment.refund`.
    pub action: Option<String>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// An entry of the merged log: the service whose log holds it, then the entry as that service
/// serves it (same `seq`, `id` and `hash`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MergedAuditEntry {
    /// `billing`, `licensing`, `marketplace`, `rewards`, `subscriptions` or `webhooks`.
    pub service: String,
    #[serde(flatten)]
    pub entry: AuditEntryView,
}

/// Where a page ends: the sort key (time, then sequence, both descending) of its last entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub seq: i64,
}

/// One entry as admins read it, with its place in the chain.
#[derive(Debug, Clone, Serialize, Deserialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditEntryView {
    pub seq: i64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_sub: String,
    pub actor_roles: Vec<String>,
    pub actor_org: Option<Uuid>,
    pub action: String,
    pub target: String,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    pub client_addr: Option<String>,
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// `limit + 1` entries matching `filter` after `cursor`, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AuditFilter,
    cursor: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<AuditEntryView>> {
    let mut q = audit_log::table.select(AuditEntryView::as_select()).into_boxed();
    if let Some(actor) = &filter.actor {
        q = q.filter(audit_log::actor_sub.eq(actor));
    }
    if let Some(target) = &filter.target {
        q = q.filter(audit_log::target.eq(target));
    }
    if let Some(action) = &filter.action {
        q = q.filter(audit_log::action.eq(action));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(audit_log::at.lt(to));
    }
    if let Some(c) = cursor {
        q = q.filter(audit_log::at.lt(c.at).or(audit_log::at.eq(c.at).and(audit_log::seq.lt(c.seq))));
    }
    q.order((audit_log::at.desc(), audit_log::seq.desc())).limit(limit + 1).load(conn).await
}

#[derive(Clone)]
struct Reader(Pool);

/// Admins: this service's audit entries, newest first.
// The path is rewritten per service by [`openapi`].
#[utoipa::path(get, path = "/api/admin/audit", operation_id = "readAuditLog",
    security(("bearer" = [])), params(AuditFilter),
    responses((status = 200, body = Page<AuditEntryView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: admins only"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed, invalid_cursor")))]
async fn read(reader: web::Data<Reader>, principal: Principal, q: Query<AuditFilter>) -> Result<HttpResponse, Problem> {
    principal.require_any(&[Role::Admin])?;
    let filter = q.into_inner();
    let page = PageQuery { limit: filter.limit, cursor: filter.cursor.clone() };
    let mut conn = reader.0.get().await?;
    let rows = list(&mut conn, &filter, page.cursor()?, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |e| Cursor { at: e.at, seq: e.seq });
    Ok(HttpResponse::Ok().json(page))
}

/// Register `GET /api/admin/audit/<service>` (every service, through the runtime).
pub fn routes(service: &str, pool: Pool) -> impl Fn(&mut web::ServiceConfig) + Clone {
    let path = path(service);
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::resource(path.clone()).app_data(web::Data::new(Reader(pool.clone()))).route(web::get().to(read)),
        );
    }
}

/// The read endpoint's part of `service`'s OpenAPI document, under its concrete path.
pub fn openapi(service: &str) -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(read), components(schemas(AuditEntryView)))]
    struct Doc;
    let mut doc = <Doc as utoipa::OpenApi>::openapi();
    doc.paths.paths = std::mem::take(&mut doc.paths.paths)
        .into_values()
        .map(|mut item| {
            if let Some(op) = item.get.as_mut() {
                op.operation_id = Some(format!("readAuditLog_{service}"));
                op.tags = Some(vec![service.to_string()]);
                op.summary = Some(format!("Admins: the {service} service's audit entries, newest first."));
            }
            (path(service), item)
        })
        .collect();
    doc
}

/// Admins: every service's audit entries merged, newest first (ties by service name, then the
/// service's sequence, descending). The gateway asks each service (or the one `service` names)
/// for a page with the same filters and merges them; the cursor resumes every service exactly
/// after the last entry served.
// Documentation only: the gateway serves it (services/gateway/src/audit.rs).
#[utoipa::path(get, path = "/api/admin/audit", operation_id = "readMergedAuditLog", tag = "gateway",
    security(("bearer" = [])), params(MergedAuditFilter),
    responses((status = 200, body = Page<MergedAuditEntry>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: admins only"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`query.service`, a filter), invalid_cursor"),
        (status = 502, body = Problem, content_type = "application/problem+json", description = "upstream_unavailable: a service's log did not answer")))]
#[allow(dead_code)]
fn merged_read() {}

/// The gateway's merged read, for the published document.
pub fn merged_openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(merged_read), components(schemas(AuditEntryView, MergedAuditEntry)),
        tags((name = "gateway", description = "What the gateway answers itself: the audit log of every service, merged")))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
