//! Reviews: anyone reads them; owners of a course write one each (edited with PUT); the
//! instructor replies once. Every write locks the course row and recomputes its aggregates in the
//! same transaction, so the average and count stay exact under concurrent reviews.

use super::views::ReviewView;
use crate::domain::course::PUBLISHED;
use crate::domain::review::{validate_reply, ReviewInput, ReviewSort};
use crate::error::MarketError;
use crate::store::{courses, purchases, reviews};
use crate::State;
use actix_web::{web, HttpResponse};
use diesel_async::AsyncPgConnection;
use events::catalog::marketplace::ReviewPosted;
use platform::auth::Principal;
use platform::http::{Json, Query};
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `newest` (default) or `helpful`.
    pub sort: Option<ReviewSort>,
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (same sort).
    pub cursor: Option<String>,
}

/// A published course's reviews, newest or most helpful first.
#[utoipa::path(get, path = "/api/courses/{id}/reviews", tag = "marketplace", operation_id = "listCourseReviews",
    security(()),
    params(("id" = Uuid, Path, description = "Course id"), ListQuery),
    responses((status = 200, description = "A page of reviews", body = Page<ReviewView>),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such published course"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed: unknown `sort` or query parameter, or bad `limit`; invalid_cursor: a `cursor` of another sort or tampered with")))]
pub async fn list(state: web::Data<State>, id: web::Path<Uuid>, q: Query<ListQuery>) -> Result<HttpResponse, Problem> {
    let course_id = id.into_inner();
    let q = q.into_inner();
    let sort = q.sort.unwrap_or(ReviewSort::Newest);
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let after: Option<reviews::Cursor> = page.cursor()?;
    if after.as_ref().is_some_and(|c| c.sort != sort) {
        return Err(platform::pagination::invalid_cursor("does not belong to this sort order"));
    }
    let mut conn = state.pool.get().await?;
    let course = courses::find(&conn, course_id).await?.ok_or(MarketError::CourseNotFound)?;
    if course.status != PUBLISHED {
        return Err(MarketError::CourseNotFound.into());
    }
    let rows = reviews::page(&mut conn, course_id, sort, after, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |r| reviews::cursor_of(sort, r));
    let data: Vec<ReviewView> = page.data.iter().map(ReviewView::new).collect();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

fn validated(input: &ReviewInput) -> Result<i16, Problem> {
    let errors = input.validate();
    if errors.is_empty() {
        Ok(input.rating as i16)
    } else {
        Err(Problem::validation(errors))
    }
}

async fn lock_course(conn: &mut AsyncPgConnection, id: Uuid) -> Result<courses::Course, Problem> {
    Ok(courses::lock(conn, id).await?.ok_or(MarketError::CourseNotFound)?)
}

/// Review a course the caller owns: one review each (change it with `PUT .../reviews/mine`).
#[utoipa::path(post, path = "/api/courses/{id}/reviews", tag = "marketplace", operation_id = "createReview",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Course id")),
    request_body = ReviewInput,
    responses((status = 201, body = ReviewView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "bad_request: the body is not valid JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller does not own the course, or is not a user"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such course"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "already_reviewed"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "payload_too_large"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "unsupported_media_type: not `application/json`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`rating`, `body`, unknown field)")))]
pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: Json<ReviewInput>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let course_id = id.into_inner();
    let input = body.into_inner();
    let rating = validated(&input)?;
    let now = state.clock.now();
    let review = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            lock_course(conn, course_id).await?;
            if !purchases::owns(conn, user, course_id).await? {
                return Err(MarketError::NotAnOwner.into());
            }
            let review = reviews::insert(conn, course_id, user, rating, input.body.trim(), now)
                .await?
                .ok_or(MarketError::AlreadyReviewed(course_id))?;
            courses::refresh_rating(conn, course_id).await?;
            events::outbox::enqueue(
                conn,
                &ReviewPosted {
                    review_id: review.id,
                    course_id,
                    reviewer_id: user,
                    rating: rating as u8,
                    posted_at: review.created_at,
                },
            )
            .await?;
            Ok::<_, Problem>(review)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(ReviewView::new(&review)))
}

