use super::schema::subscriptions;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
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

/// The user's live subscription (incomplete, active or past_due), locked.
pub async fn lock_live(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<Subscription>> {
    subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .filter(subscriptions::status.eq_any(["incomplete", "active", "past_due"]))
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
pub async fn latest(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<Subscription>> {
    subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .order(subscriptions::created_at.desc())
        .select(Subscription::as_select())
        .first(conn)
        .await
        .optional()
}

/// Subscriptions the scheduler must look at, locked and skipped by other replicas.
pub async fn lock_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    skip: &[Uuid],
    limit: i64,
) -> QueryResult<Vec<Subscription>> {
    subscriptions::table
        .filter(subscriptions::id.ne_all(skip))
        .filter(
            subscriptions::status
                .eq("active")
                .and(subscriptions::current_period_end.le(now))
                .or(subscriptions::status.eq("past_due").and(subscriptions::next_retry_at.le(now)))
                .or(subscriptions::status.eq("incomplete").and(subscriptions::first_payment_deadline.le(now))),
        )
        .order(subscriptions::updated_at.asc())
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(Subscription::as_select())
        .load(conn)
        .await
}
