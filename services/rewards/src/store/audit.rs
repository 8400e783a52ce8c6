//! The audit log of admin awards.

use super::schema::award_audit;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Insertable)]
#[diesel(table_name = award_audit)]
pub struct NewAward<'a> {
    pub id: Uuid,
    pub admin_id: &'a str,
    pub user_id: Uuid,
    pub amount: i64,
    pub reason: &'a str,
    pub transaction_id: Uuid,
    pub idempotency_key: &'a str,
    pub request_id: Option<&'a str>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &NewAward<'_>) -> QueryResult<usize> {
    diesel::insert_into(award_audit::table).values(row).execute(conn).await
}
