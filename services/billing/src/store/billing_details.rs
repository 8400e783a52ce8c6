//! The customer's billing details (one row per user).

use super::schema::billing_details;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = billing_details, treat_none_as_null = true)]
pub struct Details {
    pub user_id: Uuid,
    pub name: String,
    pub company: Option<String>,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    pub country: String,
    pub vat_id: Option<String>,
    pub business: bool,
    pub updated_at: DateTime<Utc>,
}

pub async fn find(mut conn: &AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<Details>> {
    billing_details::table.find(user_id).select(Details::as_select()).first(&mut conn).await.optional()
}

/// Insert or replace the user's details (a PUT).
pub async fn upsert(conn: &mut AsyncPgConnection, d: &Details) -> QueryResult<Details> {
    diesel::insert_into(billing_details::table)
        .values(d)
        .on_conflict(billing_details::user_id)
        .do_update()
        .set(d)
        .returning(Details::as_returning())
        .get_result(conn)
        .await
}
