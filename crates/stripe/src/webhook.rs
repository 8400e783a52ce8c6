//! Stripe webhook signatures: `Stripe-Signature: t=<unix seconds>,v1=<hex hmac>[,v1=...]`, where each `v1` is
//! HMAC-SHA256 of `"{t}.{raw body}"` under an endpoint secret.
//!
//! The body must be the raw bytes as received: re-serialising parsed JSON changes the bytes and breaks the MAC.
//! Every failure is a typed error, never a panic, because the header is attacker-controlled input on a public route.

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::resources::{Charge, PaymentIntent, Refund, SetupIntent};
use crate::SecretKey;

type HmacSha256 = Hmac<Sha256>;

/// Stripe's own default: older deliveries are treated as replays.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
/// Real headers are ~150 bytes; anything far larger is not worth parsing.
const MAX_HEADER_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook secret configured")]
    NoSecrets,
    #[error("malformed Stripe-Signature header: {0}")]
    MalformedHeader(&'static str),
    #[error("Stripe-Signature header has no timestamp")]
    MissingTimestamp,
    #[error("Stripe-Signature header has no v1 signature")]
    NoSignatures,
    #[error("no v1 signature matches any configured secret")]
    SignatureMismatch,
    #[error("timestamp {timestamp} is outside the tolerance around now ({now})")]
    TimestampOutsideTolerance { timestamp: i64, now: i64 },
    #[error("invalid event payload: {0}")]
    InvalidPayload(String),
}

/// Computes the header value Stripe would send: used by stripe-fake and by tests.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret.as_bytes(), timestamp, body)))
}

#[allow(clippy::expect_used)] // HMAC takes keys of any length, so `new_from_slice` cannot fail.
fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

struct ParsedHeader<'a> {
    timestamp: i64,
    signatures: Vec<&'a str>,
}

fn parse_header(header: &str) -> Result<ParsedHeader<'_>, WebhookError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(WebhookError::MalformedHeader("too long"));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(WebhookError::MalformedHeader("item without '='"));
        };
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(WebhookError::MalformedHeader("more than one timestamp"));
                }
                let parsed = value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| WebhookError::MalformedHeader("timestamp is not an integer"))?;
                timestamp = Some(parsed);
            }
            "v1" => signatures.push(value.trim()),
            // v0 (test-mode legacy) and future schemes are ignored, as Stripe's libraries do.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::MissingTimestamp)?;
    if signatures.is_empty() {
        return Err(WebhookError::NoSignatures);
    }
    Ok(ParsedHeader { timestamp, signatures })
}

/// Verifies deliveries against one or more endpoint secrets. Several secrets let an endpoint roll its secret:
/// during the overlap Stripe signs with both and either must be accepted.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    secrets: Vec<SecretKey>,
    tolerance_secs: i64,
}

impl WebhookVerifier {
    pub fn new<S: Into<SecretKey>>(secrets: impl IntoIterator<Item = S>) -> Self {
        Self { secrets: secrets.into_iter().map(Into::into).collect(), tolerance_secs: DEFAULT_TOLERANCE_SECS }
    }

    pub fn with_tolerance_secs(mut self, tolerance_secs: i64) -> Self {
        self.tolerance_secs = tolerance_secs.max(0);
        self
    }

    /// Verifies against the current clock.
    pub fn verify(&self, header: &str, body: &[u8]) -> Result<(), WebhookError> {
        self.verify_at(header, body, chrono::Utc::now().timestamp())
    }

    /// Verifies as if the time were `now` (unix seconds), so tests need no clock tricks.
    pub fn verify_at(&self, header: &str, body: &[u8], now: i64) -> Result<(), WebhookError> {
        if self.secrets.is_empty() {
            return Err(WebhookError::NoSecrets);
        }
        let parsed = parse_header(header)?;
        // Compare against every (secret, signature) pair without stopping early, so timing does not reveal which
        // secret or which position matched.
        let mut matched = Choice::from(0);
        for secret in &self.secrets {
            let expected = hex::encode(mac(secret.expose().as_bytes(), parsed.timestamp, body));
            for candidate in &parsed.signatures {
                matched |= expected.as_bytes().ct_eq(candidate.as_bytes());
            }
        }
        if !bool::from(matched) {
            return Err(WebhookError::SignatureMismatch);
        }
        // Checked in both directions: a timestamp far in the future would otherwise stretch the replay window.
        if now.saturating_sub(parsed.timestamp).saturating_abs() > self.tolerance_secs {
            return Err(WebhookError::TimestampOutsideTolerance { timestamp: parsed.timestamp, now });
        }
        Ok(())
    }

    /// Verifies, then parses the body as an [`Event`].
    pub fn construct_event(&self, header: &str, body: &[u8]) -> Result<Event, WebhookError> {
        self.construct_event_at(header, body, chrono::Utc::now().timestamp())
    }

