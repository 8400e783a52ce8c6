//! The receipt document. Its number (`RCPT-2026-000123`) is given by the statement that records
//! the payment's success (`store::receipts::record_numbered_success`).

use platform::html::escape;
use serde::Serialize;

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
    /// What was charged line by line when the payer described it so (a plan or a course, an
    /// upgrade's proration, a coupon's or promotion code's discount as a negative line); empty for
    /// a payment of one item (`line_item`). The same lines as the payment's invoice.
    pub lines: Vec<super::invoice::InvoiceLine>,
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

impl Receipt {
    /// A self-contained HTML page; every value is escaped. Answer it with `platform::html::response`
    /// (its security headers).
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
        let lines: String = self
            .lines
            .iter()
            .map(|l| {
                format!(
                    "<tr><td>{}</td><td></td><td>{}</td></tr>",
                    escape(&l.description),
                    escape(&l.amount.to_string())
                )
            })
            .collect();
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Receipt {num}</title></head>\
             <body><h1>Receipt {num}</h1><p>{merchant}<br>{address}</p>\
             <p>Paid {paid} by {card}. Customer {buyer}.</p>\
             <table><tr><th>Item</th><th>Date</th><th>Amount</th></tr>\
             {lines}<tr><td>{item}</td><td>{paid}</td><td>{amount}</td></tr>{refunds}</table>\
             <p>Total refunded: {refunded}</p></body></html>",
            num = escape(&self.receipt_number),
            merchant = escape(&self.merchant.name),
            address = escape(&self.merchant.address),
            paid = self.paid_at.format("%Y-%m-%d"),
            card = card,
            buyer = self.buyer_id,
            lines = lines,
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

    /// Every text that reaches the page from outside the code (an instructor's course title in
    /// the description, the operator's merchant settings, Stripe's card brand) is escaped.
    #[test]
    fn hostile_values_are_escaped() {
        let hostile = "<script>alert('x')</script><img src=x onerror=\"y\">";
        let usd = |cents: i64| platform::money::Money::from_minor_units(cents, platform::money::Currency::USD);
        let receipt = Receipt {
            receipt_number: hostile.into(),
            payment_id: uuid::Uuid::nil(),
            merchant: Merchant { name: hostile.into(), address: hostile.into() },
            buyer_id: uuid::Uuid::nil(),
            line_item: LineItem {
                kind: "course_purchase".into(),
                description: hostile.into(),
                reference_id: "r".into(),
            },
            lines: vec![
                super::super::invoice::InvoiceLine {
                    kind: "course".into(),
                    description: hostile.into(),
                    amount: usd(1332),
                },
                super::super::invoice::InvoiceLine {
                    kind: "discount".into(),
                    description: "Promotion code SPRING25 (25 % off)".into(),
                    amount: usd(-333),
                },
            ],
            amount: usd(999),
            payment_method: Some(CardSummary { brand: hostile.into(), last4: hostile.into() }),
            paid_at: chrono::DateTime::UNIX_EPOCH,
            refunds: vec![ReceiptRefund {
                amount: usd(100),
                reason: hostile.into(),
                status: "succeeded".into(),
                created_at: chrono::DateTime::UNIX_EPOCH,
            }],
            total_refunded: usd(100),
        };
        let html = receipt.to_html();
        assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
        assert!(!html.contains("onerror=\""), "{html}");
        assert_eq!(html.matches("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;").count(), 9, "{html}");
        // A discount shows as its own negative line.
        assert!(html.contains("<td>Promotion code SPRING25 (25 % off)</td><td></td><td>-3.33 USD</td>"), "{html}");
    }
}
