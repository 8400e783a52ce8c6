//! The one-statement redemption: `redeem_once` (migration 2026-12-11-200002_redeem_once) runs the
//! idempotency claim, the guarded debit, the ledger entry, the redemption, the voucher, the outbox
//! row and the idempotency record in one round trip and one commit.

use super::catalog::{Item, Voucher};
use diesel::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::catalog::rewards::TokensRedeemed;
use events::catalog::DomainEvent;
use platform::idempotency::Claim;
use uuid::Uuid;

mod sql {
    use diesel::sql_types::{BigInt, Jsonb, Nullable, Numeric, Text, Timestamptz, Uuid};
    diesel::define_sql_function! {
        #[allow(clippy::too_many_arguments)]
        fn redeem_once(
            scope: Text, key: Text, hash: Text,
            user: Uuid, item: Text, cost: Nullable<BigInt>, title: Nullable<Text>, discount: Nullable<Numeric>,
            currency: Nullable<Text>,
            at: Timestamptz, redemption_id: Uuid, transaction_id: Uuid, voucher: Nullable<Jsonb>,
            event_id: Uuid, event_type: Text, envelope: Text, answer: Jsonb
        ) -> Jsonb;
    }
}

/// One redemption, priced from the catalogue row `item` (`None`: no active item by that name).
pub struct RedeemOnce<'a> {
    pub claim: &'a Claim,
    pub user: Uuid,
    pub item_name: &'a str,
    pub item: Option<&'a Item>,
    pub redemption_id: Uuid,
    pub transaction_id: Uuid,
    /// The row to insert: the code's hash and prefix, never the code.
    pub voucher: Option<&'a Voucher>,
    /// Its `balance_after` is set by the statement.
    pub event: &'a TokensRedeemed,
    /// The answer to store and send, without the voucher's code (which is never at rest: the route
    /// adds it to a fresh answer only); its `balance_after` is set by the statement.
    pub answer: &'a serde_json::Value,
}

/// Run it; returns the statement's outcome (read by `platform::idempotency::ended`).
pub async fn redeem_once(conn: &mut AsyncPgConnection, r: &RedeemOnce<'_>) -> QueryResult<serde_json::Value> {
    let (envelope, text) = events::outbox::envelope(r.event)?;
    let voucher = r
        .voucher
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::select(sql::redeem_once(
        &r.claim.scope,
        &r.claim.key,
        &r.claim.hash,
        r.user,
        r.item_name,
        r.item.map(|i| i.cost),
        r.item.map(|i| i.title.as_str()),
        r.item.and_then(|i| i.voucher_discount),
        r.item.and_then(|i| i.voucher_currency.as_deref().map(str::trim)),
        r.event.redeemed_at,
        r.redemption_id,
        r.transaction_id,
        voucher,
        envelope.id,
        TokensRedeemed::TYPE,
        text,
        r.answer,
    ))
    .get_result(conn)
    .await
}