    pub fn construct_event_at(&self, header: &str, body: &[u8], now: i64) -> Result<Event, WebhookError> {
        self.verify_at(header, body, now)?;
        serde_json::from_slice(body).map_err(|e| WebhookError::InvalidPayload(e.to_string()))
    }
}

/// A Stripe event. `data.object` stays raw JSON until the handler, which knows from `type` what it holds, asks
/// for a typed view.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    /// `evt_...`: the dedupe key, since Stripe may deliver an event more than once.
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub created: i64,
    pub data: EventData,
    #[serde(default)]
    pub livemode: bool,
    #[serde(default)]
    pub api_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
    #[serde(default)]
    pub previous_attributes: Option<serde_json::Value>,
}

/// The event types billing acts on; anything else is `Other` and can be acknowledged and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventType {
    PaymentIntentSucceeded,
    PaymentIntentPaymentFailed,
    PaymentIntentCanceled,
    ChargeRefunded,
    /// A refund changed (e.g. it failed after all); `data.object` is the refund.
    ChargeRefundUpdated,
    /// `refund.created`, `refund.updated`, `refund.failed`: the newer names of refund notifications.
    RefundCreated,
    RefundUpdated,
    RefundFailed,
    /// A card was saved for later use; `data.object` is the SetupIntent.
    SetupIntentSucceeded,
    Other(String),
}

impl Event {
    pub fn kind(&self) -> EventType {
        match self.type_.as_str() {
            "payment_intent.succeeded" => EventType::PaymentIntentSucceeded,
            "payment_intent.payment_failed" => EventType::PaymentIntentPaymentFailed,
            "payment_intent.canceled" => EventType::PaymentIntentCanceled,
            "charge.refunded" => EventType::ChargeRefunded,
            "charge.refund.updated" => EventType::ChargeRefundUpdated,
            "refund.created" => EventType::RefundCreated,
            "refund.updated" => EventType::RefundUpdated,
            "refund.failed" => EventType::RefundFailed,
            "setup_intent.succeeded" => EventType::SetupIntentSucceeded,
            other => EventType::Other(other.to_owned()),
        }
    }

    /// Decodes `data.object` as any type.
    pub fn object<T: DeserializeOwned>(&self) -> Result<T, WebhookError> {
        T::deserialize(&self.data.object).map_err(|e| WebhookError::InvalidPayload(e.to_string()))
    }

    /// `data.object` as a PaymentIntent; refuses objects of another kind.
    pub fn payment_intent(&self) -> Result<PaymentIntent, WebhookError> {
        self.expect_object("payment_intent")?;
        self.object()
    }

    /// `data.object` as a Charge (e.g. for `charge.refunded`).
    pub fn charge(&self) -> Result<Charge, WebhookError> {
        self.expect_object("charge")?;
        self.object()
    }

    pub fn setup_intent(&self) -> Result<SetupIntent, WebhookError> {
        self.expect_object("setup_intent")?;
        self.object()
    }

    pub fn refund(&self) -> Result<Refund, WebhookError> {
        self.expect_object("refund")?;
        self.object()
    }

