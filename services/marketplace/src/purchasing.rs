//! Completing, failing and refunding purchases: shared by the purchase endpoint (free courses) and
//! the handlers of billing's events. Every function runs inside the caller's transaction.

use crate::domain::earnings::{matures_at, reversal_status};
use crate::domain::promotion;
use crate::domain::purchase::{self as rules, OnPaid, OnRefund};
use crate::domain::split::{net_list, paid_reversal, reversal, split, split_discounted, Shares};
use crate::error::MarketError;
use crate::store::purchases::{self, Purchase, RefundUpdate, COMPLETED, FAILED, PENDING, REFUNDED};
use crate::store::{courses, earnings, promotions, sales};
use crate::State;
use diesel_async::AsyncPgConnection;
use events::catalog::marketplace::{CoursePurchased, PaymentVoidRequested, PurchaseRefunded, VoucherReleasedV2};
use platform::money::{Currency, Money};
use platform::Problem;
use rust_decimal::Decimal;
use uuid::Uuid;

pub fn currency_of(code: &str) -> Result<Currency, MarketError> {
    code.trim().parse::<Currency>().map_err(|e| MarketError::Problem(Problem::internal(e)))
}

/// What billing charged for a purchase, taken apart: the net (revenue, what splits) and the tax
/// (the tax authority's: neither the platform's nor the instructor's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    pub net: Money,
    pub tax: Money,
}

impl Charged {
    /// Nothing charged through billing (a free course, a voucher covering the price): untaxed.
    pub fn untaxed(purchase: &Purchase, currency: Currency) -> Self {
        Self { net: Money::round(purchase.amount_paid, currency), tax: Money::zero(currency) }
    }

    /// Billing's answer checked against the purchase: its currency, and a net no larger than what
    /// billing was asked to charge (an inclusive tax takes from it, an exclusive one adds beside).
    fn checked(self, purchase: &Purchase, currency: Currency) -> Result<Self, MarketError> {
        if self.net.currency != currency || self.tax.currency != currency {
            return Err(MarketError::Problem(Problem::internal("payment in another currency than the purchase")));
        }
        if self.net.amount > purchase.amount_paid
            || self.net.amount.is_sign_negative()
            || self.tax.amount.is_sign_negative()
        {
            return Err(MarketError::Problem(Problem::internal(format!(
                "billing reported a net of {} and a tax of {} for a charge of {}",
                self.net.amount, self.tax.amount, purchase.amount_paid
            ))));
        }
        Ok(self)
    }
}

/// The booked split of a sale, of its `net` (tax is nobody's revenue): the plain rule, or, with a
/// voucher, the instructor's rate of the list price (net of the same tax) and the platform
/// absorbing the discount.
pub fn shares_of(purchase: &Purchase, currency: Currency, net: Money) -> Shares {
    let list = Money::round(purchase.price, currency);
    if purchase.discount.is_zero() {
        return split(net, purchase.split_rate);
    }
    let paid = Money::round(purchase.amount_paid, currency);
    let list_net = net_list(list, paid, net);
    if purchase.promotion_funded_by.as_deref() == Some(promotion::INSTRUCTOR) {
        // The instructor's own code: the platform keeps its part of the list price.
        promotion::split_instructor_funded(list_net, purchase.split_rate, net)
    } else {
        // A voucher or a platform code: the instructor earns their rate of the list price.
        split_discounted(list_net, purchase.split_rate, net)
    }
}

