//! What every report endpoint shares: the `from`/`to`/`interval` query and its UTC buckets, the
//! answer's envelope, and content negotiation between JSON (the default) and CSV
//! (`Accept: text/csv`). A service brings only its own queries and row type.
//!
//! The rules, documented for clients in docs/api.md ("Reports"):
//! - `from` (inclusive) and `to` (exclusive) are RFC 3339 instants or dates (`2026-01-01` is
//!   midnight UTC); `to` must be after `from`.
//! - `interval` is `day`, `week` (ISO weeks, from Monday 00:00 UTC) or `month` (the default). The
//!   buckets are calendar-aligned in UTC and clipped to the range: `from=2026-01-15&to=2026-03-01`
//!   by month gives 2026-01-15..2026-02-01 and 2026-02-01..2026-03-01.
//! - At most [`MAX_BUCKETS`] buckets (a year of days); more is a 422 naming `interval`.
//! - Money is never summed across currencies: a report has one row per bucket and currency.
//!   Amounts are exact decimal strings in JSON and in CSV.
//!
//! A report handler, start to end:
//!
//! ```ignore
//! use platform::reports::{self, CsvTable, Csv, Format, Report, ReportQuery};
//!
//! #[derive(serde::Serialize, utoipa::ToSchema)]
//! pub struct SalesRow { period_start: DateTime<Utc>, period_end: DateTime<Utc>, currency: Currency,
//!                       #[schema(value_type = String)] gross: Decimal, sales: i64 }
//!
//! impl CsvTable for SalesRow {
//!     fn csv(rows: &[Self]) -> Csv {
//!         let mut csv = Csv::new(&["period_start", "period_end", "currency", "gross", "sales"]);
//!         for r in rows {
//!             csv.row([r.period_start.into(), r.period_end.into(), r.currency.code().into(),
//!                      r.gross.into(), r.sales.into()]);
//!         }
//!         csv
//!     }
//! }
//!
//! #[utoipa::path(get, path = "/api/admin/reports/sales", params(ReportQuery),
//!     responses((status = 200, body = Report<SalesRow>, content_type = "application/json"),
//!               (status = 200, body = String, content_type = "text/csv")))]
//! pub async fn sales(principal: Principal, q: Query<ReportQuery>, format: Format, state: web::Data<State>)
//!     -> Result<HttpResponse, Problem> {
//!     let now = state.clock.now();
//!     // 403 unless admin, 422 on a bad range or too many buckets, then JSON or CSV.
//!     reports::admin_range(&principal, &state.pool, &q, format, async |conn, series| {
//!         store::sales(conn, series, now).await
//!     })
//!     .await
//! }
//! ```
//!
//! The store reads a range from an append-only fact table dated with the service clock: SQL
//! `width_bucket(at, $1::timestamptz[])` with `$1 = series.starts()` gives the bucket number (0:
//! before `from`), or `series.bucket_of(t)` in Rust. Whole days closed at `now` come from a
//! per-day summary kept by [`DailySummary::prepare`] (no trigger: writers never queue on a summary
//! row), the rest live; [`Split`] says which is which. Snapshots of the state now use
//! [`admin_snapshot`]; other envelopes implement [`Envelope`] and use [`admin`] or [`serve`].

use crate::auth::{Principal, Role};
use crate::problem::Problem;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use std::future::{ready, Ready};

/// The most buckets one report answers: a year of days, or a year of monthly buckets many times.
pub const MAX_BUCKETS: usize = 366;

/// The media type of the CSV form of a report.
pub const CSV: &str = "text/csv; charset=utf-8";

/// How wide each bucket of a report is. Calendar units in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Day,
    /// ISO weeks: Monday 00:00 UTC to the next Monday.
    Week,
    #[default]
    Month,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    /// The start of the bucket holding `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let day = t.date_naive();
        let start = match self {
            Interval::Day => day,
            Interval::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Interval::Month => day.with_day(1).unwrap_or(day),
        };
        Utc.from_utc_datetime(&start.and_time(NaiveTime::MIN))
    }

    /// The start of the bucket after the one starting at `start` (`None` past chrono's range).
    fn next(self, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Interval::Day => start.checked_add_signed(Duration::days(1)),
            Interval::Week => start.checked_add_signed(Duration::weeks(1)),
            Interval::Month => start.checked_add_months(Months::new(1)),
        }
    }
}

