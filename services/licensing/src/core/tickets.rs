//! Ticket state changes with their SLA bookkeeping: pauses, due times and breaches.

use crate::domain::sla::{self, Actor, BusinessHours, Calendar, Pause, TicketStatus};
use crate::error::LicensingError;
use crate::store::tickets::{self, Ticket};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use diesel_async::AsyncPgConnection;
use events::catalog::licensing::{SlaTarget, TicketSlaBreached};
use std::str::FromStr;

pub fn status_of(ticket: &Ticket) -> TicketStatus {
    TicketStatus::parse(&ticket.status).unwrap_or(TicketStatus::Open)
}

/// The calendar the ticket's targets count in (copied from its organisation at creation).
pub fn calendar(ticket: &Ticket) -> Calendar {
    if !ticket.business_hours {
        return Calendar::Continuous;
    }
    let tz = Tz::from_str(&ticket.time_zone).unwrap_or(Tz::UTC);
    BusinessHours::new(
        tz,
        ticket.business_start_minute.max(0) as u32,
        ticket.business_end_minute.max(0) as u32,
        ticket.business_days.clamp(0, 127) as u8,
    )
    .map(Calendar::Business)
    .unwrap_or(Calendar::Continuous)
}

/// Recompute the due times of the targets not met yet (`None` while the clock is paused).
pub fn recompute_due(ticket: &mut Ticket, pauses: &[Pause]) {
    let cal = calendar(ticket);
    if ticket.first_response_at.is_none() {
        let target = Duration::minutes(i64::from(ticket.first_response_minutes));
        ticket.first_response_due_at = sla::due_at(&cal, ticket.created_at, target, pauses);
    }
    if ticket.resolved_at.is_none() {
        let target = Duration::minutes(i64::from(ticket.resolution_minutes));
        ticket.resolution_due_at = sla::due_at(&cal, ticket.created_at, target, pauses);
    }
}

/// Flag each target missed at `now` that is not flagged yet and announce it: once per ticket and
/// target, because the flag and the event commit together under the ticket's lock.
pub async fn flag_breaches(
    conn: &mut AsyncPgConnection,
    ticket: &mut Ticket,
    now: DateTime<Utc>,
) -> Result<(), LicensingError> {
    let targets = [
        (
            SlaTarget::FirstResponse,
            ticket.first_response_due_at,
            ticket.first_response_at,
            ticket.first_response_breached_at,
        ),
        (SlaTarget::Resolution, ticket.resolution_due_at, ticket.resolved_at, ticket.resolution_breached_at),
    ];
    for (target, due, met, flagged) in targets {
        let Some(due_at) = due else { continue };
        if flagged.is_some() || !sla::is_breached(due, met, now) {
            continue;
        }
        let breached_at = now;
        match target {
            SlaTarget::FirstResponse => ticket.first_response_breached_at = Some(breached_at),
            SlaTarget::Resolution => ticket.resolution_breached_at = Some(breached_at),
        }
        events::outbox::enqueue(
            conn,
            &TicketSlaBreached {
                ticket_id: ticket.id,
                organization_id: ticket.organization_id,
                license_id: ticket.license_id,
                tier: ticket.tier.clone(),
                priority: ticket.priority.clone(),
                target,
                due_at,
                breached_at,
            },
        )
        .await?;
    }
    Ok(())
}

pub async fn load_pauses(conn: &mut AsyncPgConnection, ticket: &Ticket) -> Result<Vec<Pause>, LicensingError> {
    Ok(tickets::pauses(conn, ticket.id)
        .await?
        .into_iter()
        .map(|p| Pause { start: p.started_at, end: p.ended_at })
        .collect())
}

/// Move a locked ticket to `to`: pause or resume the clock, stamp resolution and closure,
/// recompute due times, flag late targets, save.
pub async fn change_status(
    conn: &mut AsyncPgConnection,
    mut ticket: Ticket,
    to: TicketStatus,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Ticket, LicensingError> {
    let from = status_of(&ticket);
    if !sla::may_transition(from, to, actor) {
        return Err(LicensingError::InvalidTransition(format!(
            "a ticket cannot go from {} to {} by this caller",
            from.as_str(),
            to.as_str()
        )));
    }
    match (from.pauses_clock(), to.pauses_clock()) {
        (true, false) => {
            tickets::close_pause(conn, ticket.id, now).await?;
        }
        (false, true) => {
            tickets::open_pause(conn, ticket.id, now).await?;
        }
        _ => {}
    }
    match to {
        TicketStatus::Resolved => ticket.resolved_at = Some(now),
        TicketStatus::Closed => {
            ticket.resolved_at = ticket.resolved_at.or(Some(now));
            ticket.closed_at = Some(now);
        }
        // Reopened: the resolution clock runs again (the resolved period was a pause).
        _ if from == TicketStatus::Resolved => ticket.resolved_at = None,
        _ => {}
    }
    ticket.status = to.as_str().to_string();
    save(conn, ticket, now).await
}

/// Recompute, flag and store a locked ticket.
pub async fn save(
    conn: &mut AsyncPgConnection,
    mut ticket: Ticket,
    now: DateTime<Utc>,
) -> Result<Ticket, LicensingError> {
    let pauses = load_pauses(conn, &ticket).await?;
    recompute_due(&mut ticket, &pauses);
    flag_breaches(conn, &mut ticket, now).await?;
    ticket.updated_at = now;
    Ok(tickets::save(conn, ticket.id, &ticket.changes()).await?)
}

/// A comment on a locked ticket. The first agent comment is the first response; a customer's
/// reply to a ticket waiting on them reopens it.
pub async fn comment(
    conn: &mut AsyncPgConnection,
    ticket: Ticket,
    author: uuid::Uuid,
    actor: Actor,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(Ticket, tickets::Comment), LicensingError> {
    if status_of(&ticket) == TicketStatus::Closed {
        return Err(LicensingError::InvalidTransition("a closed ticket takes no comments".into()));
    }
    let comment = tickets::add_comment(
        conn,
        &tickets::Comment {
            id: uuid::Uuid::now_v7(),
            ticket_id: ticket.id,
            author_id: author,
            author_role: match actor {
                Actor::Agent => "agent".into(),
                Actor::Customer => "customer".into(),
            },
            body: body.to_string(),
            created_at: now,
        },
    )
    .await?;
    let mut ticket = ticket;
    if actor == Actor::Agent && ticket.first_response_at.is_none() {
        ticket.first_response_at = Some(now);
    }
    let ticket = if actor == Actor::Customer && status_of(&ticket) == TicketStatus::WaitingOnCustomer {
        change_status(conn, ticket, TicketStatus::Open, actor, now).await?
    } else {
        save(conn, ticket, now).await?
    };
    Ok((ticket, comment))
}
