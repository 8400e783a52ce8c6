//! Billing's part of the public API document.

use crate::domain::receipt::{CardSummary, LineItem, Merchant, Receipt, ReceiptRefund};
use crate::routes::payments::HistoryLineView;
use crate::routes::refunds::{CreateRefund, Reason};
use crate::routes::views::{PaymentView, RefundView};
use platform::money::{Currency, Money};
use platform::pagination::Page;
use platform::problem::{FieldError, Problem};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::routes::payments::get,
        crate::routes::payments::history,
        crate::routes::payments::receipt,
        crate::routes::refunds::create,
        crate::routes::webhook::receive,
        crate::routes::reports::payments,
        crate::routes::methods::list,
        crate::routes::methods::setup,
        crate::routes::methods::make_default,
        crate::routes::methods::remove,
    ),
    components(schemas(
        PaymentView, RefundView, HistoryLineView, Page<HistoryLineView>, Receipt, ReceiptRefund, Merchant, LineItem,
        CardSummary, CreateRefund, Reason, Money, Currency, Problem, FieldError, crate::reports::Row,
        crate::reports::PurposeRevenue, crate::routes::methods::PaymentMethodView,
        crate::routes::methods::PaymentMethodList, crate::routes::methods::SetupRequest,
        crate::routes::methods::SetupView
    )),
    tags((name = "billing", description = "Payments, receipts, refunds and billing history, saved cards, and the admin payments report"))
)]
pub struct ApiDoc;
