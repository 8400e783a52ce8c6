//! PostgreSQL over TLS, through rustls (no OpenSSL, no libpq).
//!
//! The database URL carries libpq's parameters, so the same URL works with `psql` and `pg_dump`:
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` (also when absent) | no | - |
//! | `prefer` | if the server offers TLS, else plaintext | no |
//! | `require` | yes, or the connection fails | no; with `sslrootcert`, as `verify-ca` (like libpq) |
//! | `verify-ca` | yes | signed by a CA in `sslrootcert` |
//! | `verify-full` | yes | signed by a CA in `sslrootcert`, and issued for the URL's host |
//!
//! `sslrootcert=<file>` names a PEM file of CA certificates (`verify-ca` and `verify-full` need
//! it; there is no default file). Only the URL form (`postgres://...?sslmode=...`) is read.
//! `ServiceConfig` adds `<SVC>_DATABASE_SSLMODE` and `<SVC>_DATABASE_SSLROOTCERT`, which win over
//! the URL's own (`config.rs`).
//!
//! SCRAM authentication over TLS binds the channel (`tls-server-end-point`), so
//! `channel_binding=require` works.

use diesel::ConnectionResult;
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::Digest;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_postgres::Socket;

/// The `sslmode` values (libpq's, minus `allow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl std::str::FromStr for SslMode {
    type Err = TlsSetupError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            other => Err(TlsSetupError::BadMode(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("sslmode {0:?} is not one of disable, prefer, require, verify-ca, verify-full")]
    BadMode(String),
    #[error("sslmode={0} needs sslrootcert=<CA file>")]
    NoRootCert(&'static str),
    #[error("cannot read sslrootcert {path:?}: {reason}")]
    RootCert { path: String, reason: String },
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("TLS setup failed: {0}")]
    Rustls(String),
}

/// A database URL split into what tokio-postgres understands and the TLS settings it does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    /// The URL without `sslmode` and `sslrootcert`.
    pub url: String,
    pub mode: Option<String>,
    pub root_cert: Option<String>,
}

/// Take `sslmode` and `sslrootcert` out of the URL's query string (the last occurrence wins).
pub fn split_url(url: &str) -> TlsParams {
    let Some((base, query)) = url.split_once('?') else {
        return TlsParams { url: url.to_string(), mode: None, root_cert: None };
    };
    let (mut mode, mut root_cert) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = || form_urlencoded::parse(format!("v={value}").as_bytes()).map(|(_, v)| v.into_owned()).next();
        match key {
            "sslmode" => mode = decoded(),
            "sslrootcert" => root_cert = decoded(),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    TlsParams { url, mode, root_cert }
}

/// Set (or replace) `sslmode` / `sslrootcert` in a URL: per-service settings over the URL's own.
pub fn with_tls_params(url: &str, mode: Option<&str>, root_cert: Option<&str>) -> String {
    if mode.is_none() && root_cert.is_none() {
        return url.to_string();
    }
    let mut params = split_url(url);
    if let Some(mode) = mode {
        params.mode = Some(mode.to_string());
    }
    if let Some(root_cert) = root_cert {
        params.root_cert = Some(root_cert.to_string());
    }
    let mut out = params.url;
    for (key, value) in [("sslmode", params.mode), ("sslrootcert", params.root_cert)] {
        if let Some(value) = value {
            let sep = if out.contains('?') { '&' } else { '?' };
            let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
            out.push_str(&format!("{sep}{key}={value}"));
        }
    }
    out
}

/// Everything needed to open connections: parsed once, used for every connection of a pool.
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    tls: Option<RustlsConnect>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the password: only say where and how.
        f.debug_struct("Target")
            .field("hosts", &self.config.get_hosts())
            .field("ssl_mode", &self.config.get_ssl_mode())
            .finish()
    }
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, TlsSetupError> {
        let params = split_url(url);
        let mode = match params.mode.as_deref() {
            None => SslMode::Disable,
            Some(m) => m.parse()?,
        };
        let roots = match params.root_cert.as_deref() {
            Some(path) => Some(load_roots(path)?),
            None => None,
        };
        let verify = match (mode, roots) {
            (SslMode::Disable, _) => None,
            (SslMode::Prefer, _) | (SslMode::Require, None) => Some(Verify::Nothing),
            // libpq: `require` with a root certificate file behaves as `verify-ca`.
            (SslMode::Require | SslMode::VerifyCa, Some(roots)) => Some(Verify::Ca(roots)),
            (SslMode::VerifyFull, Some(roots)) => Some(Verify::Full(roots)),
            (SslMode::VerifyCa, None) => return Err(TlsSetupError::NoRootCert("verify-ca")),
            (SslMode::VerifyFull, None) => return Err(TlsSetupError::NoRootCert("verify-full")),
        };
        let mut config: tokio_postgres::Config = params.url.parse().map_err(|e| TlsSetupError::Url(format!("{e}")))?;
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        let tls = verify.map(|v| client_config(v, mode)).transpose()?;
        Ok(Self { config, tls })
    }

    /// Open one connection.
    pub async fn connect(&self) -> ConnectionResult<AsyncPgConnection> {
        let bad = |e: tokio_postgres::Error| diesel::ConnectionError::BadConnection(describe(&e));
        match &self.tls {
            None => {
                let (client, conn) = self.config.connect(tokio_postgres::NoTls).await.map_err(bad)?;
                AsyncPgConnection::try_from_client_and_connection(client, conn).await
            }
            Some(tls) => {
                let (client, conn) = self.config.connect(tls.clone()).await.map_err(bad)?;
                AsyncPgConnection::try_from_client_and_connection(client, conn).await
            }
        }
    }
}

