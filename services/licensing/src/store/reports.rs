//! The licensing report's queries: licenses and seats now, utilization per organisation, the
//! renewal pipeline, and support tickets per interval (buckets of `platform::reports::Series`,
//! numbered by `width_bucket` over their starts) and priority.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Licenses in one status now, with their seats.
#[derive(Debug, Clone, QueryableByName)]
pub struct ByStatus {
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub licenses: i64,
    #[diesel(sql_type = BigInt)]
    pub seats: i64,
    #[diesel(sql_type = BigInt)]
    pub seats_used: i64,
}

pub async fn by_status(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ByStatus>> {
    diesel::sql_query(
        "SELECT status, count(*) AS licenses, coalesce(sum(seats), 0)::bigint AS seats, \
                coalesce(sum(seats_used), 0)::bigint AS seats_used FROM licenses GROUP BY 1 ORDER BY 1",
    )
    .load(conn)
    .await
}

/// An organisation's seats on its active licenses.
#[derive(Debug, Clone, QueryableByName)]
pub struct OrgUtilization {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub organization_id: Uuid,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub licenses: i64,
    #[diesel(sql_type = BigInt)]
    pub seats: i64,
    #[diesel(sql_type = BigInt)]
    pub seats_used: i64,
}

/// Organisations with an active license, least used first (the renewals at risk), `limit` of them.
pub async fn utilization(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<OrgUtilization>> {
    diesel::sql_query(
        "SELECT o.id AS organization_id, o.name, u.licenses, u.seats, u.seats_used FROM ( \
             SELECT organization_id, count(*) AS licenses, sum(seats)::bigint AS seats, \
                    sum(seats_used)::bigint AS seats_used \
               FROM licenses WHERE status = 'active' GROUP BY 1) AS u \
           JOIN organizations o ON o.id = u.organization_id \
          ORDER BY u.seats_used::numeric / u.seats, o.id LIMIT $1",
    )
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// Licenses (active or suspended) whose term ends within `days` of `now`: the renewal pipeline.
#[derive(Debug, Clone, QueryableByName)]
pub struct Expiring {
    #[diesel(sql_type = BigInt)]
    pub within_days: i64,
    #[diesel(sql_type = BigInt)]
    pub licenses: i64,
    #[diesel(sql_type = BigInt)]
    pub seats: i64,
}

pub async fn expiring(conn: &mut AsyncPgConnection, now: DateTime<Utc>, windows: &[i64]) -> QueryResult<Vec<Expiring>> {
    diesel::sql_query(
        "SELECT w.days AS within_days, count(l.id) AS licenses, coalesce(sum(l.seats), 0)::bigint AS seats \
           FROM unnest($2::bigint[]) AS w(days) \
           LEFT JOIN licenses l ON l.status IN ('active', 'suspended') \
                AND l.expires_at > $1 AND l.expires_at <= $1 + w.days * interval '1 day' \
          GROUP BY 1 ORDER BY 1",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<diesel::sql_types::Array<BigInt>, _>(windows)
    .load(conn)
    .await
}

/// Tickets opened in one interval at one priority, and how many of them breached their SLA (the
/// first response or the resolution came, or is still missing, after its due time).
#[derive(Debug, Clone, QueryableByName)]
pub struct Tickets {
    /// 1-based index into the report's buckets (PostgreSQL's `width_bucket`).
    #[diesel(sql_type = Integer)]
    pub bucket: i32,
    #[diesel(sql_type = Text)]
    pub priority: String,
    #[diesel(sql_type = BigInt)]
    pub opened: i64,
    #[diesel(sql_type = BigInt)]
    pub breached: i64,
    #[diesel(sql_type = BigInt)]
    pub first_response_breached: i64,
    #[diesel(sql_type = BigInt)]
    pub resolution_breached: i64,
}

pub async fn tickets(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<Tickets>> {
    diesel::sql_query(
        "SELECT width_bucket(created_at, $1) AS bucket, priority, count(*) AS opened, \
                count(*) FILTER (WHERE first_response_breached_at IS NOT NULL \
                                    OR resolution_breached_at IS NOT NULL) AS breached, \
                count(first_response_breached_at) AS first_response_breached, \
                count(resolution_breached_at) AS resolution_breached \
           FROM tickets WHERE created_at >= $2 AND created_at < $3 GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await
}
