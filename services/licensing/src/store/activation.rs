//! The one-statement seat activation: `activate_seat_once` (migration
//! 2026-12-13-300001_activate_seat_once) runs the idempotency claim, the license's row lock, the
//! checks, the seat, the usage rows, the alerts, the outbox rows and the idempotency record in
//! one round trip and one commit.

use diesel::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::catalog::licensing::{SeatActivated, UsageThresholdReached};
use platform::idempotency::Claim;
use uuid::Uuid;

mod sql {
    use diesel::sql_types::{Array, Bytea, Int2, Jsonb, Nullable, Text, Timestamptz, Uuid};
    diesel::define_sql_function! {
        #[allow(clippy::too_many_arguments)]
        fn activate_seat_once(
            scope: Nullable<Text>, key: Nullable<Text>, hash: Nullable<Text>,
            key_hashes: Array<Bytea>, user: Uuid, at: Timestamptz, seat_id: Uuid,
            event_id: Uuid, envelope: Text,
            thresholds: Array<Int2>, threshold_event_ids: Array<Uuid>, threshold_envelopes: Array<Text>,
            answer: Jsonb
        ) -> Jsonb;
    }
}

/// One activation. The events and the answer are complete but for what comes from the license
/// row (its id, organisation, tier, expiry, seat count, version; the seat's number), which the
/// statement fills in.
pub struct ActivateOnce<'a> {
    /// `None`: no Idempotency-Key (nothing is claimed or recorded).
    pub claim: Option<&'a Claim>,
    /// The key's hash under every configured hash key, the current one first.
    pub key_hashes: &'a [Vec<u8>],
    pub user: Uuid,
    pub seat: &'a SeatActivated,
    /// One per threshold, announced when the activation crosses it.
    pub thresholds: &'a [UsageThresholdReached],
    /// The answer to a new seat (`ActivationView`); for a seat already held the statement puts
    /// that seat in.
    pub answer: &'a serde_json::Value,
}

/// Run it; returns the statement's outcome (read by `platform::idempotency::ended`).
pub async fn activate_seat_once(conn: &mut AsyncPgConnection, a: &ActivateOnce<'_>) -> QueryResult<serde_json::Value> {
    let (envelope, text) = events::outbox::envelope(a.seat)?;
    let mut levels = Vec::with_capacity(a.thresholds.len());
    let mut ids = Vec::with_capacity(a.thresholds.len());
    let mut texts = Vec::with_capacity(a.thresholds.len());
    for t in a.thresholds {
        let (envelope, text) = events::outbox::envelope(t)?;
        levels.push(i16::from(t.threshold_percent));
        ids.push(envelope.id);
        texts.push(text);
    }
    diesel::select(sql::activate_seat_once(
        a.claim.map(|c| c.scope.as_str()),
        a.claim.map(|c| c.key.as_str()),
        a.claim.map(|c| c.hash.as_str()),
        a.key_hashes,
        a.user,
        a.seat.activated_at,
        a.seat.seat_id,
        envelope.id,
        text,
        levels,
        ids,
        texts,
        a.answer,
    ))
    .get_result(conn)
    .await
}
