use super::courses::Course;
use super::schema::{courses, purchases};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::test_clocks::Pass;
use platform::db::PreparedDsl;
use rust_decimal::Decimal;
use uuid::Uuid;

pub use crate::domain::purchase::{COMPLETED, FAILED, PENDING, REFUNDED};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = purchases)]
pub struct Purchase {
    pub id: Uuid,
    pub course_id: Uuid,
    pub buyer_id: Uuid,
    pub instructor_id: Uuid,
    pub price: Decimal,
    pub currency: String,
    pub status: String,
    pub payment_id: Option<Uuid>,
    pub client_secret: Option<String>,
    pub failure_code: Option<String>,
    pub split_rate: Decimal,
    pub instructor_share: Option<Decimal>,
    pub platform_share: Option<Decimal>,
    pub refunded_amount: Decimal,
    pub instructor_reversed: Decimal,
    pub platform_reversed: Decimal,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Set when the purchase was closed and its payment voided: it never completes any more.
    pub closed_reason: Option<String>,
    /// The clear prefix of the reward voucher's code the buyer named (the code itself is never
    /// kept); `discount` is known once `voucher_reserved_at` is set.
    pub voucher_code_prefix: Option<String>,
    /// Off the list price (`price`): the voucher, plus a remainder too small to charge.
    pub discount: Decimal,
    /// `price - discount`: what the buyer pays and a refund gives back at most.
    pub amount_paid: Decimal,
    pub voucher_reserved_at: Option<DateTime<Utc>>,
    pub voucher_released_at: Option<DateTime<Utc>>,
    /// The test clock it lives on (sandbox only): its earnings mature in the clock's time.
    pub test_clock_id: Option<Uuid>,
    /// Billing's net of what it charged, set at completion: what split, and what refunds (net,
    /// as billing counts them) give back at most. `amount_paid` less an inclusive tax.
    pub net_amount: Option<Decimal>,
    /// The tax billing charged with the payment (inclusive or on top); zero when untaxed.
    pub tax: Decimal,
    /// A promotion code's purchase: the code (as stored), who funds its discount (`platform` or
    /// `instructor`), and when its redemption was given back (the purchase closed unpaid).
    pub promotion_code_id: Option<Uuid>,
    pub promotion_code: Option<String>,
    pub promotion_funded_by: Option<String>,
    pub promotion_released_at: Option<DateTime<Utc>>,
}

impl Purchase {
    /// The revenue of the sale (net of tax); before completion, what billing is asked to charge.
    pub fn net(&self) -> Decimal {
        self.net_amount.unwrap_or(self.amount_paid)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = purchases)]
pub struct NewPurchase<'a> {
    pub id: Uuid,
    pub course_id: Uuid,
    pub buyer_id: Uuid,
    pub instructor_id: Uuid,
    pub price: Decimal,
    pub currency: &'a str,
    pub status: &'a str,
    pub split_rate: Decimal,
    pub created_at: DateTime<Utc>,
    pub voucher_code_prefix: Option<&'a str>,
    pub test_clock_id: Option<Uuid>,
    /// A promotion code's discount, known at once (a voucher's is set when rewards reserves it).
    pub discount: Decimal,
    pub promotion_code_id: Option<Uuid>,
    pub promotion_code: Option<&'a str>,
    pub promotion_funded_by: Option<&'a str>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewPurchase<'_>) -> QueryResult<Purchase> {
    diesel::insert_into(purchases::table)
        .values(new)
        .returning(Purchase::as_returning())
        .prepared()
        .get_result(conn)
        .await
}

pub async fn lock(mut conn: &AsyncPgConnection, id: Uuid) -> QueryResult<Option<Purchase>> {
    purchases::table.find(id).for_update().select(Purchase::as_select()).first(&mut conn).await.optional()
}

/// A statement that loads purchases, kept as a value so a test can read the plan PostgreSQL keeps
/// for it (`testkit::plan::generic_plan`) as well as run it.
pub trait PurchaseQuery:
    for<'c> diesel_async::methods::LoadQuery<'static, &'c AsyncPgConnection, Purchase>
    + diesel::query_builder::QueryFragment<diesel::pg::Pg>
    + Send
    + 'static
{
}

impl<T> PurchaseQuery for T where
    T: for<'c> diesel_async::methods::LoadQuery<'static, &'c AsyncPgConnection, Purchase>
        + diesel::query_builder::QueryFragment<diesel::pg::Pg>
        + Send
        + 'static
{
}

