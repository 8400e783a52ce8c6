//! Event handlers: marketplace and subscription events become tokens through the earning rules.
//! Each runs inside the consumer's transaction that also writes the inbox row, so a redelivered
//! event is skipped before it gets here; a second event for the same cause (same purchase, same
//! course review) is stopped by the ledger's unique (source, idempotency_ref).

use crate::domain::earning::{self, clawback_target, purchase_rule};
use crate::domain::week::IsoWeek;
use crate::ledger::{self, Clawback, Credit};
use crate::store::{accounts, purchases, rules, vouchers};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::erasure::{ErasureConfirmation, ErasureOrigin, CONFIRMATIONS};
use events::catalog::identity::UserErased;
use events::catalog::marketplace::{
    CoursePurchased, PurchaseRefunded, ReviewPosted, VoucherReleased, VoucherReleasedV2,
};
use events::{CloudEvent, DomainEvent, EventHandler, HandlerError};
use futures_util::future::BoxFuture;
use platform::clock::Clock;
use platform::money::Money;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

/// Subscriptions has not defined its event type yet: only the fields rewards needs are read, and
/// unknown ones are ignored, so the producer can add fields freely.
pub const SUBSCRIPTION_RENEWED: &str = "subscriptions.subscription.renewed.v1";

#[derive(Debug, Deserialize)]
struct SubscriptionRenewed {
    user_id: Uuid,
    subscription_id: Uuid,
}

/// The parts of marketplace's purchase events rewards reads (lenient: marketplace may add fields).
#[derive(Debug, Deserialize)]
struct Purchased {
    purchase_id: Uuid,
    buyer_id: Uuid,
    gross: Money,
}

#[derive(Debug, Deserialize)]
struct Refunded {
    purchase_id: Uuid,
    buyer_id: Uuid,
    refunded_amount: Money,
    fully_refunded: bool,
    /// Absent in events published before it existed: then `fully_refunded` says it.
    access_ended: Option<bool>,
    refunded_at: DateTime<Utc>,
}

fn data<T: serde::de::DeserializeOwned>(event: &CloudEvent) -> Result<T, HandlerError> {
    serde_json::from_value(event.data.clone()).map_err(|e| HandlerError::Reject(format!("{}: {e}", event.event_type)))
}

pub struct Handlers {
    pub clock: Arc<dyn Clock>,
}

impl EventHandler for Handlers {
    fn subscriptions(&self) -> Vec<&'static str> {
        vec![
            CoursePurchased::TYPE,
            PurchaseRefunded::TYPE,
            ReviewPosted::TYPE,
            VoucherReleased::TYPE,
            VoucherReleasedV2::TYPE,
            SUBSCRIPTION_RENEWED,
        ]
        .into_iter()
        .chain([UserErased::TYPE])
        .chain(CONFIRMATIONS.iter().copied())
        .collect()
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        event: &'a CloudEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = self.clock.now();
            match event.event_type.as_str() {
                CoursePurchased::TYPE => on_purchase(conn, now, &data(event)?).await,
                PurchaseRefunded::TYPE => on_refund(conn, now, &data(event)?).await,
                VoucherReleasedV2::TYPE => {
                    let r: VoucherReleasedV2 = event.data_as().map_err(HandlerError::Reject)?;
                    on_voucher_released(conn, now, r.purchase_id, &r.reason).await
                }
                // Published before v2 (in flight during the upgrade): its code is not needed.
                VoucherReleased::TYPE => {
                    let r: VoucherReleased = event.data_as().map_err(HandlerError::Reject)?;
                    on_voucher_released(conn, now, r.purchase_id, &r.reason).await
                }
                ReviewPosted::TYPE => on_review(conn, now, &event.data_as().map_err(HandlerError::Reject)?).await,
                SUBSCRIPTION_RENEWED => {
                    let renewed: SubscriptionRenewed = serde_json::from_value(event.data.clone())
                        .map_err(|e| HandlerError::Reject(format!("{SUBSCRIPTION_RENEWED}: {e}")))?;
                    on_renewal(conn, now, event.id, &renewed).await
                }
                UserErased::TYPE => {
                    let erased: UserErased = event.data_as().map_err(HandlerError::Reject)?;
                    let by = format!("identity:{}", event.id);
                    crate::erasure::request(conn, erased.user_id, ErasureOrigin::Identity, &by, now).await?;
                    Ok(())
                }
                t if CONFIRMATIONS.contains(&t) => {
                    crate::erasure::confirmed(conn, &data::<ErasureConfirmation>(event)?, now).await
                }
                other => {
                    tracing::debug!(event_type = other, "rewards ignores this event type");
                    Ok(())
                }
            }
        })
    }
}