/// The query every report takes: `?from=&to=&interval=`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Start of the range, inclusive: an RFC 3339 instant or a date (midnight UTC).
    #[serde(deserialize_with = "instant")]
    #[param(value_type = chrono::DateTime<chrono::Utc>, example = "2026-01-01T00:00:00Z")]
    pub from: DateTime<Utc>,
    /// End of the range, exclusive: an RFC 3339 instant or a date (midnight UTC).
    #[serde(deserialize_with = "instant")]
    #[param(value_type = chrono::DateTime<chrono::Utc>, example = "2027-01-01T00:00:00Z")]
    pub to: DateTime<Utc>,
    /// Bucket width: `day`, `week` (ISO, Monday 00:00 UTC) or `month` (default).
    #[serde(default)]
    #[param(inline)]
    pub interval: Interval,
}

impl ReportQuery {
    /// The buckets asked for, or a 422 naming what is wrong with the range.
    pub fn series(&self) -> Result<Series, Problem> {
        Series::new(self.from, self.to, self.interval)
    }
}

/// An RFC 3339 instant, or a plain date read as midnight UTC: `#[serde(deserialize_with)]` for
/// report parameters beyond [`ReportQuery`].
pub fn instant<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let raw = String::deserialize(d)?;
    parse_instant(&raw).ok_or_else(|| {
        serde::de::Error::custom("must be an RFC 3339 date-time (2026-01-01T00:00:00Z) or a date (2026-01-01)")
    })
}

fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some(Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)))
}

/// One bucket: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The buckets of a report, calendar-aligned in UTC and clipped to `[from, to)`.
#[derive(Debug, Clone)]
pub struct Series {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
    buckets: Vec<Bucket>,
}

impl Series {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, interval: Interval) -> Result<Self, Problem> {
        if to <= from {
            return Err(Problem::field("to", "must be after `from`"));
        }
        let too_many = || {
            Problem::field(
                "interval",
                format!(
                    "the range holds more than {MAX_BUCKETS} {}s: choose a wider interval or a shorter range",
                    interval.as_str()
                ),
            )
        };
        let mut buckets = Vec::new();
        let mut start = from;
        while start < to {
            if buckets.len() == MAX_BUCKETS {
                return Err(too_many());
            }
            let end = interval.next(interval.floor(start)).map_or(to, |next| next.min(to));
            buckets.push(Bucket { start, end });
            start = end;
        }
        Ok(Self { from, to, interval, buckets })
    }

    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }

    pub fn interval(&self) -> Interval {
        self.interval
    }

    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// The start of every bucket, in order: the thresholds for PostgreSQL's
    /// `width_bucket(t, $1::timestamptz[])`, which answers 0 for `t < from` and `i` for a `t` in
    /// `buckets()[i - 1]` (times at or after `to` answer `len()`: filter them out with `t < to`).
    pub fn starts(&self) -> Vec<DateTime<Utc>> {
        self.buckets.iter().map(|b| b.start).collect()
    }

    /// Whether every boundary is at midnight UTC (always so for dates): a report may then read a
    /// per-day summary instead of every row, since no bucket splits a day.
    pub fn day_aligned(&self) -> bool {
        let midnight = |t: DateTime<Utc>| t == Interval::Day.floor(t);
        midnight(self.from) && midnight(self.to)
    }

    /// The index of the bucket holding `t`, `None` outside `[from, to)`.
    pub fn bucket_of(&self, t: DateTime<Utc>) -> Option<usize> {
        if t < self.from || t >= self.to {
            return None;
        }
        Some(self.buckets.partition_point(|b| b.start <= t) - 1)
    }

    /// The whole UTC days of the range that are closed at `now`, as `[start, end)` at midnight
    /// (`None` when there are none): the days a report may answer from per-day summaries. A day
    /// counts as closed [`SETTLE`] after its end, so a write that read the clock just before
    /// midnight has committed before its day is summarised. Every bucket edge is `from`, `to` or
    /// a midnight, so a whole day never straddles two buckets.
    pub fn closed_days(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        closed_days(self.from, self.to, now)
    }
}

/// The whole UTC days of `[from, to)` closed at `now` (see [`Series::closed_days`]), as
/// `[start, end)` at midnight; `None` when there are none.
pub fn closed_days(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    Period::Day.closed(from, to, now)
}

/// The calendar unit of a summary: UTC days, months or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Month,
    Year,
}

