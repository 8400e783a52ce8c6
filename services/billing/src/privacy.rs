//! What billing holds about a user, for the data-subject export (`platform::privacy`).

use platform::privacy::Section;

pub const SECTIONS: &[Section] = &[
    // The Stripe customer id and the saved payment method's id.
    Section::new("customer", "SELECT * FROM customers WHERE user_id = $1"),
    Section::new("payments", "SELECT * FROM payments WHERE user_id = $1 ORDER BY created_at, id").omit(&[
        "client_secret",
        "traceparent",
        "seller",
    ]),
    // Saved cards: brand, last four digits and expiry only (Stripe holds the card).
    Section::new("payment_methods", "SELECT * FROM payment_methods WHERE user_id = $1 ORDER BY created_at, id"),
    Section::new(
        "receipts",
        "SELECT receipt_number, id AS payment_id, amount, currency, description, purpose, reference_id, card_brand, \
         card_last4, amount_refunded, succeeded_at FROM payments \
         WHERE user_id = $1 AND receipt_number IS NOT NULL ORDER BY succeeded_at, id",
    ),
    // Who asked for a refund may be an admin: their id is not the user's data.
    Section::new(
        "refunds",
        "SELECT r.* FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.user_id = $1 \
         ORDER BY r.created_at, r.id",
    )
    .omit(&["requested_by", "request_key"]),
    Section::new("billing_details", "SELECT * FROM billing_details WHERE user_id = $1"),
    Section::new(
        "invoices",
        "SELECT number, payment_id, currency, subtotal, tax_amount, total, document, issued_at \
         FROM invoices WHERE user_id = $1 ORDER BY issued_at, id",
    ),
    Section::new(
        "credit_notes",
        "SELECT number, invoice_id, refund_id, currency, subtotal, tax_amount, total, document, \
         issued_at FROM credit_notes WHERE user_id = $1 ORDER BY issued_at, id",
    ),
    Section::new("billing_history", "SELECT * FROM billing_history WHERE user_id = $1 ORDER BY occurred_at, id"),
];