/// The buyer's pending or completed purchase of the course, if any (at most one: unique index).
pub async fn live(mut conn: &AsyncPgConnection, buyer: Uuid, course: Uuid) -> QueryResult<Option<Purchase>> {
    live_query(buyer, course).get_result(&mut conn).await.optional()
}

/// The statement of [`live`], apart so a test can read its generic plan: the statuses are
/// literals, as `purchases_one_live` is partial on them (`platform::db::text_literal`).
pub fn live_query(buyer: Uuid, course: Uuid) -> impl PurchaseQuery {
    purchases::table
        .filter(purchases::buyer_id.eq(buyer))
        .filter(purchases::course_id.eq(course))
        .filter(
            purchases::status
                .eq(platform::db::text_literal(PENDING))
                .or(purchases::status.eq(platform::db::text_literal(COMPLETED))),
        )
        .select(Purchase::as_select())
        .limit(1)
        .prepared()
}

/// Whether `buyer` has access to `course`.
pub async fn owns(conn: &mut AsyncPgConnection, buyer: Uuid, course: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        purchases::table
            .filter(purchases::buyer_id.eq(buyer))
            .filter(purchases::course_id.eq(course))
            .filter(purchases::status.eq(COMPLETED)),
    ))
    .get_result(conn)
    .await
}

/// Attach billing's payment to a purchase that has none yet; `None` when it has one (a concurrent
/// attempt attached it first: the row lock orders the two, and the second sees the first's).
pub async fn set_payment(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    payment_id: Uuid,
    client_secret: Option<&str>,
) -> QueryResult<Option<Purchase>> {
    diesel::update(purchases::table.find(id).filter(purchases::payment_id.is_null()))
        .set((
            purchases::payment_id.eq(payment_id),
            purchases::client_secret.eq(client_secret),
            purchases::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Purchase::as_returning())
        .prepared()
        .get_result(conn)
        .await
        .optional()
}

/// What a completion books on the purchase.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    pub payment_id: Option<Uuid>,
    pub net_amount: Decimal,
    pub tax: Decimal,
    pub instructor_share: Decimal,
    pub platform_share: Decimal,
    pub at: DateTime<Utc>,
}

