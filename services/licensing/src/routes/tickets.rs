//! SLA support tickets. Members of a licensed organisation file them and see and act on their
//! own; the organisation's `org_admin` sees and acts on all of the organisation's; admins are the
//! support agents and see all. Anyone else gets 404 (`access::ticket_actor`).

use super::access::{ticket_actor, ticket_scope};
use super::views::{CommentView, TicketView};
use super::{time_cursor, PROBLEM};
use crate::core::tickets::{self as core_tickets, status_of};
use crate::domain::sla::{Actor, Priority, TicketStatus};
use crate::error::LicensingError;
use crate::store::licenses::{self, License};
use crate::store::tickets::{self, Ticket};
use crate::store::{organizations, seats};
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::audit::{self, AuditContext};
use platform::auth::Principal;
use platform::http::{Json, Query};
use platform::pagination::{Page, PageQuery};
use platform::problem::FieldError;
use platform::Problem;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    /// 1-200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub subject: String,
    /// 1-20000 characters.
    #[schema(min_length = 1, max_length = 20000)]
    pub description: String,
    /// `P1` (critical) .. `P4` (low).
    #[schema(example = "P2")]
    pub priority: String,
}

/// The license a member's ticket runs under: the one whose seat they hold, else an active
/// license of the organisation in their token.
async fn covering_license(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    user: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<License, LicensingError> {
    for (seat, _) in seats::active_for_user(conn, user).await? {
        if let Some(l) = licenses::find(conn, seat.license_id).await? {
            // A license on a test clock is judged in the clock's time.
            let now = events::test_clocks::now_of(conn, l.test_clock_id, now).await?;
            if l.status == "active" && l.starts_at <= now && l.expires_at > now {
                return Ok(l);
            }
        }
    }
    if let Some(org) = principal.org_id {
        if let Some(l) = licenses::usable_for_org(conn, org, now).await?.into_iter().next() {
            return Ok(l);
        }
    }
    Err(LicensingError::NoActiveLicense)
}

/// File a support ticket under the caller's organisation's license.
///
/// Its SLA targets come from the license tier and the priority.
#[utoipa::path(post, path = "/api/enterprise/support/tickets", tag = "licensing", operation_id = "createTicket",
    security(("bearer" = [])),
    request_body = CreateTicket,
    responses((status = 201, body = TicketView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "no_active_license, forbidden (the caller is not a user)"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`subject`, `description`, `priority`)")))]
pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    body: Json<CreateTicket>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let body = body.into_inner();
    let mut errors = Vec::new();
    let priority = Priority::parse(body.priority.trim());
    if priority.is_none() {
        errors.push(FieldError { field: "priority".into(), message: "must be one of P1, P2, P3, P4".into() });
    }
    if body.subject.trim().is_empty() || body.subject.chars().count() > 200 {
        errors.push(FieldError { field: "subject".into(), message: "must be 1-200 characters".into() });
    }
    if body.description.trim().is_empty() || body.description.chars().count() > 20_000 {
        errors.push(FieldError { field: "description".into(), message: "must be 1-20000 characters".into() });
    }
    let Some(priority) = priority.filter(|_| errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let now = state.clock.now();
    let (ticket, at) = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let license = covering_license(conn, &principal, user, now).await?;
            // A license on a test clock: the ticket's SLA timers start in the clock's time.
            let now = events::test_clocks::now_of(conn, license.test_clock_id, now).await?;
            let policy = tickets::policy(conn, &license.tier, priority.as_str()).await?.ok_or_else(|| {
                LicensingError::Problem(Problem::internal(format!(
                    "no SLA policy for {} {}",
                    license.tier,
                    priority.as_str()
                )))
            })?;
            let org = organizations::find(conn, license.organization_id)
                .await?
                .ok_or(LicensingError::OrganizationNotFound)?;
            let mut ticket = Ticket {
                id: Uuid::now_v7(),
                organization_id: org.id,
                license_id: license.id,
                created_by: user,
                subject: body.subject.trim().to_string(),
                description: body.description,
                priority: priority.as_str().to_string(),
                status: TicketStatus::Open.as_str().to_string(),
                tier: license.tier.clone(),
                first_response_minutes: policy.first_response_minutes,
                resolution_minutes: policy.resolution_minutes,
                business_hours: policy.business_hours,
                time_zone: org.business_time_zone.clone(),
                business_start_minute: org.business_start_minute,
                business_end_minute: org.business_end_minute,
                business_days: org.business_days,
                first_response_at: None,
                resolved_at: None,
                closed_at: None,
                first_response_due_at: None,
                resolution_due_at: None,
                first_response_breached_at: None,
                resolution_breached_at: None,
                created_at: now,
                updated_at: now,
            };
            core_tickets::recompute_due(&mut ticket, &[]);
            Ok::<_, LicensingError>((tickets::insert(conn, &ticket).await?, now))
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(TicketView::new(&ticket, at)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `open`, `waiting_on_customer`, `in_progress`, `resolved` or `closed`.
    pub status: Option<String>,
    /// Admins: one organisation's tickets. Others: only the tickets they may see anyway (an
    /// `org_admin` all of their organisation's, a member their own) within that organisation.
    pub organization_id: Option<Uuid>,
}

/// Support tickets the caller may see, newest first.
///
/// Admins see all, an organisation's `org_admin` all of the organisation's, every other member
/// only the tickets they filed.
#[utoipa::path(get, path = "/api/enterprise/support/tickets", tag = "licensing", operation_id = "listTickets",
    security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<TicketView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`status`, query); invalid_cursor (`cursor`)")))]
pub async fn list(state: web::Data<State>, principal: Principal, q: Query<ListQuery>) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    if let Some(s) = &q.status {
        TicketStatus::parse(s).ok_or_else(|| Problem::field("status", "is not a ticket status"))?;
    }
    let mut conn = state.pool.get().await?;
    let scope = ticket_scope(&mut conn, &principal, q.organization_id).await?;
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let cursor = time_cursor(&page, |c: &tickets::Cursor| c.at)?;
    let rows = tickets::page(&mut conn, &scope, q.status.as_deref(), cursor, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |t| tickets::Cursor { at: t.created_at, id: t.id });
    let wall = state.clock.now();
    let mut data = Vec::with_capacity(page.data.len());
    for t in &page.data {
        // Sandbox only: one look-up per ticket for its license's clock (none with clocks off).
        let now = if state.config.test_clocks { ticket_now(&mut conn, t, wall).await? } else { wall };
        data.push(TicketView::new(t, now));
    }
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

/// The time a ticket lives in: its license's test clock's (sandbox only), else `wall`. Every
/// action on it is stamped with this time and its live breach flags judged by it, so its SLA
/// timers agree with the scheduler's pass for that clock.
async fn ticket_now(
    conn: &mut AsyncPgConnection,
    ticket: &Ticket,
    wall: DateTime<Utc>,
) -> Result<DateTime<Utc>, LicensingError> {
    let clock = licenses::clock_of(conn, ticket.license_id).await?;
    Ok(events::test_clocks::now_of(conn, clock, wall).await?)
}

async fn actor_for(conn: &mut AsyncPgConnection, principal: &Principal, ticket: &Ticket) -> Result<Actor, Problem> {
    ticket_actor(conn, principal, ticket.organization_id, ticket.created_by).await
}

/// A ticket with the first page of its comments.
///
/// For admins, the organisation's `org_admin` and the member who filed it; anyone else (another
/// member included) gets 404, as for an unknown ticket.
#[utoipa::path(get, path = "/api/enterprise/support/tickets/{id}", tag = "licensing", operation_id = "getTicket",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Ticket id")),
    responses((status = 200, body = TicketView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no such ticket, or not the caller's to see")))]
pub async fn get(state: web::Data<State>, principal: Principal, id: web::Path<Uuid>) -> Result<HttpResponse, Problem> {
    let mut conn = state.pool.get().await?;
    let ticket = tickets::find(&mut conn, id.into_inner()).await?.ok_or(LicensingError::TicketNotFound)?;
    actor_for(&mut conn, &principal, &ticket).await?;
    let limit = PageQuery::default().limit();
    let rows = tickets::comments_page(&mut conn, ticket.id, None, limit).await?;
    let page = Page::from_rows(rows, limit, |c| tickets::Cursor { at: c.created_at, id: c.id });
    let now = ticket_now(&mut conn, &ticket, state.clock.now()).await?;
    let mut view = TicketView::new(&ticket, now);
    view.comments = Some(page.data.iter().map(CommentView::from).collect());
    view.comments_next_cursor = page.next_cursor;
    Ok(HttpResponse::Ok().json(view))
}

/// A ticket's comments, oldest first, a page at a time.
///
/// For admins, the organisation's `org_admin` and the member who filed it; anyone else (another
/// member included) gets 404, as for an unknown ticket.
#[utoipa::path(get, path = "/api/enterprise/support/tickets/{id}/comments", tag = "licensing", operation_id = "listTicketComments",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Ticket id"), PageQuery),
    responses((status = 200, body = Page<CommentView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no such ticket, or not the caller's to see"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`cursor`, query)")))]
pub async fn comments(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    q: Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let page = q.into_inner();
    let cursor = time_cursor(&page, |c: &tickets::Cursor| c.at)?;
    let mut conn = state.pool.get().await?;
    let ticket = tickets::find(&mut conn, id.into_inner()).await?.ok_or(LicensingError::TicketNotFound)?;
    actor_for(&mut conn, &principal, &ticket).await?;
    let rows = tickets::comments_page(&mut conn, ticket.id, cursor, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |c| tickets::Cursor { at: c.created_at, id: c.id });
    Ok(HttpResponse::Ok()
        .json(Page { data: page.data.iter().map(CommentView::from).collect(), next_cursor: page.next_cursor }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TicketCommentBody)]
pub struct CommentBody {
    /// 1-20000 characters.
    #[schema(min_length = 1, max_length = 20000)]
    pub body: String,
}

/// Comment on a ticket.
///
/// An agent's (admin's) first comment is the first response; a customer's reply to a ticket
/// waiting on them reopens it. Allowed to admins, the organisation's `org_admin` and the member who
/// filed it; anyone else (another member included) gets 404.
#[utoipa::path(post, path = "/api/enterprise/support/tickets/{id}/comments", tag = "licensing", operation_id = "commentOnTicket",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Ticket id")),
    request_body = CommentBody,
    responses((status = 201, body = TicketView, description = "The ticket with the new comment only"),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no such ticket, or not the caller's to see"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "invalid_state_transition: the ticket is closed"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`body`)")))]
pub async fn comment(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: Json<CommentBody>,
) -> Result<HttpResponse, Problem> {
    let author = principal.user_id()?;
    let text = body.into_inner().body;
    if text.trim().is_empty() || text.chars().count() > 20_000 {
        return Err(Problem::field("body", "must be 1-20000 characters"));
    }
    let id = id.into_inner();
    let wall = state.clock.now();
    let (ticket, comment, now) = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let ticket = tickets::lock(conn, id).await?.ok_or(LicensingError::TicketNotFound)?;
            let actor = actor_for(conn, &principal, &ticket).await?;
            let now = ticket_now(conn, &ticket, wall).await?;
            let (ticket, comment) = core_tickets::comment(conn, ticket, author, actor, &text, now).await?;
            Ok::<_, Problem>((ticket, comment, now))
        })
    })
    .await?;
    let mut view = TicketView::new(&ticket, now);
    view.comments = Some(vec![CommentView::from(&comment)]);
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TicketStatusChange)]
pub struct StatusBody {
    /// `open`, `waiting_on_customer`, `in_progress`, `resolved` or `closed`.
    #[schema(example = "resolved")]
    pub status: String,
}

/// Move a ticket to another status, as far as the caller (agent or customer) may.
///
/// Only admins (agents), the organisation's `org_admin` and the member who filed the ticket
/// (customer) may; anyone else (another member included) gets 404, as for an unknown ticket.
/// The SLA clock pauses while the ticket waits on the customer or is resolved.
#[utoipa::path(post, path = "/api/enterprise/support/tickets/{id}/status", tag = "licensing", operation_id = "setTicketStatus",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Ticket id")),
    request_body = StatusBody,
    responses((status = 200, body = TicketView),
        (status = 400, body = Problem, content_type = PROBLEM, description = "bad_request"),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 404, body = Problem, content_type = PROBLEM, description = "not_found: no such ticket, or not the caller's to see"),
        (status = 409, body = Problem, content_type = PROBLEM, description = "invalid_state_transition"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`status`)")))]
pub async fn set_status(
    state: web::Data<State>,
    principal: Principal,
    ctx: AuditContext,
    id: web::Path<Uuid>,
    body: Json<StatusBody>,
) -> Result<HttpResponse, Problem> {
    let to = TicketStatus::parse(body.status.trim()).ok_or_else(|| {
        Problem::field("status", "must be one of open, waiting_on_customer, in_progress, resolved, closed")
    })?;
    let id = id.into_inner();
    let wall = state.clock.now();
    let (ticket, now) = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let ticket = tickets::lock(conn, id).await?.ok_or(LicensingError::TicketNotFound)?;
            let actor = actor_for(conn, &principal, &ticket).await?;
            let now = ticket_now(conn, &ticket, wall).await?;
            if status_of(&ticket) == to {
                return Ok::<_, Problem>((ticket, now));
            }
            let before = ticket.status.clone();
            let changed = core_tickets::change_status(conn, ticket, to, actor, now).await?;
            let changes = serde_json::json!({ "before": { "status": before }, "after": { "status": changed.status } });
            let target = format!("ticket:{id}");
            // The audit trail records when a person acted, in real time, whatever clock the
            // ticket lives on.
            audit::record(conn, &ctx, wall, audit::Action::new("ticket.status.change", target, changes)).await?;
            Ok((changed, now))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(TicketView::new(&ticket, now)))
}
