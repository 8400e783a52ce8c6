//! Invoices and credit notes: frozen documents, numbered from the receipts' counter.

use super::schema::{credit_notes, invoices};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An invoice row (what issuing a credit note needs of it).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invoices)]
pub struct InvoiceRow {
    pub id: Uuid,
    pub number: String,
    pub payment_id: Uuid,
    pub user_id: Uuid,
    pub currency: String,
    pub subtotal: Decimal,
    pub tax_amount: Decimal,
    pub total: Decimal,
    pub document: serde_json::Value,
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = credit_notes)]
pub struct CreditNoteRow {
    pub id: Uuid,
    pub number: String,
    pub invoice_id: Uuid,
    pub refund_id: Uuid,
    pub user_id: Uuid,
    pub currency: String,
    pub subtotal: Decimal,
    pub tax_amount: Decimal,
    pub total: Decimal,
    pub document: serde_json::Value,
    pub issued_at: DateTime<Utc>,
}

/// What both inserts take.
pub struct NewDocument<'a> {
    pub id: Uuid,
    pub number: &'a str,
    pub user_id: Uuid,
    pub currency: &'a str,
    pub subtotal: Decimal,
    pub tax_amount: Decimal,
    pub total: Decimal,
    pub document: serde_json::Value,
    pub issued_at: DateTime<Utc>,
}

/// Takes the connection shared: the success pipelines it with the payment's update and the event.
pub async fn insert_invoice(mut conn: &AsyncPgConnection, payment_id: Uuid, d: &NewDocument<'_>) -> QueryResult<usize> {
    diesel::insert_into(invoices::table)
        .values((
            invoices::id.eq(d.id),
            invoices::number.eq(d.number),
            invoices::payment_id.eq(payment_id),
            invoices::user_id.eq(d.user_id),
            invoices::currency.eq(d.currency),
            invoices::subtotal.eq(d.subtotal),
            invoices::tax_amount.eq(d.tax_amount),
            invoices::total.eq(d.total),
            invoices::document.eq(&d.document),
            invoices::issued_at.eq(d.issued_at),
        ))
        .execute(&mut conn)
        .await
}

pub async fn insert_credit_note(
    conn: &mut AsyncPgConnection,
    invoice_id: Uuid,
    refund_id: Uuid,
    d: &NewDocument<'_>,
) -> QueryResult<usize> {
    diesel::insert_into(credit_notes::table)
        .values((
            credit_notes::id.eq(d.id),
            credit_notes::number.eq(d.number),
            credit_notes::invoice_id.eq(invoice_id),
            credit_notes::refund_id.eq(refund_id),
            credit_notes::user_id.eq(d.user_id),
            credit_notes::currency.eq(d.currency),
            credit_notes::subtotal.eq(d.subtotal),
            credit_notes::tax_amount.eq(d.tax_amount),
            credit_notes::total.eq(d.total),
            credit_notes::document.eq(&d.document),
            credit_notes::issued_at.eq(d.issued_at),
        ))
        .execute(conn)
        .await
}

pub async fn invoice_of_payment(conn: &mut AsyncPgConnection, payment_id: Uuid) -> QueryResult<Option<InvoiceRow>> {
    invoices::table
        .filter(invoices::payment_id.eq(payment_id))
        .select(InvoiceRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Credit notes already issued against an invoice, oldest first.
pub async fn credit_notes_of(conn: &mut AsyncPgConnection, invoice_id: Uuid) -> QueryResult<Vec<CreditNoteRow>> {
    credit_notes::table
        .filter(credit_notes::invoice_id.eq(invoice_id))
        .select(CreditNoteRow::as_select())
        .order((credit_notes::issued_at, credit_notes::id))
        .load(conn)
        .await
}

/// Keyset position: newest first, ties broken by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// The two documents a customer reads; their tables differ only in what they link to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invoice,
    CreditNote,
}

/// What reading a document needs of its row, whichever its kind.
#[derive(Debug, Clone, Queryable)]
pub struct DocumentRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub document: serde_json::Value,
    pub issued_at: DateTime<Utc>,
}

/// The same query on either table: `$t` is `invoices` or `credit_notes` (same column names).
macro_rules! on_table {
    ($kind:expr, |$t:ident| $query:expr) => {
        match $kind {
            Kind::Invoice => {
                use super::schema::invoices as $t;
                $query
            }
            Kind::CreditNote => {
                use super::schema::credit_notes as $t;
                $query
            }
        }
    };
}

pub async fn find(conn: &mut AsyncPgConnection, kind: Kind, id: Uuid) -> QueryResult<Option<DocumentRow>> {
    on_table!(kind, |t| t::table
        .find(id)
        .select((t::id, t::user_id, t::document, t::issued_at))
        .first::<DocumentRow>(conn)
        .await
        .optional())
}

/// One page of `user_id`'s documents of `kind`, newest first (`limit + 1` rows to know if more
/// exist).
pub async fn page(
    conn: &mut AsyncPgConnection,
    kind: Kind,
    user_id: Uuid,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<DocumentRow>> {
    on_table!(kind, |t| {
        let mut query = t::table
            .filter(t::user_id.eq(user_id))
            .select((t::id, t::user_id, t::document, t::issued_at))
            .order((t::issued_at.desc(), t::id.desc()))
            .limit(limit + 1)
            .into_boxed();
        if let Some(c) = after {
            query = query.filter(t::issued_at.lt(c.at).or(t::issued_at.eq(c.at).and(t::id.lt(c.id))));
        }
        query.load::<DocumentRow>(conn).await
    })
}

/// Tax per bucket, currency and country: invoiced (`kind = 'invoice'`) and credited back
/// (`'credit_note'`), by issue time in `[from, to)`. The country is the customer's billing country
/// the tax was computed from ('' when they had set none).
#[derive(Debug, Clone, QueryableByName)]
pub struct TaxTotal {
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub bucket: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub country: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kind: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub documents: i64,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub net: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub tax: Decimal,
}

pub async fn tax_totals(
    conn: &mut AsyncPgConnection,
    starts: &[DateTime<Utc>],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<TaxTotal>> {
    use diesel::sql_types::{Array, Timestamptz};
    diesel::sql_query(
        "SELECT width_bucket(d.issued_at, $1) AS bucket, trim(d.currency) AS currency,
                COALESCE(trim(p.tax_country), '') AS country, d.kind, count(*)::int8 AS documents,
                sum(d.subtotal) AS net, sum(d.tax_amount) AS tax
           FROM (SELECT payment_id, issued_at, currency, subtotal, tax_amount, 'invoice' AS kind FROM invoices
                  WHERE issued_at >= $2 AND issued_at < $3
                 UNION ALL
                 SELECT i.payment_id, c.issued_at, c.currency, c.subtotal, c.tax_amount, 'credit_note'
                   FROM credit_notes c JOIN invoices i ON i.id = c.invoice_id
                  WHERE c.issued_at >= $2 AND c.issued_at < $3) d
           JOIN payments p ON p.id = d.payment_id
          GROUP BY 1, 2, 3, 4",
    )
    .bind::<Array<Timestamptz>, _>(starts)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await
}