impl Period {
    /// The start of the period holding `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let day = t.date_naive();
        let start = match self {
            Period::Day => day,
            Period::Month => day.with_day(1).unwrap_or(day),
            Period::Year => day.with_ordinal(1).unwrap_or(day),
        };
        Utc.from_utc_datetime(&start.and_time(NaiveTime::MIN))
    }

    /// The start of the period after the one starting at `start`.
    pub fn next(self, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Period::Day => start.checked_add_signed(Duration::days(1)),
            Period::Month => start.checked_add_months(Months::new(1)),
            Period::Year => start.checked_add_months(Months::new(12)),
        }
    }

    /// The whole periods of `[from, to)` closed at `now` (ended [`SETTLE`] before it), as
    /// `[start, end)`; `None` when there are none.
    pub fn closed(
        self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let first = self.floor(from);
        let start = if first == from { first } else { self.next(first)? };
        let end = self.floor(to).min(self.floor(now - SETTLE));
        (start < end).then_some((start, end))
    }

    fn sql_step(self) -> &'static str {
        match self {
            Period::Day => "1 day",
            Period::Month => "1 month",
            Period::Year => "1 year",
        }
    }
}

/// How a report reads `[from, to)` from an append-only fact table and its per-day summary: the
/// closed whole days `[days_from, days_to)` from the summary, the rest (the partial first and last
/// days, and the days not closed yet) live from the facts, `[from, days_from)` and
/// `[days_to, to)`. Without closed days `days_from = days_to = to`: everything is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub days_from: DateTime<Utc>,
    pub days_to: DateTime<Utc>,
}

impl Split {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self::per(Period::Day, from, to, now)
    }

    /// The same for a summary per `period`: its closed whole periods, the rest live.
    pub fn per(period: Period, from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let (days_from, days_to) = period.closed(from, to, now).unwrap_or((to, to));
        Self { from, to, days_from, days_to }
    }

    /// Whether nothing is read from the summary.
    pub fn all_live(&self) -> bool {
        self.days_from >= self.days_to
    }

    /// The summarised days as dates, `[first, end)`.
    pub fn days(&self) -> (NaiveDate, NaiveDate) {
        (self.days_from.date_naive(), self.days_to.date_naive())
    }

    /// The parts read live from the facts: `[from, days_from)` and `[days_to, to)` (either may be
    /// empty).
    pub fn live(&self) -> [(DateTime<Utc>, DateTime<Utc>); 2] {
        [(self.from, self.days_from), (self.days_to, self.to)]
    }
}

/// A per-day summary of an append-only fact table whose facts are dated with the service clock
/// when they are written, kept lazily by the reports that read it: when a report needs closed days
/// ([`closed_days`]) not summarised yet, it summarises them first, in one statement, so a day's
/// summary rows and its mark in the `done` table commit together. Writers never touch a summary
/// row (no trigger), so concurrent writes on one day never queue on it; a closed day's facts never
/// change, so its rows never need updating, and a past interval reports the same numbers later.
/// Two replicas summarising the same day compute the same rows; the second one's inserts are
/// no-ops (`ON CONFLICT DO NOTHING`). The only service-specific part is the SQL.
#[derive(Debug, Clone, Copy)]
pub struct DailySummary {
    /// What one summary row covers: a UTC day (most), or a calendar month or year (rankings
    /// whose groups are too many for daily rows to be fewer than the facts).
    pub period: Period,
    /// The table of the periods summarised, by their first day (`day DATE PRIMARY KEY`), also
    /// the ones without facts.
    pub done: &'static str,
    /// One `INSERT INTO <summary> (...) SELECT ... GROUP BY ...` per summary table (without
    /// `ON CONFLICT`, which is added), keyed by the day among others. They may read two relations:
    /// `missing (day DATE)`, the days (first days of the periods) to summarise, and
    /// `span (lo, hi TIMESTAMPTZ)`, the instants from the first one's start to the last one's end,
    /// to read the facts by their time index:
    /// `FROM span JOIN facts f ON f.at >= span.lo AND f.at < span.hi
    ///  WHERE (f.at AT TIME ZONE 'UTC')::date IN (SELECT day FROM missing)` (for months:
    /// `date_trunc('month', f.at AT TIME ZONE 'UTC')::date IN ...`).
    pub inserts: &'static [&'static str],
}

