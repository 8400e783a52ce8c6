//! Typed client for the subset of the Stripe API that billing uses (customers, payment intents, charges, refunds,
//! setup intents and payment methods)
//! and verification of Stripe's signed webhooks.
//!
//! Design choices that matter to callers:
//! - Every POST takes an [`IdempotencyKey`] the caller derives from its own operation id (e.g. the payment row's
//!   UUID). Retries inside the client and retries by the caller after a crash then reuse the same key, so Stripe
//!   replays the first result instead of charging twice.
//! - Amounts are integer minor units (`i64`); converting from `Decimal` is the caller's job.
//! - The secret key never appears in `Debug` output or logs.

mod client;
mod error;
mod form;
mod idempotency;
pub mod resources;
mod secret;
pub mod webhook;

pub use client::{Client, ClientConfig, Observer, RetryPolicy, DEFAULT_STRIPE_VERSION};
pub use error::StripeError;
pub use idempotency::IdempotencyKey;
pub use resources::{
    CancelPaymentIntent, CancellationReason, CardDetails, Charge, ChargeStatus, ConfirmPaymentIntent, CreateCustomer,
    CreatePaymentIntent, CreateRefund, CreateSetupIntent, Customer, DeletedCustomer, IntentStatus, InvoiceSettings,
    LastPaymentError, Metadata, PaymentIntent, PaymentIntentStatus, PaymentMethod, PaymentMethodDetails,
    PaymentMethodList, Refund, RefundList, RefundReason, RefundStatus, SavedCard, SetupIntent, SetupIntentStatus,
    SetupUsage,
};
pub use secret::SecretKey;
pub use webhook::{sign, Event, EventData, EventType, WebhookError, WebhookVerifier};
