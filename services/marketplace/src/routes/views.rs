//! Response bodies.

use crate::domain::review::average;
use crate::store::courses::Course;
use crate::store::earnings::Line;
use crate::store::payouts::Payout;
use crate::store::purchases::Purchase;
use crate::store::reviews::Review;
use chrono::{DateTime, Utc};
use platform::money::{Currency, Money};
use platform::Problem;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

pub fn money(amount: Decimal, currency: &str) -> Result<Money, Problem> {
    let currency: Currency = currency.trim().parse().map_err(Problem::internal)?;
    Ok(Money::round(amount, currency))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CourseRating)]
pub struct Rating {
    /// Two decimals; null while unrated.
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>, example = "4.50")]
    pub average: Option<Decimal>,
    pub count: i32,
}

/// The course's downloadable package.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CoursePackage)]
pub struct Package {
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the package.
    pub sha256: String,
}

/// A course package's raw bytes (documentation only: the handler streams the stored file).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct CoursePackageBytes(pub Vec<u8>);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CourseView {
    pub id: Uuid,
    pub instructor_id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    pub level: String,
    pub language: String,
    pub tags: Vec<String>,
    /// The primary price: the catalogue's, and what a purchase naming no currency pays.
    pub price: Money,
    /// Every price the course is sold at, the primary first, then the other currencies a purchase
    /// may name (`currency`), in code order.
    pub prices: Vec<Money>,
    pub free: bool,
    /// `draft`, `published` or `unpublished`.
    #[schema(example = "published")]
    pub status: String,
    pub rating: Rating,
    /// Completed purchases less refunded ones. Counted about once a second
    /// (`MARKETPLACE_PURCHASE_COUNT_FOLD_MS`), so it may trail the latest sales by that long.
    pub purchase_count: i64,
    pub package: Package,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl CourseView {
    pub fn new(c: &Course) -> Result<Self, Problem> {
        Ok(Self {
            id: c.id,
            instructor_id: c.instructor_id,
            title: c.title.clone(),
            description: c.description.clone(),
            category: c.category.clone(),
            level: c.level.clone(),
            language: c.language.clone(),
            tags: c.tags.clone(),
            price: money(c.price, &c.currency)?,
            prices: vec![money(c.price, &c.currency)?],
            free: c.price.is_zero(),
            status: c.status.clone(),
            rating: Rating { average: average(c.rating_sum, c.rating_count), count: c.rating_count },
            purchase_count: c.purchase_count,
            package: Package {
                filename: c.content_filename.clone(),
                content_type: c.content_type.clone(),
                size_bytes: c.content_size,
                sha256: c.content_sha256.clone(),
            },
            created_at: c.created_at,
            published_at: c.published_at,
        })
    }
}

impl CourseView {
    /// Views of a page of courses with their other-currency prices, read in one query.
    pub async fn many(
        conn: &mut diesel_async::AsyncPgConnection,
        courses: &[&Course],
    ) -> Result<Vec<CourseView>, Problem> {
        let ids: Vec<Uuid> = courses.iter().map(|c| c.id).collect();
        let others = crate::store::courses::other_prices(conn, &ids).await?;
        courses
            .iter()
            .map(|c| {
                let mut view = CourseView::new(c)?;
                for o in others.iter().filter(|o| o.course_id == c.id) {
                    view.prices.push(money(o.price, &o.currency)?);
                }
                Ok(view)
            })
            .collect()
    }

