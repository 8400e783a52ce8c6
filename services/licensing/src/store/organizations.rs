use super::schema::{branding, organizations};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
    pub business_time_zone: String,
    pub business_start_minute: i32,
    pub business_end_minute: i32,
    pub business_days: i16,
    pub created_at: DateTime<Utc>,
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Organization>> {
    organizations::table.find(id).select(Organization::as_select()).first(conn).await.optional()
}

/// The organisation of `domain`, created with `name` if there is none yet. Returns it and whether
/// it was created.
pub async fn find_or_create(
    conn: &mut AsyncPgConnection,
    name: &str,
    domain: &str,
    now: DateTime<Utc>,
) -> QueryResult<(Organization, bool)> {
    let inserted = diesel::insert_into(organizations::table)
        .values((
            organizations::id.eq(Uuid::now_v7()),
            organizations::name.eq(name),
            organizations::domain.eq(domain),
            organizations::created_at.eq(now),
        ))
        .on_conflict(organizations::domain)
        .do_nothing()
        .returning(Organization::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match inserted {
        Some(org) => Ok((org, true)),
        None => organizations::table
            .filter(organizations::domain.eq(domain))
            .select(Organization::as_select())
            .first(conn)
            .await
            .map(|org| (org, false)),
    }
}

pub struct BusinessHoursRow<'a> {
    pub time_zone: &'a str,
    pub start_minute: i32,
    pub end_minute: i32,
    pub days: i16,
}

pub async fn set_business_hours(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    hours: &BusinessHoursRow<'_>,
) -> QueryResult<Option<Organization>> {
    diesel::update(organizations::table.find(id))
        .set((
            organizations::business_time_zone.eq(hours.time_zone),
            organizations::business_start_minute.eq(hours.start_minute),
            organizations::business_end_minute.eq(hours.end_minute),
            organizations::business_days.eq(hours.days),
        ))
        .returning(Organization::as_returning())
        .get_result(conn)
        .await
        .optional()
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = branding, treat_none_as_null = true)]
pub struct Branding {
    pub organization_id: Uuid,
    pub display_name: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<String>,
    pub support_email: Option<String>,
    /// The verified custom domain: the only one the public lookup serves.
    pub custom_domain: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// A claimed custom domain waiting for its DNS TXT record (not unique across organisations).
    pub pending_custom_domain: Option<String>,
    pub custom_domain_token: Option<String>,
    pub custom_domain_verified_at: Option<DateTime<Utc>>,
}

pub async fn branding_of(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<Option<Branding>> {
    branding::table.find(org).select(Branding::as_select()).first(conn).await.optional()
}

/// The branding row, locked until the end of the transaction.
pub async fn lock_branding(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<Option<Branding>> {
    branding::table.find(org).for_update().select(Branding::as_select()).first(conn).await.optional()
}

/// The organisation that has verified `domain` as its custom domain.
pub async fn verified_owner(conn: &mut AsyncPgConnection, domain: &str) -> QueryResult<Option<Uuid>> {
    branding::table
        .filter(branding::custom_domain.eq(domain))
        .select(branding::organization_id)
        .first(conn)
        .await
        .optional()
}

/// The organisation whose own domain (set by an admin with its license) is `domain`.
pub async fn owner_of_domain(conn: &mut AsyncPgConnection, domain: &str) -> QueryResult<Option<Uuid>> {
    organizations::table.filter(organizations::domain.eq(domain)).select(organizations::id).first(conn).await.optional()
}

/// `org` proved it controls its pending custom domain: serve it. Fails with the unique violation
/// `branding_custom_domain_key` when another organisation verified it first.
pub async fn mark_verified(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    domain: &str,
    now: DateTime<Utc>,
) -> QueryResult<Branding> {
    diesel::update(branding::table.find(org))
        .set((
            branding::custom_domain.eq(domain),
            branding::pending_custom_domain.eq(None::<String>),
            branding::custom_domain_token.eq(None::<String>),
            branding::custom_domain_verified_at.eq(now),
            branding::updated_at.eq(now),
        ))
        .returning(Branding::as_returning())
        .get_result(conn)
        .await
}

/// Drop every other organisation's pending claim of `domain`: its owner has proven it.
pub async fn release_claims(conn: &mut AsyncPgConnection, domain: &str, owner: Uuid) -> QueryResult<usize> {
    diesel::update(
        branding::table.filter(branding::pending_custom_domain.eq(domain)).filter(branding::organization_id.ne(owner)),
    )
    .set((branding::pending_custom_domain.eq(None::<String>), branding::custom_domain_token.eq(None::<String>)))
    .execute(conn)
    .await
}

/// Replace the organisation's branding. A custom domain held by another organisation fails with
/// the unique violation `branding_custom_domain_key`.
pub async fn put_branding(conn: &mut AsyncPgConnection, row: &Branding) -> QueryResult<Branding> {
    diesel::insert_into(branding::table)
        .values(row)
        .on_conflict(branding::organization_id)
        .do_update()
        .set(row)
        .returning(Branding::as_returning())
        .get_result(conn)
        .await
}

/// Branding for a host name: an organisation's custom domain first, else its own domain.
pub async fn branding_for_domain(conn: &mut AsyncPgConnection, domain: &str) -> QueryResult<Option<Branding>> {
    let by_custom = branding::table
        .filter(branding::custom_domain.eq(domain))
        .select(Branding::as_select())
        .first(conn)
        .await
        .optional()?;
    if by_custom.is_some() {
        return Ok(by_custom);
    }
    branding::table
        .inner_join(organizations::table)
        .filter(organizations::domain.eq(domain))
        .select(Branding::as_select())
        .first(conn)
        .await
        .optional()
}
