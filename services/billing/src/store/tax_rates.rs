//! Admin-defined tax rates: deactivated, never deleted.

use super::schema::tax_rates;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tax_rates)]
pub struct TaxRate {
    pub id: Uuid,
    pub country: String,
    pub region: Option<String>,
    pub percentage: Decimal,
    pub inclusive: bool,
    pub display_name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, rate: &TaxRate) -> QueryResult<TaxRate> {
    diesel::insert_into(tax_rates::table).values(rate).returning(TaxRate::as_returning()).get_result(conn).await
}

/// Every rate, active first, by place.
pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<TaxRate>> {
    tax_rates::table
        .select(TaxRate::as_select())
        .order((tax_rates::active.desc(), tax_rates::country, tax_rates::region, tax_rates::created_at))
        .load(conn)
        .await
}

pub async fn deactivate(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TaxRate>> {
    diesel::update(tax_rates::table.find(id))
        .set(tax_rates::active.eq(false))
        .returning(TaxRate::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// The active rate for a place: the region's own rate if there is one, else the country's.
pub async fn applicable(
    conn: &mut AsyncPgConnection,
    country: &str,
    region: Option<&str>,
) -> QueryResult<Option<TaxRate>> {
    let rates: Vec<TaxRate> = tax_rates::table
        .filter(tax_rates::active.eq(true).and(tax_rates::country.eq(country)))
        .select(TaxRate::as_select())
        .load(conn)
        .await?;
    let regional = region.and_then(|r| rates.iter().find(|t| t.region.as_deref() == Some(r)));
    Ok(regional.or_else(|| rates.iter().find(|t| t.region.is_none())).cloned())
}
