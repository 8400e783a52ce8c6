//! The open-loop runner. Operation i is due at `start + i / rate`, whatever happened to earlier
//! ones; its latency runs from that due time, not from when it was actually sent, so time spent
//! queued (in the bench behind the concurrency cap, in a socket backlog, in a service) counts.
//! This is the latency correction closed-loop tools lack ("coordinated omission"): a stalled
//! server cannot slow the arrival of new requests down and so hide its stall.

use crate::hist::Samples;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// What one operation reports: `Ok(None)` = success, latency from its due time; `Ok(Some(d))` =
/// success with a latency it measured itself (a lag probe); `Err(kind)` = failure of that kind
/// (`"status 429"`, `"timeout"`, ...).
pub type Outcome = Result<Option<Duration>, String>;

const SHED: &str = "shed (backlog)";

pub struct Plan {
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    /// Operations in flight at most; the rest wait (their wait counts as latency). High enough
    /// that it only bounds sockets, not the offered load.
    pub max_in_flight: usize,
    /// An operation still waiting for a slot this long after its due time is not sent and counts
    /// as an error (`shed`): past saturation the backlog would otherwise grow without bound and
    /// a 15 s scenario would take minutes to drain.
    pub max_backlog: Duration,
}

/// Named sub-timings an operation may record (the phases of a purchase flow).
#[derive(Clone, Default)]
pub struct Phases(Arc<Mutex<BTreeMap<&'static str, Samples>>>);

impl Phases {
    pub fn record(&self, name: &'static str, d: Duration) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(name).or_default().push(d.as_micros() as u64);
    }

    pub fn take(&self) -> BTreeMap<&'static str, Samples> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

pub struct Measured {
    /// Operations due inside the measured window (warm-up excluded).
    pub scheduled: usize,
    /// Of those, not sent at all (see [`Plan::max_backlog`]).
    pub shed: usize,
    pub ok: usize,
    pub errors: BTreeMap<String, usize>,
    /// Every measured operation's latency, failures included (a timeout counts as its full wait).
    pub latency: Samples,
    /// From the end of the warm-up to the last measured completion.
    pub elapsed: Duration,
}

/// Run `op(i)` at `plan.rate` per second for warm-up + duration. `on_measure_start` runs once when
/// the warm-up ends (the CPU snapshot).
pub async fn run<F, Fut>(plan: &Plan, op: F, on_measure_start: impl FnOnce() + Send + 'static) -> Measured
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let total = ((plan.warmup + plan.duration).as_secs_f64() * plan.rate).round() as u64;
    let warm = (plan.warmup.as_secs_f64() * plan.rate).round() as u64;
    let gate = Arc::new(Semaphore::new(plan.max_in_flight.max(1)));
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + plan.warmup;
    tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        on_measure_start();
    });
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / plan.rate);
        tokio::time::sleep_until(due.into()).await;
        let work = op(i);
        let gate = gate.clone();
        let max_backlog = plan.max_backlog;
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let outcome = if due.elapsed() > max_backlog { Err(SHED.to_string()) } else { work.await };
            (due, Instant::now(), outcome)
        }));
    }
    let mut m = Measured {
        scheduled: 0,
        shed: 0,
        ok: 0,
        errors: BTreeMap::new(),
        latency: Samples::with_capacity((total - warm) as usize),
        elapsed: Duration::ZERO,
    };
    let mut last_done = measure_from;
    for (i, task) in tasks.into_iter().enumerate() {
        let Ok((due, done, outcome)) = task.await else {
            continue;
        };
        if (i as u64) < warm {
            continue;
        }
        m.scheduled += 1;
        last_done = last_done.max(done);
        let from_due = done.saturating_duration_since(due);
        match outcome {
            Ok(own) => {
                m.ok += 1;
                m.latency.push(own.unwrap_or(from_due).as_micros() as u64);
            }
            Err(kind) => {
                if kind == SHED {
                    m.shed += 1;
                }
                *m.errors.entry(kind).or_default() += 1;
                m.latency.push(from_due.as_micros() as u64);
            }
        }
    }
    m.elapsed = last_done.saturating_duration_since(measure_from);
    m
}
