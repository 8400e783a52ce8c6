//! Completing, failing and refunding purchases: shared by the purchase endpoint (free courses) and
//! the handlers of billing's events. Every function runs inside the caller's transaction.

use crate::domain::earnings::{matures_at, reversal_status};
use crate::domain::split::{reversal, split, Shares};
use crate::error::MarketError;
use crate::store::purchases::{self, Purchase, RefundUpdate, COMPLETED, FAILED, PENDING, REFUNDED};
use crate::store::{courses, earnings};
use crate::State;
use diesel_async::AsyncPgConnection;
use events::catalog::marketplace::{CoursePurchased, PurchaseRefunded};
use platform::money::{Currency, Money};
use platform::Problem;
use rust_decimal::Decimal;
use uuid::Uuid;

pub fn currency_of(code: &str) -> Result<Currency, MarketError> {
    code.trim().parse::<Currency>().map_err(|e| MarketError::Problem(Problem::internal(e)))
}

/// Grant access, book the split into the instructor's pending earnings, announce the sale.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    payment_id: Option<Uuid>,
) -> Result<Purchase, MarketError> {
    let currency = currency_of(&purchase.currency)?;
    let gross = Money::round(purchase.price, currency);
    let shares = split(gross, purchase.split_rate);
    let now = state.clock.now();
    let done =
        purchases::complete(conn, purchase.id, payment_id, shares.instructor.amount, shares.platform.amount, now)
            .await?;
    courses::add_purchases(conn, purchase.course_id, 1).await?;
    if shares.instructor.amount > Decimal::ZERO {
        earnings::insert(
            conn,
            &earnings::NewLine {
                id: Uuid::now_v7(),
                instructor_id: purchase.instructor_id,
                purchase_id: purchase.id,
                course_id: purchase.course_id,
                kind: "sale",
                amount: shares.instructor.amount,
                currency: currency.code(),
                status: crate::domain::earnings::PENDING,
                available_at: matures_at(now, state.config.refund_window_days),
                created_at: now,
            },
        )
        .await?;
    }
    events::outbox::enqueue(
        conn,
        &CoursePurchased {
            purchase_id: purchase.id,
            course_id: purchase.course_id,
            buyer_id: purchase.buyer_id,
            instructor_id: purchase.instructor_id,
            gross,
            instructor_share: shares.instructor,
            platform_share: shares.platform,
            payment_id,
            purchased_at: now,
        },
    )
    .await?;
    Ok(done)
}

/// Billing says the purchase's payment succeeded.
pub async fn on_paid(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    payment_id: Uuid,
) -> Result<(), MarketError> {
    match purchase.status.as_str() {
        PENDING => {}
        // The buyer retried the same PaymentIntent with another card after a decline: the money
        // is taken, so the purchase completes, unless they bought the course again meanwhile.
        FAILED => match purchases::live(conn, purchase.buyer_id, purchase.course_id).await? {
            Some(other) if other.status == PENDING => {
                purchases::fail(conn, other.id, Some("superseded")).await?;
            }
            Some(other) => {
                tracing::error!(
                    purchase = %purchase.id, other = %other.id, %payment_id,
                    "payment succeeded for a failed purchase of a course the buyer already owns: refund it"
                );
                return Ok(());
            }
            None => {}
        },
        _ => return Ok(()),
    }
    complete(conn, state, purchase, Some(payment_id)).await?;
    Ok(())
}

pub async fn on_payment_failed(
    conn: &mut AsyncPgConnection,
    purchase: &Purchase,
    code: Option<&str>,
) -> Result<(), MarketError> {
    if purchase.status == PENDING {
        purchases::fail(conn, purchase.id, code).await?;
    }
    Ok(())
}

/// Outcome of applying a refund notification.
#[derive(Debug, PartialEq, Eq)]
pub enum Refunded {
    Applied,
    /// Nothing new: a duplicate or an older total.
    Ignored,
    /// The purchase has not completed yet here (the success event is still on its way).
    NotYetCompleted,
}

/// Reverse the shares for the refunded total (cumulative, from billing), revoke access when all
/// of it is refunded, and announce it.
pub async fn on_refunded(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    total_refunded: Money,
) -> Result<Refunded, MarketError> {
    if purchase.status != COMPLETED && purchase.status != REFUNDED {
        return Ok(Refunded::NotYetCompleted);
    }
    let currency = currency_of(&purchase.currency)?;
    if total_refunded.currency != currency {
        return Err(MarketError::Problem(Problem::internal("refund in another currency than the purchase")));
    }
    let new_total = total_refunded.amount.min(purchase.price);
    if new_total <= purchase.refunded_amount {
        return Ok(Refunded::Ignored);
    }
    let (Some(instructor), Some(platform)) = (purchase.instructor_share, purchase.platform_share) else {
        return Err(MarketError::Problem(Problem::internal("completed purchase without a booked split")));
    };
    let gross = Money::round(purchase.price, currency);
    let booked = Shares { instructor: Money::round(instructor, currency), platform: Money::round(platform, currency) };
    let already = Shares {
        instructor: Money::round(purchase.instructor_reversed, currency),
        platform: Money::round(purchase.platform_reversed, currency),
    };
    let r = reversal(gross, purchase.split_rate, &booked, new_total, &already);
    let fully = new_total >= purchase.price;
    purchases::record_refund(
        conn,
        purchase.id,
        &RefundUpdate {
            refunded_amount: new_total,
            instructor_reversed: already.instructor.amount + r.instructor.amount,
            platform_reversed: already.platform.amount + r.platform.amount,
            status: if fully { REFUNDED } else { COMPLETED },
        },
    )
    .await?;
    if fully && purchase.status == COMPLETED {
        courses::add_purchases(conn, purchase.course_id, -1).await?;
    }
    let now = state.clock.now();
    if r.instructor.amount > Decimal::ZERO {
        let sale = earnings::sale_of(conn, purchase.id).await?;
        let (status, available_at) = match &sale {
            Some(s) => reversal_status(&s.status, s.available_at, now),
            None => (crate::domain::earnings::AVAILABLE, now),
        };
        earnings::insert(
            conn,
            &earnings::NewLine {
                id: Uuid::now_v7(),
                instructor_id: purchase.instructor_id,
                purchase_id: purchase.id,
                course_id: purchase.course_id,
                kind: "refund",
                amount: -r.instructor.amount,
                currency: currency.code(),
                status,
                available_at,
                created_at: now,
            },
        )
        .await?;
    }
    events::outbox::enqueue(
        conn,
        &PurchaseRefunded {
            purchase_id: purchase.id,
            course_id: purchase.course_id,
            buyer_id: purchase.buyer_id,
            instructor_id: purchase.instructor_id,
            refunded_amount: Money::round(new_total - purchase.refunded_amount, currency),
            instructor_reversal: r.instructor,
            platform_reversal: r.platform,
            fully_refunded: fully,
            refunded_at: now,
        },
    )
    .await?;
    Ok(Refunded::Applied)
}
