//! Licensing's errors, mapped to problem+json in one place.

use crate::domain::license::Unusable;
use crate::domain::license_key::KeyError;
use actix_web::http::StatusCode;
use platform::problem::FieldError;
use platform::Problem;

#[derive(Debug, thiserror::Error)]
pub enum LicensingError {
    #[error("license not found")]
    LicenseNotFound,
    #[error("organization not found")]
    OrganizationNotFound,
    #[error("ticket not found")]
    TicketNotFound,
    #[error("seat not found")]
    SeatNotFound,
    #[error("the license key is not valid: {0:?}")]
    InvalidKey(KeyError),
    #[error("every seat of the license is taken")]
    SeatLimitReached,
    #[error("the license cannot be used: {0:?}")]
    Unusable(Unusable),
    #[error("the seat count cannot drop below the {in_use} seats in use")]
    SeatsBelowUsage { in_use: i32 },
    #[error("{0}")]
    InvalidTransition(String),
    #[error("the custom domain is taken by another organization")]
    CustomDomainTaken,
    #[error("the organization has no custom domain waiting for verification")]
    NoPendingCustomDomain,
    #[error("no TXT record {name} with the organization's verification token was found")]
    DomainNotVerified { name: String },
    #[error("the DNS lookup failed: {0}")]
    DnsUnavailable(String),
    #[error("the custom domain claim changed while it was being verified; verify again")]
    ClaimChanged,
    #[error("no active license covers the caller's organization")]
    NoActiveLicense,
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    #[error(transparent)]
    Problem(#[from] Problem),
}

impl LicensingError {
    pub fn field(field: &str, message: &str) -> Self {
        LicensingError::Validation(vec![FieldError { field: field.into(), message: message.into() }])
    }
}

impl From<diesel::result::Error> for LicensingError {
    fn from(e: diesel::result::Error) -> Self {
        LicensingError::Problem(e.into())
    }
}

impl From<platform::db::PoolError> for LicensingError {
    fn from(e: platform::db::PoolError) -> Self {
        LicensingError::Problem(e.into())
    }
}

impl From<Unusable> for LicensingError {
    fn from(u: Unusable) -> Self {
        LicensingError::Unusable(u)
    }
}

impl From<LicensingError> for Problem {
    fn from(e: LicensingError) -> Self {
        use LicensingError as E;
        match e {
            E::LicenseNotFound => Problem::not_found("license"),
            E::OrganizationNotFound => Problem::not_found("organization"),
            E::TicketNotFound => Problem::not_found("ticket"),
            E::SeatNotFound => Problem::not_found("seat"),
            E::InvalidKey(kind) => {
                let detail = match kind {
                    KeyError::Malformed => {
                        "a license key is 30 characters (0-9, A-Z without I, L, O, U) in groups of five"
                    }
                    KeyError::CheckFailed => "the key's check character does not match: a character was mistyped",
                };
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_license_key", "The license key is not valid")
                    .with_detail(detail)
            }
            E::SeatLimitReached => Problem::conflict("seat_limit_reached", "every seat of this license is taken"),
            E::Unusable(u) => {
                let (code, title) = match u {
                    Unusable::Expired => ("license_expired", "The license has expired"),
                    Unusable::Suspended => ("license_suspended", "The license is suspended"),
                    Unusable::Revoked => ("license_revoked", "The license was revoked"),
                    Unusable::NotYetValid => ("license_not_yet_valid", "The license is not valid yet"),
                };
                Problem::new(StatusCode::FORBIDDEN, code, title)
            }
            E::SeatsBelowUsage { .. } => Problem::conflict("seats_below_usage", e.to_string()),
            E::InvalidTransition(detail) => Problem::conflict("invalid_state_transition", detail),
            E::CustomDomainTaken => Problem::conflict("custom_domain_taken", e.to_string()),
            E::NoPendingCustomDomain => Problem::conflict("no_pending_custom_domain", e.to_string()),
            E::ClaimChanged => Problem::conflict("custom_domain_claim_changed", e.to_string()),
            E::DomainNotVerified { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "domain_verification_failed",
                "The custom domain could not be verified",
            )
            .with_detail(e.to_string()),
            E::DnsUnavailable(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "dns_unavailable",
                "The DNS lookup failed; try again later",
            ),
            E::NoActiveLicense => Problem::new(StatusCode::FORBIDDEN, "no_active_license", "No active license")
                .with_detail("support tickets are for members of an organization with an active license"),
            E::Validation(errors) => Problem::validation(errors),
            E::Problem(p) => p,
        }
    }
}

/// A unique violation on `constraint`, as diesel reports it.
pub fn is_unique_violation(e: &diesel::result::Error, constraint: &str) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(constraint)
    )
}
