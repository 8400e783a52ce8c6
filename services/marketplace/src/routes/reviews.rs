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
use platform::pagination::{Page, PageQuery};
use platform::Problem;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub sort: Option<ReviewSort>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn list(
    state: web::Data<State>,
    id: web::Path<Uuid>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    let course_id = id.into_inner();
    let q = q.into_inner();
    let sort = q.sort.unwrap_or(ReviewSort::Newest);
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let after: Option<reviews::Cursor> = page.cursor()?;
    if after.as_ref().is_some_and(|c| c.sort != sort) {
        return Err(Problem::field("cursor", "does not belong to this sort order"));
    }
    let mut conn = state.pool.get().await?;
    let course = courses::find(&mut conn, course_id).await?.ok_or(MarketError::CourseNotFound)?;
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

pub async fn create(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<ReviewInput>,
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
pub async fn edit_mine(
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<ReviewInput>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    pub body: String,
}

/// The course's instructor answers a review, once.
pub async fn reply(
    state: web::Data<State>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<ReplyInput>,
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

/// One "helpful" vote per signed-in user and review.
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