/// Open one connection to `url` (with its `sslmode` and `sslrootcert`).
pub async fn establish(url: &str) -> ConnectionResult<AsyncPgConnection> {
    let target = Target::parse(url).map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    target.connect().await
}

/// tokio-postgres's message with its causes (its own says only "db error" or "error performing
/// TLS handshake"), a certificate problem spelled out.
fn describe(e: &tokio_postgres::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        // An io::Error's `source()` skips the error it wraps: look inside first.
        let inner = s.downcast_ref::<io::Error>().and_then(|io| io.get_ref()).map(|i| i as &dyn std::error::Error);
        if let Some(hint) = inner.unwrap_or(s).downcast_ref::<HandshakeError>() {
            return format!("{e}: {hint}");
        }
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}

fn load_roots(path: &str) -> Result<Arc<RootCertStore>, TlsSetupError> {
    let bad = |reason: String| TlsSetupError::RootCert { path: path.to_string(), reason };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(Arc::new(roots))
}

enum Verify {
    Nothing,
    Ca(Arc<RootCertStore>),
    Full(Arc<RootCertStore>),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn client_config(verify: Verify, mode: SslMode) -> Result<RustlsConnect, TlsSetupError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    let webpki = |roots| {
        WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsSetupError::Rustls(e.to_string()))
    };
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(NoCertificateCheck(provider.clone())),
        Verify::Ca(roots) => Arc::new(CaOnly(webpki(roots)?)),
        Verify::Full(roots) => webpki(roots)?,
    };
    let config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    Ok(RustlsConnect { config: Arc::new(config), mode })
}

/// `require` / `prefer` without a CA: encrypted, any certificate (libpq's behaviour). The
/// handshake's signatures are still checked against the certificate presented.
#[derive(Debug)]
struct NoCertificateCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted CA; the name in the certificate is not checked.
#[derive(Debug)]
struct CaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// tokio-postgres's TLS hook, backed by tokio-rustls.
#[derive(Clone)]
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    mode: SslMode,
}

impl MakeTlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnectOne;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnectOne, io::Error> {
        let name = match ServerName::try_from(domain.to_string()) {
            Ok(name) => name,
            // Unchecked modes accept any certificate, so any name will do for the handshake.
            Err(_) if matches!(self.mode, SslMode::Prefer | SslMode::Require) => {
                ServerName::try_from("localhost").map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
            }
            Err(e) => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("host {domain:?} for TLS: {e}")));
            }
        };
        Ok(RustlsConnectOne { connector: tokio_rustls::TlsConnector::from(self.config.clone()), name, mode: self.mode })
    }
}

pub struct RustlsConnectOne {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
    mode: SslMode,
}

/// A failed handshake, said in the operator's terms.
#[derive(Debug)]
struct HandshakeError(String);

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HandshakeError {}

fn handshake_error(e: io::Error, name: &ServerName<'_>, mode: SslMode) -> io::Error {
    let host = name.to_str();
    let tls = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let message = match tls {
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => format!("the server's certificate is not issued for host {host:?} (sslmode=verify-full checks the name)"),
        Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => format!(
            "the server's certificate (host {host:?}) is not signed by a CA in sslrootcert (sslmode={})",
            mode_name(mode)
        ),
        Some(rustls::Error::InvalidCertificate(cert)) => {
            format!("the server's certificate (host {host:?}) was refused: {cert:?}")
        }
        Some(other) => format!("TLS with host {host:?} failed: {other}"),
        None => return e,
    };
    io::Error::new(e.kind(), HandshakeError(message))
}

