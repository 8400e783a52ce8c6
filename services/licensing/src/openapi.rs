//! Licensing's part of the public API document.

use crate::reports::{LicenseStatusRow, RenewalRow, TicketRow, UtilizationRow};
use crate::routes::certificates::{CertificateView, PublicJwk, PublicKeyView};
use crate::routes::licenses::{CreateLicense, Extend, OrganizationBody, Reason, SeatCount};
use crate::routes::organizations::{BrandingBody, BusinessHoursBody};
use crate::routes::seats::{Activate, ActivationView};
use crate::routes::tickets::{CommentBody, CreateTicket, StatusBody};
use crate::routes::usage::{AlertView, DayView, UsageView};
use crate::routes::views::{
    BrandingView, BusinessHoursView, CommentView, CustomDomainView, DnsRecordView, LicenseView, OrganizationRef,
    OrganizationView, SeatView, SlaTargetView, SlaView, TicketView,
};
use platform::pagination::Page;
use platform::problem::{FieldError, Problem};
use platform::reports::{Interval, Report, Snapshot};
use utoipa::openapi::Required;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::routes::licenses::create,
        crate::routes::seats::activate,
        crate::routes::certificates::public_key,
        crate::routes::licenses::list,
        crate::routes::licenses::get,
        crate::routes::licenses::change_seats,
        crate::routes::licenses::extend,
        crate::routes::licenses::suspend,
        crate::routes::licenses::reinstate,
        crate::routes::licenses::revoke,
        crate::routes::seats::list,
        crate::routes::seats::release,
        crate::routes::certificates::certificate,
        crate::routes::usage::usage,
        crate::routes::seats::mine,
        crate::routes::organizations::public_branding,
        crate::routes::organizations::get,
        crate::routes::organizations::put_branding,
        crate::routes::organizations::verify_domain,
        crate::routes::organizations::put_business_hours,
        crate::routes::tickets::create,
        crate::routes::tickets::list,
        crate::routes::tickets::get,
        crate::routes::tickets::comment,
        crate::routes::tickets::comments,
        crate::routes::tickets::set_status,
        crate::routes::reports::tickets,
        crate::routes::reports::licenses,
        crate::routes::reports::utilization,
        crate::routes::reports::renewals,
    ),
    components(schemas(
        CreateLicense, OrganizationBody, BrandingBody, LicenseView, OrganizationRef, Page<LicenseView>, SeatCount, Extend,
        Reason, Activate, ActivationView, SeatView, Page<SeatView>, CertificateView, PublicKeyView, PublicJwk, UsageView, DayView,
        AlertView, OrganizationView, BusinessHoursView, BrandingView, CustomDomainView, DnsRecordView, BusinessHoursBody, CreateTicket, TicketView, SlaView,
        SlaTargetView, CommentView, Page<TicketView>, Page<CommentView>, CommentBody, StatusBody, Problem, FieldError,
        TicketRow, Report<TicketRow>, LicenseStatusRow, Snapshot<LicenseStatusRow>, UtilizationRow,
        Snapshot<UtilizationRow>, RenewalRow, Snapshot<RenewalRow>, Interval
    )),
    modifiers(&OptionalReasonBody),
    tags((name = "licensing", description = "Enterprise licenses and seats, signed certificates, usage, white-label branding and SLA support tickets"))
)]
pub struct ApiDoc;

/// Suspend and revoke take an optional `{reason}` body (empty is no reason); the attribute syntax
/// can only say "required" for a non-`Option` body (and `Option` would allow a `null` body, which
/// is refused).
struct OptionalReasonBody;

impl Modify for OptionalReasonBody {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for path in ["/api/enterprise/licenses/{id}/suspend", "/api/enterprise/licenses/{id}/revoke"] {
            let op = doc.paths.paths.get_mut(path).and_then(|item| item.post.as_mut());
            if let Some(body) = op.and_then(|op| op.request_body.as_mut()) {
                body.required = Some(Required::False);
            }
        }
    }
}