impl DailySummary {
    /// Summarise the closed days of `[from, to)` not summarised yet, and tell which part of the
    /// range to read from the summary and which live. Not inside a read-only transaction: it
    /// writes (run it first, then read in one snapshot).
    pub async fn prepare(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> diesel::QueryResult<Split> {
        let split = Split::per(self.period, from, to, now);
        if !split.all_live() {
            let (first, end) = split.days();
            self.summarise(conn, first, end).await?;
        }
        Ok(split)
    }

    /// Summarise the periods starting in `[first, end)` not done yet (one statement).
    pub async fn summarise(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        first: NaiveDate,
        end: NaiveDate,
    ) -> diesel::QueryResult<usize> {
        use diesel::sql_types::Date;
        use diesel_async::RunQueryDsl;
        diesel::sql_query(self.sql()).bind::<Date, _>(first).bind::<Date, _>(end).execute(conn).await
    }

    fn sql(&self) -> String {
        let (done, step) = (self.done, self.period.sql_step());
        let mut sql = format!(
            "WITH missing AS ( \
                 SELECT p::date AS day \
                   FROM generate_series($1::date::timestamp, ($2::date - 1)::timestamp, interval '{step}') AS p \
                  WHERE NOT EXISTS (SELECT 1 FROM {done} d WHERE d.day = p::date)), \
               span AS (SELECT min(day)::timestamp AT TIME ZONE 'UTC' AS lo, \
                               (max(day) + interval '{step}') AT TIME ZONE 'UTC' AS hi FROM missing)"
        );
        for (i, insert) in self.inserts.iter().enumerate() {
            sql.push_str(&format!(", summary_{i} AS ({insert} ON CONFLICT DO NOTHING)"));
        }
        sql.push_str(&format!(" INSERT INTO {done} (day) SELECT day FROM missing ON CONFLICT DO NOTHING"));
        sql
    }
}

/// How long after a day ends before [`Series::closed_days`] counts it closed: longer than any
/// transaction that writes report facts takes to commit.
pub const SETTLE: Duration = Duration::hours(1);

/// The answer of every report: the range it covers and one row per bucket (and currency, for
/// money). The JSON form; the CSV form holds the same rows ([`CsvTable`]).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report<T> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub interval: Interval,
    pub data: Vec<T>,
}

impl<T> Report<T> {
    pub fn new(series: &Series, data: Vec<T>) -> Self {
        Self { from: series.from, to: series.to, interval: series.interval, data }
    }
}

/// 403 unless the caller is an admin: reports show the whole platform's business.
pub fn require_admin(principal: &Principal) -> Result<(), Problem> {
    principal.require_any(&[Role::Admin])
}

/// Which form the client asked for. An extractor: it never fails; anything but a preference for
/// `text/csv` over JSON answers JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// Read an `Accept` header (RFC 9110 §12.5.1): CSV when `text/csv` (or `text/*`) has a
    /// higher quality than JSON (`application/json`, `application/*`, `*/*`); on a tie, the one
    /// listed first.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let mut csv: Option<(f32, usize)> = None;
        let mut json: Option<(f32, usize)> = None;
        for (position, range) in accept.unwrap_or("").split(',').enumerate() {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = match media.as_str() {
                "text/csv" | "text/*" => &mut csv,
                "application/json" | "application/*" | "*/*" => &mut json,
                _ => continue,
            };
            // The most specific range wins over a wildcard; among equals, the best quality.
            if slot.is_none_or(|(q, _)| quality > q) {
                *slot = Some((quality, position));
            }
        }
        match (csv, json) {
            (Some((q, _)), _) if q <= 0.0 => Format::Json,
            (Some(_), None) => Format::Csv,
            (Some((cq, cp)), Some((jq, jp))) if cq > jq || (cq == jq && cp < jp) => Format::Csv,
            _ => Format::Json,
        }
    }
}

impl FromRequest for Format {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok());
        ready(Ok(Format::negotiate(accept)))
    }
}

/// One CSV field. Numbers and times are written as they are; text that a spreadsheet would run as
/// a formula (starting with `=`, `+`, `-`, `@`, tab or CR: a course title, say) is prefixed with
/// `'` (OWASP's CSV-injection advice), so only [`Cell::Text`] is ever changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Decimal(Decimal),
    Int(i64),
    Time(DateTime<Utc>),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<Decimal> for Cell {
    fn from(d: Decimal) -> Self {
        Cell::Decimal(d)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Int(n)
    }
}

impl From<DateTime<Utc>> for Cell {
    fn from(t: DateTime<Utc>) -> Self {
        Cell::Time(t)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Empty, Into::into)
    }
}

