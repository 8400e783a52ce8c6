//! PostgreSQL over TLS (rustls) against a throwaway cluster this test starts with its own CA, on
//! its own port: `ssl = on`, and pg_hba accepting TCP clients over TLS only (`hostssl`).

use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform::db_tls::establish;
use testkit::tls::{PgServer, Pki, TempDir};

#[derive(diesel::QueryableByName)]
struct SslState {
    #[diesel(sql_type = Bool)]
    ssl: bool,
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Text)]
    user: String,
}

async fn ssl_state(conn: &mut AsyncPgConnection) -> SslState {
    diesel::sql_query(
        "SELECT ssl, coalesce(version, '') AS version, current_user::text AS user \
         FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .get_result(conn)
    .await
    .unwrap()
}

struct Fixture {
    server: PgServer,
    pki: Pki,
    other_ca: Pki,
    _dir: TempDir,
}

impl Fixture {
    /// `None` (the test then says why and passes) only when PostgreSQL is not installed.
    fn start() -> Option<Self> {
        let dir = TempDir::new("pg-tls-pki");
        let pki = Pki::new(dir.path(), "pg", &["localhost"]);
        let other_ca = Pki::new(dir.path(), "other", &["localhost"]);
        let hba = "hostssl all scram 127.0.0.1/32 scram-sha-256\nhostssl all all 127.0.0.1/32 trust";
        let Some(server) = PgServer::start(&pki, hba) else {
            eprintln!("SKIPPED: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin");
            return None;
        };
        Some(Self { server, pki, other_ca, _dir: dir })
    }

    fn url(&self, host: &str, params: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{params}", self.server.port)
    }

    fn ca(&self) -> String {
        self.pki.ca_cert.display().to_string()
    }
}

#[tokio::test]
async fn tls_verify_full_encrypts_and_checks_the_ca_and_the_host_name() {
    let Some(f) = Fixture::start() else { return };

    // verify-full with the right CA and host: encrypted, the server says so.
    let url = f.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", f.ca()));
    let mut conn = establish(&url).await.unwrap();
    let state = ssl_state(&mut conn).await;
    assert!(state.ssl, "pg_stat_ssl says the session is not encrypted");
    assert!(state.version.starts_with("TLSv1."), "{}", state.version);

    // The right CA, but a host the certificate was not issued for.
    let url = f.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={}", f.ca()));
    let err = establish(&url).await.err().expect("a certificate for localhost must not pass for 127.0.0.1").to_string();
    assert!(err.contains("not issued for host \"127.0.0.1\""), "{err}");
    // verify-ca checks the CA only: the same host passes.
    let url = f.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={}", f.ca()));
    assert!(ssl_state(&mut establish(&url).await.unwrap()).await.ssl);

    // A CA that did not sign the server's certificate.
    let other = f.other_ca.ca_cert.display().to_string();
    for mode in ["verify-full", "verify-ca", "require"] {
        let url = f.url("localhost", &format!("sslmode={mode}&sslrootcert={other}"));
        let err = establish(&url).await.err().expect("an untrusted CA must fail").to_string();
        assert!(err.contains("is not signed by a CA in sslrootcert"), "{mode}: {err}");
    }

    // The pool and the migrations go through the same setting.
    let url = f.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", f.ca()));
    platform::db::migrate(&url, "tls_test", &platform::MIGRATIONS).await.unwrap();
    let pool = platform::db::connect(&url, "tls_test", 2).await.unwrap();
    let mut pooled = pool.get().await.unwrap();
    assert!(ssl_state(&mut pooled).await.ssl);
    let tables: Vec<SslState> = diesel::sql_query(
        "SELECT true AS ssl, table_name::text AS version, current_user::text AS user \
         FROM information_schema.tables WHERE table_schema = 'tls_test' AND table_name = 'idempotency_keys'",
    )
    .load(&mut pooled)
    .await
    .unwrap();
    assert_eq!(tables.len(), 1, "the migrations ran over TLS in the schema");

    // A wrong CA path is said at once, not after a pool timeout.
    let url = f.url("localhost", "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt");
    let err = platform::db::connect(&url, "tls_test", 1).await.expect_err("no CA file").to_string();
    assert!(err.contains("cannot read sslrootcert \"/nonexistent/ca.crt\""), "{err}");
}

#[tokio::test]
async fn tls_require_without_ca_encrypts_plaintext_is_refused_and_scram_binds_the_channel() {
    let Some(f) = Fixture::start() else { return };

    // require: encrypted, the certificate not checked (no CA given), like libpq.
    let mut conn = establish(&f.url("127.0.0.1", "sslmode=require")).await.unwrap();
    assert!(ssl_state(&mut conn).await.ssl);
    // prefer: the server offers TLS, so it is used.
    let mut conn = establish(&f.url("127.0.0.1", "sslmode=prefer")).await.unwrap();
    assert!(ssl_state(&mut conn).await.ssl);

    // Plaintext (explicit, or no sslmode at all): pg_hba has only hostssl lines.
    for params in ["sslmode=disable", ""] {
        let err = establish(&f.url("localhost", params)).await.err().expect("plaintext must be refused").to_string();
        assert!(err.contains("no encryption"), "{params:?}: {err}");
    }

    // SCRAM over TLS with channel binding required: tls-server-end-point is computed from the
    // server's certificate, and the server agrees with it.
    diesel::sql_query("CREATE ROLE scram LOGIN PASSWORD 'scram-secret'").execute(&mut conn).await.unwrap();
    let url = format!(
        "postgres://scram:scram-secret@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}&channel_binding=require",
        f.server.port,
        f.ca()
    );
    let mut conn = establish(&url).await.unwrap();
    let state = ssl_state(&mut conn).await;
    assert!(state.ssl);
    assert_eq!(state.user, "scram");
    let url = format!("postgres://scram:wrong@localhost:{}/postgres?sslmode=require", f.server.port);
    let err = establish(&url).await.err().expect("a wrong password fails").to_string();
    assert!(err.contains("password authentication failed"), "{err}");
}
