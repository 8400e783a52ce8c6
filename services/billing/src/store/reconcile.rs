//! What the reconcile job asks Stripe about: payments and refunds that are not final and have not
//! changed (nor been asked about) for the configured age.

use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel::{QueryResult, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[derive(Debug, QueryableByName)]
struct PaymentId {
    #[diesel(sql_type = SqlUuid)]
    payment_id: Uuid,
}

/// Claims up to `limit` payments not succeeded or canceled, unchanged and not asked about for
/// `age_secs` (the later of `updated_at` and `reconciled_at` older than that; GREATEST ignores a
/// NULL, never asked), the longest-due first, by the index `payments_reconcile_due`: stamped
/// `reconciled_at = now()` in the same statement (`SKIP LOCKED`), so another replica takes others
/// and this one is asked about again only after another `age_secs`.
/// Payments flagged for review are a person's business, not the job's.
pub async fn claim_payments(conn: &mut AsyncPgConnection, age_secs: i64, limit: i64) -> QueryResult<Vec<Uuid>> {
    let rows: Vec<Id> = diesel::sql_query(
        "UPDATE payments SET reconciled_at = now() \
         WHERE id IN ( \
             SELECT id FROM payments \
             WHERE status NOT IN ('succeeded', 'canceled') AND review_flag IS NULL \
               AND GREATEST(updated_at, reconciled_at) < now() - $1 * interval '1 second' \
             ORDER BY GREATEST(updated_at, reconciled_at) LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING id",
    )
    .bind::<BigInt, _>(age_secs)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Claims refunds whose effect is not applied yet (pending, or succeeded and not announced), the
/// same way; returns their payments, once each (a charge's refunds are re-read together).
pub async fn claim_refunds(conn: &mut AsyncPgConnection, age_secs: i64, limit: i64) -> QueryResult<Vec<Uuid>> {
    let rows: Vec<PaymentId> = diesel::sql_query(
        "UPDATE refunds SET reconciled_at = now() \
         WHERE id IN ( \
             SELECT id FROM refunds \
             WHERE status NOT IN ('failed', 'canceled') AND (status <> 'succeeded' OR NOT announced) \
               AND updated_at < now() - $1 * interval '1 second' \
               AND (reconciled_at IS NULL OR reconciled_at < now() - $1 * interval '1 second') \
             ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING payment_id",
    )
    .bind::<BigInt, _>(age_secs)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    let mut ids: Vec<Uuid> = rows.into_iter().map(|r| r.payment_id).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}
