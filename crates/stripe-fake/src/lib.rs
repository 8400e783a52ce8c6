//! A stateful, in-memory double of the Stripe endpoints billing uses, for development and tests.
//!
//! It speaks Stripe's wire format (form-encoded requests, Stripe's JSON shapes and error objects, `Idempotency-Key`
//! semantics), drives PaymentIntents through Stripe's status machine with Stripe's test payment methods, and sends
//! signed webhooks. Tests can start it in-process ([`StripeFake::start`]) and steer it: inject faults, count calls,
//! hold, reorder and duplicate webhook deliveries.

mod api;
mod config;
mod control_ops;
mod controls;
mod customers;
mod error;
mod form;
mod ids;
mod intents;
mod objects;
mod payment_methods;
mod payments;
mod refunds;
mod server;
mod setup_intents;
mod state;
mod store;
mod test_cards;
mod webhooks;

pub use config::{FakeConfig, WebhookRetry, DEFAULT_PORT, DEV_API_KEY, DEV_WEBHOOK_SECRET};
pub use controls::Fault;
pub use error::ApiError;
pub use server::{RunningFake, StripeFake};
pub use webhooks::DeliveryAttempt;
