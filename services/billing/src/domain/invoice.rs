//! Invoices and credit notes: their numbers, their frozen documents, and the page both print as
//! (HTML here, PDF in `crate::pdf`). Pure.

use super::tax::{self, Split};
use chrono::{DateTime, Utc};
use events::catalog::billing::{ChargeLine, LineKind};
use platform::html::escape;
use platform::money::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The gap-free series, each numbered per year by the receipts' counter (`store::receipts`).
pub const INVOICE_SERIES: &str = "INV";
pub const CREDIT_NOTE_SERIES: &str = "CN";

/// `INV-2026-000001`, `CN-2026-000001`: six digits, more when needed. A success's receipt and
/// invoice are numbered inside the statement that records it, by the SQL function of the same name
/// (migration `2026-12-17-200001_record_numbered_success`); billing's tests pin the two together.
pub fn document_number(series: &str, year: i32, sequence: i64) -> String {
    format!("{series}-{year}-{sequence:06}")
}

/// Who sells or buys, as printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Party {
    pub name: String,
    pub company: Option<String>,
    /// Street, city and postal code, region: one printed line each.
    pub address: Vec<String>,
    /// ISO 3166-1 alpha-2; absent for a seller configured without one.
    pub country: Option<String>,
    pub vat_id: Option<String>,
}

/// One line of what was charged, as the caller described it (net unless the rate is inclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvoiceLine {
    /// plan | proration_credit | proration_charge | discount | course | seats
    pub kind: String,
    pub description: String,
    pub amount: Money,
}

/// The tax applied to a payment, frozen at its creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaxApplied {
    /// The admin's display name ("VAT", "GST"...), or "Reverse charge".
    pub name: String,
    #[schema(value_type = String, example = "19")]
    #[serde(with = "rust_decimal::serde::str")]
    pub percentage: Decimal,
    /// The amount the customer was quoted included the tax (computed out of it).
    pub inclusive: bool,
    /// An EU business abroad: no VAT charged, the customer accounts for it.
    pub reverse_charge: bool,
    pub country: String,
    pub region: Option<String>,
    pub rate_id: Option<Uuid>,
}

/// The tax line of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaxLine {
    pub name: String,
    #[schema(value_type = String, example = "19")]
    #[serde(with = "rust_decimal::serde::str")]
    pub percentage: Decimal,
    pub inclusive: bool,
    pub reverse_charge: bool,
    pub amount: Money,
}

impl TaxLine {
    pub fn new(applied: &TaxApplied, amount: Money) -> Self {
        Self {
            name: applied.name.clone(),
            percentage: applied.percentage,
            inclusive: applied.inclusive,
            reverse_charge: applied.reverse_charge,
            amount,
        }
    }

    fn label(&self) -> String {
        if self.reverse_charge {
            return "Reverse charge: VAT to be accounted for by the recipient".into();
        }
        let included = if self.inclusive { ", included" } else { "" };
        format!("{} {}%{included}", self.name, self.percentage.normalize())
    }
}

/// An invoice as issued: frozen (a later change of the customer's details or of the rates does
/// not touch it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invoice {
    pub id: Uuid,
    pub number: String,
    pub payment_id: Uuid,
    /// subscription | course_purchase | license
    pub purpose: String,
    pub user_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub seller: Party,
    /// The customer's billing details when the payment was made; absent when they had set none.
    pub customer: Option<Party>,
    pub lines: Vec<InvoiceLine>,
    /// Net of tax: the revenue.
    pub subtotal: Money,
    pub tax: Option<TaxLine>,
    /// What was charged: `subtotal + tax`.
    pub total: Money,
    pub receipt_number: Option<String>,
}

