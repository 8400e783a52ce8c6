use super::schema::{review_votes, reviews};
use crate::domain::review::ReviewSort;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reviews)]
pub struct Review {
    pub id: Uuid,
    pub course_id: Uuid,
    pub user_id: Uuid,
    pub rating: i16,
    pub body: String,
    pub helpful_count: i32,
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Inserts the review, or returns `None` when the user already reviewed the course (the unique
/// constraint decides, so two concurrent first reviews cannot both land).
pub async fn insert(
    conn: &mut AsyncPgConnection,
    course: Uuid,
    user: Uuid,
    rating: i16,
    body: &str,
    at: DateTime<Utc>,
) -> QueryResult<Option<Review>> {
    diesel::insert_into(reviews::table)
        .values((
            reviews::id.eq(Uuid::now_v7()),
            reviews::course_id.eq(course),
            reviews::user_id.eq(user),
            reviews::rating.eq(rating),
            reviews::body.eq(body),
            reviews::created_at.eq(at),
            reviews::updated_at.eq(at),
        ))
        .on_conflict((reviews::course_id, reviews::user_id))
        .do_nothing()
        .returning(Review::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub async fn find_mine(conn: &mut AsyncPgConnection, course: Uuid, user: Uuid) -> QueryResult<Option<Review>> {
    reviews::table
        .filter(reviews::course_id.eq(course))
        .filter(reviews::user_id.eq(user))
        .select(Review::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn lock(conn: &mut AsyncPgConnection, course: Uuid, id: Uuid) -> QueryResult<Option<Review>> {
    reviews::table
        .filter(reviews::course_id.eq(course))
        .filter(reviews::id.eq(id))
        .for_update()
        .select(Review::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn edit(conn: &mut AsyncPgConnection, id: Uuid, rating: i16, body: &str) -> QueryResult<Review> {
    diesel::update(reviews::table.find(id))
        .set((reviews::rating.eq(rating), reviews::body.eq(body), reviews::updated_at.eq(diesel::dsl::now)))
        .returning(Review::as_returning())
        .get_result(conn)
        .await
}

pub async fn reply(conn: &mut AsyncPgConnection, id: Uuid, text: &str, at: DateTime<Utc>) -> QueryResult<Review> {
    diesel::update(reviews::table.find(id))
        .set((reviews::reply.eq(text), reviews::replied_at.eq(at)))
        .returning(Review::as_returning())
        .get_result(conn)
        .await
}

/// One helpful vote per user; returns whether this one counted.
pub async fn vote_helpful(conn: &mut AsyncPgConnection, id: Uuid, user: Uuid) -> QueryResult<bool> {
    let inserted = diesel::insert_into(review_votes::table)
        .values((review_votes::review_id.eq(id), review_votes::user_id.eq(user)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        diesel::update(reviews::table.find(id))
            .set(reviews::helpful_count.eq(reviews::helpful_count + 1))
            .execute(conn)
            .await?;
    }
    Ok(inserted == 1)
}

/// Keyset position: (created_at or helpful_count, id) of the last review served.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub sort: ReviewSort,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub helpful: Option<i32>,
    pub id: Uuid,
}

pub fn cursor_of(sort: ReviewSort, r: &Review) -> Cursor {
    match sort {
        ReviewSort::Newest => Cursor { sort, at: Some(r.created_at), helpful: None, id: r.id },
        ReviewSort::Helpful => Cursor { sort, at: None, helpful: Some(r.helpful_count), id: r.id },
    }
}

pub async fn page(
    conn: &mut AsyncPgConnection,
    course: Uuid,
    sort: ReviewSort,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<Review>> {
    let mut query =
        reviews::table.filter(reviews::course_id.eq(course)).select(Review::as_select()).limit(limit + 1).into_boxed();
    query = match sort {
        ReviewSort::Newest => query.order((reviews::created_at.desc(), reviews::id.desc())),
        ReviewSort::Helpful => query.order((reviews::helpful_count.desc(), reviews::id.desc())),
    };
    if let Some(c) = after {
        match (sort, c.at, c.helpful) {
            (ReviewSort::Newest, Some(at), _) => {
                query =
                    query.filter(reviews::created_at.lt(at).or(reviews::created_at.eq(at).and(reviews::id.lt(c.id))));
            }
            (ReviewSort::Helpful, _, Some(h)) => {
                query = query
                    .filter(reviews::helpful_count.lt(h).or(reviews::helpful_count.eq(h).and(reviews::id.lt(c.id))));
            }
            _ => {}
        }
    }
    query.load(conn).await
}
