//! Completing, failing and refunding purchases: shared by the purchase endpoint (free courses) and
//! the handlers of billing's events. Every function runs inside the caller's transaction.

use crate::domain::earnings::{matures_at, reversal_status};
use crate::domain::purchase::{self as rules, OnPaid, OnRefund};
use crate::domain::split::{reversal, split, Shares};
use crate::error::MarketError;
use crate::store::purchases::{self, Purchase, RefundUpdate, COMPLETED, FAILED, PENDING, REFUNDED};
use crate::store::{courses, earnings};
use crate::State;
use diesel_async::AsyncPgConnection;
use events::catalog::marketplace::{CoursePurchased, PaymentVoidRequested, PurchaseRefunded};
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

/// Billing says the purchase's payment succeeded. Money nobody can use any more (the purchase was
/// closed, or the buyer owns the course through another purchase) is handed back through a void
/// request; it never grants a second time.
pub async fn on_paid(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    payment_id: Uuid,
) -> Result<(), MarketError> {
    let other = if purchase.status == FAILED {
        purchases::live(conn, purchase.buyer_id, purchase.course_id).await?.filter(|o| o.id != purchase.id)
    } else {
        None
    };
    match rules::on_paid(&purchase.status, purchase.closed_reason.as_deref(), other.as_ref().map(|o| o.status.as_str()))
    {
        OnPaid::Ignore => {}
        OnPaid::Complete => {
            complete(conn, state, purchase, Some(payment_id)).await?;
        }
        OnPaid::CompleteSupersedingOther => {
            if let Some(other) = other {
                let other = purchases::lock(conn, other.id).await?.unwrap_or(other);
                close(conn, state, &other, rules::PURCHASE_SUPERSEDED).await?;
            }
            complete(conn, state, purchase, Some(payment_id)).await?;
        }
        OnPaid::Void(reason) => {
            tracing::warn!(purchase = %purchase.id, %payment_id, reason, "payment succeeded for a purchase that cannot use it: voiding it");
            if purchase.closed_reason.is_none() {
                purchases::close(conn, purchase.id, reason, purchase.failure_code.as_deref()).await?;
            }
            request_void(conn, state, purchase.buyer_id, purchase.id, payment_id, reason).await?;
        }
    }
    Ok(())
}

/// Close a purchase that will never be paid or used, and ask billing to void its payment (cancel
/// the intent, or refund it if it succeeds anyway).
pub async fn close(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    reason: &'static str,
) -> Result<(), MarketError> {
    if purchase.closed_reason.is_some() || !matches!(purchase.status.as_str(), PENDING | FAILED) {
        return Ok(());
    }
    let failure_code = purchase.failure_code.as_deref().unwrap_or(reason);
    purchases::close(conn, purchase.id, reason, Some(failure_code)).await?;
    if let Some(payment_id) = purchase.payment_id {
        request_void(conn, state, purchase.buyer_id, purchase.id, payment_id, reason).await?;
    }
    Ok(())
}

/// A new purchase of the course supersedes the buyer's declined ones: their intents are canceled,
/// so re-confirming one of them can no longer charge a second time.
pub async fn supersede_failed(
    conn: &mut AsyncPgConnection,
    state: &State,
    buyer: Uuid,
    course: Uuid,
) -> Result<(), MarketError> {
    for earlier in purchases::lock_payable_failed(conn, buyer, course).await? {
        close(conn, state, &earlier, rules::PURCHASE_SUPERSEDED).await?;
    }
    Ok(())
}

async fn request_void(
    conn: &mut AsyncPgConnection,
    state: &State,
    buyer: Uuid,
    purchase: Uuid,
    payment_id: Uuid,
    reason: &str,
) -> Result<(), MarketError> {
    events::outbox::enqueue(
        conn,
        &PaymentVoidRequested {
            payment_id,
            user_id: buyer,
            reference_id: purchase.to_string(),
            reason: reason.to_string(),
            requested_at: state.clock.now(),
        },
    )
    .await?;
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

/// What billing says about a refund of the purchase's payment.
pub struct RefundNotice {
    /// Refunded so far, this refund included.
    pub total_refunded: Money,
    /// Billing's `ends_access` (its `fully_refunded` when an older producer left it out).
    pub ends_access: bool,
}

/// Reverse the shares for the refunded total (cumulative, from billing), proportionally for every
/// refund; revoke access when billing says the refund ends it (all but a partial goodwill
/// refund); announce it.
pub async fn on_refunded(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    notice: &RefundNotice,
) -> Result<Refunded, MarketError> {
    match rules::on_refund(&purchase.status, purchase.closed_reason.as_deref()) {
        OnRefund::Apply => {}
        OnRefund::NotYetCompleted => return Ok(Refunded::NotYetCompleted),
        OnRefund::Ignore => return Ok(Refunded::Ignored),
    }
    let total_refunded = notice.total_refunded;
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
    let status = rules::status_after_refund(&purchase.status, notice.ends_access, fully);
    purchases::record_refund(
        conn,
        purchase.id,
        &RefundUpdate {
            refunded_amount: new_total,
            instructor_reversed: already.instructor.amount + r.instructor.amount,
            platform_reversed: already.platform.amount + r.platform.amount,
            status,
        },
    )
    .await?;
    let access_ended = status == REFUNDED;
    if access_ended && purchase.status == COMPLETED {
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
            access_ended,
            refunded_at: now,
        },
    )
    .await?;
    Ok(Refunded::Applied)
}