impl Cell {
    fn render(&self) -> String {
        match self {
            Cell::Text(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
            Cell::Text(s) => s.clone(),
            Cell::Decimal(d) => d.to_string(),
            Cell::Int(n) => n.to_string(),
            Cell::Time(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Cell::Empty => String::new(),
        }
    }
}

/// A CSV document (RFC 4180): a header line, then rows of exactly as many fields, CRLF line ends,
/// fields holding a comma, a quote or a line break quoted with inner quotes doubled.
#[derive(Debug, Clone)]
pub struct Csv {
    out: String,
    columns: usize,
}

impl Csv {
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        let mut csv = Self { out: String::new(), columns: header.len() };
        csv.line(header.iter().map(|h| h.as_ref().to_string()));
        csv
    }

    /// Append a row. A row with another number of fields than the header is a bug in the report:
    /// it panics in debug builds and is padded or cut in release ones, so the file stays readable.
    pub fn row(&mut self, cells: impl IntoIterator<Item = Cell>) {
        let mut fields: Vec<String> = cells.into_iter().map(|c| c.render()).collect();
        debug_assert_eq!(fields.len(), self.columns, "a CSV row must have as many fields as the header");
        fields.resize(self.columns, String::new());
        self.line(fields.into_iter());
    }

    fn line(&mut self, fields: impl Iterator<Item = String>) {
        for (i, field) in fields.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            if field.contains([',', '"', '\n', '\r']) {
                self.out.push('"');
                self.out.push_str(&field.replace('"', "\"\""));
                self.out.push('"');
            } else {
                self.out.push_str(&field);
            }
        }
        self.out.push_str("\r\n");
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A report row type that knows its CSV form: one header, one line per row. Written per row type
/// (not per report) so a header can depend on every row, e.g. a column per tier seen.
pub trait CsvTable: Sized {
    fn csv(rows: &[Self]) -> Csv;
}

/// A report of the state now rather than of a range (balances owed, outstanding tokens, licenses
/// by status): when it was read and one row per group (and currency, for money).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Snapshot<T> {
    pub as_of: DateTime<Utc>,
    pub data: Vec<T>,
}

/// Answer any report envelope: `envelope` as JSON, or its `rows` as CSV, as negotiated. For
/// envelopes other than [`Report`] (a [`Snapshot`], a ranking with its own parameters).
pub fn respond_rows<E: Serialize, T: CsvTable>(format: Format, envelope: &E, rows: &[T]) -> HttpResponse {
    match format {
        Format::Json => HttpResponse::Ok().insert_header((header::VARY, "Accept")).json(envelope),
        Format::Csv => {
            HttpResponse::Ok().content_type(CSV).insert_header((header::VARY, "Accept")).body(T::csv(rows).finish())
        }
    }
}

/// A report's answer: its JSON form is the whole envelope, its CSV form the rows.
pub trait Envelope: Serialize {
    type Row: CsvTable;
    fn rows(&self) -> &[Self::Row];
}

impl<T: Serialize + CsvTable> Envelope for Report<T> {
    type Row = T;
    fn rows(&self) -> &[T] {
        &self.data
    }
}

impl<T: Serialize + CsvTable> Envelope for Snapshot<T> {
    type Row = T;
    fn rows(&self) -> &[T] {
        &self.data
    }
}

/// Answer `envelope` as JSON or its rows as CSV, as negotiated.
pub fn answer<E: Envelope>(format: Format, envelope: &E) -> HttpResponse {
    respond_rows(format, envelope, envelope.rows())
}

/// A report handler after its authorisation: build the answer on a pooled connection, answer it
/// as negotiated.
pub async fn serve<E: Envelope>(
    pool: &crate::db::Pool,
    format: Format,
    build: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<E, Problem>,
) -> Result<HttpResponse, Problem> {
    // Reports aggregate whole tables: scanned, not walked through a primary key.
    let envelope = crate::db::reading_whole_tables(pool, build).await?;
    Ok(answer(format, &envelope))
}

/// The whole of an admin-only report handler of any envelope: 403 unless admin, then [`serve`].
pub async fn admin<E: Envelope>(
    principal: &Principal,
    pool: &crate::db::Pool,
    format: Format,
    build: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<E, Problem>,
) -> Result<HttpResponse, Problem> {
    require_admin(principal)?;
    serve(pool, format, build).await
}

/// A range report (`?from=&to=&interval=`) for a caller already authorised: 422 on a bad range,
/// then one [`Report`] of the rows `rows` gives for the series.
pub async fn range<T: Serialize + CsvTable>(
    pool: &crate::db::Pool,
    query: &ReportQuery,
    format: Format,
    rows: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection, &Series) -> Result<Vec<T>, Problem>,
) -> Result<HttpResponse, Problem> {
    let series = query.series()?;
    serve(pool, format, async |conn| Ok(Report::new(&series, rows(conn, &series).await?))).await
}

