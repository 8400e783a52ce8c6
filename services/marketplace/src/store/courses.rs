use super::schema::{course_purchase_deltas, courses};
use crate::domain::listing::{ListCursor, Search, Sort};
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bpchar, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::Problem;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = courses)]
pub struct Course {
    pub id: Uuid,
    pub instructor_id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    pub level: String,
    pub language: String,
    pub tags: Vec<String>,
    pub price: Decimal,
    pub currency: String,
    pub status: String,
    pub content_key: String,
    pub content_type: String,
    pub content_size: i64,
    pub content_sha256: String,
    pub content_filename: String,
    pub rating_count: i32,
    pub rating_sum: i64,
    pub rating_avg: Decimal,
    pub purchase_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, instructor_id, title, description, category, level, language, tags, price, currency, \
    status, content_key, content_type, content_size, content_sha256, content_filename, rating_count, rating_sum, \
    rating_avg, purchase_count, created_at, updated_at, published_at";

#[derive(Debug, Insertable)]
#[diesel(table_name = courses)]
pub struct NewCourse<'a> {
    pub id: Uuid,
    pub instructor_id: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub level: &'a str,
    pub language: &'a str,
    pub tags: &'a [String],
    pub price: Decimal,
    pub currency: &'a str,
    pub content_key: &'a str,
    pub content_type: &'a str,
    pub content_size: i64,
    pub content_sha256: &'a str,
    pub content_filename: &'a str,
}

/// `PATCH`: `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = courses)]
pub struct Changes {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub level: Option<String>,
    pub language: Option<String>,
    pub tags: Option<Vec<String>>,
    pub price: Option<Decimal>,
    pub currency: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewCourse<'_>) -> QueryResult<Course> {
    diesel::insert_into(courses::table).values(new).returning(Course::as_returning()).get_result(conn).await
}

pub async fn find(mut conn: &AsyncPgConnection, id: Uuid) -> QueryResult<Option<Course>> {
    courses::table.find(id).select(Course::as_select()).first(&mut conn).await.optional()
}

/// The course, locked until the end of the transaction (review aggregates, edits).
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Course>> {
    courses::table.find(id).for_update().select(Course::as_select()).first(conn).await.optional()
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, changes: &Changes) -> QueryResult<Course> {
    diesel::update(courses::table.find(id)).set(changes).returning(Course::as_returning()).get_result(conn).await
}

/// `published_at` is kept from the first publication, so re-publishing does not reshuffle "newest".
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: &str,
    published_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> QueryResult<Course> {
    diesel::update(courses::table.find(id))
        .set((courses::status.eq(status), courses::updated_at.eq(now), courses::published_at.eq(published_at)))
        .returning(Course::as_returning())
        .get_result(conn)
        .await
}

/// Recompute the review aggregates from the reviews, under the course row lock the caller holds.
pub async fn refresh_rating(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE courses SET \
           rating_count = (SELECT count(*) FROM reviews WHERE course_id = $1), \
           rating_sum = (SELECT coalesce(sum(rating), 0) FROM reviews WHERE course_id = $1) \
         WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .execute(conn)
    .await
}

/// Count a purchase of the course (`delta` 1) or its refund (-1): recorded as a delta that
/// [`PURCHASE_COUNT_FOLD`] adds into `purchase_count` about once a second, so purchases of one
/// course do not queue on its row (the count may trail them by that second).
pub async fn add_purchases(mut conn: &AsyncPgConnection, id: Uuid, delta: i32) -> QueryResult<usize> {
    diesel::insert_into(course_purchase_deltas::table)
        .values((course_purchase_deltas::course_id.eq(id), course_purchase_deltas::delta.eq(delta)))
        .execute(&mut conn)
        .await
}

/// Every committed purchase delta into its course's count, in one statement (`platform::fold`:
/// every `MARKETPLACE_PURCHASE_COUNT_FOLD_MS`, one replica at a time).
pub const PURCHASE_COUNT_FOLD: platform::fold::Fold =
    platform::fold::Fold { name: "purchase_count_fold", run: fold_purchase_counts };

fn fold_purchase_counts(conn: &mut AsyncPgConnection) -> futures_util::future::BoxFuture<'_, QueryResult<usize>> {
    Box::pin(async move {
        diesel::sql_query(
            "WITH moved AS (DELETE FROM course_purchase_deltas RETURNING course_id, delta),
                  net AS (SELECT course_id, sum(delta) AS n FROM moved GROUP BY course_id),
                  counted AS (UPDATE courses c SET purchase_count = c.purchase_count + net.n FROM net
                               WHERE c.id = net.course_id AND net.n <> 0)
             SELECT count(*) AS n FROM moved",
        )
        .get_result::<Moved>(conn)
        .await
        .map(|m| m.n as usize)
    })
}

