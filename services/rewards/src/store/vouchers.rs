//! Vouchers at checkout: reserving one for a purchase, consuming it when the purchase completes,
//! releasing it when the purchase is closed or refunded.

use super::catalog::Voucher;
use super::schema::vouchers;
use crate::domain::voucher::{status_after_release, CONSUMED, ISSUED, RESERVED};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// The voucher, locked: a reservation decides on the row it then updates, so two purchases with
/// one voucher queue on the lock and the second sees the first one's reservation.
pub async fn lock(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<Option<Voucher>> {
    vouchers::table.find(code).for_update().select(Voucher::as_select()).first(conn).await.optional()
}

/// Hold the (locked, checked) voucher for `purchase`. The status condition makes it atomic even
/// without the lock.
pub async fn reserve(
    conn: &mut AsyncPgConnection,
    code: &str,
    purchase: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Option<Voucher>> {
    diesel::update(vouchers::table.find(code).filter(vouchers::status.eq(ISSUED)))
        .set((vouchers::status.eq(RESERVED), vouchers::purchase_id.eq(purchase), vouchers::reserved_at.eq(now)))
        .returning(Voucher::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// The purchase holding a voucher completed: the voucher is spent. No-op for purchases without one
/// and for a voucher already released.
pub async fn consume(conn: &mut AsyncPgConnection, purchase: Uuid, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(vouchers::table.filter(vouchers::purchase_id.eq(purchase)).filter(vouchers::status.eq(RESERVED)))
        .set((vouchers::status.eq(CONSUMED), vouchers::consumed_at.eq(now)))
        .execute(conn)
        .await
}

/// Give the voucher back if `purchase` still holds it: usable again until it expires. A release
/// for a purchase that no longer holds it (a duplicate, or the voucher was reserved again since)
/// changes nothing; returns whether it did.
pub async fn release(
    conn: &mut AsyncPgConnection,
    code: &str,
    purchase: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Option<Voucher>> {
    let Some(v) = lock(conn, code).await? else {
        return Ok(None);
    };
    if v.purchase_id != Some(purchase) {
        return Ok(None);
    }
    diesel::update(vouchers::table.find(code))
        .set((
            vouchers::status.eq(status_after_release(v.expires_at, now)),
            vouchers::purchase_id.eq(None::<Uuid>),
            vouchers::reserved_at.eq(None::<DateTime<Utc>>),
            vouchers::consumed_at.eq(None::<DateTime<Utc>>),
        ))
        .returning(Voucher::as_returning())
        .get_result(conn)
        .await
        .map(Some)
}
