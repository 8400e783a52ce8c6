//! The physical-limit baseline: pgbench (it ships with PostgreSQL) writing the rows one
//! redemption writes in a single statement and a single commit (scripts/bench-baseline-redeem.sql),
//! against the bench database, from the same machine in the same run as the HTTP scenarios. The
//! money-write scenarios are reported as a share of its rate, which is steadier across runs on a
//! shared machine than any absolute figure.
//!
//! pgbench is closed loop (each client sends its next transaction when the last one commits), so
//! its latencies are per transaction, not from a due time; its rate is what the database sustains
//! at that concurrency.

use crate::hist::Samples;
use crate::load::Measured;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub struct Baseline {
    pub database_url: String,
    pub script: PathBuf,
    pub clients: u32,
}

impl Baseline {
    pub fn from_env(database: &str) -> Self {
        let admin =
            std::env::var("DEV_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
        Self {
            database_url: format!("{base}/{database}"),
            script: std::env::var("BENCH_PGBENCH_SCRIPT")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from("scripts/bench-baseline-redeem.sql")),
            clients: std::env::var("BENCH_PGBENCH_CLIENTS").ok().and_then(|c| c.parse().ok()).unwrap_or(16),
        }
    }

    /// A warm-up run (not logged), `on_measure_start`, then the measured run with a per-transaction
    /// log, read back into the same shape the HTTP scenarios report.
    pub fn run(
        &self,
        warmup: Duration,
        duration: Duration,
        on_measure_start: impl FnOnce(),
    ) -> Result<Measured, String> {
        let dir = std::env::temp_dir().join(format!("bench-pgbench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if !warmup.is_zero() {
            self.pgbench(warmup, None)?;
            backends_exit();
        }
        on_measure_start();
        let started = std::time::Instant::now();
        self.pgbench(duration, Some(&dir))?;
        let elapsed = started.elapsed().min(duration.max(Duration::from_millis(1)));
        backends_exit();
        let measured = read_logs(&dir, elapsed);
        let _ = std::fs::remove_dir_all(&dir);
        measured
    }

    fn pgbench(&self, duration: Duration, log_dir: Option<&Path>) -> Result<(), String> {
        let mut cmd = Command::new("pgbench");
        cmd.args(["-n", "-j", "2"])
            .arg("-c")
            .arg(self.clients.to_string())
            .arg("-T")
            .arg(duration.as_secs().max(1).to_string())
            .arg("-f")
            .arg(&self.script);
        if let Some(dir) = log_dir {
            cmd.arg("-l").arg("--log-prefix").arg(dir.join("tx"));
        }
        cmd.arg(&self.database_url);
        let out = cmd.output().map_err(|e| format!("pgbench: {e} (it ships with PostgreSQL's client package)"))?;
        if !out.status.success() {
            return Err(format!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(())
    }
}

/// A finished pgbench's backends exit a moment after it does; only then does their CPU reach the
/// postmaster's reaped-children times, which is where the CPU column finds it
/// ([`crate::cpu::delta_with_exited`]): the warm-up's must land before the measured window opens,
/// the measured run's before it closes.
fn backends_exit() {
    std::thread::sleep(Duration::from_millis(500));
}

/// pgbench's per-transaction log: `client transaction latency_us script epoch_s epoch_us [...]`;
/// a failed transaction has a word (`failed`, `serialization`, `deadlock`) for its latency.
fn read_logs(dir: &Path, elapsed: Duration) -> Result<Measured, String> {
    let mut m =
        Measured { scheduled: 0, shed: 0, ok: 0, errors: BTreeMap::new(), latency: Samples::default(), elapsed };
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).map_err(|e| e.to_string())?;
        parse_log(&text, &mut m);
    }
    if m.scheduled == 0 {
        return Err("pgbench logged no transactions".into());
    }
    Ok(m)
}

fn parse_log(text: &str, m: &mut Measured) {
    for line in text.lines() {
        let Some(latency) = line.split_whitespace().nth(2) else {
            continue;
        };
        m.scheduled += 1;
        match latency.parse::<u64>() {
            Ok(us) => {
                m.ok += 1;
                m.latency.push(us);
            }
            Err(_) => *m.errors.entry(format!("pgbench {latency}")).or_default() += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_become_latencies_and_failures() {
        let mut m =
            read_logs_from("0 1 1834 0 1733350000 123456\n0 2 2200 0 1733350000 125000\n1 1 failed 0 1733350000 1\n");
        assert_eq!((m.scheduled, m.ok), (3, 2));
        assert_eq!(m.errors.get("pgbench failed"), Some(&1));
        assert_eq!(m.latency.percentile(100.0), Some(2200));
    }

    fn read_logs_from(text: &str) -> Measured {
        let mut m = Measured {
            scheduled: 0,
            shed: 0,
            ok: 0,
            errors: BTreeMap::new(),
            latency: Samples::default(),
            elapsed: Duration::from_secs(1),
        };
        parse_log(text, &mut m);
        m
    }
}
