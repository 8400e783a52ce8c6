//! Tax at payment creation, invoices at success, credit notes at refunds: the application layer
//! between the pure rules (`domain::tax`, `domain::invoice`) and the store. Every function runs
//! inside its caller's transaction, so a document exists exactly when its payment or refund does,
//! and a rollback gives its number back.

use crate::config::BillingConfig;
use crate::domain::invoice::{self as docs, CreditNote, Invoice, Party, TaxApplied, TaxLine, CREDIT_NOTE_SERIES};
use crate::domain::tax::{self, Split, Treatment};
use crate::store::{billing_details, invoices, payments, receipts, refunds, tax_rates};
use chrono::{DateTime, Datelike, Utc};
use diesel_async::AsyncPgConnection;
use events::catalog::billing::ChargeLine;
use platform::money::{Currency, Money};
use platform::Problem;
use rust_decimal::Decimal;
use uuid::Uuid;

/// The tax of a payment about to be made.
#[derive(Debug, Clone)]
pub struct Quote {
    pub split: Split,
    pub applied: Option<TaxApplied>,
    pub billed_to: Option<Party>,
    pub country: Option<String>,
}

impl Quote {
    /// A buyer without billing details: no tax applies.
    pub fn untaxed(amount: Money) -> Self {
        Quote { split: tax::split(amount.amount, amount.currency, None), applied: None, billed_to: None, country: None }
    }
}

/// The customer's details as printed on an invoice.
pub fn party_of(d: &billing_details::Details) -> Party {
    let mut address = vec![d.line1.clone()];
    address.extend(d.line2.clone());
    address.push(match &d.postal_code {
        Some(code) => format!("{code} {}", d.city),
        None => d.city.clone(),
    });
    address.extend(d.region.clone());
    Party {
        name: d.name.clone(),
        company: d.company.clone(),
        address,
        country: Some(d.country.trim().to_string()),
        vat_id: d.vat_id.clone(),
    }
}

pub fn seller(config: &BillingConfig) -> Party {
    Party {
        name: config.merchant_name.clone(),
        company: None,
        address: vec![config.merchant_address.clone()],
        country: Some(config.seller_country.clone()),
        vat_id: config.seller_vat_id.clone(),
    }
}

/// The tax of `amount` for a buyer with these billing `details` (`billing_details::find`), from
/// the active rates (reads only).
pub async fn quote(
    conn: &mut AsyncPgConnection,
    details: Option<billing_details::Details>,
    amount: Money,
    seller_country: &str,
) -> Result<Quote, Problem> {
    let Some(details) = details else { return Ok(Quote::untaxed(amount)) };
    let country = details.country.trim().to_string();
    let rate = tax_rates::applicable(conn, &country, details.region.as_deref()).await?;
    let customer = tax::Customer { country: &country, business: details.business, vat_id: details.vat_id.as_deref() };
    let as_rule = rate.as_ref().map(|r| tax::Rate { percentage: r.percentage, inclusive: r.inclusive });
    let (split, applied) = match tax::treatment(Some(customer), seller_country, as_rule) {
        Treatment::Untaxed => (tax::split(amount.amount, amount.currency, None), None),
        Treatment::ReverseCharge => (
            tax::split(amount.amount, amount.currency, None),
            Some(TaxApplied {
                name: "Reverse charge".into(),
                percentage: Decimal::ZERO,
                inclusive: false,
                reverse_charge: true,
                country: country.clone(),
                region: details.region.clone(),
                rate_id: None,
            }),
        ),
        Treatment::Taxed(rule) => {
            let split = tax::split(amount.amount, amount.currency, Some(&rule));
            let applied = rate.map(|r| TaxApplied {
                name: r.display_name,
                percentage: r.percentage.normalize(),
                inclusive: r.inclusive,
                reverse_charge: false,
                country: r.country.trim().to_string(),
                region: r.region,
                rate_id: Some(r.id),
            });
            (split, applied)
        }
    };
    Ok(Quote { split, applied, billed_to: Some(party_of(&details)), country: Some(country) })
}

fn currency_of(code: &str) -> Result<Currency, Problem> {
    code.trim().parse::<Currency>().map_err(Problem::internal)
}

fn from_json<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T, Problem> {
    serde_json::from_value(v.clone()).map_err(Problem::internal)
}

/// A value as stored in a JSONB column; failing only on a bug (a map with non-string keys).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, Problem> {
    serde_json::to_value(v).map_err(Problem::internal)
}