fn mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

impl TlsConnect<Socket> for RustlsConnectOne {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = BoxFuture<'static, Result<RustlsStream, io::Error>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            match self.connector.connect(self.name.clone(), stream).await {
                Ok(stream) => Ok(RustlsStream(stream)),
                Err(e) => Err(handshake_error(e, &self.name, self.mode)),
            }
        })
    }
}

/// The encrypted stream tokio-postgres reads and writes.
pub struct RustlsStream(tokio_rustls::client::TlsStream<Socket>);

impl tokio_postgres::tls::TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        match session.peer_certificates().and_then(|certs| certs.first()).and_then(|c| server_end_point(c)) {
            Some(hash) => ChannelBinding::tls_server_end_point(hash),
            None => ChannelBinding::none(),
        }
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// RFC 5929 `tls-server-end-point`: the hash of the server's certificate with the hash of its
/// signature algorithm, SHA-256 for MD5 and SHA-1. `None` (no channel binding offered) for an
/// algorithm without one hash (Ed25519) or a certificate this small reader cannot walk.
fn server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE { OID, .. }, .. }
    let (_, certificate, _) = der_tlv(cert)?;
    let (_, _tbs, rest) = der_tlv(certificate)?;
    let (_, algorithm, _) = der_tlv(rest)?;
    let (tag, oid, _) = der_tlv(algorithm)?;
    if tag != 0x06 {
        return None;
    }
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01]; // 1.2.840.113549.1.1
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04]; // 1.2.840.10045.4
    let hash = match oid {
        [p @ .., 4 | 5 | 11 | 14] if p == RSA => 256, // md5, sha1, sha256, sha224
        [p @ .., 12] if p == RSA => 384,
        [p @ .., 13] if p == RSA => 512,
        [p @ .., 1] if p == ECDSA => 256, // ecdsa-with-SHA1
        [p @ .., 3, 2] if p == ECDSA => 256,
        [p @ .., 3, 3] if p == ECDSA => 384,
        [p @ .., 3, 4] if p == ECDSA => 512,
        _ => return None,
    };
    Some(match hash {
        256 => sha2::Sha256::digest(cert).to_vec(),
        384 => sha2::Sha384::digest(cert).to_vec(),
        _ => sha2::Sha512::digest(cert).to_vec(),
    })
}

/// One DER tag-length-value: (tag, value, what follows).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url_and_come_back_as_settings() {
        let p =
            split_url("postgres://u:p@db:5432/app?sslmode=verify-full&options=-c%20x%3Dy&sslrootcert=%2Fca%2Froot.crt");
        assert_eq!(p.url, "postgres://u:p@db:5432/app?options=-c%20x%3Dy");
        assert_eq!(p.mode.as_deref(), Some("verify-full"));
        assert_eq!(p.root_cert.as_deref(), Some("/ca/root.crt"));
        let p = split_url("postgres://u@db/app");
        assert_eq!((p.url.as_str(), p.mode, p.root_cert), ("postgres://u@db/app", None, None));

        let url = with_tls_params("postgres://u@db/app?sslmode=disable", Some("require"), None);
        assert_eq!(url, "postgres://u@db/app?sslmode=require");
        let url = with_tls_params("postgres://u@db/app", Some("verify-full"), Some("/etc/ca dir/ca.crt"));
        assert_eq!(url, "postgres://u@db/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fca+dir%2Fca.crt");
        assert_eq!(split_url(&url).root_cert.as_deref(), Some("/etc/ca dir/ca.crt"));
        assert_eq!(with_tls_params("postgres://u@db/app", None, None), "postgres://u@db/app");
    }

    #[test]
    fn modes_that_check_certificates_need_a_ca_and_bad_modes_are_named() {
        let err = Target::parse("postgres://u@db/app?sslmode=verify-full").unwrap_err();
        assert_eq!(err.to_string(), "sslmode=verify-full needs sslrootcert=<CA file>");
        let err = Target::parse("postgres://u@db/app?sslmode=allow").unwrap_err();
        assert!(err.to_string().contains("\"allow\" is not one of"), "{err}");
        let err = Target::parse("postgres://u@db/app?sslmode=require&sslrootcert=/nonexistent/ca.crt").unwrap_err();
        assert!(err.to_string().starts_with("cannot read sslrootcert \"/nonexistent/ca.crt\""), "{err}");
        assert!(Target::parse("postgres://u@db/app?sslmode=require").is_ok());
        assert!(Target::parse("postgres://u@db/app").is_ok());
    }
}