/// Grant access, book the split of the net into the instructor's pending earnings, keep the tax
/// beside it, announce the sale. `charged` is billing's account of the payment; `None` when
/// nothing went through billing.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    payment_id: Option<Uuid>,
    charged: Option<Charged>,
) -> Result<Purchase, MarketError> {
    let currency = currency_of(&purchase.currency)?;
    let charged = match charged {
        Some(c) => c.checked(purchase, currency)?,
        None => Charged::untaxed(purchase, currency),
    };
    // The revenue: what the buyer paid (the list price less a voucher's discount) net of tax.
    let gross = charged.net;
    let shares = shares_of(purchase, currency, gross);
    // A purchase on a test clock completes (and its earnings start maturing) in the clock's time.
    let now = events::test_clocks::now_of(conn, purchase.test_clock_id, state.clock.now()).await?;
    let completion = purchases::Completion {
        payment_id,
        net_amount: gross.amount,
        tax: charged.tax.amount,
        instructor_share: shares.instructor.amount,
        platform_share: shares.platform.amount,
        at: now,
    };
    // A free enrollment is not a sale; a voucher sale paid in full by the voucher is.
    let sale = (purchase.price > Decimal::ZERO).then(|| sales::NewLine {
        id: Uuid::now_v7(),
        purchase_id: purchase.id,
        course_id: purchase.course_id,
        instructor_id: purchase.instructor_id,
        kind: sales::SALE,
        gross: gross.amount,
        instructor_amount: shares.instructor.amount,
        platform_amount: shares.platform.amount,
        discount: purchase.discount,
        currency: currency.code(),
        occurred_at: now,
        tax: charged.tax.amount,
    });
    let earning = (shares.instructor.amount > Decimal::ZERO).then(|| earnings::NewLine {
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
    });
    let purchased = CoursePurchased {
        purchase_id: purchase.id,
        course_id: purchase.course_id,
        buyer_id: purchase.buyer_id,
        instructor_id: purchase.instructor_id,
        gross,
        tax: (!charged.tax.amount.is_zero()).then_some(charged.tax),
        instructor_share: shares.instructor,
        platform_share: shares.platform,
        payment_id,
        purchased_at: now,
    };
    // The five writes are independent of each other: pipelined, they are one round trip.
    let conn: &AsyncPgConnection = conn;
    let (done, ..) = futures_util::try_join!(
        purchases::complete(conn, purchase.id, &completion),
        courses::add_purchases(conn, purchase.course_id, 1),
        async {
            match &sale {
                Some(line) => sales::insert(conn, line).await,
                None => Ok(0),
            }
        },
        async {
            match &earning {
                Some(line) => earnings::insert(conn, line).await,
                None => Ok(0),
            }
        },
        events::outbox::enqueue(conn, &purchased),
    )?;
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
    charged: Charged,
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
            complete(conn, state, purchase, Some(payment_id), Some(charged)).await?;
        }
        OnPaid::CompleteSupersedingOther => {
            if let Some(other) = other {
                let other = purchases::lock(conn, other.id).await?.unwrap_or(other);
                close(conn, state, &other, rules::PURCHASE_SUPERSEDED).await?;
            }
            complete(conn, state, purchase, Some(payment_id), Some(charged)).await?;
        }
        OnPaid::Void(reason) => {
            tracing::warn!(purchase = %purchase.id, %payment_id, reason, "payment succeeded for a purchase that cannot use it: voiding it");
            if purchase.closed_reason.is_none() {
                mark_closed(conn, state, purchase, reason, purchase.failure_code.as_deref()).await?;
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
    mark_closed(conn, state, purchase, reason, Some(failure_code)).await?;
    if let Some(payment_id) = purchase.payment_id {
        request_void(conn, state, purchase.buyer_id, purchase.id, payment_id, reason).await?;
    }
    Ok(())
}

/// The one place a purchase becomes closed: it never completes any more, so a voucher it reserved
/// goes back to its owner in the same transaction.
async fn mark_closed(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    reason: &str,
    failure_code: Option<&str>,
) -> Result<(), MarketError> {
    purchases::close(conn, purchase.id, reason, failure_code).await?;
    if let Some(code_id) = purchase.promotion_code_id {
        // Unpaid: the code's redemption is free for another buyer (a refund keeps it taken).
        promotions::release(conn, purchase.id, code_id, state.clock.now()).await?;
    }
    release_voucher(conn, state, purchase, reason).await
}

/// Give the purchase's voucher back to rewards (`marketplace.voucher.released.v2`), once. Sent
/// even when the reservation was never confirmed (rewards may have answered a call whose answer
/// was lost): rewards releases only a voucher this purchase still holds, and decides whether it is
/// still unexpired.
pub async fn release_voucher(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    reason: &str,
) -> Result<(), MarketError> {
    let Some(prefix) = purchase.voucher_code_prefix.as_deref() else {
        return Ok(());
    };
    let now = state.clock.now();
    if purchase.voucher_released_at.is_some() || purchases::voucher_released(conn, purchase.id, now).await? == 0 {
        return Ok(());
    }
    events::outbox::enqueue(
        conn,
        &VoucherReleasedV2 {
            voucher_code_prefix: prefix.to_string(),
            purchase_id: purchase.id,
            user_id: purchase.buyer_id,
            reason: reason.to_string(),
            released_at: now,
        },
    )
    .await?;
    Ok(())
}

/// A new purchase of the course supersedes the buyer's declined ones (`declined`, locked by
/// `purchases::lock_payable_failed`): their intents are canceled, so re-confirming one of them can
/// no longer charge a second time.
pub async fn supersede_failed(
    conn: &mut AsyncPgConnection,
    state: &State,
    declined: Vec<Purchase>,
) -> Result<(), MarketError> {
    for earlier in declined {
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

/// A declined payment leaves an ordinary purchase payable (the buyer may retry the same intent
/// with another card). A voucher or promotion-code purchase is closed instead (its redemption
/// released too), its intent voided and its voucher
/// released at once, so the buyer can use the voucher again (on this course or another) without
/// waiting for the purchase to expire; the voucher can never be spent twice.
pub async fn on_payment_failed(
    conn: &mut AsyncPgConnection,
    state: &State,
    purchase: &Purchase,
    code: Option<&str>,
) -> Result<(), MarketError> {
    if purchase.status != PENDING {
        return Ok(());
    }
    purchases::fail(conn, purchase.id, code).await?;
    if purchase.voucher_code_prefix.is_some() || purchase.promotion_code_id.is_some() {
        let failed = Purchase { status: FAILED.into(), failure_code: code.map(str::to_string), ..purchase.clone() };
        close(conn, state, &failed, rules::PAYMENT_FAILED).await?;
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
    /// The tax part of this refund (given back beside the net), when the payment was taxed.
    pub tax: Option<Money>,
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
    // Billing's totals are net of tax, like the split: a purchase gives back at most its net.
    let net_amount = purchase.net();
    let new_total = total_refunded.amount.min(net_amount);
    if new_total <= purchase.refunded_amount {
        return Ok(Refunded::Ignored);
    }
    let (Some(instructor), Some(platform)) = (purchase.instructor_share, purchase.platform_share) else {
        return Err(MarketError::Problem(Problem::internal("completed purchase without a booked split")));
    };
    let booked = Shares { instructor: Money::round(instructor, currency), platform: Money::round(platform, currency) };
    let already = Shares {
        instructor: Money::round(purchase.instructor_reversed, currency),
        platform: Money::round(purchase.platform_reversed, currency),
    };
    let paid = Money::round(net_amount, currency);
    let r = if purchase.discount.is_zero() {
        reversal(paid, purchase.split_rate, &booked, new_total, &already)
    } else {
        paid_reversal(paid, &booked, new_total, &already)
    };
    let fully = new_total >= net_amount;
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
        // The sale is undone: the voucher goes back (rewards keeps it only while unexpired).
        release_voucher(conn, state, purchase, rules::REFUNDED_REASON).await?;
    }
    // A purchase on a test clock: its refund's lines are dated in the clock's time, as its sale's.
    let now = events::test_clocks::now_of(conn, purchase.test_clock_id, state.clock.now()).await?;
    let refunded_now = Money::round(new_total - purchase.refunded_amount, currency);
    sales::insert(
        conn,
        &sales::NewLine {
            id: Uuid::now_v7(),
            purchase_id: purchase.id,
            course_id: purchase.course_id,
            instructor_id: purchase.instructor_id,
            kind: sales::REFUND,
            gross: -refunded_now.amount,
            instructor_amount: -r.instructor.amount,
            // What went back less the instructor's reversal: equal to the platform's reversal
            // (the cumulative split sums to the refunded total), written so the line always
            // sums to the refund even if a clamp in the split ever cut a cent.
            platform_amount: r.instructor.amount - refunded_now.amount,
            discount: Decimal::ZERO,
            currency: currency.code(),
            occurred_at: now,
            // The tax part of this refund, when billing's counts are the ones given.
            tax: -notice.tax.map_or(Decimal::ZERO, |t| t.amount),
        },
    )
    .await?;
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
            refunded_amount: refunded_now,
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
