use super::schema::subscriptions;
use chrono::{DateTime, Utc};
use diesel::dsl::now as now_db;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::test_clocks::Pass;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, AsChangeset)]
#[diesel(table_name = subscriptions, treat_none_as_null = true)]
pub struct Subscription {
    pub id: Uuid,
    pub user_id: Uuid,
    pub tier: String,
    pub status: String,
    pub anchor_day: i32,
    pub current_period_start: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub pending_tier: Option<String>,
    pub first_payment_deadline: DateTime<Utc>,
    pub past_due_since: Option<DateTime<Utc>>,
    pub dunning_attempts: i32,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A pause (scheduled, or under way when `status` is `paused`): how many periods, from when
    /// (the end of the paid period) and until when.
    pub pause_periods: Option<i32>,
    pub pause_starts_at: Option<DateTime<Utc>>,
    pub pause_resumes_at: Option<DateTime<Utc>>,
    /// What it is billed in, for its whole life (CHAR(3): may come back padded; compare trimmed).
    pub currency: String,
    /// The end of the free trial it began with (its first period while `trialing`).
    pub trial_end: Option<DateTime<Utc>>,
    /// The test clock it lives on (sandbox only): its time is the clock's, not the wall's.
    pub test_clock_id: Option<Uuid>,
}

/// Create a subscription, and its first row of MRR history in the same transaction.
pub async fn insert(conn: &mut AsyncPgConnection, s: &Subscription) -> QueryResult<Subscription> {
    let created = diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::id.eq(s.id),
            subscriptions::user_id.eq(s.user_id),
            subscriptions::tier.eq(&s.tier),
            subscriptions::status.eq(&s.status),
            subscriptions::anchor_day.eq(s.anchor_day),
            subscriptions::currency.eq(&s.currency),
            subscriptions::current_period_start.eq(s.current_period_start),
            subscriptions::current_period_end.eq(s.current_period_end),
            subscriptions::trial_end.eq(s.trial_end),
            subscriptions::test_clock_id.eq(s.test_clock_id),
            subscriptions::first_payment_deadline.eq(s.first_payment_deadline),
            subscriptions::created_at.eq(s.created_at),
            subscriptions::updated_at.eq(s.updated_at),
        ))
        .returning(Subscription::as_returning())
        .get_result(conn)
        .await?;
    super::mrr::record(conn, None, &created).await?;
    Ok(created)
}

/// Write every field back (the caller changed it under a row lock), and record the change of tier,
/// status and MRR in the history in the same transaction: every write of a subscription passes
/// here, so the history cannot miss one.
pub async fn save(conn: &mut AsyncPgConnection, s: &Subscription) -> QueryResult<Subscription> {
    let before = subscriptions::table.find(s.id).select(Subscription::as_select()).first(conn).await?;
    let saved = diesel::update(subscriptions::table.find(s.id))
        .set(s)
        .returning(Subscription::as_returning())
        .get_result(conn)
        .await?;
    super::mrr::record(conn, Some(&before), &saved).await?;
    Ok(saved)
}