    fn expect_object(&self, kind: &str) -> Result<(), WebhookError> {
        match self.data.object.get("object").and_then(|v| v.as_str()) {
            Some(actual) if actual != kind => {
                Err(WebhookError::InvalidPayload(format!("event holds a {actual}, not a {kind}")))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const NOW: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1700000000,
"livemode":false,"data":{"object":{"id":"pi_1","object":"payment_intent","amount":999,"amount_received":999,
"currency":"usd","status":"succeeded","metadata":{"payment_id":"p-1"}}}}"#;

    fn verifier() -> WebhookVerifier {
        WebhookVerifier::new([SECRET])
    }

    #[test]
    fn accepts_a_valid_signature() {
        let header = sign(SECRET, NOW, BODY);
        assert!(header.starts_with(&format!("t={NOW},v1=")));
        assert_eq!(verifier().verify_at(&header, BODY, NOW + 10), Ok(()));
    }

    #[test]
    fn matches_a_known_vector() {
        // Independent of this module's code: HMAC-SHA256("key", "1.body") computed with openssl.
        let header = sign("key", 1, b"body");
        assert_eq!(header, "t=1,v1=91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5");
    }

    #[test]
    fn accepts_rotated_secrets_either_way() {
        let rotating = WebhookVerifier::new(["whsec_old", "whsec_new"]);
        for secret in ["whsec_old", "whsec_new"] {
            assert_eq!(rotating.verify_at(&sign(secret, NOW, BODY), BODY, NOW), Ok(()));
        }
        // Stripe sends one v1 per active secret during a roll; one match is enough.
        let old = sign("whsec_old", NOW, BODY);
        let new = sign("whsec_unknown", NOW, BODY);
        let both = format!("{},{}", new, old.split_once(',').unwrap().1);
        assert_eq!(WebhookVerifier::new(["whsec_old"]).verify_at(&both, BODY, NOW), Ok(()));
        assert_eq!(
            WebhookVerifier::new(["whsec_other"]).verify_at(&old, BODY, NOW),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn refuses_stale_and_future_timestamps() {
        let header = sign(SECRET, NOW, BODY);
        assert_eq!(verifier().verify_at(&header, BODY, NOW + 300), Ok(()));
        assert_eq!(
            verifier().verify_at(&header, BODY, NOW + 301),
            Err(WebhookError::TimestampOutsideTolerance { timestamp: NOW, now: NOW + 301 })
        );
        assert!(verifier().verify_at(&header, BODY, NOW - 301).is_err());
        // Extreme but correctly signed timestamps must not overflow the arithmetic.
        for extreme in [i64::MIN, i64::MAX] {
            let header = sign(SECRET, extreme, BODY);
            assert!(verifier().verify_at(&header, BODY, NOW).is_err());
        }
        assert_eq!(verifier().with_tolerance_secs(1000).verify_at(&header, BODY, NOW + 900), Ok(()));
    }

    #[test]
    fn refuses_any_single_byte_change_to_the_body() {
        let header = sign(SECRET, NOW, BODY);
        for i in 0..BODY.len() {
            let mut tampered = BODY.to_vec();
            tampered[i] ^= 0x01;
            assert_eq!(verifier().verify_at(&header, &tampered, NOW), Err(WebhookError::SignatureMismatch), "byte {i}");
        }
        let mut longer = BODY.to_vec();
        longer.push(b' ');
        assert!(verifier().verify_at(&header, &longer, NOW).is_err());
    }

    #[test]
    fn refuses_a_changed_timestamp() {
        let header = sign(SECRET, NOW, BODY).replacen(&NOW.to_string(), &(NOW + 1).to_string(), 1);
        assert_eq!(verifier().verify_at(&header, BODY, NOW), Err(WebhookError::SignatureMismatch));
    }

    #[test]
    fn malformed_headers_are_errors_not_panics() {
        let valid_sig = sign(SECRET, NOW, BODY);
        let v1 = valid_sig.split_once(',').unwrap().1;
        let long = "v1=".to_owned() + &"a".repeat(5000);
        let cases: Vec<String> = vec![
            String::new(),
            ",".into(),
            ",,,".into(),
            "garbage".into(),
            "t".into(),
            "t=".into(),
            "=".into(),
            "==,==".into(),
            v1.into(),
            format!("t=abc,{v1}"),
            format!("t=1.5,{v1}"),
            format!("t=99999999999999999999999,{v1}"),
            format!("t={NOW}"),
            format!("t={NOW},v1"),
            format!("t={NOW},v0=abc"),
            format!("t={NOW},t={NOW},{v1}"),
            format!("t={NOW},v1="),
            format!("t={NOW},v1=zz"),
            format!("t={NOW},v1=é☃\u{0}"),
            format!("t=-{NOW},{v1}"),
            format!("t={},{v1}", i64::MIN),
            format!("t={},{v1}", i64::MAX),
            "\u{feff}t=1,v1=00".into(),
            long,
        ];
        for header in &cases {
            let result = verifier().verify_at(header, BODY, NOW);
            assert!(result.is_err(), "accepted {header:?}");
        }
        assert_eq!(verifier().verify_at("", BODY, NOW), Err(WebhookError::MissingTimestamp));
        assert_eq!(verifier().verify_at(&format!("t={NOW}"), BODY, NOW), Err(WebhookError::NoSignatures));
        assert!(matches!(verifier().verify_at(&format!("t=x,{v1}"), BODY, NOW), Err(WebhookError::MalformedHeader(_))));
        let none: [&str; 0] = [];
        assert_eq!(WebhookVerifier::new(none).verify_at(&valid_sig, BODY, NOW), Err(WebhookError::NoSecrets));
    }

    #[test]
    fn tolerates_spaces_and_unknown_schemes() {
        let header = sign(SECRET, NOW, BODY);
        let (t, v1) = header.split_once(',').unwrap();
        let spaced = format!(" {t} , v0=deadbeef , {v1} ");
        assert_eq!(verifier().verify_at(&spaced, BODY, NOW), Ok(()));
    }

    #[test]
    fn parses_the_verified_event() {
        let header = sign(SECRET, NOW, BODY);
        let event = verifier().construct_event_at(&header, BODY, NOW).unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.kind(), EventType::PaymentIntentSucceeded);
        let pi = event.payment_intent().unwrap();
        assert_eq!(pi.amount_received, 999);
        assert_eq!(pi.metadata.get("payment_id").map(String::as_str), Some("p-1"));
        assert!(event.charge().is_err());
        let not_json = b"not json";
        let header = sign(SECRET, NOW, not_json);
        assert!(matches!(verifier().construct_event_at(&header, not_json, NOW), Err(WebhookError::InvalidPayload(_))));
    }
}