/// One occurrence of something an earning rule pays for.
struct Earning<'a> {
    rule: &'a str,
    user: Uuid,
    spent: Option<(Decimal, &'a str)>,
    reference: &'a str,
    source: &'a str,
    idempotency_ref: &'a str,
}

/// Apply the rule once per (source, idempotency_ref), within its daily cap. Returns the tokens
/// granted (0 when capped, inactive or already granted).
async fn earn(conn: &mut AsyncPgConnection, now: DateTime<Utc>, e: &Earning<'_>) -> Result<i64, HandlerError> {
    let Some(rule) = rules::find(conn, e.rule).await? else {
        tracing::warn!(rule = e.rule, "earning rule missing; nothing granted");
        return Ok(0);
    };
    let requested = rule.tokens_for(e.spent);
    if requested <= 0 {
        return Ok(0);
    }
    let credit = Credit {
        user: e.user,
        amount: requested,
        reason: &rule.description,
        reference: Some(e.reference),
        source: e.source,
        idempotency_ref: e.idempotency_ref,
    };
    let Some(granted) = ledger::earn(conn, now, &rule.id, &credit, rule.daily_cap).await? else {
        return Ok(0);
    };
    if granted <= 0 {
        tracing::info!(rule = %rule.id, user = %e.user, "daily cap reached; nothing granted");
    }
    Ok(granted)
}

/// Tokens for a paid purchase by `course_purchased`; a free one by `course_enrolled_free`, whose
/// daily cap is 0 unless raised (free enrolments were farmed for tokens).
async fn on_purchase(conn: &mut AsyncPgConnection, now: DateTime<Utc>, p: &Purchased) -> Result<(), HandlerError> {
    // A voucher reserved for this purchase is spent now (none: nothing happens). Before the
    // early return below: a purchase seen before still consumes its voucher exactly once.
    // Both in one round trip (pipelined): neither depends on the other.
    let (_, seen) =
        futures_util::try_join!(vouchers::consume(conn, p.purchase_id, now), purchases::lock(conn, p.purchase_id))?;
    if seen.is_some() {
        // Seen before, or refunded before we heard of it: a refunded purchase earns nothing.
        return Ok(());
    }
    let purchase = p.purchase_id.to_string();
    let granted = earn(
        conn,
        now,
        &Earning {
            rule: purchase_rule(p.gross.amount),
            user: p.buyer_id,
            spent: Some((p.gross.amount, p.gross.currency.code())),
            reference: &purchase,
            source: CoursePurchased::TYPE,
            idempotency_ref: &purchase,
        },
    )
    .await?;
    purchases::insert(
        conn,
        &purchases::PurchaseReward {
            purchase_id: p.purchase_id,
            user_id: p.buyer_id,
            tokens: granted,
            gross: Some(p.gross.amount),
            currency: Some(p.gross.currency.code().to_string()),
            refunded: Decimal::ZERO,
            fully_refunded: false,
            tokens_clawed: 0,
            earned_at: now,
        },
    )
    .await?;
    Ok(())
}

