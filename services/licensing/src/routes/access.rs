//! Who may see and change what.

use crate::error::LicensingError;
use crate::store::seats;
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
