//! CPU time per process from /proc/<pid>/stat (utime + stime, in clock ticks).
//!
//! The stack's processes come from `.run/<name>.pid` (written by scripts/run-all.sh). PostgreSQL and
//! RabbitMQ are shared with whatever else runs on the machine: PostgreSQL is counted as the backends
//! connected to the bench database plus the server's own auxiliary processes; RabbitMQ as its whole
//! Erlang VM (it cannot be split per vhost from outside).

use std::collections::BTreeMap;
use std::path::Path;

pub const SERVICES: [&str; 8] =
    ["gateway", "billing", "subscriptions", "marketplace", "rewards", "licensing", "webhooks", "stripe-fake"];

pub struct Sampler {
    pids: Vec<(String, u32)>,
    database: String,
    ticks_per_sec: f64,
}

/// CPU seconds per process name at one instant.
pub type Snapshot = BTreeMap<String, f64>;

impl Sampler {
    pub fn new(run_dir: &Path, database: &str) -> Self {
        let mut pids = Vec::new();
        for name in SERVICES {
            let file = run_dir.join(format!("{name}.pid"));
            if let Some(pid) = std::fs::read_to_string(&file).ok().and_then(|s| s.trim().parse().ok()) {
                pids.push((name.to_string(), pid));
            }
        }
        Self { pids, database: database.to_string(), ticks_per_sec: clock_ticks() }
    }

    pub fn found(&self) -> Vec<&str> {
        self.pids.iter().map(|(n, _)| n.as_str()).collect()
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut out = Snapshot::new();
        for (name, pid) in &self.pids {
            if let Some(t) = ticks(*pid) {
                out.insert(name.clone(), t as f64 / self.ticks_per_sec);
            }
        }
        let (mut pg, mut mq, mut exited) = (0u64, 0u64, 0u64);
        for (pid, comm, cmdline) in processes() {
            // Not the postmaster's reaped-children times here: those are mostly other databases'
            // (tests open and close connections all the time); the services' pools keep theirs
            // open. They are kept apart, for pgbench's backends (see [`delta_with_exited`]).
            if comm == "postgres" && self.is_ours(&cmdline) {
                pg += ticks(pid).unwrap_or(0);
                if !cmdline.starts_with("postgres:") {
                    exited += reaped_ticks(pid).unwrap_or(0); // the postmaster: no process title
                }
            } else if comm == "beam.smp" && cmdline.contains("rabbit") {
                mq += ticks(pid).unwrap_or(0);
            }
        }
        out.insert("postgres".into(), pg as f64 / self.ticks_per_sec);
        out.insert("rabbitmq".into(), mq as f64 / self.ticks_per_sec);
        out.insert(EXITED_BACKENDS.into(), exited as f64 / self.ticks_per_sec);
        out.insert("bench".into(), ticks(std::process::id()).unwrap_or(0) as f64 / self.ticks_per_sec);
        out
    }

    /// A backend's title is `postgres: [<cluster>: ]<user> <database> <host(port)> <state>`;
    /// auxiliary processes (`postgres: 15/main: walwriter`, the postmaster) have no client address.
    fn is_ours(&self, cmdline: &str) -> bool {
        let title: Vec<&str> = cmdline.split_whitespace().collect();
        match title.iter().position(|w| w.contains('(') && w.ends_with(')')) {
            Some(host) => host >= 1 && title[host - 1] == self.database,
            None => true,
        }
    }
}

/// utime + stime of `pid`, in clock ticks.
fn ticks(pid: u32) -> Option<u64> {
    stat_fields(pid, 14, 15)
}

/// cutime + cstime of `pid`: its exited children's CPU, in clock ticks.
fn reaped_ticks(pid: u32) -> Option<u64> {
    stat_fields(pid, 16, 17)
}

/// The sum of two numeric fields of /proc/`pid`/stat (1-based, as in proc(5)).
fn stat_fields(pid: u32, a: usize, b: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(field(a)? + field(b)?)
}

fn processes() -> Vec<(u32, String, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim().to_string();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, comm, cmdline))
        })
        .collect()
}

/// `getconf CLK_TCK` (100 on Linux almost everywhere).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// The postmaster's reaped-children CPU, kept apart in a [`Snapshot`].
const EXITED_BACKENDS: &str = "postgres-exited";

/// CPU seconds each process spent between two snapshots.
pub fn delta(before: &Snapshot, after: &Snapshot) -> Snapshot {
    let mut cpu = all_deltas(before, after);
    cpu.remove(EXITED_BACKENDS);
    cpu
}

/// [`delta`], PostgreSQL's figure including the backends that exited between the snapshots: what
/// pgbench's connections cost, since they are opened after the first snapshot and gone before the
/// second. Anything else that connected to the server meanwhile is counted too, so only for a
/// window where pgbench is the one client that comes and goes.
pub fn delta_with_exited(before: &Snapshot, after: &Snapshot) -> Snapshot {
    let mut cpu = all_deltas(before, after);
    let exited = cpu.remove(EXITED_BACKENDS).unwrap_or(0.0);
    *cpu.entry("postgres".into()).or_default() += exited;
    cpu
}

fn all_deltas(before: &Snapshot, after: &Snapshot) -> Snapshot {
    after.iter().map(|(k, v)| (k.clone(), (v - before.get(k).copied().unwrap_or(0.0)).max(0.0))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_time() {
        let t = ticks(std::process::id());
        assert!(t.is_some());
    }

    #[test]
    fn an_exited_childs_cpu_reaches_its_parents_reaped_times() {
        let before = reaped_ticks(std::process::id()).unwrap();
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(reaped_ticks(std::process::id()).unwrap() > before, "the child's CPU is not in cutime + cstime");
    }

    #[test]
    fn exited_backends_count_for_postgres_only_when_asked() {
        let snap = |pg: f64, exited: f64| {
            Snapshot::from([("postgres".to_string(), pg), (EXITED_BACKENDS.to_string(), exited)])
        };
        let (before, after) = (snap(1.0, 10.0), snap(1.5, 12.0));
        assert_eq!(delta(&before, &after), Snapshot::from([("postgres".to_string(), 0.5)]));
        assert_eq!(delta_with_exited(&before, &after), Snapshot::from([("postgres".to_string(), 2.5)]));
    }

    #[test]
    fn backends_of_other_databases_are_not_counted() {
        let s = Sampler { pids: Vec::new(), database: "bench".into(), ticks_per_sec: 100.0 };
        assert!(s.is_ours("postgres: postgres bench 127.0.0.1(5000) idle"));
        assert!(!s.is_ours("postgres: postgres postgres 127.0.0.1(5001) idle"));
        assert!(s.is_ours("postgres: walwriter "));
        assert!(s.is_ours("postgres: 15/main: postgres bench 127.0.0.1(41234) idle"));
        assert!(!s.is_ours("postgres: 15/main: postgres postgres 127.0.0.1(41235) SELECT"));
        assert!(s.is_ours("postgres: 15/main: checkpointer"));
        assert!(s.is_ours("/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=x"));
    }
}