/// The whole of an admin-only range report handler: 403 unless admin, then [`range`].
pub async fn admin_range<T: Serialize + CsvTable>(
    principal: &Principal,
    pool: &crate::db::Pool,
    query: &ReportQuery,
    format: Format,
    rows: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection, &Series) -> Result<Vec<T>, Problem>,
) -> Result<HttpResponse, Problem> {
    require_admin(principal)?;
    range(pool, query, format, rows).await
}

/// The whole of an admin-only report of the state now: 403 unless admin, then a [`Snapshot`] as of
/// `now` of the rows `rows` gives.
pub async fn admin_snapshot<T: Serialize + CsvTable>(
    principal: &Principal,
    pool: &crate::db::Pool,
    format: Format,
    now: DateTime<Utc>,
    rows: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<Vec<T>, Problem>,
) -> Result<HttpResponse, Problem> {
    admin(principal, pool, format, async |conn| Ok(Snapshot { as_of: now, data: rows(conn).await? })).await
}

/// `part / whole` rounded half-even to 4 decimal places (`0.0125` = 1.25%) without trailing
/// zeros (`0.5`, `1`), `None` when `whole` is zero: a rate of nothing is unknown, not 0.
pub fn rate(part: Decimal, whole: Decimal) -> Option<Decimal> {
    if whole.is_zero() {
        return None;
    }
    part.checked_div(whole)
        .map(|r| r.round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointNearestEven).normalize())
}

#[cfg(test)]
mod tests {

    fn at(s: &str) -> DateTime<Utc> {
        parse_instant(s).unwrap()
    }

    #[test]
    fn closed_days_are_whole_days_inside_the_range_settled_before_now() {
        let s = Series::new(at("2026-01-15T06:00:00Z"), at("2026-03-10T12:00:00Z"), Interval::Month).unwrap();
        // Partial first and last days are left out; so are days not yet settled.
        assert_eq!(s.closed_days(at("2026-06-01T00:00:00Z")), Some((at("2026-01-16"), at("2026-03-10"))));
        assert_eq!(s.closed_days(at("2026-02-10T00:59:59Z")), Some((at("2026-01-16"), at("2026-02-09"))));
        assert_eq!(s.closed_days(at("2026-02-10T01:00:00Z")), Some((at("2026-01-16"), at("2026-02-10"))));
        assert_eq!(s.closed_days(at("2026-01-17T00:30:00Z")), None);
        let whole = Series::new(at("2026-01-01"), at("2026-01-03"), Interval::Day).unwrap();
        assert_eq!(whole.closed_days(at("2027-01-01")), Some((at("2026-01-01"), at("2026-01-03"))));
    }
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn a_split_reads_closed_whole_days_from_the_summary_and_the_edges_live() {
        let s = Split::new(t("2026-01-15T06:00:00Z"), t("2026-03-10T12:00:00Z"), t("2026-02-10T01:00:00Z"));
        assert_eq!((s.days_from, s.days_to), (t("2026-01-16"), t("2026-02-10")));
        assert_eq!(
            s.live(),
            [(t("2026-01-15T06:00:00Z"), t("2026-01-16")), (t("2026-02-10"), t("2026-03-10T12:00:00Z"))]
        );
        let d = |x: &str| NaiveDate::parse_from_str(x, "%Y-%m-%d").expect("date");
        assert_eq!(s.days(), (d("2026-01-16"), d("2026-02-10")));
        // Nothing closed yet: all live.
        let open = Split::new(t("2026-01-15"), t("2026-01-16"), t("2026-01-15T12:00:00Z"));
        assert_eq!(open.live(), [(t("2026-01-15"), t("2026-01-16")), (t("2026-01-16"), t("2026-01-16"))]);
    }

    #[test]
    fn closed_months_and_years_are_whole_and_settled() {
        let now = t("2027-02-01T00:30:00Z");
        assert_eq!(
            Period::Month.closed(t("2026-01-15"), t("2027-03-01"), now),
            Some((t("2026-02-01"), t("2027-01-01")))
        );
        assert_eq!(
            Period::Year.closed(t("2026-01-01"), t("2027-03-01"), now),
            Some((t("2026-01-01"), t("2027-01-01")))
        );
        assert_eq!(Period::Year.closed(t("2026-01-02"), t("2027-03-01"), now), None);
        assert_eq!(Period::Month.closed(t("2027-01-01"), t("2027-02-01"), now), None, "January is not settled yet");
    }

