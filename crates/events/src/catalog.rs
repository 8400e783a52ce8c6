//! The typed event catalog. Producer and consumers share these definitions; each has a JSON
//! Schema at `proto-schemas/<schema_path()>`, checked by a test.
//!
//! Naming: `<service>.<aggregate>.<past-tense verb>.v<N>`. A breaking change is a new `vN+1` type
//! published beside the old one until every consumer has moved.

use serde::de::DeserializeOwned;
use serde::Serialize;

pub trait DomainEvent: Serialize + DeserializeOwned + Send + Sync {
    /// The CloudEvents `type` and the AMQP routing key.
    const TYPE: &'static str;
    /// The producing service.
    const SOURCE: &'static str;

    /// The aggregate id the event is about (CloudEvents `subject`).
    fn subject(&self) -> String;

    /// `events/<service>/<name>.vN.json`, relative to `proto-schemas/`.
    fn schema_path() -> String {
        let name = Self::TYPE.strip_prefix(Self::SOURCE).unwrap_or(Self::TYPE).trim_start_matches('.');
        format!("events/{}/{}.json", Self::SOURCE, name)
    }
}

pub mod billing;
pub mod erasure;
pub mod identity;
pub mod licensing;
pub mod marketplace;
pub mod rewards;
pub mod subscriptions;
pub mod webhooks;

/// Every event type the platform emits (and `identity.user.erased.v1`, which it consumes), for the schema-coverage test and the AsyncAPI document.
/// Each service's module lists its own in `TYPES`.
pub fn all_event_types() -> Vec<&'static str> {
    [
        billing::TYPES,
        licensing::TYPES,
        marketplace::TYPES,
        rewards::TYPES,
        subscriptions::TYPES,
        erasure::TYPES,
        identity::TYPES,
        webhooks::TYPES,
    ]
    .concat()
}
