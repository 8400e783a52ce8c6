//! Stripe objects and the parameters of the calls that create or change them. Field names are Stripe's, so the
//! structs double as documentation of what billing reads from each object.

mod charge;
mod customer;
mod intent;
mod payment_intent;
mod payment_method;
mod refund;
mod setup_intent;

use std::collections::BTreeMap;

pub use charge::{CardDetails, Charge, ChargeStatus, PaymentMethodDetails, RefundList};
pub use customer::{CreateCustomer, Customer, DeletedCustomer, InvoiceSettings};
pub use intent::IntentStatus;
pub use payment_intent::{
    CancelPaymentIntent, CancellationReason, ConfirmPaymentIntent, CreatePaymentIntent, LastPaymentError,
    PaymentIntent, PaymentIntentStatus,
};
pub use payment_method::{PaymentMethod, PaymentMethodList, SavedCard};
pub use refund::{CreateRefund, Refund, RefundReason, RefundStatus};
pub use setup_intent::{CreateSetupIntent, SetupIntent, SetupIntentStatus, SetupUsage};

/// Stripe metadata: string keys to string values. Ordered so a request encodes identically on every retry.
pub type Metadata = BTreeMap<String, String>;

/// Stripe ids are ASCII letters, digits and underscores; checking before putting one in a URL path keeps a hostile
/// or corrupted id from addressing another endpoint.
pub(crate) fn check_id(kind: &str, id: &str) -> Result<(), crate::StripeError> {
    let valid = !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(crate::StripeError::InvalidArgument(format!("malformed {kind} id {id:?}")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::check_id;

    #[test]
    fn ids_cannot_escape_the_path() {
        assert!(check_id("payment_intent", "pi_3Abc123").is_ok());
        for bad in ["", "pi_1/../../customers", "pi 1", "pi_1?x=1", "pi_é"] {
            assert!(check_id("payment_intent", bad).is_err(), "{bad}");
        }
    }
}