/// A credit note for (part of) a refunded invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreditNote {
    pub id: Uuid,
    pub number: String,
    pub invoice_id: Uuid,
    pub invoice_number: String,
    pub refund_id: Uuid,
    pub user_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub reason: String,
    pub seller: Party,
    pub customer: Option<Party>,
    /// The net credited (a positive amount).
    pub subtotal: Money,
    pub tax: Option<TaxLine>,
    /// What went back to the customer: `subtotal + tax`.
    pub total: Money,
}

/// The invoice's lines: the caller's, or one line of the payment's description.
pub fn lines_of(lines: &[ChargeLine], description: &str, purpose: &str, amount: Money) -> Vec<InvoiceLine> {
    if lines.is_empty() {
        return vec![InvoiceLine { kind: purpose.to_string(), description: description.to_string(), amount }];
    }
    lines
        .iter()
        .map(|l| InvoiceLine {
            kind: kind_name(l.kind).to_string(),
            description: l.description.clone(),
            amount: Money::round(l.amount, amount.currency),
        })
        .collect()
}

fn kind_name(kind: LineKind) -> &'static str {
    match kind {
        LineKind::Plan => "plan",
        LineKind::ProrationCredit => "proration_credit",
        LineKind::ProrationCharge => "proration_charge",
        LineKind::Discount => "discount",
        LineKind::Course => "course",
        LineKind::Seats => "seats",
    }
}

/// A refund taken apart like its payment: the net and tax parts of THIS refund, as the difference
/// of the cumulative parts before and after it (so successive partial refunds add up exactly to
/// the payment's net and tax).
pub fn refund_split(before: Decimal, refund: Decimal, payment: Split, currency: Currency) -> Split {
    let net_before = tax::net_of_refunded(before, payment.net, payment.total, currency);
    let net_after = tax::net_of_refunded(before + refund, payment.net, payment.total, currency);
    let net = net_after - net_before;
    Split { net, tax: refund - net, total: refund }
}

/// What both documents print.
pub struct Printable<'a> {
    pub title: &'static str,
    pub number: &'a str,
    pub issued_at: DateTime<Utc>,
    pub seller: &'a Party,
    pub customer: Option<&'a Party>,
    /// e.g. "Credit for invoice INV-2026-000001".
    pub reference: Option<String>,
    pub lines: Vec<(String, Money)>,
    pub subtotal: Money,
    pub tax: Option<&'a TaxLine>,
    pub total: Money,
}

impl Invoice {
    pub fn printable(&self) -> Printable<'_> {
        Printable {
            title: "Invoice",
            number: &self.number,
            issued_at: self.issued_at,
            seller: &self.seller,
            customer: self.customer.as_ref(),
            reference: self.receipt_number.as_ref().map(|r| format!("Paid, receipt {r}")),
            lines: self.lines.iter().map(|l| (l.description.clone(), l.amount)).collect(),
            subtotal: self.subtotal,
            tax: self.tax.as_ref(),
            total: self.total,
        }
    }
}

impl CreditNote {
    pub fn printable(&self) -> Printable<'_> {
        Printable {
            title: "Credit note",
            number: &self.number,
            issued_at: self.issued_at,
            seller: &self.seller,
            customer: self.customer.as_ref(),
            reference: Some(format!("Credit for invoice {}", self.invoice_number)),
            lines: vec![(format!("Refund ({})", self.reason), self.subtotal)],
            subtotal: self.subtotal,
            tax: self.tax.as_ref(),
            total: self.total,
        }
    }
}

impl Party {
    /// The printed lines of the party, in order.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![self.name.clone()];
        out.extend(self.company.clone());
        out.extend(self.address.iter().cloned());
        out.extend(self.country.clone());
        out.extend(self.vat_id.as_ref().map(|v| format!("VAT ID {v}")));
        out
    }
}

