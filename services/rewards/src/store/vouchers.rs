//! Vouchers at checkout: reserving one for a purchase, consuming it when the purchase completes,
//! releasing it when the purchase is closed or refunded.

use super::catalog::Voucher;
use super::schema::vouchers;
use crate::domain::voucher::{status_after_release, CONSUMED, ISSUED, RESERVED};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::db::PreparedDsl;
use uuid::Uuid;

/// The voucher whose code hashes to one of `hashes` (the code under the current and previous
/// hash keys, `CodeHasher::candidates`), locked: a reservation decides on the row it then
/// updates, so two purchases with one voucher queue on the lock and the second sees the first
/// one's reservation.
pub async fn lock_by_code_hash(conn: &mut AsyncPgConnection, hashes: &[Vec<u8>]) -> QueryResult<Option<Voucher>> {
    vouchers::table
        .filter(vouchers::code_hash.eq_any(hashes))
        .for_update()
        .select(Voucher::as_select())
        .first(conn)
        .await
        .optional()
}

/// Store the code's hash under the current hash key (it matched under a previous one).
pub async fn rehash_code(conn: &mut AsyncPgConnection, redemption: Uuid, hash: &[u8]) -> QueryResult<usize> {
    diesel::update(vouchers::table.find(redemption)).set(vouchers::code_hash.eq(hash)).execute(conn).await
}

/// Hold the (locked, checked) voucher for `purchase`. The status condition makes it atomic even
/// without the lock.
pub async fn reserve(
    conn: &mut AsyncPgConnection,
    redemption: Uuid,
    purchase: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Option<Voucher>> {
    diesel::update(vouchers::table.find(redemption).filter(vouchers::status.eq(ISSUED)))
        .set((vouchers::status.eq(RESERVED), vouchers::purchase_id.eq(purchase), vouchers::reserved_at.eq(now)))
        .returning(Voucher::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// The purchase holding a voucher completed: the voucher is spent. No-op for purchases without one
/// and for a voucher already released.
pub async fn consume(mut conn: &AsyncPgConnection, purchase: Uuid, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(vouchers::table.filter(vouchers::purchase_id.eq(purchase)).filter(vouchers::status.eq(RESERVED)))
        .set((vouchers::status.eq(CONSUMED), vouchers::consumed_at.eq(now)))
        .prepared()
        .execute(&mut conn)
        .await
}

/// Give back the voucher `purchase` holds, if it still holds one: usable again until it expires.
/// Found by the purchase, not the code (which is not kept): a release for a purchase that no
/// longer holds it (a duplicate, or the voucher was reserved again since) changes nothing;
/// returns whether it did.
pub async fn release(conn: &mut AsyncPgConnection, purchase: Uuid, now: DateTime<Utc>) -> QueryResult<Option<Voucher>> {
    let held = vouchers::table
        .filter(vouchers::purchase_id.eq(purchase))
        .for_update()
        .select(Voucher::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(v) = held else {
        return Ok(None);
    };
    diesel::update(vouchers::table.find(v.redemption_id))
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