    #[test]
    fn a_daily_summary_marks_its_days_in_the_statement_that_writes_them() {
        let summary = DailySummary {
            period: Period::Day,
            done: "x_done",
            inserts: &["INSERT INTO a SELECT 1", "INSERT INTO b SELECT 2"],
        };
        let sql = summary.sql();
        assert!(sql.contains("summary_0 AS (INSERT INTO a SELECT 1 ON CONFLICT DO NOTHING)"), "{sql}");
        assert!(sql.contains("summary_1 AS (INSERT INTO b SELECT 2 ON CONFLICT DO NOTHING)"), "{sql}");
        assert!(sql.ends_with("INSERT INTO x_done (day) SELECT day FROM missing ON CONFLICT DO NOTHING"), "{sql}");
    }
    use std::str::FromStr;

    fn t(s: &str) -> DateTime<Utc> {
        parse_instant(s).expect("valid instant")
    }

    #[test]
    fn instants_are_rfc3339_or_dates_at_midnight_utc() {
        assert_eq!(t("2026-03-01"), t("2026-03-01T00:00:00Z"));
        assert_eq!(t("2026-03-01T02:00:00+02:00"), t("2026-03-01T00:00:00Z"));
        assert!(parse_instant("2026-13-01").is_none());
        assert!(parse_instant("yesterday").is_none());
    }