/// The user's live subscription (incomplete, trialing, active, past_due or paused), locked.
pub async fn lock_live(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<Subscription>> {
    subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .filter(subscriptions::status.eq_any(["incomplete", "trialing", "active", "past_due", "paused"]))
        .for_update()
        .select(Subscription::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Subscription>> {
    subscriptions::table.find(id).for_update().select(Subscription::as_select()).first(conn).await.optional()
}

/// The user's most recent subscription, live or not.
pub async fn latest(mut conn: &AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<Subscription>> {
    subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .order(subscriptions::created_at.desc())
        .select(Subscription::as_select())
        .first(&mut conn)
        .await
        .optional()
}

/// Subscriptions the scheduler must look at, locked and skipped by other replicas.
/// How long a replica's renewal charge keeps the subscription from the other replicas'
/// schedulers: billing's client timeout (15 s) and the answer's transaction, with room to spare.
/// Should the replica die mid-charge, another one takes the renewal after this long, and reaches
/// the same billing payment (the charge id is deterministic).
pub const RENEWAL_LEASE_SECS: i32 = 60;

/// Claim the subscription's renewal for [`RENEWAL_LEASE_SECS`], in the transaction that locked it.
pub async fn claim_renewal(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    let until = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>(&format!(
        "now() + interval '{RENEWAL_LEASE_SECS} seconds'"
    ));
    diesel::update(subscriptions::table.find(id))
        .set(subscriptions::renewal_claimed_until.eq(until))
        .execute(conn)
        .await
}

/// Give the renewal back once billing's answer is recorded (or billing could not be reached), so
/// a dunning retry or the next tick does not wait for the lease.
pub async fn release_renewal(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::update(subscriptions::table.find(id))
        .set(subscriptions::renewal_claimed_until.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await
}

type Condition = Box<dyn BoxableExpression<subscriptions::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>>;

/// The subscriptions a pass may touch: the wall-clock pass only those on no clock, a test
/// clock's pass only its own.
fn on_clock(pass: Pass) -> Condition {
    match pass.clock {
        None => Box::new(subscriptions::test_clock_id.is_null()),
        Some(clock) => Box::new(subscriptions::test_clock_id.eq(clock).assume_not_null()),
    }
}

/// Due at the pass's `now` (the business clock, or a test clock's time), on the pass's clock: the
/// wall-clock pass takes only the subscriptions on no clock.
fn due(pass: Pass) -> Condition {
    let now = pass.now;
    Box::new(
        on_clock(pass).and(
            subscriptions::status
                .eq("active")
                .and(subscriptions::current_period_end.le(now))
                .or(subscriptions::status.eq("past_due").and(subscriptions::next_retry_at.le(now)))
                .or(subscriptions::status.eq("incomplete").and(subscriptions::first_payment_deadline.le(now)))
                .or(subscriptions::status.eq("paused").and(subscriptions::pause_resumes_at.le(now)))
                .or(subscriptions::status.eq("trialing").and(subscriptions::current_period_end.le(now)))
                .assume_not_null(),
        ),
    )
}

/// Up to `limit` subscriptions [`due`] in the pass, locked, skipping rows another transaction
/// holds and renewals another replica has out at billing.
pub async fn lock_due(
    conn: &mut AsyncPgConnection,
    pass: Pass,
    skip: &[Uuid],
    limit: i64,
) -> QueryResult<Vec<Subscription>> {
    subscriptions::table
        .filter(due(pass))
        .filter(subscriptions::id.ne_all(skip))
        .filter(subscriptions::renewal_claimed_until.is_null().or(subscriptions::renewal_claimed_until.le(now_db)))
        .order(subscriptions::updated_at.asc())
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(Subscription::as_select())
        .load(conn)
        .await
}

/// Trials on the pass's clock ending within `notice` of its `now` whose `trial_will_end` has not gone out, each marked
/// sent in this statement (so it goes out once, whatever the replicas): the caller enqueues the
/// events in the same transaction.
pub async fn take_trials_ending(
    conn: &mut AsyncPgConnection,
    pass: Pass,
    notice: chrono::Duration,
    limit: i64,
) -> QueryResult<Vec<Subscription>> {
    let now = pass.now;
    let due: Vec<Uuid> = subscriptions::table
        .filter(on_clock(pass))
        .filter(subscriptions::status.eq("trialing"))
        .filter(subscriptions::trial_will_end_sent.eq(false))
        .filter(subscriptions::cancel_at_period_end.eq(false))
        // A change to Free ends the trial at its end: nothing will be charged, nothing to announce.
        .filter(subscriptions::pending_tier.is_null().or(subscriptions::pending_tier.ne("free")))
        .filter(subscriptions::current_period_end.le(now + notice))
        .filter(subscriptions::current_period_end.gt(now))
        .order(subscriptions::current_period_end.asc())
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(subscriptions::id)
        .load(conn)
        .await?;
    diesel::update(subscriptions::table.filter(subscriptions::id.eq_any(&due)))
        .set(subscriptions::trial_will_end_sent.eq(true))
        .execute(conn)
        .await?;
    subscriptions::table.filter(subscriptions::id.eq_any(&due)).select(Subscription::as_select()).load(conn).await
}

/// Whether anything is still [`due`] in the pass (locked or out at billing included).
pub async fn any_due(conn: &mut AsyncPgConnection, pass: Pass) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(subscriptions::table.filter(due(pass)))).get_result(conn).await
}