    pub async fn one(conn: &mut diesel_async::AsyncPgConnection, course: &Course) -> Result<CourseView, Problem> {
        let mut views = Self::many(conn, &[course]).await?;
        views.pop().ok_or_else(|| Problem::internal("no view of the course"))
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurchaseView {
    pub id: Uuid,
    pub course_id: Uuid,
    /// `pending`, `completed`, `failed` or `refunded`.
    #[schema(example = "pending")]
    pub status: String,
    /// The list price when bought.
    pub price: Money,
    /// Off the price: a reward voucher's value or a promotion code's discount, plus a remainder
    /// below Stripe's minimum charge that is waived. Zero without either.
    pub discount: Money,
    /// What billing is asked to charge (`price - discount`): with an inclusive tax the buyer pays
    /// this and `tax` is inside it; with an exclusive one `tax` comes on top.
    pub amount_paid: Money,
    /// The tax billing charged with the payment, known once the purchase completed (zero when
    /// untaxed). Neither the platform's nor the instructor's revenue.
    pub tax: Money,
    /// The revenue of the sale, net of tax, once completed: what the 70/30 split divides and a
    /// refund gives back at most (the tax goes back beside it). Null before completion.
    pub net_amount: Option<Money>,
    /// The voucher used, if any: the first 7 characters of its code (`RW-` and the first group),
    /// the rest of which is never kept.
    pub voucher_code_prefix: Option<String>,
    /// The promotion code used, if any, and who funds its discount (`platform` or `instructor`).
    pub promotion_code: Option<String>,
    pub promotion_funded_by: Option<String>,
    pub payment_id: Option<Uuid>,
    /// For the buyer's app to confirm the payment with Stripe, while it is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub failure_code: Option<String>,
    pub refunded: Money,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The test clock it lives on (sandbox only): it expires unpaid, and its earnings mature, in
    /// the clock's time. Absent for a purchase in real time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_clock: Option<Uuid>,
}

impl PurchaseView {
    pub fn new(p: &Purchase) -> Result<Self, Problem> {
        Ok(Self {
            id: p.id,
            course_id: p.course_id,
            status: p.status.clone(),
            price: money(p.price, &p.currency)?,
            discount: money(p.discount, &p.currency)?,
            amount_paid: money(p.amount_paid, &p.currency)?,
            tax: money(p.tax, &p.currency)?,
            net_amount: p.net_amount.map(|n| money(n, &p.currency)).transpose()?,
            voucher_code_prefix: p.voucher_code_prefix.clone(),
            promotion_code: p.promotion_code.clone(),
            promotion_funded_by: p.promotion_funded_by.clone(),
            payment_id: p.payment_id,
            client_secret: if p.status == crate::store::purchases::PENDING { p.client_secret.clone() } else { None },
            failure_code: p.failure_code.clone(),
            refunded: money(p.refunded_amount, &p.currency)?,
            created_at: p.created_at,
            completed_at: p.completed_at,
            test_clock: p.test_clock_id,
        })
    }

    /// What [`PurchaseView::new`] shows of a plain purchase (nothing off the price, no test
    /// clock) created at `created_at` once billing's `payment` is attached: the answer of the
    /// one-statement purchase, built before the statement that records it.
    pub fn awaiting_payment(
        id: Uuid,
        course_id: Uuid,
        price: Money,
        payment: &crate::billing::Payment,
        created_at: DateTime<Utc>,
    ) -> Self {
        let none = Money::zero(price.currency);
        Self {
            id,
            course_id,
            status: crate::store::purchases::PENDING.to_string(),
            price,
            discount: none,
            amount_paid: price,
            tax: none,
            net_amount: None,
            voucher_code_prefix: None,
            promotion_code: None,
            promotion_funded_by: None,
            payment_id: Some(payment.id),
            client_secret: payment.client_secret.clone(),
            failure_code: None,
            refunded: none,
            created_at,
            completed_at: None,
            test_clock: None,
        }
    }
}

/// A course the caller bought, with the purchase.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OwnedCourseView {
    pub course: CourseView,
    pub purchase: PurchaseView,
}

/// The instructor's reply to a review.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ReviewReply)]
pub struct ReplyView {
    pub body: String,
    pub replied_at: DateTime<Utc>,
}

/// A review as anyone may see it: the reviewer's id is not shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    pub id: Uuid,
    pub course_id: Uuid,
    pub rating: i16,
    pub body: String,
    pub helpful_count: i32,
    pub reply: Option<ReplyView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ReviewView {
    pub fn new(r: &Review) -> Self {
        Self {
            id: r.id,
            course_id: r.course_id,
            rating: r.rating,
            body: r.body.clone(),
            helpful_count: r.helpful_count,
            reply: match (&r.reply, r.replied_at) {
                (Some(body), Some(at)) => Some(ReplyView { body: body.clone(), replied_at: at }),
                _ => None,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One line of the instructor's earnings ledger.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EarningView {
    pub id: Uuid,
    pub purchase_id: Uuid,
    pub course_id: Uuid,
    /// `sale`, or `refund` (a negative adjustment).
    pub kind: String,
    pub amount: Money,
    /// `pending`, `available`, `in_payout` or `paid`.
    #[schema(example = "pending")]
    pub status: String,
    /// When the line stops being refundable and becomes `available`.
    pub available_at: DateTime<Utc>,
    pub payout_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl EarningView {
    pub fn new(l: &Line) -> Result<Self, Problem> {
        Ok(Self {
            id: l.id,
            purchase_id: l.purchase_id,
            course_id: l.course_id,
            kind: l.kind.clone(),
            amount: money(l.amount, &l.currency)?,
            status: l.status.clone(),
            available_at: l.available_at,
            payout_id: l.payout_id,
            created_at: l.created_at,
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PayoutView {
    pub id: Uuid,
    pub instructor_id: Uuid,
    pub amount: Money,
    /// `requested` or `paid`.
    #[schema(example = "requested")]
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

impl PayoutView {
    pub fn new(p: &Payout) -> Result<Self, Problem> {
        Ok(Self {
            id: p.id,
            instructor_id: p.instructor_id,
            amount: money(p.amount, &p.currency)?,
            status: p.status.clone(),
            requested_at: p.requested_at,
            paid_at: p.paid_at,
        })
    }
}