    #[test]
    fn monthly_buckets_are_calendar_months_clipped_to_the_range() {
        let s = Series::new(t("2026-01-15"), t("2026-03-10"), Interval::Month).expect("valid");
        let b = s.buckets();
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].start, b[0].end), (t("2026-01-15"), t("2026-02-01")));
        assert_eq!((b[1].start, b[1].end), (t("2026-02-01"), t("2026-03-01")));
        assert_eq!((b[2].start, b[2].end), (t("2026-03-01"), t("2026-03-10")));
        let year = Series::new(t("2026-01-01"), t("2027-01-01"), Interval::Month).expect("valid");
        assert_eq!(year.buckets().len(), 12);
        assert_eq!(year.buckets()[1].end, t("2026-03-01"), "February has 28 days in 2026");
    }

    #[test]
    fn weeks_start_on_monday_and_days_at_midnight_utc() {
        // 2026-01-01 is a Thursday.
        let s = Series::new(t("2026-01-01"), t("2026-01-13"), Interval::Week).expect("valid");
        let starts = s.starts();
        assert_eq!(starts, vec![t("2026-01-01"), t("2026-01-05"), t("2026-01-12")]);
        let d = Series::new(t("2026-01-01T12:00:00Z"), t("2026-01-03"), Interval::Day).expect("valid");
        assert_eq!(d.starts(), vec![t("2026-01-01T12:00:00Z"), t("2026-01-02")]);
    }

    #[test]
    fn a_bad_range_or_too_many_buckets_is_a_422_naming_the_field() {
        let p = Series::new(t("2026-02-01"), t("2026-01-01"), Interval::Day).expect_err("backwards");
        assert_eq!((p.status, p.errors[0].field.as_str()), (422, "to"));
        assert!(Series::new(t("2026-01-01"), t("2026-01-01"), Interval::Day).is_err(), "empty range");
        assert!(Series::new(t("2024-01-01"), t("2025-01-01"), Interval::Day).is_ok(), "366 days of 2024");
        let p = Series::new(t("2024-01-01"), t("2025-01-02"), Interval::Day).expect_err("367 days");
        assert_eq!((p.status, p.errors[0].field.as_str()), (422, "interval"));
        // Wide ranges stop counting at the cap instead of walking every day.
        assert!(Series::new(t("0001-01-01"), t("9999-01-01"), Interval::Day).is_err());
    }

    #[test]
    fn day_aligned_when_the_range_starts_and_ends_at_midnight() {
        assert!(Series::new(t("2026-01-15"), t("2026-03-10"), Interval::Month).expect("valid").day_aligned());
        assert!(!Series::new(t("2026-01-15T00:00:01Z"), t("2026-03-10"), Interval::Week).expect("v").day_aligned());
        assert!(!Series::new(t("2026-01-15"), t("2026-03-10T12:00:00Z"), Interval::Day).expect("v").day_aligned());
    }

    #[test]
    fn bucket_of_finds_the_bucket_or_none_outside_the_range() {
        let s = Series::new(t("2026-01-15"), t("2026-03-10"), Interval::Month).expect("valid");
        assert_eq!(s.bucket_of(t("2026-01-14T23:59:59Z")), None);
        assert_eq!(s.bucket_of(t("2026-01-15")), Some(0));
        assert_eq!(s.bucket_of(t("2026-02-01")), Some(1));
        assert_eq!(s.bucket_of(t("2026-03-09T23:59:59Z")), Some(2));
        assert_eq!(s.bucket_of(t("2026-03-10")), None);
    }

    #[test]
    fn the_query_reads_dates_and_defaults_to_monthly() {
        let q: ReportQuery = crate::input::from_query("from=2026-01-01&to=2026-02-01T00:00:00Z").expect("valid");
        assert_eq!((q.from, q.to, q.interval), (t("2026-01-01"), t("2026-02-01"), Interval::Month));
        let q: ReportQuery = crate::input::from_query("from=2026-01-01&to=2026-02-01&interval=week").expect("valid");
        assert_eq!(q.interval, Interval::Week);
        let e = crate::input::from_query::<ReportQuery>("from=2026-01-01&to=2026-02-01&interval=year").expect_err("x");
        assert_eq!(e.field, "query.interval");
        let e = crate::input::from_query::<ReportQuery>("from=jan&to=2026-02-01").expect_err("x");
        assert_eq!(e.field, "query.from");
        let e = crate::input::from_query::<ReportQuery>("to=2026-02-01").expect_err("x");
        assert_eq!(e.field, "query.from");
    }

    #[test]
    fn accept_picks_csv_only_when_preferred() {
        use Format::*;
        assert_eq!(Format::negotiate(None), Json);
        assert_eq!(Format::negotiate(Some("text/csv")), Csv);
        assert_eq!(Format::negotiate(Some("text/csv; charset=utf-8")), Csv);
        assert_eq!(Format::negotiate(Some("application/json")), Json);
        assert_eq!(Format::negotiate(Some("*/*")), Json);
        assert_eq!(Format::negotiate(Some("text/csv, application/json")), Csv, "tie: listed first");
        assert_eq!(Format::negotiate(Some("application/json, text/csv")), Json);
        assert_eq!(Format::negotiate(Some("application/json;q=0.5, text/csv")), Csv);
        assert_eq!(Format::negotiate(Some("text/csv;q=0.2, */*;q=0.8")), Json);
        assert_eq!(Format::negotiate(Some("text/csv;q=0")), Json, "q=0 means not acceptable");
        assert_eq!(Format::negotiate(Some("text/html")), Json);
    }

    #[test]
    fn csv_quotes_what_needs_it_and_keeps_decimals_exact() {
        let mut csv = Csv::new(&["period", "title", "amount", "count", "rate"]);
        csv.row([
            t("2026-01-01").into(),
            "Rust, \"the\" book\nvol. 2".into(),
            Decimal::from_str("9.9900").expect("decimal").into(),
            7i64.into(),
            Cell::from(None::<Decimal>),
        ]);
        csv.row([
            "=HYPERLINK(\"x\")".into(),
            "-1 day".into(),
            Decimal::from_str("-0.01").expect("d").into(),
            (-3i64).into(),
            "plain".into(),
        ]);
        assert_eq!(
            csv.finish(),
            "period,title,amount,count,rate\r\n\
             2026-01-01T00:00:00Z,\"Rust, \"\"the\"\" book\nvol. 2\",9.9900,7,\r\n\
             \"'=HYPERLINK(\"\"x\"\")\",'-1 day,-0.01,-3,plain\r\n"
        );
    }

    #[test]
    fn rates_round_half_even_and_are_unknown_over_zero() {
        let d = |s: &str| Decimal::from_str(s).expect("decimal");
        assert_eq!(rate(d("1"), d("3")), Some(d("0.3333")));
        assert_eq!(rate(d("1"), d("8")), Some(d("0.125")));
        assert_eq!(rate(d("0.00125"), d("1")), Some(d("0.0012")), "half to even");
        assert_eq!(rate(d("5"), Decimal::ZERO), None);
        assert_eq!(rate(d("1"), d("2")).map(|r| r.to_string()).as_deref(), Some("0.5"), "no trailing zeros");
        assert_eq!(rate(d("3"), d("3")).map(|r| r.to_string()).as_deref(), Some("1"));
    }
}