#[derive(QueryableByName)]
struct Moved {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One page of the published catalogue; fetches `limit + 1` rows to tell whether more exist.
pub async fn search(conn: &mut AsyncPgConnection, s: &Search) -> Result<Vec<Course>, Problem> {
    let mut sql = format!("SELECT {COLUMNS} FROM courses WHERE status = 'published'");
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    // Placeholders first (in bind order), then the binds in the same order.
    let text_at = s.text.as_ref().map(|_| next());
    if let Some(p) = &text_at {
        sql += &format!(" AND search @@ websearch_to_tsquery('english', {p})");
    }
    let mut conds: Vec<(String, Bind)> = Vec::new();
    if let Some(v) = &s.category {
        conds.push(("category = {}".into(), Bind::Text(v.clone())));
        if s.text.is_some() {
            // The category lexeme lets the GIN index intersect words and category (see the
            // `search_category_lexeme` migration) instead of reading every course with the words.
            conds.push(("search @@ quote_literal('category/' || {})::tsquery".into(), Bind::Text(v.clone())));
        }
    }
    if let Some(v) = &s.level {
        conds.push(("level = {}".into(), Bind::Text(v.clone())));
    }
    if let Some(v) = &s.language {
        conds.push(("language = {}".into(), Bind::Text(v.clone())));
    }
    if let Some(v) = s.min_price {
        conds.push(("price >= {}".into(), Bind::Num(v)));
    }
    if let Some(v) = s.max_price {
        conds.push(("price <= {}".into(), Bind::Num(v)));
    }
    if let Some(c) = s.currency {
        conds.push(("currency = {}".into(), Bind::Char(c.code().to_string())));
    }
    if s.free_only {
        conds.push(("price = {}".into(), Bind::Num(Decimal::ZERO)));
    }
    if let Some(v) = s.min_rating {
        conds.push(("rating_avg >= {}".into(), Bind::Num(v)));
    }
    if let Some(v) = s.instructor {
        conds.push(("instructor_id = {}".into(), Bind::Uuid(v)));
    }
    if let Some(c) = &s.after {
        if let Some(keyset) = keyset(s.sort, c)? {
            conds.push(keyset);
        }
    }
    let mut binds = Vec::new();
    for (template, bind) in conds {
        match bind {
            // Row comparison: (key, id) against two placeholders.
            Bind::Keyset(key, id) => {
                let (a, b) = (next(), next());
                sql += &format!(" AND {}", template.replacen("{}", &a, 1).replacen("{}", &b, 1));
                binds.push(*key);
                binds.push(Bind::Uuid(id));
            }
            other => {
                sql += &format!(" AND {}", template.replacen("{}", &next(), 1));
                binds.push(other);
            }
        }
    }
    let order = match (s.sort, &text_at) {
        (Sort::Relevance, Some(p)) => format!("ts_rank(search, websearch_to_tsquery('english', {p})) DESC, id DESC"),
        (Sort::Relevance, None) | (Sort::Newest, _) => "published_at DESC, id DESC".into(),
        (Sort::Rating, _) => "rating_avg DESC, id DESC".into(),
        (Sort::Popularity, _) => "purchase_count DESC, id DESC".into(),
        (Sort::PriceAsc, _) => "price ASC, id ASC".into(),
        (Sort::PriceDesc, _) => "price DESC, id DESC".into(),
    };
    sql += &format!(" ORDER BY {order} LIMIT {}", next());
    binds.push(Bind::Int(s.limit + 1));
    if s.sort == Sort::Relevance {
        sql += &format!(" OFFSET {}", next());
        binds.push(Bind::Int(s.after.as_ref().and_then(|c| c.offset).unwrap_or(0)));
    }

    let mut query = diesel::sql_query(sql).into_boxed::<Pg>();
    if let Some(text) = &s.text {
        query = query.bind::<Text, _>(text.clone());
    }
    for b in binds {
        query = match b {
            Bind::Text(v) => query.bind::<Text, _>(v),
            Bind::Char(v) => query.bind::<Bpchar, _>(v),
            Bind::Num(v) => query.bind::<Numeric, _>(v),
            Bind::Int(v) => query.bind::<BigInt, _>(v),
            Bind::Time(v) => query.bind::<Timestamptz, _>(v),
            Bind::Uuid(v) => query.bind::<SqlUuid, _>(v),
            Bind::Keyset(..) => query,
        };
    }
    Ok(query.load::<Course>(conn).await?)
}

enum Bind {
    Text(String),
    Char(String),
    Num(Decimal),
    Int(i64),
    Time(DateTime<Utc>),
    Uuid(Uuid),
    Keyset(Box<Bind>, Uuid),
}

fn bad_cursor() -> Problem {
    platform::pagination::invalid_cursor("is not a cursor this API issued")
}

/// The keyset condition that continues after `c` in `sort` order (none for relevance: offset).
fn keyset(sort: Sort, c: &ListCursor) -> Result<Option<(String, Bind)>, Problem> {
    let (Some(key), Some(id)) = (c.key.as_deref(), c.id) else {
        return Ok(None);
    };
    let num = || key.parse::<Decimal>().map_err(|_| bad_cursor());
    let cond = match sort {
        Sort::Relevance => return Ok(None),
        Sort::Newest => {
            let at = DateTime::parse_from_rfc3339(key).map_err(|_| bad_cursor())?.with_timezone(&Utc);
            ("(published_at, id) < ({}, {})", Bind::Time(at))
        }
        Sort::Rating => ("(rating_avg, id) < ({}, {})", Bind::Num(num()?)),
        Sort::Popularity => ("(purchase_count, id) < ({}, {})", Bind::Int(key.parse().map_err(|_| bad_cursor())?)),
        Sort::PriceAsc => ("(price, id) > ({}, {})", Bind::Num(num()?)),
        Sort::PriceDesc => ("(price, id) < ({}, {})", Bind::Num(num()?)),
    };
    Ok(Some((cond.0.to_string(), Bind::Keyset(Box::new(cond.1), id))))
}

/// The cursor that continues after `last` in `sort` order; `offset` is the rows served so far.
pub fn cursor_after(sort: Sort, last: &Course, offset: i64) -> ListCursor {
    let key = match sort {
        Sort::Relevance => None,
        Sort::Newest => last.published_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        Sort::Rating => Some(last.rating_avg.to_string()),
        Sort::Popularity => Some(last.purchase_count.to_string()),
        Sort::PriceAsc | Sort::PriceDesc => Some(last.price.to_string()),
    };
    let offset = (sort == Sort::Relevance).then_some(offset);
    ListCursor { sort, key, id: (sort != Sort::Relevance).then_some(last.id), offset }
}

/// Courses an instructor owns (their dashboard).
/// A page of the instructor's courses (drafts included), newest first.
pub async fn by_instructor(
    conn: &mut AsyncPgConnection,
    instructor: Uuid,
    after: Option<super::Keyset>,
    limit: i64,
) -> QueryResult<Vec<Course>> {
    let mut query = courses::table
        .filter(courses::instructor_id.eq(instructor))
        .order((courses::created_at.desc(), courses::id.desc()))
        .select(Course::as_select())
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = after {
        query = query.filter(courses::created_at.lt(c.at).or(courses::created_at.eq(c.at).and(courses::id.lt(c.id))));
    }
    query.load(conn).await
}

/// A course's price in a currency other than its primary one.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::course_prices)]
pub struct OtherPrice {
    pub course_id: Uuid,
    pub currency: String,
    pub price: Decimal,
}

/// The other-currency prices of `ids`, by course then currency: one query for a page of courses.
pub async fn other_prices(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<OtherPrice>> {
    use super::schema::course_prices::dsl as cp;
    cp::course_prices
        .filter(cp::course_id.eq_any(ids))
        .order((cp::course_id, cp::currency))
        .select(OtherPrice::as_select())
        .load(conn)
        .await
}

/// The course's price in `currency`, if it is sold in it besides its primary price.
pub async fn price_in(conn: &mut AsyncPgConnection, id: Uuid, currency: &str) -> QueryResult<Option<Decimal>> {
    use super::schema::course_prices::dsl as cp;
    cp::course_prices
        .filter(cp::course_id.eq(id))
        .filter(cp::currency.eq(currency))
        .select(cp::price)
        .first(conn)
        .await
        .optional()
}

/// Replace the course's other-currency prices (`None`: keep them), then drop what the primary
/// price now rules out: its own currency, or every one when the course is free.
pub async fn set_other_prices(
    conn: &mut AsyncPgConnection,
    course: &Course,
    prices: Option<&[(String, Decimal)]>,
) -> QueryResult<()> {
    use super::schema::course_prices::dsl as cp;
    if let Some(prices) = prices {
        diesel::delete(cp::course_prices.filter(cp::course_id.eq(course.id))).execute(conn).await?;
        let rows: Vec<_> = prices
            .iter()
            .map(|(c, p)| (cp::course_id.eq(course.id), cp::currency.eq(c.as_str()), cp::price.eq(*p)))
            .collect();
        if !rows.is_empty() {
            diesel::insert_into(cp::course_prices).values(rows).execute(conn).await?;
        }
    }
    let stale = cp::course_prices.filter(cp::course_id.eq(course.id));
    if course.price.is_zero() {
        diesel::delete(stale).execute(conn).await?;
    } else {
        diesel::delete(stale.filter(cp::currency.eq(course.currency.trim()))).execute(conn).await?;
    }
    Ok(())
}
