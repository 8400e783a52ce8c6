//! The table, the targets of issues 10 and 22, and the JSON written beside them. Each scenario
//! runs `BENCH_REPEATS` times (rounds interleaved, so a noisy minute hits every scenario alike);
//! the table shows the median of the runs per column and the spread of achieved rate and p99.

use crate::cpu::Snapshot;
use crate::hist::Samples;
use crate::load::Measured;
use crate::scenarios::{Group, Scenario};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Columns of the CPU part of the table, in order, with their short headers.
const CPU_COLUMNS: [(&str, &str); 11] = [
    ("gateway", "gw"),
    ("billing", "bill"),
    ("subscriptions", "subs"),
    ("marketplace", "mkt"),
    ("rewards", "rew"),
    ("licensing", "lic"),
    ("webhooks", "hook"),
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

pub fn loadavg() -> String {
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
    /// Each run's own figures (one entry until [`Row::median`] folds the runs together).
    pub runs: Vec<Run>,
}

/// What one run of a scenario measured, kept to show the spread behind a median.
#[derive(Clone)]
pub struct Run {
    pub achieved: f64,
    pub p99: f64,
    pub error_rate: f64,
    pub cpu_ms: f64,
    /// The 1-minute load average just before the run: a busy machine explains a slow run.
    pub loadavg_before: String,
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

impl Row {
    pub fn new(
        s: &Scenario,
        offered: f64,
        m: &mut Measured,
        cpu: Snapshot,
        mut phases: BTreeMap<&'static str, Samples>,
        loadavg_before: String,
    ) -> Self {
        let secs = m.elapsed.as_secs_f64().max(1e-9);
        let errors: usize = m.errors.values().sum();
        // CPU is spent on the operations actually sent, not on the shed ones.
        let thousands = ((m.scheduled - m.shed) as f64 / 1000.0).max(1e-9);
        let mut row = Self {
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
            runs: Vec::new(),
        };
        row.runs.push(Run {
            achieved: row.achieved,
            p99: row.p99,
            error_rate: row.error_rate,
            cpu_ms: row.cpu_ms(),
            loadavg_before,
        });
        row
    }

    /// One row from several runs of one scenario: the median of each figure, every run kept.
    pub fn median(runs: Vec<Row>) -> Option<Row> {
        let first = runs.first()?;
        let med = |f: &dyn Fn(&Row) -> f64| median(runs.iter().map(f).collect());
        let mut errors = BTreeMap::new();
        for r in &runs {
            for (k, n) in &r.errors {
                *errors.entry(k.clone()).or_default() += n;
            }
        }
        let cpu_keys: std::collections::BTreeSet<&String> = runs.iter().flat_map(|r| r.cpu_per_1k.keys()).collect();
        let phase_keys: std::collections::BTreeSet<&'static str> =
            runs.iter().flat_map(|r| r.phases.keys().copied()).collect();
        Some(Row {
            name: first.name,
            group: first.group,
            what: first.what,
            offered: med(&|r| r.offered),
            achieved: med(&|r| r.achieved),
            requests: runs.iter().map(|r| r.requests).sum(),
            error_rate: med(&|r| r.error_rate),
            errors,
            p50: med(&|r| r.p50),
            p99: med(&|r| r.p99),
            p999: med(&|r| r.p999),
            max: runs.iter().map(|r| r.max).fold(0.0, f64::max),
            cpu_per_1k: cpu_keys
                .into_iter()
                .map(|k| (k.clone(), med(&|r| r.cpu_per_1k.get(k).copied().unwrap_or(0.0))))
                .collect(),
            phases: phase_keys
                .into_iter()
                .map(|k| {
                    let at =
                        |i: usize| med(&|r| r.phases.get(&k).map(|p| if i == 0 { p.0 } else { p.1 }).unwrap_or(0.0));
                    (k, (at(0), at(1)))
                })
                .collect(),
            runs: runs.iter().flat_map(|r| r.runs.clone()).collect(),
        })
    }

    /// Min and max of one figure over the runs.
    fn spread(&self, f: impl Fn(&Run) -> f64) -> (f64, f64) {
        self.runs.iter().map(f).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
    }
}

/// Processes that are the system under test (not the shared broker, not the load generator).
const SYSTEM: [&str; 9] = [
    "gateway",
    "billing",
    "subscriptions",
    "marketplace",
    "rewards",
    "licensing",
    "webhooks",
    "stripe-fake",
    "postgres",
];

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

    /// The share of all cores, in percent, that the offered rate needs at the measured cost of
    /// every process the scenario keeps busy: the system under test, RabbitMQ and the load
    /// generator, which all run on this machine. A p99 target asked of a rate that needs most of
    /// the machine is a queueing delay, not a cost the code can cut by a few percent.
    pub fn machine_share(&self, nproc: usize) -> f64 {
        let everything: f64 = self.cpu_per_1k.values().sum();
        if nproc == 0 {
            return 0.0;
        }
        100.0 * self.offered * everything / (nproc as f64 * 1000.0)
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

    /// The median rate of the pgbench baseline, when it ran and succeeded.
    fn baseline_rate(&self) -> Option<f64> {
        self.row("pg-redeem").map(|r| r.achieved).filter(|b| *b > 0.0)
    }

    /// A write's or a flow's rate as a share of the baseline, in percent.
    fn of_baseline(&self, r: &Row) -> Option<f64> {
        let b = self.baseline_rate()?;
        matches!(r.group, Group::Write | Group::Flow).then(|| 100.0 * r.achieved / b)
    }

    fn verdicts(&self) -> Vec<Verdict> {
        let mut out = Vec::new();
        // Throughput is "met" within 2% of the offered rate (the generator's own timer jitter).
        let rate_ok = |r: &Row, want: f64| r.achieved >= want * 0.98 && r.error_rate <= 0.001;
        // Money writes are judged against the database's own limit measured in the same run
        // (issue 22: 40 % of pg-redeem); without that baseline, against issue 10's fixed rate.
        let write_target = match self.baseline_rate() {
            Some(b) => (0.4 * b, format!("40 % of pg-redeem's {b:.0}/s")),
            None => (1000.0, "1000/s".to_string()),
        };
        for r in self.rows.iter().filter(|r| r.group == Group::Read || r.group == Group::Write) {
            let (want, label, p99) = match r.group {
                Group::Read => (5000.0, "5000/s".to_string(), 10.0),
                _ => (write_target.0, write_target.1.clone(), 25.0),
            };
            out.push(Verdict {
                target: format!("{}: >= {label} at p99 <= {p99:.0} ms (median of runs)", r.name),
                measured: format!(
                    "{:.0}/s offered {:.0}/s, p99 {:.1} ms, errors {:.2}%, needs {:.0}% of the machine",
                    r.achieved,
                    r.offered,
                    r.p99,
                    r.error_rate * 100.0,
                    r.machine_share(self.machine.nproc)
                ),
                met: r.offered >= want * 0.98 && rate_ok(r, want) && r.p99 <= p99,
            });
        }
        if let Some(r) = self.row("flow") {
            out.push(Verdict {
                target: "full purchase flow: p99 <= 100 ms at 100 flows/s".into(),
                measured: format!(
                    "{:.1} flows/s, p50 {:.1} ms, p99 {:.1} ms, errors {:.2}%, needs {:.0}% of the machine",
                    r.achieved,
                    r.p50,
                    r.p99,
                    r.error_rate * 100.0,
                    r.machine_share(self.machine.nproc)
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
            "\n{:<15} {:>8} {:>9} {:>6} {:>8} {:>8} {:>15} {:>8} {:>7} {:>7} {:>7} {:>6} |",
            "scenario",
            "offered",
            "achieved",
            "vs pg",
            "p50 ms",
            "p99 ms",
            "p99 min..max",
            "p99.9 ms",
            "err %",
            "cpu ms",
            "cap/s",
            "needs"
        );
        for (_, short) in CPU_COLUMNS {
            let _ = write!(t, " {short:>5}");
        }
        let _ = writeln!(t);
        for r in &self.rows {
            let vs_pg = self.of_baseline(r).map(|p| format!("{p:.0}%")).unwrap_or_else(|| "-".into());
            let (lo, hi) = r.spread(|run| run.p99);
            let needs = match r.machine_share(self.machine.nproc) {
                share if share > 0.0 => format!("{share:.0}%"),
                _ => "-".into(),
            };
            let _ = write!(
                t,
                "{:<15} {:>8.0} {:>9.0} {:>6} {:>8.2} {:>8.2} {:>15} {:>8.2} {:>7.2} {:>7.2} {:>7.0} {:>6} |",
                r.name,
                r.offered,
                r.achieved,
                vs_pg,
                r.p50,
                r.p99,
                format!("{lo:.1}..{hi:.1}"),
                r.p999,
                r.error_rate * 100.0,
                r.cpu_ms(),
                r.capacity(self.machine.nproc),
                needs
            );
            for (name, _) in CPU_COLUMNS {
                let _ = write!(t, " {:>5.2}", r.cpu_per_1k.get(name).copied().unwrap_or(0.0));
            }
            let _ = writeln!(t);
        }
        let _ = writeln!(
            t,
            "\nevery figure: the median of {} run(s) per scenario (rounds interleaved); p99 min..max: its spread.",
            self.rows.iter().map(|r| r.runs.len()).max().unwrap_or(0)
        );
        let _ = writeln!(t, "pg-redeem: pgbench writing one redemption's rows in one statement and one commit (closed");
        let _ = writeln!(t, "loop, BENCH_PGBENCH_CLIENTS); vs pg: a write's or flow's achieved rate as a share of it.");
        let _ = writeln!(t, "latency: from each operation's due time (open loop); outbox-lag: from commit to effect.");
        let _ = writeln!(t, "right of |: CPU seconds per 1,000 operations per process (an operation of flow and");
        let _ =
            writeln!(t, "outbox-lag includes its polling); mq* = the whole RabbitMQ node, shared with other users.");
        let _ = writeln!(t, "cpu ms: CPU per operation, all processes but mq* and the bench; cap/s: what all cores");
        let _ = writeln!(t, "could serve at that cost (nproc x 1000 / cpu ms) if nothing else ran on the machine.");
        let _ =
            writeln!(t, "needs: the share of all cores the offered rate takes at the cost of every process it keeps");
        let _ = writeln!(t, "busy, mq* and the bench included (they share the cores); near 100 % a p99 is a queue.");
        for r in self.rows.iter().filter(|r| !r.phases.is_empty()) {
            let phases: Vec<String> =
                r.phases.iter().map(|(k, (p50, p99))| format!("{k} p50 {p50:.1} / p99 {p99:.1} ms")).collect();
            let _ = writeln!(t, "{} phases: {}", r.name, phases.join(", "));
        }
        for r in &self.rows {
            let runs: Vec<String> = r
                .runs
                .iter()
                .map(|run| {
                    format!(
                        "{:.0}/s p99 {:.1} ms cpu {:.2} ms (load {})",
                        run.achieved, run.p99, run.cpu_ms, run.loadavg_before
                    )
                })
                .collect();
            let _ = writeln!(t, "{} runs: {}", r.name, runs.join("; "));
        }
        for r in self.rows.iter().filter(|r| !r.errors.is_empty()) {
            let errs: Vec<String> = r.errors.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            let _ = writeln!(t, "{} errors: {}", r.name, errs.join(", "));
        }
        let _ = writeln!(t, "\ntargets (issues 10 and 22):");
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
                "machine_share_percent": r.machine_share(m.nproc),
                "percent_of_pg_baseline": self.of_baseline(r),
                "runs": r.runs.iter().map(|run| json!({
                    "achieved_per_s": run.achieved, "p99_ms": run.p99, "error_rate": run.error_rate,
                    "cpu_ms_per_op": run.cpu_ms, "loadavg_before": run.loadavg_before,
                })).collect::<Vec<_>>(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(offered: f64, cpu: &[(&str, f64)]) -> Row {
        Row {
            name: "balance",
            group: Group::Read,
            what: "",
            offered,
            achieved: offered,
            requests: 0,
            errors: BTreeMap::new(),
            error_rate: 0.0,
            p50: 0.0,
            p99: 0.0,
            p999: 0.0,
            max: 0.0,
            cpu_per_1k: cpu.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            phases: BTreeMap::new(),
            runs: Vec::new(),
        }
    }

    #[test]
    fn the_machine_share_counts_every_busy_process_the_load_generator_included() {
        // 5,000/s at 0.25 ms in the stack, 0.02 in RabbitMQ and 0.07 in the bench: 0.34 ms per
        // operation, 1.7 of 2 cores. cpu ms (the system under test alone) leaves the last two out.
        let r = row(
            5000.0,
            &[("gateway", 0.12), ("rewards", 0.08), ("postgres", 0.05), ("rabbitmq", 0.02), ("bench", 0.07)],
        );
        assert!((r.machine_share(2) - 85.0).abs() < 1e-9, "{}", r.machine_share(2));
        assert!((r.cpu_ms() - 0.25).abs() < 1e-9);
        assert!((r.machine_share(4) - 42.5).abs() < 1e-9);
        assert_eq!(row(0.0, &[("postgres", 0.9)]).machine_share(2), 0.0, "a closed-loop baseline offers no rate");
        assert_eq!(r.machine_share(0), 0.0);
    }
}
