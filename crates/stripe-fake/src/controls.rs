//! Fault injection and call counting for the `/v1` API: what lets a test say "the first call failed, the client
//! retried with the same key, and exactly one payment intent exists".

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the next API call suffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status (Stripe's `api_error`, or its rate-limit error for 429) without doing the work,
    /// as a failing load balancer or an overloaded API would.
    Status(u16),
    /// Do the work, then hold the response this long: with a delay above the client's timeout, the change is made
    /// but the client never hears of it, the case idempotency keys exist for.
    DelayResponse(#[serde(with = "millis")] Duration),
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// A poisoned lock only means another request panicked mid-way; the fake keeps serving rather than cascading.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
pub(crate) struct Controls {
    faults: Mutex<VecDeque<Fault>>,
    calls: Mutex<BTreeMap<String, u64>>,
}

impl Controls {
    pub(crate) fn inject(&self, fault: Fault, count: usize) {
        lock(&self.faults).extend(std::iter::repeat_n(fault, count));
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    pub(crate) fn next_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    /// Counts by route pattern, e.g. `POST /v1/payment_intents/{id}/confirm`.
    pub(crate) fn count(&self, endpoint: String) {
        *lock(&self.calls).entry(endpoint).or_default() += 1;
    }

    pub(crate) fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.calls).clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_in_order_then_run_out() {
        let controls = Controls::default();
        controls.inject(Fault::Status(500), 2);
        controls.inject(Fault::DelayResponse(Duration::from_millis(5)), 1);
        assert_eq!(controls.next_fault(), Some(Fault::Status(500)));
        assert_eq!(controls.next_fault(), Some(Fault::Status(500)));
        assert_eq!(controls.next_fault(), Some(Fault::DelayResponse(Duration::from_millis(5))));
        assert_eq!(controls.next_fault(), None);
    }

    #[test]
    fn faults_have_a_json_form() {
        let fault: Fault = serde_json::from_str(r#"{"delay_response": 3000}"#).unwrap();
        assert_eq!(fault, Fault::DelayResponse(Duration::from_secs(3)));
        let fault: Fault = serde_json::from_str(r#"{"status": 503}"#).unwrap();
        assert_eq!(fault, Fault::Status(503));
    }
}
