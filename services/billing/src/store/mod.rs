//! Billing's tables and queries: the only place that knows SQL.

pub mod billing_details;
pub mod customers;
pub mod history;
pub mod invoices;
pub mod outcomes;
pub mod payment_methods;
pub mod payment_once;
pub mod payments;
pub mod receipts;
pub mod reconcile;
pub mod refunds;
pub mod schema;
pub mod stripe_events;
pub mod tax_rates;
pub mod voids;
