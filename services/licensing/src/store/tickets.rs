use super::schema::{licenses, sla_policies, ticket_comments, ticket_pauses, tickets};
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::test_clocks::Pass;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tickets)]
pub struct Ticket {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub license_id: Uuid,
    pub created_by: Uuid,
    pub subject: String,
    pub description: String,
    pub priority: String,
    pub status: String,
    pub tier: String,
    pub first_response_minutes: i32,
    pub resolution_minutes: i32,
    pub business_hours: bool,
    pub time_zone: String,
    pub business_start_minute: i32,
    pub business_end_minute: i32,
    pub business_days: i16,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub first_response_breached_at: Option<DateTime<Utc>>,
    pub resolution_breached_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields that change over a ticket's life.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = tickets, treat_none_as_null = true)]
pub struct TicketChanges {
    pub status: String,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub first_response_breached_at: Option<DateTime<Utc>>,
    pub resolution_breached_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Ticket {
    pub fn changes(&self) -> TicketChanges {
        TicketChanges {
            status: self.status.clone(),
            first_response_at: self.first_response_at,
            resolved_at: self.resolved_at,
            closed_at: self.closed_at,
            first_response_due_at: self.first_response_due_at,
            resolution_due_at: self.resolution_due_at,
            first_response_breached_at: self.first_response_breached_at,
            resolution_breached_at: self.resolution_breached_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Clone, Queryable)]
pub struct Policy {
    pub first_response_minutes: i32,
    pub resolution_minutes: i32,
    pub business_hours: bool,
}

pub async fn policy(conn: &mut AsyncPgConnection, tier: &str, priority: &str) -> QueryResult<Option<Policy>> {
    sla_policies::table
        .filter(sla_policies::tier.eq(tier))
        .filter(sla_policies::priority.eq(priority))
        .select((sla_policies::first_response_minutes, sla_policies::resolution_minutes, sla_policies::business_hours))
        .first(conn)
        .await
        .optional()
}

pub async fn insert(conn: &mut AsyncPgConnection, ticket: &Ticket) -> QueryResult<Ticket> {
    diesel::insert_into(tickets::table).values(ticket).returning(Ticket::as_returning()).get_result(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Ticket>> {
    tickets::table.find(id).select(Ticket::as_select()).first(conn).await.optional()
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Ticket>> {
    tickets::table.find(id).for_update().select(Ticket::as_select()).first(conn).await.optional()
}

pub async fn save(conn: &mut AsyncPgConnection, id: Uuid, changes: &TicketChanges) -> QueryResult<Ticket> {
    diesel::update(tickets::table.find(id)).set(changes).returning(Ticket::as_returning()).get_result(conn).await
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// Which tickets a list may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every ticket (platform admins).
    All,
    /// Every ticket of `whole_orgs`, plus those `author` filed in `own_in`.
    Visible { whole_orgs: Vec<Uuid>, author: Uuid, own_in: Vec<Uuid> },
}

/// Newest first, within `scope`.
pub async fn page(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    status: Option<&str>,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<Ticket>> {
    let mut q = tickets::table.select(Ticket::as_select()).into_boxed();
    if let Scope::Visible { whole_orgs, author, own_in } = scope {
        q = q.filter(
            tickets::organization_id
                .eq_any(whole_orgs.clone())
                .or(tickets::created_by.eq(*author).and(tickets::organization_id.eq_any(own_in.clone()))),
        );
    }
    if let Some(status) = status {
        q = q.filter(tickets::status.eq(status.to_string()));
    }
    if let Some(c) = after {
        q = q.filter(tickets::created_at.lt(c.at).or(tickets::created_at.eq(c.at).and(tickets::id.lt(c.id))));
    }
    q.order((tickets::created_at.desc(), tickets::id.desc())).limit(limit + 1).load(conn).await
}

#[derive(Debug, Clone, Copy, Queryable)]
pub struct PauseRow {
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

pub async fn pauses(conn: &mut AsyncPgConnection, ticket: Uuid) -> QueryResult<Vec<PauseRow>> {
    ticket_pauses::table
        .filter(ticket_pauses::ticket_id.eq(ticket))
        .order(ticket_pauses::started_at.asc())
        .select((ticket_pauses::started_at, ticket_pauses::ended_at))
        .load(conn)
        .await
}

pub async fn open_pause(conn: &mut AsyncPgConnection, ticket: Uuid, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::insert_into(ticket_pauses::table)
        .values((ticket_pauses::ticket_id.eq(ticket), ticket_pauses::started_at.eq(now)))
        .execute(conn)
        .await
}

pub async fn close_pause(conn: &mut AsyncPgConnection, ticket: Uuid, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        ticket_pauses::table.filter(ticket_pauses::ticket_id.eq(ticket)).filter(ticket_pauses::ended_at.is_null()),
    )
    .set(ticket_pauses::ended_at.eq(now))
    .execute(conn)
    .await
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ticket_comments)]
pub struct Comment {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub author_id: Uuid,
    pub author_role: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

pub async fn add_comment(conn: &mut AsyncPgConnection, comment: &Comment) -> QueryResult<Comment> {
    diesel::insert_into(ticket_comments::table)
        .values(comment)
        .returning(Comment::as_returning())
        .get_result(conn)
        .await
}

/// A page of a ticket's comments, oldest first (`limit + 1` rows: the extra one says more exist).
pub async fn comments_page(
    conn: &mut AsyncPgConnection,
    ticket: Uuid,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<Comment>> {
    let mut q =
        ticket_comments::table.filter(ticket_comments::ticket_id.eq(ticket)).select(Comment::as_select()).into_boxed();
    if let Some(c) = after {
        q = q.filter(
            ticket_comments::created_at
                .gt(c.at)
                .or(ticket_comments::created_at.eq(c.at).and(ticket_comments::id.gt(c.id))),
        );
    }
    q.order((ticket_comments::created_at.asc(), ticket_comments::id.asc())).limit(limit + 1).load(conn).await
}

/// Tickets whose first response is overdue and not yet flagged, locked; rows another replica
/// holds are skipped.
pub async fn lock_first_response_overdue(
    conn: &mut AsyncPgConnection,
    pass: Pass,
    limit: i64,
) -> QueryResult<Vec<Ticket>> {
    let now = pass.now;
    tickets::table
        .filter(on_clock(pass))
        .filter(tickets::first_response_at.is_null())
        .filter(tickets::first_response_breached_at.is_null())
        .filter(tickets::first_response_due_at.lt(now))
        .filter(tickets::status.ne("closed"))
        .order(tickets::first_response_due_at.asc())
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(Ticket::as_select())
        .load(conn)
        .await
}

pub async fn lock_resolution_overdue(conn: &mut AsyncPgConnection, pass: Pass, limit: i64) -> QueryResult<Vec<Ticket>> {
    let now = pass.now;
    tickets::table
        .filter(on_clock(pass))
        .filter(tickets::resolved_at.is_null())
        .filter(tickets::resolution_breached_at.is_null())
        .filter(tickets::resolution_due_at.lt(now))
        .filter(tickets::status.ne("closed"))
        .order(tickets::resolution_due_at.asc())
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(Ticket::as_select())
        .load(conn)
        .await
}

/// A ticket lives in its license's time: the wall-clock pass takes the tickets of licenses on no
/// test clock, a clock's pass those of licenses on it.
fn on_clock(pass: Pass) -> Box<dyn BoxableExpression<tickets::table, Pg, SqlType = Bool>> {
    match pass.clock {
        None => Box::new(
            tickets::license_id
                .ne_all(licenses::table.filter(licenses::test_clock_id.is_not_null()).select(licenses::id)),
        ),
        Some(clock) => Box::new(
            tickets::license_id.eq_any(licenses::table.filter(licenses::test_clock_id.eq(clock)).select(licenses::id)),
        ),
    }
}