/// Claw back what the purchase earned: all of it once the buyer's access ended, else (a partial
/// goodwill refund that keeps access) the share of the money given back.
async fn on_refund(conn: &mut AsyncPgConnection, now: DateTime<Utc>, r: &Refunded) -> Result<(), HandlerError> {
    let access_ended = r.access_ended.unwrap_or(r.fully_refunded);
    // One refund = one (purchase, refunded_at): the same refund announced twice claws once.
    let idempotency_ref = format!("{}@{}", r.purchase_id, r.refunded_at.to_rfc3339());
    if accounts::posted(conn, PurchaseRefunded::TYPE, &idempotency_ref).await?.is_some() {
        return Ok(());
    }
    let Some(row) = purchases::lock(conn, r.purchase_id).await? else {
        // The refund overtook the purchase: remember it so the purchase earns nothing later.
        purchases::insert(
            conn,
            &purchases::PurchaseReward {
                purchase_id: r.purchase_id,
                user_id: r.buyer_id,
                tokens: 0,
                gross: None,
                currency: None,
                refunded: r.refunded_amount.amount,
                fully_refunded: access_ended,
                tokens_clawed: 0,
                earned_at: now,
            },
        )
        .await?;
        return Ok(());
    };
    let refunded = row.refunded + r.refunded_amount.amount;
    // `fully_refunded` on the row records that the purchase no longer stands (access ended).
    let fully = row.fully_refunded || access_ended;
    let target = clawback_target(row.tokens, row.gross.unwrap_or(Decimal::ZERO), refunded, fully);
    let claw = (target - row.tokens_clawed).max(0);
    if claw > 0 {
        let purchase = r.purchase_id.to_string();
        ledger::claw_back(
            conn,
            now,
            &Clawback {
                user: row.user_id,
                amount: claw,
                reason: if fully { "Course purchase refunded" } else { "Course purchase partly refunded (goodwill)" },
                reference: Some(&purchase),
                source: PurchaseRefunded::TYPE,
                idempotency_ref: &idempotency_ref,
                earned_week: IsoWeek::of(row.earned_at),
            },
        )
        .await?;
    }
    purchases::record_refund(conn, r.purchase_id, refunded, fully, row.tokens_clawed + claw).await?;
    Ok(())
}

/// Marketplace gives back the voucher a purchase reserved: usable again until it expires. Only if
/// that purchase still holds it, so a duplicate or late release never frees a voucher that was
/// reserved again since.
async fn on_voucher_released(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    purchase: Uuid,
    reason: &str,
) -> Result<(), HandlerError> {
    match vouchers::release(conn, purchase, now).await? {
        Some(v) => tracing::info!(purchase = %purchase, reason = %reason, status = %v.status, "voucher released"),
        None => tracing::debug!(purchase = %purchase, "voucher release for a purchase that no longer holds it"),
    }
    Ok(())
}

async fn on_review(conn: &mut AsyncPgConnection, now: DateTime<Utc>, r: &ReviewPosted) -> Result<(), HandlerError> {
    // Once per course and reviewer, whatever the review id.
    let once = format!("{}:{}", r.course_id, r.reviewer_id);
    let review = r.review_id.to_string();
    earn(
        conn,
        now,
        &Earning {
            rule: earning::REVIEW_POSTED,
            user: r.reviewer_id,
            spent: None,
            reference: &review,
            source: ReviewPosted::TYPE,
            idempotency_ref: &once,
        },
    )
    .await
    .map(|_| ())
}

async fn on_renewal(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    event_id: Uuid,
    r: &SubscriptionRenewed,
) -> Result<(), HandlerError> {
    let subscription = r.subscription_id.to_string();
    let once = event_id.to_string();
    earn(
        conn,
        now,
        &Earning {
            rule: earning::SUBSCRIPTION_RENEWED,
            user: r.user_id,
            spent: None,
            reference: &subscription,
            source: SUBSCRIPTION_RENEWED,
            idempotency_ref: &once,
        },
    )
    .await
    .map(|_| ())
}
