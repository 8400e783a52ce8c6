//! Taking and giving back seats on a license the caller has locked (`store::licenses::lock*`).

use crate::domain::license::Status;
use crate::domain::usage;
use crate::error::LicensingError;
use crate::store::licenses::{self, License};
use crate::store::seats::{self, Seat};
use crate::store::usage as usage_store;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::licensing::{SeatReleaseReason, SeatReleased, UsageThresholdReached};
use uuid::Uuid;

pub fn status_of(license: &License) -> Result<Status, LicensingError> {
    Status::parse(&license.status)
        .ok_or_else(|| LicensingError::Problem(platform::Problem::internal(format!("bad status {}", license.status))))
}

/// Release one active seat. Returns the released seat and the license as updated.
pub async fn release(
    conn: &mut AsyncPgConnection,
    license: &License,
    seat: &Seat,
    reason: SeatReleaseReason,
    now: DateTime<Utc>,
) -> Result<(Seat, License), LicensingError> {
    let released = seats::release(conn, seat.id, reason.as_str(), now).await?;
    let used = (license.seats_used - 1).max(0);
    let updated = usage_changed(conn, license, used, seat.user_id, "released", Some(reason.as_str()), now).await?;
    let license_version = licenses::next_version(conn, license.id).await?;
    events::outbox::enqueue(
        conn,
        &SeatReleased {
            seat_id: seat.id,
            user_id: seat.user_id,
            license_id: license.id,
            organization_id: license.organization_id,
            reason,
            released_at: now,
            license_version,
        },
    )
    .await?;
    Ok((released, updated))
}

/// Release every active seat (expiry, revocation). Returns how many and the updated license.
pub async fn release_all(
    conn: &mut AsyncPgConnection,
    license: &License,
    reason: SeatReleaseReason,
    now: DateTime<Utc>,
) -> Result<(u32, License), LicensingError> {
    let mut current = license.clone();
    let mut count = 0;
    for seat in seats::active_of_license(conn, license.id).await? {
        let (_, updated) = release(conn, &current, &seat, reason, now).await?;
        current = updated;
        count += 1;
    }
    Ok((count, current))
}

/// Book a change of the seats in use: the counter (its CHECK is the last line of defence), the
/// usage history, the day's row, and the utilisation alerts.
async fn usage_changed(
    conn: &mut AsyncPgConnection,
    license: &License,
    used: i32,
    user: Uuid,
    kind: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<License, LicensingError> {
    let mut updated = licenses::set_seats_used(conn, license, used, now).await?;
    usage_store::record_event(conn, license.id, user, kind, reason, used, now).await?;
    usage_store::record_day(conn, license.id, now.date_naive(), license.seats_used, used).await?;
    updated.alert_level = check_thresholds(conn, &updated, now).await?;
    Ok(updated)
}

/// Announce each utilisation threshold crossed upward since the last announcement. Returns the
/// level now stored.
pub async fn check_thresholds(
    conn: &mut AsyncPgConnection,
    license: &License,
    now: DateTime<Utc>,
) -> Result<i16, LicensingError> {
    let announced = u8::try_from(license.alert_level).unwrap_or(0);
    let (level, crossed) = usage::crossings(announced, license.seats_used, license.seats);
    if level != announced {
        licenses::set_alert_level(conn, license.id, i16::from(level)).await?;
    }
    for threshold in crossed {
        usage_store::insert_alert(conn, license.id, threshold, license.seats, license.seats_used, now).await?;
        events::outbox::enqueue(
            conn,
            &UsageThresholdReached {
                license_id: license.id,
                organization_id: license.organization_id,
                threshold_percent: threshold,
                seats: license.seats as u32,
                seats_used: license.seats_used as u32,
                reached_at: now,
            },
        )
        .await?;
    }
    Ok(i16::from(level))
}
