//! `GET /api/me/export` (the caller) and `GET /api/admin/users/{user_id}/export` (admins): one
//! JSON document with everything every service holds about one user (`platform::privacy`).
//! Every service is asked at once for its part; if any does not answer, the export is a 503
//! naming it: a document with a part missing would look complete and be wrong.

use crate::fanout::{self, Caller, Failure};
use crate::route_table::AUDITED_SERVICES;
use crate::State;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use platform::auth::Role;
use platform::privacy::{ExportDocument, UserExport};
use platform::Problem;
use uuid::Uuid;

/// Neither route takes a query parameter.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoQuery {}

fn no_query(req: &HttpRequest) -> Result<(), Problem> {
    platform::input::from_query::<NoQuery>(req.query_string()).map(|_| ()).map_err(|e| Problem::validation(vec![e]))
}

pub async fn mine(req: HttpRequest, state: web::Data<State>) -> Result<HttpResponse, Problem> {
    no_query(&req)?;
    let caller = fanout::caller(&req, &state, platform::privacy::ME_PATH).await?;
    let user = caller.identity.user_id;
    export(&state, &caller, user).await
}

pub async fn of_user(req: HttpRequest, state: web::Data<State>) -> Result<HttpResponse, Problem> {
    no_query(&req)?;
    let caller = fanout::caller(&req, &state, platform::privacy::ADMIN_PATH).await?;
    if !caller.identity.roles.contains(&Role::Admin) {
        return Err(Problem::forbidden().with_detail("exporting another user's data is for admins"));
    }
    let user: Uuid =
        req.match_info().get("user_id").and_then(|id| id.parse().ok()).ok_or_else(|| Problem::not_found("user"))?;
    export(&state, &caller, user).await
}

async fn export(state: &State, caller: &Caller, user: Uuid) -> Result<HttpResponse, Problem> {
    let path = platform::privacy::internal_path(user);
    let parts = futures_util::future::join_all(
        AUDITED_SERVICES
            .iter()
            .map(|service| async { (*service, fanout::get::<UserExport>(state, service, &path, caller).await) }),
    )
    .await;
    let mut document = ExportDocument { user_id: user, generated_at: chrono::Utc::now(), services: Default::default() };
    let mut missing = Vec::new();
    for (service, part) in parts {
        match part {
            Ok(part) => {
                document.services.insert(service.to_string(), part);
            }
            // The services decide again who may read; the gateway already did, so this is rare.
            Err(Failure::Refused(403, _)) => return Err(Problem::forbidden()),
            Err(Failure::Refused(status, problem)) => {
                tracing::warn!(service, status, ?problem, "export: a service refused its part");
                missing.push(service);
            }
            Err(Failure::Unavailable) => missing.push(service),
        }
    }
    if !missing.is_empty() {
        return Err(Problem::unavailable(format!(
            "{} did not answer: no export is served rather than an incomplete one; try again later",
            missing.join(", ")
        )));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"export-{user}.json\"")))
        .json(document))
}
