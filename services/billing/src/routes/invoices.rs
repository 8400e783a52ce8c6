//! Reading invoices and credit notes: the owner's (or an admin's), as JSON, HTML or PDF. Another
//! user's document is a 404, so ids leak nothing.

use crate::domain::invoice::{CreditNote, Invoice, Printable};
use crate::store::invoices::{self, Cursor, Kind};
use crate::State;
use actix_web::{web, HttpRequest, HttpResponse};
use platform::audit::AuditContext;
use platform::auth::Principal;
use platform::http::Query;
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Admins only: whose documents.
    pub user_id: Option<Uuid>,
}

/// What the caller asked for in `Accept`: JSON unless HTML or PDF is named.
enum Format {
    Json,
    Html,
    Pdf,
}

fn format_of(req: &HttpRequest) -> Format {
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("application/pdf") {
        Format::Pdf
    } else if accept.contains("text/html") {
        Format::Html
    } else {
        Format::Json
    }
}

fn answer<T: serde::Serialize>(req: &HttpRequest, doc: &T, printable: Printable<'_>) -> HttpResponse {
    match format_of(req) {
        Format::Json => HttpResponse::Ok().json(doc),
        // The page has no script and escapes every value; platform::html's headers say so too.
        Format::Html => platform::html::response(printable.to_html()),
        Format::Pdf => HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header(("content-disposition", format!("inline; filename=\"{}.pdf\"", printable.number)))
            .body(crate::pdf::render(&printable)),
    }
}

/// Whose documents: the caller's, or (admins) `user_id`'s, which is audited as a read.
async fn whose(
    state: &State,
    principal: &Principal,
    http: &HttpRequest,
    asked: Option<Uuid>,
    what: &str,
) -> Result<Uuid, Problem> {
    let user = match asked {
        Some(other) if principal.is_admin() => other,
        Some(_) => return Err(Problem::forbidden().with_detail("only admins may read another user's documents")),
        None => principal.user_id()?,
    };
    if Some(user) != principal.user_id().ok() {
        let mut conn = state.pool.get().await?;
        let ctx = AuditContext::from_request(http, principal);
        platform::audit::record_read(&mut conn, &ctx, state.clock.now(), what, format!("user:{user}")).await?;
    }
    Ok(user)
}

fn may_read(principal: &Principal, owner: Uuid) -> bool {
    principal.is_admin() || principal.user_id().ok() == Some(owner)
}

fn decode<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T, Problem> {
    serde_json::from_value(v.clone()).map_err(Problem::internal)
}

/// What invoices and credit notes differ in when read: the rest is [`list_of`] and [`get_of`].
trait Document: serde::de::DeserializeOwned + serde::Serialize {
    const KIND: Kind;
    /// In a 404's detail.
    const NAME: &'static str;
    /// What an admin's read of another user's list is audited as.
    const AUDITED_AS: &'static str;
    fn print(&self) -> Printable<'_>;
}

impl Document for Invoice {
    const KIND: Kind = Kind::Invoice;
    const NAME: &'static str = "invoice";
    const AUDITED_AS: &'static str = "invoices";
    fn print(&self) -> Printable<'_> {
        self.printable()
    }
}

impl Document for CreditNote {
    const KIND: Kind = Kind::CreditNote;
    const NAME: &'static str = "credit note";
    const AUDITED_AS: &'static str = "credit_notes";
    fn print(&self) -> Printable<'_> {
        self.printable()
    }
}

/// The caller's (or, admins, `user_id`'s) documents of one kind, newest first.
async fn list_of<D: Document>(
    state: &State,
    principal: &Principal,
    http: &HttpRequest,
    q: ListQuery,
) -> Result<HttpResponse, Problem> {
    let user = whose(state, principal, http, q.user_id, D::AUDITED_AS).await?;
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let mut conn = state.pool.get().await?;
    let rows = invoices::page(&mut conn, D::KIND, user, page.cursor()?, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |r| Cursor { at: r.issued_at, id: r.id });
    let data = page.data.iter().map(|r| decode::<D>(&r.document)).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// One document of one kind, if the caller may read it (another user's is a 404).
async fn get_of<D: Document>(
    state: &State,
    principal: &Principal,
    id: Uuid,
    req: &HttpRequest,
) -> Result<HttpResponse, Problem> {
    let mut conn = state.pool.get().await?;
    let row = invoices::find(&mut conn, D::KIND, id).await?;
    let row = row.filter(|r| may_read(principal, r.user_id)).ok_or_else(|| Problem::not_found(D::NAME))?;
    let doc: D = decode(&row.document)?;
    Ok(answer(req, &doc, doc.print()))
}

/// The caller's invoices, newest first.
#[utoipa::path(get, path = "/api/payments/invoices", tag = "billing", operation_id = "list_invoices", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Invoice>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "user_id given by a non-admin"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    state: web::Data<State>,
    principal: Principal,
    http: HttpRequest,
    q: Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    list_of::<Invoice>(&state, &principal, &http, q.into_inner()).await
}

/// One invoice: JSON, or `Accept: text/html` / `application/pdf`.
#[utoipa::path(get, path = "/api/payments/invoices/{id}", tag = "billing", operation_id = "get_invoice", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses((status = 200, body = Invoice, content_type = "application/json"),
        (status = 200, body = String, content_type = "text/html"),
        (status = 200, body = Vec<u8>, content_type = "application/pdf"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such invoice of yours")))]
pub async fn get(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    get_of::<Invoice>(&state, &principal, id.into_inner(), &req).await
}

/// The caller's credit notes, newest first.
#[utoipa::path(get, path = "/api/payments/credit-notes", tag = "billing", operation_id = "list_credit_notes", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<CreditNote>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "user_id given by a non-admin"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_credit_notes(
    state: web::Data<State>,
    principal: Principal,
    http: HttpRequest,
    q: Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    list_of::<CreditNote>(&state, &principal, &http, q.into_inner()).await
}

/// One credit note: JSON, or `Accept: text/html` / `application/pdf`.
#[utoipa::path(get, path = "/api/payments/credit-notes/{id}", tag = "billing", operation_id = "get_credit_note", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Credit note id")),
    responses((status = 200, body = CreditNote, content_type = "application/json"),
        (status = 200, body = String, content_type = "text/html"),
        (status = 200, body = Vec<u8>, content_type = "application/pdf"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such credit note of yours")))]
pub async fn get_credit_note(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    get_of::<CreditNote>(&state, &principal, id.into_inner(), &req).await
}