impl Printable<'_> {
    /// The totals block, in print order.
    pub fn totals(&self) -> Vec<(String, Money)> {
        let mut out = vec![("Subtotal (net)".to_string(), self.subtotal)];
        if let Some(tax) = self.tax {
            out.push((tax.label(), tax.amount));
        }
        out.push(("Total".to_string(), self.total));
        out
    }

    /// A self-contained HTML page: every value escaped, no script, no external resource.
    pub fn to_html(&self) -> String {
        let party = |p: &Party| p.lines().iter().map(|l| escape(l)).collect::<Vec<_>>().join("<br>");
        let rows: String = self
            .lines
            .iter()
            .map(|(d, m)| format!("<tr><td>{}</td><td>{}</td></tr>", escape(d), escape(&m.to_string())))
            .collect();
        let totals: String = self
            .totals()
            .iter()
            .map(|(d, m)| format!("<tr><th>{}</th><td>{}</td></tr>", escape(d), escape(&m.to_string())))
            .collect();
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">\
             <title>{title} {num}</title></head><body><h1>{title} {num}</h1><p>Issued {date}</p>{reference}\
             <h2>From</h2><p>{seller}</p><h2>To</h2><p>{customer}</p>\
             <table><tr><th>Description</th><th>Amount</th></tr>{rows}</table><table>{totals}</table></body></html>",
            title = self.title,
            num = escape(self.number),
            date = self.issued_at.format("%Y-%m-%d"),
            reference = self.reference.as_ref().map(|r| format!("<p>{}</p>", escape(r))).unwrap_or_default(),
            seller = party(self.seller),
            customer = self.customer.map(party).unwrap_or_else(|| "No billing details given".into()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn usd(s: &str) -> Money {
        Money::round(dec(s), "USD".parse().unwrap())
    }

    #[test]
    fn numbers_are_per_series_and_padded() {
        assert_eq!(document_number(INVOICE_SERIES, 2026, 1), "INV-2026-000001");
        assert_eq!(document_number(CREDIT_NOTE_SERIES, 2027, 1_234_567), "CN-2027-1234567");
    }

    #[test]
    fn refunds_split_like_their_payment_and_add_up() {
        let payment = Split { net: dec("9.99"), tax: dec("1.90"), total: dec("11.89") };
        let currency = "USD".parse().unwrap();
        let first = refund_split(Decimal::ZERO, dec("5.00"), payment, currency);
        let second = refund_split(dec("5.00"), dec("6.89"), payment, currency);
        assert_eq!(first.net + first.tax, dec("5.00"));
        assert_eq!(first.net + second.net, payment.net);
        assert_eq!(first.tax + second.tax, payment.tax);
        let full = refund_split(Decimal::ZERO, dec("11.89"), payment, currency);
        assert_eq!((full.net, full.tax), (payment.net, payment.tax));
    }

    #[test]
    fn html_escapes_every_value() {
        let evil = Party {
            name: "<script>alert(1)</script>".into(),
            company: Some("A & B".into()),
            address: vec!["\"quoted\"".into()],
            country: Some("DE".into()),
            vat_id: None,
        };
        let invoice = Invoice {
            id: Uuid::nil(),
            number: "INV-2026-000001".into(),
            payment_id: Uuid::nil(),
            purpose: "subscription".into(),
            user_id: Uuid::nil(),
            issued_at: Utc::now(),
            seller: evil.clone(),
            customer: Some(evil),
            lines: vec![InvoiceLine { kind: "plan".into(), description: "<img src=x>".into(), amount: usd("9.99") }],
            subtotal: usd("9.99"),
            tax: None,
            total: usd("9.99"),
            receipt_number: None,
        };
        let html = invoice.printable().to_html();
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;") && html.contains("A &amp; B") && html.contains("&quot;quoted&quot;"));
    }

    #[test]
    fn reverse_charge_prints_its_mention() {
        let applied = TaxApplied {
            name: "Reverse charge".into(),
            percentage: Decimal::ZERO,
            inclusive: false,
            reverse_charge: true,
            country: "DE".into(),
            region: None,
            rate_id: None,
        };
        assert!(TaxLine::new(&applied, usd("0")).label().starts_with("Reverse charge"));
    }
}
