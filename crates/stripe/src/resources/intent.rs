use serde::Deserialize;

/// The status machine PaymentIntents and SetupIntents share (Stripe's SetupIntent has no
/// `requires_capture`; reading one would be harmless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
    /// A status added by a newer API version; treat as "not settled".
    #[serde(other)]
    Unknown,
}

impl IntentStatus {
    /// No further change will happen to the intent by itself.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Canceled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresPaymentMethod => "requires_payment_method",
            Self::RequiresConfirmation => "requires_confirmation",
            Self::RequiresAction => "requires_action",
            Self::Processing => "processing",
            Self::RequiresCapture => "requires_capture",
            Self::Canceled => "canceled",
            Self::Succeeded => "succeeded",
            Self::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_status_and_tolerates_new_ones() {
        for s in [
            IntentStatus::RequiresPaymentMethod,
            IntentStatus::RequiresConfirmation,
            IntentStatus::RequiresAction,
            IntentStatus::Processing,
            IntentStatus::RequiresCapture,
            IntentStatus::Canceled,
            IntentStatus::Succeeded,
        ] {
            let read: IntentStatus = serde_json::from_value(serde_json::json!(s.as_str())).unwrap();
            assert_eq!(read, s);
        }
        let new: IntentStatus = serde_json::from_str(r#""requires_something_new""#).unwrap();
        assert_eq!(new, IntentStatus::Unknown);
        assert!(IntentStatus::Succeeded.is_terminal() && !IntentStatus::Processing.is_terminal());
    }
}
