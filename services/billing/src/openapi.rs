//! Billing's part of the public API document.

use crate::domain::invoice::{CreditNote, Invoice, InvoiceLine, Party, TaxLine};
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
        crate::routes::reports::tax,
        crate::routes::tax::get_details,
        crate::routes::tax::put_details,
        crate::routes::tax::create_rate,
        crate::routes::tax::list_rates,
        crate::routes::tax::deactivate_rate,
        crate::routes::invoices::list,
        crate::routes::invoices::get,
        crate::routes::invoices::list_credit_notes,
        crate::routes::invoices::get_credit_note,
        crate::routes::methods::list,
        crate::routes::methods::setup,
        crate::routes::methods::make_default,
        crate::routes::methods::remove,
    ),
    components(schemas(
        PaymentView, RefundView, HistoryLineView, Page<HistoryLineView>, Receipt, ReceiptRefund, Merchant, LineItem,
        CardSummary, CreateRefund, Reason, Money, Currency, Problem, FieldError, crate::reports::Row,
        crate::reports::PurposeRevenue, crate::reports::TaxRow, crate::routes::tax::BillingDetails,
        crate::routes::tax::Address, crate::routes::tax::BillingDetailsView, crate::routes::tax::CreateTaxRate,
        crate::routes::tax::TaxRateView, Invoice, CreditNote, Party, InvoiceLine, TaxLine, Page<Invoice>,
        Page<CreditNote>, crate::routes::methods::PaymentMethodView,
        crate::routes::methods::PaymentMethodList, crate::routes::methods::SetupRequest,
        crate::routes::methods::SetupView
    )),
    tags((name = "billing", description = "Payments, receipts, invoices and credit notes, refunds, billing details and history, saved cards, tax rates, and the admin payments and tax reports"))
)]
pub struct ApiDoc;
