//! The public catalogue (`/api/courses/list`) and the caller's own courses (`/api/courses/mine`).

use super::views::{CourseView, OwnedCourseView, PurchaseView};
use crate::domain::listing::{ListQuery, Search, Sort};
use crate::store::{courses, purchases};
use crate::State;
use actix_web::{web, HttpRequest, HttpResponse};
use platform::auth::Principal;
use platform::http::Query;
use platform::pagination::{next_offset, Page, PageQuery};
use platform::Problem;

/// Search the published catalogue: full text, filters and six sort orders, paginated by cursor.
#[utoipa::path(get, path = "/api/courses/list", tag = "marketplace", operation_id = "listCourses", security(()),
    params(ListQuery),
    responses((status = 200, description = "A page of published courses (served from a cache up to a few seconds old)",
            body = Page<CourseView>, headers(("Cache-Control" = String, description = "public, max-age=<seconds>"))),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "validation_failed: a bad filter (`q`, `level`, `language`, `min_price`, `max_price`, `min_rating`) or an unknown query parameter; invalid_cursor: a `cursor` of another query, tampered with or out of range")))]
pub async fn list(state: web::Data<State>, req: HttpRequest, q: Query<ListQuery>) -> Result<HttpResponse, Problem> {
    let search = q.into_inner().validate()?;
    // The catalogue is public and the same for every caller, so a page is served from memory for
    // `MARKETPLACE_CATALOG_CACHE_MS` and clients may keep it as long: a new course or price shows
    // up that much later (a purchase always charges the price in the database).
    // Requests that miss one page at the same moment share one read of it.
    let key = req.query_string();
    let reader = state.clone();
    let body = state
        .catalog
        .get_or_load(key, move || async move {
            let page = page_of(&reader, &search).await?;
            Ok::<_, Problem>(web::Bytes::from(serde_json::to_vec(&page).map_err(Problem::internal)?))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", format!("public, max-age={}", state.catalog.ttl().as_secs())))
        .body(body))
}

async fn page_of(state: &State, search: &Search) -> Result<Page<CourseView>, Problem> {
    let mut conn = state.pool.get().await?;
    let rows = courses::search(&mut conn, search).await?;
    // Relevance pages by offset: none past `MAX_OFFSET` (validate refused a cursor beyond it).
    let served = next_offset(search.after.as_ref().and_then(|c| c.offset).unwrap_or(0), search.limit);
    let sort: Sort = search.sort;
    let page = Page::from_rows(rows, search.limit, |c| courses::cursor_after(sort, c, served.unwrap_or(0)));
    let next_cursor = page.next_cursor.filter(|_| sort != Sort::Relevance || served.is_some());
    let data = CourseView::many(&mut conn, &page.data.iter().collect::<Vec<_>>()).await?;
    Ok(Page { data, next_cursor })
}

/// The courses the caller bought (completed or partly refunded purchases), latest first.
#[utoipa::path(get, path = "/api/courses/mine", tag = "marketplace", operation_id = "listMyCourses",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of owned courses", body = Page<OwnedCourseView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not a user"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`limit`); invalid_cursor (`cursor`)")))]
pub async fn mine(state: web::Data<State>, principal: Principal, q: Query<PageQuery>) -> Result<HttpResponse, Problem> {
    let buyer = principal.user_id()?;
    let mut conn = state.pool.get().await?;
    let rows = purchases::mine(&mut conn, buyer, q.cursor()?, q.limit()).await?;
    let page = Page::from_rows(rows, q.limit(), |(p, _)| purchases::MineCursor {
        at: p.completed_at.unwrap_or(p.created_at),
        id: p.id,
    });
    let views = CourseView::many(&mut conn, &page.data.iter().map(|(_, c)| c).collect::<Vec<_>>()).await?;
    let data = page
        .data
        .iter()
        .zip(views)
        .map(|((p, _), course)| Ok(OwnedCourseView { course, purchase: PurchaseView::new(p)? }))
        .collect::<Result<Vec<_>, Problem>>()?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}
