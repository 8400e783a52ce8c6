//! Query plans, for tests that pin a lookup to its index: a statement that reads a whole table
//! passes every functional test on a small table and grows with the data in production.

use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

/// PostgreSQL's plan of `statement` (`EXPLAIN <statement>`, or `EXPLAIN ANALYZE` when `analyze`),
/// one line per plan line.
pub async fn explain(conn: &mut AsyncPgConnection, statement: &str, analyze: bool) -> String {
    let sql = format!("EXPLAIN {}{statement}", if analyze { "ANALYZE " } else { "" });
    let lines: Vec<PlanLine> = diesel::sql_query(&sql).load(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    lines.into_iter().map(|l| l.line).collect::<Vec<_>>().join("\n")
}

/// The plan of `statement` when PostgreSQL may not read a table whole: it names the index the
/// statement can use, whatever the table's size (sequential scans off for this one `EXPLAIN`).
pub async fn index_plan(conn: &mut AsyncPgConnection, statement: &str) -> String {
    diesel::sql_query("SET enable_seqscan = off").execute(conn).await.expect("SET enable_seqscan");
    let plan = explain(conn, statement, false).await;
    diesel::sql_query("RESET enable_seqscan").execute(conn).await.expect("RESET enable_seqscan");
    plan
}
