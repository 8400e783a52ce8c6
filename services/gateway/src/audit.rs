//! `GET /api/admin/audit`: every service's audit log merged by time (admins). Each service
//! answers `GET /api/admin/audit/<service>` (routed like any other path); this handler asks them
//! all (or the one `service=` names) for a page with the same filters and merges the pages.
//!
//! Order: time descending, then service name, then the service's sequence descending. The cursor
//! is the last entry served (time, service, sequence); from it the gateway derives each service's
//! own cursor (`platform::audit::Cursor`), so a merged page never skips or repeats an entry.

use crate::route_table::AUDITED_SERVICES;
use crate::{fanout, State};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use platform::audit::{AuditEntryView, Cursor, MergedAuditEntry, MergedAuditFilter as MergedQuery};
use platform::auth::Role;
use platform::pagination::{decode_cursor, encode_cursor, invalid_cursor, Page, PageQuery};
use platform::Problem;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MergedCursor {
    at: DateTime<Utc>,
    service: String,
    seq: i64,
}

/// Where service `service` resumes after the merged page ended at `c`.
fn cursor_for(service: &str, c: &MergedCursor) -> Cursor {
    match service.cmp(c.service.as_str()) {
        // Served everything of theirs at `c.at` already (they sort first): strictly older.
        std::cmp::Ordering::Less => Cursor { at: c.at, seq: 0 },
        std::cmp::Ordering::Equal => Cursor { at: c.at, seq: c.seq },
        // Nothing of theirs at `c.at` served yet.
        std::cmp::Ordering::Greater => Cursor { at: c.at, seq: i64::MAX },
    }
}

pub async fn merged(req: HttpRequest, state: web::Data<State>) -> Result<HttpResponse, Problem> {
    let caller = fanout::caller(&req, &state, "/api/admin/audit").await?;
    if !caller.identity.roles.contains(&Role::Admin) {
        return Err(Problem::forbidden().with_detail("the audit log is for admins"));
    }
    let q: MergedQuery = platform::input::from_query(req.query_string()).map_err(|e| Problem::validation(vec![e]))?;
    let services: Vec<&'static str> = match &q.service {
        None => AUDITED_SERVICES.to_vec(),
        Some(name) => vec![AUDITED_SERVICES.iter().copied().find(|s| s == name).ok_or_else(|| {
            Problem::field("query.service", format!("must be one of {}", AUDITED_SERVICES.join(", ")))
        })?],
    };
    let limit = PageQuery { limit: q.limit, cursor: None }.limit();
    let cursor: Option<MergedCursor> = q.cursor.as_deref().map(decode_cursor).transpose()?;
    if cursor.as_ref().is_some_and(|c| !AUDITED_SERVICES.contains(&c.service.as_str())) {
        return Err(invalid_cursor("names no service"));
    }
    let pages =
        futures_util::future::try_join_all(services.iter().map(|service| {
            fetch(&state, service, &q, cursor.as_ref().map(|c| cursor_for(service, c)), limit, &caller)
        }))
        .await?;
    let mut more = pages.iter().any(|(_, p)| p.next_cursor.is_some());
    let mut entries: Vec<MergedAuditEntry> = pages
        .into_iter()
        .flat_map(|(service, p)| {
            p.data.into_iter().map(move |entry| MergedAuditEntry { service: service.into(), entry })
        })
        .collect();
    entries.sort_by(|a, b| {
        b.entry.at.cmp(&a.entry.at).then(a.service.cmp(&b.service)).then(b.entry.seq.cmp(&a.entry.seq))
    });
    if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        more = true;
    }
    let next_cursor = if more {
        entries
            .last()
            .map(|e| encode_cursor(&MergedCursor { at: e.entry.at, service: e.service.clone(), seq: e.entry.seq }))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(Page { data: entries, next_cursor }))
}

/// One service's page: its own read endpoint, called as the admin.
async fn fetch(
    state: &State,
    service: &'static str,
    q: &MergedQuery,
    cursor: Option<Cursor>,
    limit: i64,
    caller: &fanout::Caller,
) -> Result<(&'static str, Page<AuditEntryView>), Problem> {
    let filters = platform::audit::AuditFilter {
        actor: q.actor.clone(),
        target: q.target.clone(),
        action: q.action.clone(),
        from: q.from,
        to: q.to,
        limit: Some(limit),
        cursor: cursor.map(|c| encode_cursor(&c)),
    };
    let query = serde_urlencoded::to_string(&filters).map_err(Problem::internal)?;
    let path = format!("{}?{query}", platform::audit::path(service));
    let page = fanout::get(state, service, &path, caller).await.map_err(|_| {
        Problem::new(actix_web::http::StatusCode::BAD_GATEWAY, "upstream_unavailable", "A service did not answer")
    })?;
    Ok((service, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_resumes_exactly_after_the_last_entry_served() {
        let at = Utc::now();
        let c = MergedCursor { at, service: "licensing".into(), seq: 7 };
        assert_eq!(cursor_for("billing", &c), Cursor { at, seq: 0 });
        assert_eq!(cursor_for("licensing", &c), Cursor { at, seq: 7 });
        assert_eq!(cursor_for("rewards", &c), Cursor { at, seq: i64::MAX });
    }
}