pub async fn complete(mut conn: &AsyncPgConnection, id: Uuid, c: &Completion) -> QueryResult<Purchase> {
    let Completion { payment_id, net_amount, tax, instructor_share, platform_share, at } = *c;
    diesel::update(purchases::table.find(id))
        .set((
            purchases::status.eq(COMPLETED),
            purchases::net_amount.eq(net_amount),
            purchases::tax.eq(tax),
            purchases::payment_id.eq(payment_id),
            purchases::instructor_share.eq(instructor_share),
            purchases::platform_share.eq(platform_share),
            purchases::completed_at.eq(at),
            purchases::failure_code.eq(None::<String>),
            purchases::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Purchase::as_returning())
        .prepared()
        .get_result(&mut conn)
        .await
}

/// Record the discount of the voucher rewards reserved for the purchase.
pub async fn apply_voucher(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    discount: Decimal,
    at: DateTime<Utc>,
) -> QueryResult<Purchase> {
    diesel::update(purchases::table.find(id))
        .set((
            purchases::discount.eq(discount),
            purchases::voucher_reserved_at.eq(at),
            purchases::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Purchase::as_returning())
        .prepared()
        .get_result(conn)
        .await
}

/// The purchase gave its voucher back (the release event is written in the same transaction).
pub async fn voucher_released(conn: &mut AsyncPgConnection, id: Uuid, at: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(purchases::table.find(id).filter(purchases::voucher_released_at.is_null()))
        .set(purchases::voucher_released_at.eq(at))
        .prepared()
        .execute(conn)
        .await
}

/// Forget a purchase whose voucher rewards refused: nothing happened to it yet (no payment, no
/// reservation, no event), so the refused request leaves nothing behind.
pub async fn forget_unreserved(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(
        purchases::table
            .find(id)
            .filter(purchases::status.eq(PENDING))
            .filter(purchases::payment_id.is_null())
            .filter(purchases::voucher_reserved_at.is_null()),
    )
    .execute(conn)
    .await
}

pub async fn fail(conn: &mut AsyncPgConnection, id: Uuid, code: Option<&str>) -> QueryResult<usize> {
    diesel::update(purchases::table.find(id))
        .set((
            purchases::status.eq(FAILED),
            purchases::failure_code.eq(code),
            purchases::client_secret.eq(None::<String>),
            purchases::updated_at.eq(diesel::dsl::now),
        ))
        .prepared()
        .execute(conn)
        .await
}

/// Close a purchase that will never be paid or used: `failed`, with the reason its payment is voided.
pub async fn close(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    reason: &str,
    failure_code: Option<&str>,
) -> QueryResult<Purchase> {
    diesel::update(purchases::table.find(id))
        .set((
            purchases::status.eq(FAILED),
            purchases::closed_reason.eq(reason),
            purchases::failure_code.eq(failure_code),
            purchases::client_secret.eq(None::<String>),
            purchases::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Purchase::as_returning())
        .prepared()
        .get_result(conn)
        .await
}

/// The buyer's failed purchases of the course that could still be paid (a declined card the buyer
/// may retry), locked: a new purchase supersedes them.
pub async fn lock_payable_failed(
    mut conn: &AsyncPgConnection,
    buyer: Uuid,
    course: Uuid,
) -> QueryResult<Vec<Purchase>> {
    payable_failed_query(buyer, course).load(&mut conn).await
}

/// The statement of [`lock_payable_failed`], apart so a test can read its generic plan. The
/// status is a literal: `purchases_payable_failed` is partial on it (`platform::db::text_literal`).
pub fn payable_failed_query(buyer: Uuid, course: Uuid) -> impl PurchaseQuery {
    purchases::table
        .filter(purchases::buyer_id.eq(buyer))
        .filter(purchases::course_id.eq(course))
        .filter(purchases::status.eq(platform::db::text_literal(FAILED)))
        .filter(purchases::closed_reason.is_null())
        .for_update()
        .select(Purchase::as_select())
        .prepared()
}

/// Claims up to `batch` purchases created more than `expiry_minutes` before the pass's `now` (the
/// wall clock's pass: purchases on no test clock; a test clock's pass: the purchases on it, in its
/// time) that were never paid (pending, or declined and not retried) and are not closed, skipping
/// those another replica holds and those attempted less than `retry_secs` ago (database time):
/// each is stamped `expiry_attempted_at` in the same statement. Returns their ids, oldest first.
/// Read through `purchases_expiry_due`, whose predicate `created_at < $1` implies and the buyer's
/// lookups cannot (migration 2026-12-22-100002).
pub async fn claim_expired(
    conn: &mut AsyncPgConnection,
    pass: Pass,
    expiry_minutes: i64,
    retry_secs: i64,
    batch: i64,
) -> QueryResult<Vec<Uuid>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let cutoff = pass.now - chrono::Duration::minutes(expiry_minutes);
    let rows: Vec<Id> = diesel::sql_query(
        "UPDATE purchases SET expiry_attempted_at = now() \
         WHERE id IN ( \
             SELECT id FROM purchases \
             WHERE status IN ('pending', 'failed') AND closed_reason IS NULL AND created_at < $1 \
               AND test_clock_id IS NOT DISTINCT FROM $4 \
               AND (expiry_attempted_at IS NULL OR expiry_attempted_at < now() - $2 * interval '1 second') \
             ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING id",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(cutoff)
    .bind::<diesel::sql_types::BigInt, _>(retry_secs)
    .bind::<diesel::sql_types::BigInt, _>(batch)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(pass.clock)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Purchase>> {
    purchases::table.find(id).select(Purchase::as_select()).first(conn).await.optional()
}

pub struct RefundUpdate {
    pub refunded_amount: Decimal,
    pub instructor_reversed: Decimal,
    pub platform_reversed: Decimal,
    pub status: &'static str,
}

pub async fn record_refund(conn: &mut AsyncPgConnection, id: Uuid, u: &RefundUpdate) -> QueryResult<usize> {
    diesel::update(purchases::table.find(id))
        .set((
            purchases::refunded_amount.eq(u.refunded_amount),
            purchases::instructor_reversed.eq(u.instructor_reversed),
            purchases::platform_reversed.eq(u.platform_reversed),
            purchases::status.eq(u.status),
            purchases::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Keyset position in "my courses": most recently bought first.
pub use super::Keyset as MineCursor;

/// The courses `buyer` has access to, with the purchase, newest purchase first.
pub async fn mine(
    conn: &mut AsyncPgConnection,
    buyer: Uuid,
    after: Option<MineCursor>,
    limit: i64,
) -> QueryResult<Vec<(Purchase, Course)>> {
    let mut query = purchases::table
        .inner_join(courses::table)
        .filter(purchases::buyer_id.eq(buyer))
        .filter(purchases::status.eq(COMPLETED))
        .select((Purchase::as_select(), Course::as_select()))
        .order((purchases::completed_at.desc(), purchases::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = after {
        query = query
            .filter(purchases::completed_at.lt(c.at).or(purchases::completed_at.eq(c.at).and(purchases::id.lt(c.id))));
    }
    query.load(conn).await
}
