use super::schema::earnings;
use crate::domain::earnings::{AVAILABLE, IN_PAYOUT, PAID};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::test_clocks::Pass;
use platform::db::PreparedDsl;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = earnings)]
pub struct Line {
    pub id: Uuid,
    pub instructor_id: Uuid,
    pub purchase_id: Uuid,
    pub course_id: Uuid,
    pub kind: String,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub available_at: DateTime<Utc>,
    pub payout_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = earnings)]
pub struct NewLine<'a> {
    pub id: Uuid,
    pub instructor_id: Uuid,
    pub purchase_id: Uuid,
    pub course_id: Uuid,
    pub kind: &'a str,
    pub amount: Decimal,
    pub currency: &'a str,
    pub status: &'a str,
    pub available_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(mut conn: &AsyncPgConnection, line: &NewLine<'_>) -> QueryResult<usize> {
    diesel::insert_into(earnings::table).values(line).prepared().execute(&mut conn).await
}

pub async fn sale_of(conn: &mut AsyncPgConnection, purchase: Uuid) -> QueryResult<Option<Line>> {
    earnings::table
        .filter(earnings::purchase_id.eq(purchase))
        .filter(earnings::kind.eq("sale"))
        .select(Line::as_select())
        .first(conn)
        .await
        .optional()
}

/// Make up to `batch` pending lines whose window has passed available at the pass's `now`. Rows
/// another replica is working on are skipped, not waited for. A line lives in its purchase's time:
/// the wall-clock pass takes the lines of purchases on no test clock, a clock's pass (`$3`) those
/// of purchases on it.
pub async fn mature(conn: &mut AsyncPgConnection, pass: Pass, batch: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE earnings SET status = 'available' WHERE id IN ( \
           SELECT id FROM earnings WHERE status = 'pending' AND available_at <= $1 \
           AND CASE WHEN $3::uuid IS NULL \
             THEN purchase_id NOT IN (SELECT id FROM purchases WHERE test_clock_id IS NOT NULL) \
             ELSE purchase_id IN (SELECT id FROM purchases WHERE test_clock_id = $3) END \
           ORDER BY available_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Timestamptz, _>(pass.now)
    .bind::<BigInt, _>(batch)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(pass.clock)
    .execute(conn)
    .await
}

/// Sum per (status, currency) of an instructor's lines.
pub async fn totals(conn: &mut AsyncPgConnection, instructor: Uuid) -> QueryResult<Vec<(String, String, Decimal)>> {
    let rows: Vec<(String, String, Option<Decimal>)> = earnings::table
        .filter(earnings::instructor_id.eq(instructor))
        .group_by((earnings::status, earnings::currency))
        .select((earnings::status, earnings::currency, diesel::dsl::sum(earnings::amount)))
        .order((earnings::currency, earnings::status))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(s, c, sum)| (s, c, sum.unwrap_or_default())).collect())
}

pub use super::Keyset as Cursor;

pub async fn page(
    conn: &mut AsyncPgConnection,
    instructor: Uuid,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<Line>> {
    let mut query = earnings::table
        .filter(earnings::instructor_id.eq(instructor))
        .select(Line::as_select())
        .order((earnings::created_at.desc(), earnings::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = after {
        query =
            query.filter(earnings::created_at.lt(c.at).or(earnings::created_at.eq(c.at).and(earnings::id.lt(c.id))));
    }
    query.load(conn).await
}

/// The instructor's available lines in `currency`, locked so two payout requests cannot take the
/// same line.
pub async fn lock_available(
    conn: &mut AsyncPgConnection,
    instructor: Uuid,
    currency: &str,
) -> QueryResult<Vec<(Uuid, Decimal)>> {
    earnings::table
        .filter(earnings::instructor_id.eq(instructor))
        .filter(earnings::currency.eq(currency))
        .filter(earnings::status.eq(AVAILABLE))
        .select((earnings::id, earnings::amount))
        .for_update()
        .load(conn)
        .await
}

pub async fn attach_to_payout(conn: &mut AsyncPgConnection, ids: &[Uuid], payout: Uuid) -> QueryResult<usize> {
    diesel::update(earnings::table.filter(earnings::id.eq_any(ids)))
        .set((earnings::status.eq(IN_PAYOUT), earnings::payout_id.eq(payout)))
        .execute(conn)
        .await
}

pub async fn mark_paid(conn: &mut AsyncPgConnection, payout: Uuid) -> QueryResult<usize> {
    diesel::update(earnings::table.filter(earnings::payout_id.eq(payout)))
        .set(earnings::status.eq(PAID))
        .execute(conn)
        .await
}
