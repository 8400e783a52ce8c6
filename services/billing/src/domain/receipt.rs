//! Receipt numbers and the receipt document.

use serde::Serialize;

/// `RCPT-2026-000123`: per-year sequence, zero-padded to six digits (more digits when needed).
pub fn receipt_number(year: i32, sequence: i64) -> String {
    format!("RCPT-{year}-{sequence:06}")
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceiptRefund {
    pub amount: platform::money::Money,
    pub reason: String,
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A receipt as the buyer sees it (JSON, or rendered as HTML).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub receipt_number: String,
    pub payment_id: uuid::Uuid,
    pub merchant: Merchant,
    pub buyer_id: uuid::Uuid,
    pub line_item: LineItem,
    pub amount: platform::money::Money,
    pub payment_method: Option<CardSummary>,
    pub paid_at: chrono::DateTime<chrono::Utc>,
    pub refunds: Vec<ReceiptRefund>,
    pub total_refunded: platform::money::Money,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Merchant {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineItem {
    /// course_purchase | subscription | license
    pub kind: String,
    pub description: String,
    pub reference_id: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CardSummary {
    pub brand: String,
    pub last4: String,
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

impl Receipt {
    /// A self-contained HTML page; every value is escaped.
    pub fn to_html(&self) -> String {
        let card = self
            .payment_method
            .as_ref()
            .map(|c| format!("{} ending in {}", escape(&c.brand), escape(&c.last4)))
            .unwrap_or_else(|| "card".into());
        let refunds: String = self
            .refunds
            .iter()
            .map(|r| {
                format!(
                    "<tr><td>Refund ({})</td><td>{}</td><td>-{}</td></tr>",
                    escape(&r.reason),
                    r.created_at.format("%Y-%m-%d"),
                    escape(&r.amount.to_string())
                )
            })
            .collect();
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Receipt {num}</title></head>\
             <body><h1>Receipt {num}</h1><p>{merchant}<br>{address}</p>\
             <p>Paid {paid} by {card}. Customer {buyer}.</p>\
             <table><tr><th>Item</th><th>Date</th><th>Amount</th></tr>\
             <tr><td>{item}</td><td>{paid}</td><td>{amount}</td></tr>{refunds}</table>\
             <p>Total refunded: {refunded}</p></body></html>",
            num = escape(&self.receipt_number),
            merchant = escape(&self.merchant.name),
            address = escape(&self.merchant.address),
            paid = self.paid_at.format("%Y-%m-%d"),
            card = card,
            buyer = self.buyer_id,
            item = escape(&self.line_item.description),
            amount = escape(&self.amount.to_string()),
            refunds = refunds,
            refunded = escape(&self.total_refunded.to_string()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_numbers_are_padded() {
        assert_eq!(receipt_number(2026, 123), "RCPT-2026-000123");
        assert_eq!(receipt_number(2027, 1_234_567), "RCPT-2027-1234567");
    }
}