/// The payment's tax as stored at its creation.
pub fn applied_of(payment: &payments::Payment) -> Result<Option<TaxApplied>, Problem> {
    payment.tax.as_ref().map(from_json).transpose()
}

pub fn split_of(payment: &payments::Payment) -> Split {
    Split { net: payment.net_amount(), tax: payment.tax_amount, total: payment.amount }
}

/// The invoice of a payment that just succeeded (every purpose: a receipt proves the payment, the
/// invoice is the tax document), and the row's amounts. Its `number` (`INV-<year>-<n>`) and
/// `receipt_number` are left empty: the statement that numbers the success sets them
/// (`receipts::record_numbered_success`), so the counters stay locked for as little as possible.
pub fn draft_invoice(payment: &payments::Payment, now: DateTime<Utc>) -> Result<(Invoice, Split), Problem> {
    let currency = currency_of(&payment.currency)?;
    let lines: Vec<ChargeLine> = from_json(&payment.lines)?;
    let split = split_of(payment);
    let money = |d: Decimal| Money::round(d, currency);
    // Under an inclusive rate the caller's lines add up to the total; otherwise to the net.
    let lines_total = if payment.tax.is_some() && applied_of(payment)?.is_some_and(|a| a.inclusive) {
        split.total
    } else {
        split.net
    };
    let invoice = Invoice {
        id: Uuid::now_v7(),
        number: String::new(),
        payment_id: payment.id,
        purpose: payment.purpose.clone(),
        user_id: payment.user_id,
        issued_at: now,
        seller: match &payment.seller {
            Some(v) => from_json(v)?,
            None => Party { name: String::new(), company: None, address: vec![], country: None, vat_id: None },
        },
        customer: payment.billed_to.as_ref().map(from_json).transpose()?,
        lines: docs::lines_of(&lines, &payment.description, &payment.purpose, money(lines_total)),
        subtotal: money(split.net),
        tax: applied_of(payment)?.map(|a| TaxLine::new(&a, money(split.tax))),
        total: money(split.total),
        receipt_number: None,
    };
    Ok((invoice, split))
}

/// A refund taken apart like its payment: what was refunded before it (confirmed refunds only)
/// decides its share, so the credit notes of successive partial refunds add up to the invoice.
pub async fn refund_split(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    refund: &refunds::Refund,
) -> Result<Split, Problem> {
    let currency = currency_of(&payment.currency)?;
    let before: Decimal = refunds::for_payment(conn, payment.id)
        .await?
        .iter()
        .filter(|r| r.announced && r.id != refund.id)
        .map(|r| r.amount)
        .sum();
    Ok(docs::refund_split(before, refund.amount, split_of(payment), currency))
}

/// The credit note of a refund Stripe confirmed, against the payment's invoice (none for a payment
/// that succeeded before invoices existed). Once per refund.
pub async fn issue_credit_note(
    conn: &mut AsyncPgConnection,
    payment: &payments::Payment,
    refund: &refunds::Refund,
    part: Split,
    now: DateTime<Utc>,
) -> Result<Option<CreditNote>, Problem> {
    let Some(row) = invoices::invoice_of_payment(conn, payment.id).await? else {
        return Ok(None);
    };
    if invoices::credit_notes_of(conn, row.id).await?.iter().any(|c| c.refund_id == refund.id) {
        return Ok(None);
    }
    let invoice: Invoice = from_json(&row.document)?;
    let currency = currency_of(&payment.currency)?;
    let money = |d: Decimal| Money::round(d, currency);
    let [sequence] = receipts::next_sequences(conn, [CREDIT_NOTE_SERIES], now.year()).await?;
    let note = CreditNote {
        id: Uuid::now_v7(),
        number: docs::document_number(CREDIT_NOTE_SERIES, now.year(), sequence),
        invoice_id: row.id,
        invoice_number: row.number.clone(),
        refund_id: refund.id,
        user_id: payment.user_id,
        issued_at: now,
        reason: refund.reason.clone(),
        seller: invoice.seller.clone(),
        customer: invoice.customer.clone(),
        subtotal: money(part.net),
        tax: invoice.tax.as_ref().map(|t| TaxLine { amount: money(part.tax), ..t.clone() }),
        total: money(part.total),
    };
    invoices::insert_credit_note(
        conn,
        row.id,
        refund.id,
        &invoices::NewDocument {
            id: note.id,
            number: &note.number,
            user_id: payment.user_id,
            currency: currency.code(),
            subtotal: part.net,
            tax_amount: part.tax,
            total: part.total,
            document: to_json(&note)?,
            issued_at: now,
        },
    )
    .await?;
    Ok(Some(note))
}
