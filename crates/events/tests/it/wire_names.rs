//! The names billing and licensing store in their columns (`as_str`/`parse`) are the names their
//! events carry on the wire (serde): a refund reason or payment purpose written by one and read by
//! the other must mean the same thing, and a name nobody defined is refused, never defaulted.

use events::catalog::billing::{PaymentPurpose, RefundReason};
use events::catalog::licensing::SeatReleaseReason;
use serde_json::json;

#[test]
fn payment_purposes_store_and_travel_under_one_name() {
    for p in [PaymentPurpose::CoursePurchase, PaymentPurpose::Subscription, PaymentPurpose::License] {
        assert_eq!(serde_json::to_value(p).unwrap(), json!(p.as_str()));
        assert_eq!(PaymentPurpose::parse(p.as_str()), Some(p));
    }
    for unknown in ["", "course", "Subscription", "license "] {
        assert_eq!(PaymentPurpose::parse(unknown), None, "{unknown:?}");
    }
}

#[test]
fn refund_reasons_store_and_travel_under_one_name() {
    let all = [
        RefundReason::RequestedByCustomer,
        RefundReason::Duplicate,
        RefundReason::Fraudulent,
        RefundReason::Goodwill,
        RefundReason::Unfulfillable,
    ];
    for r in all {
        assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        assert_eq!(RefundReason::parse(r.as_str()), Some(r));
        assert_eq!(serde_json::from_value::<RefundReason>(json!(r.as_str())).unwrap(), r);
    }
    for unknown in ["", "fraud", "Goodwill", "expired_uncaptured_charge"] {
        assert_eq!(RefundReason::parse(unknown), None, "{unknown:?}");
    }
}

#[test]
fn seat_release_reasons_store_and_travel_under_one_name() {
    for r in [
        SeatReleaseReason::ReleasedByUser,
        SeatReleaseReason::ReleasedByOrgAdmin,
        SeatReleaseReason::ReleasedByAdmin,
        SeatReleaseReason::LicenseExpired,
        SeatReleaseReason::LicenseRevoked,
    ] {
        assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        assert_eq!(serde_json::from_value::<SeatReleaseReason>(json!(r.as_str())).unwrap(), r);
    }
}