/// `PUT /api/courses/{id}/reviews/mine`: change one's rating or text.
#[utoipa::path(put, path = "/api/courses/{id}/reviews/mine", tag = "marketplace", operation_id = "editMyReview",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Course id")),
    request_body = ReviewInput,
    responses((status = 200, body = ReviewView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "bad_request: the body is not valid JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such course, or no review of the caller's on it"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "payload_too_large"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "unsupported_media_type: not `application/json`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`rating`, `body`, unknown field)")))]
pub async fn edit_mine(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: Json<ReviewInput>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let course_id = id.into_inner();
    let input = body.into_inner();
    let rating = validated(&input)?;
    let review = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            lock_course(conn, course_id).await?;
            let mine = reviews::find_mine(conn, course_id, user).await?.ok_or(MarketError::ReviewNotFound)?;
            let review = reviews::edit(conn, mine.id, rating, input.body.trim()).await?;
            courses::refresh_rating(conn, course_id).await?;
            Ok::<_, Problem>(review)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReviewView::new(&review)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReviewReplyInput)]
pub struct ReplyInput {
    /// 1-2000 characters.
    pub body: String,
}

/// The course's instructor answers a review, once.
#[utoipa::path(post, path = "/api/courses/{id}/reviews/{review_id}/reply", tag = "marketplace",
    operation_id = "replyToReview", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Course id"), ("review_id" = Uuid, Path, description = "Review id")),
    request_body = ReplyInput,
    responses((status = 200, body = ReviewView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "bad_request: the body is not valid JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: only the course's instructor may reply"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such course, or no such review on it"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "already_replied"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "payload_too_large"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "unsupported_media_type: not `application/json`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "validation_failed (`body`, unknown field)")))]
pub async fn reply(
    state: web::Data<State>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<ReplyInput>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let (course_id, review_id) = path.into_inner();
    let text = body.into_inner().body;
    let errors = validate_reply(&text);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let now = state.clock.now();
    let review = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let course = lock_course(conn, course_id).await?;
            if course.instructor_id != user {
                return Err(MarketError::NotCourseOwner.into());
            }
            let review = reviews::lock(conn, course_id, review_id).await?.ok_or(MarketError::ReviewNotFound)?;
            if review.reply.is_some() {
                return Err(MarketError::AlreadyReplied.into());
            }
            Ok::<_, Problem>(reviews::reply(conn, review.id, text.trim(), now).await?)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReviewView::new(&review)))
}

/// One "helpful" vote per signed-in user and review; voting again changes nothing.
#[utoipa::path(post, path = "/api/courses/{id}/reviews/{review_id}/helpful", tag = "marketplace",
    operation_id = "voteReviewHelpful", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Course id"), ("review_id" = Uuid, Path, description = "Review id")),
    responses((status = 200, description = "The review with its updated `helpful_count`", body = ReviewView),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "unauthorized"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "forbidden: the caller is not a user"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not_found: no such review on this course"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "own_review: you cannot vote for your own review")))]
pub async fn helpful(
    state: web::Data<State>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, Problem> {
    let user = principal.user_id()?;
    let (course_id, review_id) = path.into_inner();
    let review = platform::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let review = reviews::lock(conn, course_id, review_id).await?.ok_or(MarketError::ReviewNotFound)?;
            if review.user_id == user {
                return Err(Problem::conflict("own_review", "you cannot vote for your own review"));
            }
            reviews::vote_helpful(conn, review_id, user).await?;
            Ok::<_, Problem>(reviews::lock(conn, course_id, review_id).await?.ok_or(MarketError::ReviewNotFound)?)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReviewView::new(&review)))
}
