//! Erasure of one person's data (issue 18, point 3): the parts every service shares. The
//! protocol (request event, per-service confirmation) is `events::erasure`; each service's own
//! tables are its `erasure.rs`. Here: the shared tables' scrub and the scan that proves nothing
//! personal is left.

use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// What the tables every service has (platform and events migrations) hold about `user_id`, gone:
/// the stored responses of the user's own idempotent requests (scopes start with the caller's
/// `sub`). They may echo what the user wrote, and nobody replays them once the account is gone.
/// The outbox and inbox carry ids only; the audit log is kept as it is (ids only, see
/// docs/operations.md "Audit and privacy").
pub async fn scrub_shared(conn: &mut AsyncPgConnection, user_id: Uuid) -> diesel::QueryResult<usize> {
    diesel::sql_query("DELETE FROM idempotency_keys WHERE starts_with(scope, $1)")
        .bind::<Text, _>(format!("{user_id}:"))
        .execute(conn)
        .await
}

/// One column of one table where a searched string was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub schema: String,
    pub table: String,
    pub column: String,
    pub needle: String,
    pub rows: i64,
}

impl std::fmt::Display for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}: {:?} in {} row(s)", self.schema, self.table, self.column, self.needle, self.rows)
    }
}

#[derive(diesel::QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every text-like column (text, varchar, char, json, jsonb, arrays of them) of every table in
/// `schema` searched for each of `needles`, case-insensitively. The proof that an erasure left
/// nothing behind: run it over every service's schema with the person's strings (names, markers
/// they wrote, e-mail) and expect no hit.
pub async fn find_strings(
    conn: &mut AsyncPgConnection,
    schema: &str,
    needles: &[&str],
) -> diesel::QueryResult<Vec<Hit>> {
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name
           FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
            AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
                 OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar', '_bpchar', '_json', '_jsonb')))
          ORDER BY c.table_name, c.ordinal_position",
    )
    .bind::<Text, _>(schema)
    .load(conn)
    .await?;
    let lowered: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    let mut hits = Vec::new();
    for column in columns {
        let sql = format!(
            "SELECT count(*) AS n FROM {} WHERE strpos(lower({}::text), $1) > 0",
            quoted(&[schema, &column.table_name]),
            quoted(&[&column.column_name]),
        );
        for needle in &lowered {
            let Count { n } = diesel::sql_query(&sql).bind::<Text, _>(needle).get_result(conn).await?;
            if n > 0 {
                hits.push(Hit {
                    schema: schema.to_string(),
                    table: column.table_name.clone(),
                    column: column.column_name.clone(),
                    needle: needle.clone(),
                    rows: n,
                });
            }
        }
    }
    Ok(hits)
}

/// The schemas of a database that hold service data (everything but PostgreSQL's own).
pub async fn schemas_like(conn: &mut AsyncPgConnection, pattern: &str) -> diesel::QueryResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let names: Vec<Name> = diesel::sql_query(
        "SELECT schema_name::text AS name FROM information_schema.schemata WHERE schema_name LIKE ANY($1) ORDER BY 1",
    )
    .bind::<Array<Text>, _>(vec![pattern.to_string()])
    .load(conn)
    .await?;
    Ok(names.into_iter().map(|n| n.name).collect())
}

/// `"a"."b"`: identifiers from the catalogue, quoted so any name is safe.
fn quoted(parts: &[&str]) -> String {
    parts.iter().map(|p| format!("\"{}\"", p.replace('"', "\"\""))).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(super::quoted(&["s", "t\"x"]), "\"s\".\"t\"\"x\"");
    }
}
