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

/// The generic plan of a statement as diesel sends it (`$1`, `$2`... for its bound values):
/// the plan PostgreSQL settles on for a prepared statement after five runs, which cannot know
/// the bound values. A filter bound as a parameter cannot match a partial index's predicate in
/// it, however well the same statement with the values written in plans.
pub async fn generic_plan<Q>(conn: &mut AsyncPgConnection, query: &Q) -> String
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    let shown = diesel::debug_query::<diesel::pg::Pg, _>(query).to_string();
    let sql = shown.split(" -- binds: ").next().unwrap_or_default().to_string();
    let params = sql.matches('$').count();
    for step in ["SET plan_cache_mode = force_generic_plan", &format!("PREPARE generic_plan_of AS {sql}")] {
        diesel::sql_query(step).execute(conn).await.unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    // NULLs fill the parameters: a generic plan does not look at them.
    let args = vec!["NULL"; params].join(", ");
    let execute =
        if params == 0 { "EXECUTE generic_plan_of".to_string() } else { format!("EXECUTE generic_plan_of({args})") };
    let plan = explain(conn, &execute, false).await;
    for step in ["DEALLOCATE generic_plan_of", "RESET plan_cache_mode"] {
        diesel::sql_query(step).execute(conn).await.unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    plan
}

/// The one BIGINT column `n` that `sql` returns (a statistics counter or a size).
async fn number(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}")).n
}

/// The pages of `index` (in the connection's schema) that running `statement` read, from the
/// statistics PostgreSQL flushes at each statement's end: for a test bounding what a statement
/// reads of an index, however large it has grown (a plan that walks it passes every functional
/// test).
pub async fn index_pages_read(conn: &mut AsyncPgConnection, index: &str, statement: &str) -> i64 {
    let before = index_pages_read_so_far(conn, index).await;
    diesel::sql_query(statement).execute(conn).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    index_pages_read_so_far(conn, index).await - before
}

async fn index_pages_read_so_far(conn: &mut AsyncPgConnection, index: &str) -> i64 {
    diesel::sql_query("SELECT pg_stat_force_next_flush()").execute(conn).await.expect("pg_stat_force_next_flush");
    let sql = format!(
        "SELECT (idx_blks_hit + idx_blks_read)::BIGINT AS n FROM pg_statio_user_indexes \
         WHERE schemaname = current_schema() AND indexrelname = '{index}'"
    );
    number(conn, &sql).await
}

/// The size of `index` (in the connection's schema), in pages.
pub async fn index_pages(conn: &mut AsyncPgConnection, index: &str) -> i64 {
    let sql = format!("SELECT (pg_relation_size('{index}') / 8192)::BIGINT AS n");
    number(conn, &sql).await
}

/// The rows of `table` (in the connection's schema) read by sequential scans so far in the open
/// transaction (`pg_stat_xact_user_tables`): for a test showing that lookups of a grown table did
/// not read it row by row, however the statements were planned (prepared, inside a function).
pub async fn rows_read_sequentially_in_transaction(conn: &mut AsyncPgConnection, table: &str) -> i64 {
    let sql = format!(
        "SELECT seq_tup_read AS n FROM pg_stat_xact_user_tables \
         WHERE schemaname = current_schema() AND relname = '{table}'"
    );
    number(conn, &sql).await
}
