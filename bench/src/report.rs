//! The table, the targets of issue 10, and the JSON written beside them.

use crate::cpu::Snapshot;
use crate::hist::Samples;
use crate::load::Measured;
use crate::scenarios::{Group, Scenario};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Columns of the CPU part of the table, in order, with their short headers.
const CPU_COLUMNS: [(&str, &str); 10] = [
    ("gateway", "gw"),
    ("billing", "bill"),
    ("subscriptions", "subs"),
    ("marketplace", "mkt"),
    ("rewards", "rew"),
    ("licensing", "lic"),
    ("stripe-fake", "fake"),
    ("postgres", "pg"),
    ("rabbitmq", "mq*"),
    ("bench", "bench"),
];

pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_gib: f64,
    pub loadavg: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split(':').nth(1)))
            .map(|m| m.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Self {
            nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            cpu_model,
            mem_total_gib: mem_kib / 1024.0 / 1024.0,
            loadavg: loadavg(),
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub struct Row {
    pub name: &'static str,
    pub group: Group,
    pub what: &'static str,
    pub offered: f64,
    pub achieved: f64,
    pub requests: usize,
    pub errors: BTreeMap<String, usize>,
    pub error_rate: f64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    /// CPU seconds per 1,000 operations, per process.
    pub cpu_per_1k: BTreeMap<String, f64>,
    /// Phase name -> (p50, p99) in ms.
    pub phases: BTreeMap<&'static str, (f64, f64)>,
}

impl Row {
    pub fn new(
        s: &Scenario,
        offered: f64,
        m: &mut Measured,
        cpu: Snapshot,
        mut phases: BTreeMap<&'static str, Samples>,
    ) -> Self {
        let secs = m.elapsed.as_secs_f64().max(1e-9);
        let errors: usize = m.errors.values().sum();
        // CPU is spent on the operations actually sent, not on the shed ones.
        let thousands = ((m.scheduled - m.shed) as f64 / 1000.0).max(1e-9);
        Self {
            name: s.name,
            group: s.group,
            what: s.what,
            offered,
            achieved: m.ok as f64 / secs,
            requests: m.scheduled,
            error_rate: if m.scheduled == 0 { 0.0 } else { errors as f64 / m.scheduled as f64 },
            errors: std::mem::take(&mut m.errors),
            p50: m.latency.ms(50.0),
            p99: m.latency.ms(99.0),
            p999: m.latency.ms(99.9),
            max: m.latency.ms(100.0),
            cpu_per_1k: cpu.into_iter().map(|(k, v)| (k, v / thousands)).collect(),
            phases: phases.iter_mut().map(|(k, v)| (*k, (v.ms(50.0), v.ms(99.0)))).collect(),
        }
    }
}

/// Processes that are the system under test (not the shared broker, not the load generator).
const SYSTEM: [&str; 8] =
    ["gateway", "billing", "subscriptions", "marketplace", "rewards", "licensing", "stripe-fake", "postgres"];

impl Row {
    /// CPU milliseconds per operation spent by the system under test.
    pub fn cpu_ms(&self) -> f64 {
        SYSTEM.iter().filter_map(|p| self.cpu_per_1k.get(*p)).sum()
    }

    /// Operations per second all cores could serve at [`Row::cpu_ms`] each.
    pub fn capacity(&self, nproc: usize) -> f64 {
        let ms = self.cpu_ms();
        if ms > 0.0 {
            nproc as f64 * 1000.0 / ms
        } else {
            0.0
        }
    }
}

pub struct Report {
    machine: Machine,
    options: Value,
    rows: Vec<Row>,
    loadavg_after: String,
    started: chrono::DateTime<chrono::Utc>,
}

/// One target of issue 10, judged against the rows.
struct Verdict {
    target: String,
    measured: String,
    met: bool,
}

impl Report {
    pub fn new(machine: Machine, options: &Value, rows: Vec<Row>) -> Self {
        Self { machine, options: options.clone(), rows, loadavg_after: loadavg(), started: chrono::Utc::now() }
    }

    fn row(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == name)
    }

    fn verdicts(&self) -> Vec<Verdict> {
        let mut out = Vec::new();
        // Throughput is "met" within 2% of the offered rate (the generator's own timer jitter).
        let rate_ok = |r: &Row, want: f64| r.achieved >= want * 0.98 && r.error_rate <= 0.001;
        for (group, want, p99) in [(Group::Read, 5000.0, 10.0), (Group::Write, 1000.0, 25.0)] {
            for r in self.rows.iter().filter(|r| r.group == group) {
                out.push(Verdict {
                    target: format!("{}: >= {want:.0}/s at p99 <= {p99:.0} ms", r.name),
                    measured: format!(
                        "{:.0}/s offered {:.0}/s, p99 {:.1} ms, errors {:.2}%",
                        r.achieved,
                        r.offered,
                        r.p99,
                        r.error_rate * 100.0
                    ),
                    met: r.offered >= want && rate_ok(r, want) && r.p99 <= p99,
                });
            }
        }
        if let Some(r) = self.row("flow") {
            out.push(Verdict {
                target: "full purchase flow: p99 <= 100 ms at 100 flows/s".into(),
                measured: format!(
                    "{:.1} flows/s, p50 {:.1} ms, p99 {:.1} ms, errors {:.2}%",
                    r.achieved,
                    r.p50,
                    r.p99,
                    r.error_rate * 100.0
                ),
                met: r.offered >= 100.0 && rate_ok(r, 100.0) && r.p99 <= 100.0,
            });
        }
        if let Some(r) = self.row("outbox-lag") {
            out.push(Verdict {
                target: "outbox lag: p99 <= 50 ms".into(),
                measured: format!("p50 {:.1} ms, p99 {:.1} ms, errors {:.2}%", r.p50, r.p99, r.error_rate * 100.0),
                met: r.p99 <= 50.0 && r.error_rate <= 0.001,
            });
        }
        if let (Some(gw), Some(direct)) = (self.row("balance-1k"), self.row("direct-balance")) {
            // Only comparable while neither is saturated: queueing would swamp the difference.
            let clean = gw.error_rate <= 0.01 && direct.error_rate <= 0.01;
            let added = gw.p50 - direct.p50;
            out.push(Verdict {
                target: "gateway adds <= 1 ms at p50 (balance-1k vs direct-balance, same rate)".into(),
                measured: if clean {
                    format!("+{added:.2} ms (p50 {:.2} vs {:.2} ms)", gw.p50, direct.p50)
                } else {
                    format!(
                        "not comparable: saturated (errors {:.1}% / {:.1}%)",
                        gw.error_rate * 100.0,
                        direct.error_rate * 100.0
                    )
                },
                met: clean && added <= 1.0,
            });
        }
        out
    }

    pub fn table(&self) -> String {
        let mut t = String::new();
        let m = &self.machine;
        let _ = writeln!(
            t,
            "\nmachine: {} x {} ({:.1} GiB), load average {} before / {} after",
            m.nproc, m.cpu_model, m.mem_total_gib, m.loadavg, self.loadavg_after
        );
        let _ = write!(
            t,
            "\n{:<15} {:>8} {:>9} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} |",
            "scenario", "offered", "achieved", "p50 ms", "p99 ms", "p99.9 ms", "err %", "cpu ms", "cap/s"
        );
        for (_, short) in CPU_COLUMNS {
            let _ = write!(t, " {short:>5}");
        }
        let _ = writeln!(t);
        for r in &self.rows {
            let _ = write!(
                t,
                "{:<15} {:>8.0} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>7.2} {:>7.2} {:>7.0} |",
                r.name,
                r.offered,
                r.achieved,
                r.p50,
                r.p99,
                r.p999,
                r.error_rate * 100.0,
                r.cpu_ms(),
                r.capacity(self.machine.nproc)
            );
            for (name, _) in CPU_COLUMNS {
                let _ = write!(t, " {:>5.2}", r.cpu_per_1k.get(name).copied().unwrap_or(0.0));
            }
            let _ = writeln!(t);
        }
        let _ =
            writeln!(t, "\nlatency: from each operation's due time (open loop); outbox-lag: from commit to effect.");
        let _ = writeln!(t, "right of |: CPU seconds per 1,000 operations per process (an operation of flow and");
        let _ =
            writeln!(t, "outbox-lag includes its polling); mq* = the whole RabbitMQ node, shared with other users.");
        let _ = writeln!(t, "cpu ms: CPU per operation, all processes but mq* and the bench; cap/s: what all cores");
        let _ = writeln!(t, "could serve at that cost (nproc x 1000 / cpu ms) if nothing else ran on the machine.");
        for r in self.rows.iter().filter(|r| !r.phases.is_empty()) {
            let phases: Vec<String> =
                r.phases.iter().map(|(k, (p50, p99))| format!("{k} p50 {p50:.1} / p99 {p99:.1} ms")).collect();
            let _ = writeln!(t, "{} phases: {}", r.name, phases.join(", "));
        }
        for r in self.rows.iter().filter(|r| !r.errors.is_empty()) {
            let errs: Vec<String> = r.errors.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            let _ = writeln!(t, "{} errors: {}", r.name, errs.join(", "));
        }
        let _ = writeln!(t, "\ntargets (issue 10):");
        for v in self.verdicts() {
            let _ = writeln!(t, "  [{}] {} -- {}", if v.met { "met" } else { "NOT met" }, v.target, v.measured);
        }
        t
    }

    pub fn json(&self) -> Value {
        let m = &self.machine;
        json!({
            "finished_at": self.started.to_rfc3339(),
            "machine": {
                "nproc": m.nproc, "cpu_model": m.cpu_model, "mem_total_gib": m.mem_total_gib,
                "loadavg_before": m.loadavg, "loadavg_after": self.loadavg_after,
            },
            "options": self.options,
            "scenarios": self.rows.iter().map(|r| json!({
                "name": r.name, "what": r.what, "offered_per_s": r.offered, "achieved_per_s": r.achieved,
                "operations": r.requests, "error_rate": r.error_rate, "errors": r.errors,
                "p50_ms": r.p50, "p99_ms": r.p99, "p99_9_ms": r.p999, "max_ms": r.max,
                "cpu_s_per_1k": r.cpu_per_1k, "cpu_ms_per_op": r.cpu_ms(),
                "capacity_per_s_if_alone": r.capacity(m.nproc),
                "phases_ms": r.phases.iter().map(|(k, (p50, p99))| (k.to_string(), json!({"p50": p50, "p99": p99})))
                    .collect::<serde_json::Map<String, Value>>(),
            })).collect::<Vec<_>>(),
            "targets": self.verdicts().iter().map(|v| json!({
                "target": v.target, "measured": v.measured, "met": v.met,
            })).collect::<Vec<_>>(),
        })
    }

    /// `<dir>/<timestamp>.json` and `<dir>/latest.json`; returns the first.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let body = serde_json::to_string_pretty(&self.json()).map_err(|e| e.to_string())?;
        let file = dir.join(format!("{}.json", self.started.format("%Y%m%dT%H%M%SZ")));
        for path in [&file, &dir.join("latest.json")] {
            std::fs::write(path, &body).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(file)
    }
}
