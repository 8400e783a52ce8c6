//! Response bodies.

use crate::core::tickets::status_of;
use crate::domain::branding;
use crate::domain::license_key::LicenseKey;
use crate::domain::sla::{self, TicketStatus};
use crate::store::licenses::License;
use crate::store::organizations::{Branding, Organization};
use crate::store::schema::organizations as orgs;
use crate::store::seats::Seat;
use crate::store::tickets::{Comment, Ticket};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrganizationRef {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
}

impl From<&Organization> for OrganizationRef {
    fn from(o: &Organization) -> Self {
        Self { id: o.id, name: o.name.clone(), domain: o.domain.clone() }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LicenseView {
    pub id: Uuid,
    pub organization: OrganizationRef,
    /// The full key, grouped for humans: only in the answer that created the license (it is
    /// stored as a keyed hash and cannot be shown again, not even by a replay of that answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_key: Option<String>,
    /// The key's first group of five, to recognise it; only admins and the organisation's org
    /// admins ever see licenses.
    pub license_key_prefix: String,
    /// `enterprise` or `pro`.
    pub tier: String,
    /// `active`, `suspended`, `revoked` or `expired`.
    pub status: String,
    /// Why it was suspended or revoked, when a reason was given.
    pub status_reason: Option<String>,
    pub seats: i32,
    pub seats_used: i32,
    pub seats_available: i32,
    pub peak_seats_used: i32,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The test clock it lives on (sandbox only): it expires, and its tickets' SLA timers run, in
    /// the clock's time. Absent for a license in real time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_clock: Option<Uuid>,
}

impl LicenseView {
    /// The answer that creates the license: the only one that shows its key in full.
    pub fn created(l: &License, org: OrganizationRef, key: &LicenseKey) -> Self {
        Self { license_key: Some(key.display()), ..Self::new(l, org) }
    }

    /// Take the full key out of a stored answer (`idempotency::execute_concealed`).
    pub fn conceal_key(body: &mut serde_json::Value) {
        if let Some(view) = body.as_object_mut() {
            view.remove("license_key");
        }
    }

    pub fn new(l: &License, org: OrganizationRef) -> Self {
        Self {
            id: l.id,
            organization: org,
            license_key: None,
            license_key_prefix: l.license_key_prefix.clone(),
            tier: l.tier.clone(),
            status: l.status.clone(),
            status_reason: l.status_reason.clone(),
            seats: l.seats,
            seats_used: l.seats_used,
            seats_available: (l.seats - l.seats_used).max(0),
            peak_seats_used: l.peak_seats_used,
            starts_at: l.starts_at,
            expires_at: l.expires_at,
            created_at: l.created_at,
            updated_at: l.updated_at,
            test_clock: l.test_clock_id,
        }
    }
}

/// Views of several licenses with their organisations, loaded in one query.
pub async fn licenses(conn: &mut AsyncPgConnection, rows: &[License]) -> QueryResult<Vec<LicenseView>> {
    let ids: Vec<Uuid> = rows.iter().map(|l| l.organization_id).collect();
    let found: Vec<Organization> =
        orgs::table.filter(orgs::id.eq_any(ids)).select(Organization::as_select()).load(conn).await?;
    let by_id: HashMap<Uuid, OrganizationRef> = found.iter().map(|o| (o.id, o.into())).collect();
    Ok(rows
        .iter()
        .map(|l| {
            let org = by_id.get(&l.organization_id).cloned().unwrap_or(OrganizationRef {
                id: l.organization_id,
                name: String::new(),
                domain: String::new(),
            });
            LicenseView::new(l, org)
        })
        .collect())
}

pub async fn license(conn: &mut AsyncPgConnection, row: &License) -> QueryResult<LicenseView> {
    let mut views = licenses(conn, std::slice::from_ref(row)).await?;
    views.pop().ok_or(diesel::result::Error::NotFound)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SeatView {
    pub id: Uuid,
    pub license_id: Uuid,
    pub user_id: Uuid,
    pub seat_number: i32,
    pub activated_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    /// `released_by_user`, `released_by_org_admin`, `released_by_admin`, `license_expired`,
    /// `license_revoked` or `user_erased`.
    pub release_reason: Option<String>,
}

impl From<&Seat> for SeatView {
    fn from(s: &Seat) -> Self {
        Self {
            id: s.id,
            license_id: s.license_id,
            user_id: s.user_id,
            seat_number: s.seat_number,
            activated_at: s.activated_at,
            released_at: s.released_at,
            release_reason: s.release_reason.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrandingView {
    pub display_name: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub support_email: Option<String>,
    /// The VERIFIED custom domain the branding is served on (null until the claim is verified).
    pub custom_domain: Option<String>,
    /// The organisation's custom domain and how to prove it; only in answers to the organisation's
    /// managers, never in the public lookup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_domain_claim: Option<CustomDomainView>,
}

/// What the public lookup serves: no claim, no token.
impl From<&Branding> for BrandingView {
    fn from(b: &Branding) -> Self {
        Self {
            display_name: b.display_name.clone(),
            logo_url: b.logo_url.clone(),
            primary_color: b.primary_color.clone(),
            secondary_color: b.secondary_color.clone(),
            support_email: b.support_email.clone(),
            custom_domain: b.custom_domain.clone(),
            custom_domain_claim: None,
        }
    }
}

impl BrandingView {
    /// For the organisation's managers: with the custom domain claim and its token.
    pub fn private(b: &Branding) -> Self {
        Self { custom_domain_claim: CustomDomainView::of(b), ..Self::from(b) }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomDomainView {
    #[schema(example = "learn.acme.com")]
    pub domain: String,
    /// `unverified` (claimed, not served) or `verified` (served by the public branding lookup).
    #[schema(example = "unverified")]
    pub status: &'static str,
    pub verified_at: Option<DateTime<Utc>>,
    /// While unverified: the DNS record to publish before `POST .../custom-domain/verify`.
    pub verification: Option<DnsRecordView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DnsRecordView {
    /// Always `TXT`.
    #[serde(rename = "type")]
    #[schema(example = "TXT")]
    pub record_type: &'static str,
    #[schema(example = "_monetization-verification.learn.acme.com")]
    pub name: String,
    /// The verification token.
    pub value: String,
}

impl CustomDomainView {
    pub fn of(b: &Branding) -> Option<Self> {
        if let (Some(domain), Some(token)) = (&b.pending_custom_domain, &b.custom_domain_token) {
            return Some(Self {
                domain: domain.clone(),
                status: "unverified",
                verified_at: None,
                verification: Some(DnsRecordView {
                    record_type: "TXT",
                    name: branding::verification_name(domain),
                    value: token.clone(),
                }),
            });
        }
        b.custom_domain.as_ref().map(|domain| Self {
            domain: domain.clone(),
            status: "verified",
            verified_at: b.custom_domain_verified_at,
            verification: None,
        })
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BusinessHoursView {
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// `HH:MM`, local time.
    #[schema(example = "09:00")]
    pub start: String,
    /// `HH:MM`, local time (`24:00` = midnight at the end of the day).
    #[schema(example = "17:00")]
    pub end: String,
    /// Working days: `mon` .. `sun`.
    #[schema(example = json!(["mon", "tue", "wed", "thu", "fri"]))]
    pub days: Vec<&'static str>,
}

pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub fn hhmm(minute: i32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
    pub business_hours: BusinessHoursView,
    pub branding: Option<BrandingView>,
    pub created_at: DateTime<Utc>,
}

impl OrganizationView {
    pub fn new(o: &Organization, branding: Option<&Branding>) -> Self {
        Self {
            id: o.id,
            name: o.name.clone(),
            domain: o.domain.clone(),
            business_hours: BusinessHoursView {
                time_zone: o.business_time_zone.clone(),
                start: hhmm(o.business_start_minute),
                end: hhmm(o.business_end_minute),
                days: DAY_NAMES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| o.business_days & (1 << i) != 0)
                    .map(|(_, d)| *d)
                    .collect(),
            },
            branding: branding.map(BrandingView::private),
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaTargetView {
    pub target_minutes: i32,
    pub due_at: Option<DateTime<Utc>>,
    pub met_at: Option<DateTime<Utc>>,
    pub breached: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaView {
    /// `business_hours` (P3/P4: counted in the organisation's business hours) or `24x7`.
    #[schema(example = "24x7")]
    pub clock: &'static str,
    pub time_zone: Option<String>,
    /// The clock stands still (waiting on the customer, or resolved).
    pub paused: bool,
    pub first_response: SlaTargetView,
    pub resolution: SlaTargetView,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommentView {
    pub id: Uuid,
    pub author_id: Uuid,
    /// `agent` or `customer`.
    pub author_role: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl From<&Comment> for CommentView {
    fn from(c: &Comment) -> Self {
        Self {
            id: c.id,
            author_id: c.author_id,
            author_role: c.author_role.clone(),
            body: c.body.clone(),
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub license_id: Uuid,
    pub created_by: Uuid,
    pub subject: String,
    pub description: String,
    /// `P1` (critical) .. `P4` (low).
    pub priority: String,
    /// `open`, `waiting_on_customer`, `in_progress`, `resolved` or `closed`.
    pub status: String,
    /// The license tier the SLA targets come from.
    pub tier: String,
    pub sla: SlaView,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only when reading one ticket (the first page of comments, oldest first) or commenting (the
    /// new one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<CommentView>>,
    /// Reading one ticket with more comments than the first page: pass it as `cursor` to
    /// `GET .../comments` for the rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments_next_cursor: Option<String>,
}

impl TicketView {
    /// Breach flags are live: a target past due counts as breached even before the scheduler
    /// has flagged it.
    pub fn new(t: &Ticket, now: DateTime<Utc>) -> Self {
        let status = status_of(t);
        let target = |minutes, due, met, flagged: Option<DateTime<Utc>>| SlaTargetView {
            target_minutes: minutes,
            due_at: due,
            met_at: met,
            breached: flagged.is_some() || sla::is_breached(due, met, now),
        };
        Self {
            id: t.id,
            organization_id: t.organization_id,
            license_id: t.license_id,
            created_by: t.created_by,
            subject: t.subject.clone(),
            description: t.description.clone(),
            priority: t.priority.clone(),
            status: t.status.clone(),
            tier: t.tier.clone(),
            sla: SlaView {
                clock: if t.business_hours { "business_hours" } else { "24x7" },
                time_zone: t.business_hours.then(|| t.time_zone.clone()),
                paused: status.pauses_clock() && status != TicketStatus::Closed,
                first_response: target(
                    t.first_response_minutes,
                    t.first_response_due_at,
                    t.first_response_at,
                    t.first_response_breached_at,
                ),
                resolution: target(t.resolution_minutes, t.resolution_due_at, t.resolved_at, t.resolution_breached_at),
            },
            resolved_at: t.resolved_at,
            closed_at: t.closed_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
            comments: None,
            comments_next_cursor: None,
        }
    }
}
