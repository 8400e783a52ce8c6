//! Who may see and change what.

use crate::domain::sla::Actor;
use crate::error::LicensingError;
use crate::store::seats;
use crate::store::tickets::Scope;
use diesel_async::AsyncPgConnection;
use platform::auth::{Principal, Role};
use platform::Problem;
use uuid::Uuid;

/// Admins, and the organisation's own org admins.
pub fn manages(p: &Principal, org: Uuid) -> bool {
    p.is_admin() || (p.has_role(Role::OrgAdmin) && p.org_id == Some(org))
}

/// Management access to `org`, or an error that leaks nothing: a member of the organisation
/// without the role gets 403, anyone else the same 404 as for an unknown id.
pub fn require_manager(p: &Principal, org: Uuid, not_found: LicensingError) -> Result<(), Problem> {
    if manages(p, org) {
        Ok(())
    } else if p.org_id == Some(org) {
        Err(Problem::forbidden())
    } else {
        Err(not_found.into())
    }
}

pub fn require_admin(p: &Principal) -> Result<(), Problem> {
    p.require_any(&[Role::Admin])
}

/// The organisations the caller belongs to: the one in their token, and those whose license
/// seat they hold.
pub async fn member_orgs(conn: &mut AsyncPgConnection, p: &Principal) -> Result<Vec<Uuid>, Problem> {
    let mut orgs: Vec<Uuid> = p.org_id.into_iter().collect();
    if let Ok(user) = p.user_id() {
        for (_, org) in seats::active_for_user(conn, user).await? {
            if !orgs.contains(&org) {
                orgs.push(org);
            }
        }
    }
    Ok(orgs)
}

/// What a caller may do with one support ticket.
///
/// Platform admins are the support agents; the organisation's `org_admin` and the ticket's author
/// (while still a member) act as the customer. Anyone else, an ordinary fellow member included,
/// gets the same 404 as for an unknown id (the code base's rule for other users' resources), so
/// a ticket id reveals neither the ticket nor its author.
pub async fn ticket_actor(
    conn: &mut AsyncPgConnection,
    p: &Principal,
    org: Uuid,
    author: Uuid,
) -> Result<Actor, Problem> {
    if p.is_admin() {
        return Ok(Actor::Agent);
    }
    if manages(p, org) {
        return Ok(Actor::Customer);
    }
    if p.user_id().ok() == Some(author) && member_orgs(conn, p).await?.contains(&org) {
        return Ok(Actor::Customer);
    }
    Err(LicensingError::TicketNotFound.into())
}

/// The tickets a caller may list, optionally within one organisation: admins all (or that
/// organisation's); an `org_admin` all of their organisation's; every member their own.
pub async fn ticket_scope(
    conn: &mut AsyncPgConnection,
    p: &Principal,
    organization: Option<Uuid>,
) -> Result<Scope, Problem> {
    let within = |orgs: Vec<Uuid>| -> Vec<Uuid> {
        orgs.into_iter().filter(|o| organization.is_none_or(|wanted| wanted == *o)).collect()
    };
    if p.is_admin() {
        return Ok(match organization {
            Some(o) => Scope::Visible { whole_orgs: vec![o], author: Uuid::nil(), own_in: Vec::new() },
            None => Scope::All,
        });
    }
    let managed = within(p.org_id.filter(|o| manages(p, *o)).into_iter().collect());
    let author = p.user_id().unwrap_or(Uuid::nil());
    let own_in = within(member_orgs(conn, p).await?);
    Ok(Scope::Visible { whole_orgs: managed, author, own_in })
}
