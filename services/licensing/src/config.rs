//! `LICENSING_*` settings of licensing's own (the common ones are in `platform::config::ServiceConfig`).

use platform::config::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct LicensingConfig {
    /// Ed25519 private key (PKCS#8 PEM) that signs license certificates. Literal `\n` sequences
    /// are read as line breaks, for environments that cannot hold multi-line values.
    pub certificate_signing_key_pem: Secret,
    /// The matching public key (SPKI PEM), published at `/api/enterprise/licenses/public-key`.
    pub certificate_public_key_pem: String,
    /// A certificate is valid until the license expires, but at most this many days, so a client
    /// that verifies offline still learns of a revocation within that time.
    #[serde(default = "default_certificate_max_days")]
    pub certificate_max_days: i64,
    /// How often the scheduler looks for expired licenses, SLA breaches and usage snapshots.
    #[serde(default = "default_scheduler_interval")]
    pub scheduler_interval_ms: u64,
    /// `Cache-Control: max-age` of the public branding lookup.
    #[serde(default = "default_branding_max_age")]
    pub branding_max_age_secs: u64,
    /// How long a replica serves a domain's public branding from memory. Changes reach every
    /// replica's copy at once through the database (`cache_notify` triggers), so this only bounds
    /// a copy's age while the invalidation listener is down; 0 reads every lookup from the database.
    #[serde(default = "default_branding_cache_ms")]
    pub branding_cache_ms: u64,
    /// Nameservers that custom-domain verification asks for TXT records, comma-separated
    /// `ip[:port]`; unset = the system's resolv.conf.
    #[serde(default)]
    pub dns_nameservers: Option<String>,
    /// Key of the license keys' hashes (HMAC-SHA256, `platform::code_hash`): only the hash of a
    /// key is stored. 16+ characters, the same on every replica and for `migrate`, and kept: a
    /// key hashed under it matches under no other.
    pub code_hash_key: Secret,
    /// During a rotation: the previous keys, comma-separated, still matched (a key that matches
    /// under one is re-hashed under the current key when next used).
    #[serde(default)]
    pub code_hash_previous_keys: Option<Secret>,
    /// Sandbox only (issue 23, point 5): licenses may be created on a test clock and follow it.
    /// Never set in the prod overlay (scripts/k8s-check.sh refuses it there).
    #[serde(default)]
    pub test_clocks: bool,
}

fn default_certificate_max_days() -> i64 {
    30
}
fn default_scheduler_interval() -> u64 {
    30_000
}
fn default_branding_max_age() -> u64 {
    300
}
fn default_branding_cache_ms() -> u64 {
    60_000
}

/// PEM from the environment, with `\n` escapes turned back into line breaks.
pub fn unescape_pem(raw: &str) -> String {
    raw.replace("\\n", "\n").trim().to_string() + "\n"
}
