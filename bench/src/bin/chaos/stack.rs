//! The stack as real processes, so a replica can be killed with SIGKILL or stopped with SIGTERM:
//! stripe-fake, two replicas of each domain service and of webhooks (same schema, same queues), and the gateway
//! in front with both replicas' URLs per service. Everything else a process reads comes from the
//! environment scripts/stack-env.sh set up (the same as `make run`); this only overrides what must
//! differ per process (ports) or per run (schemas, exchange, queue prefix).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub const SERVICES: [&str; 6] = ["billing", "subscriptions", "marketplace", "rewards", "licensing", "webhooks"];
pub const REPLICAS: usize = 2;
/// A replica that takes longer than this to become ready after a start has a problem worth
/// failing the run for (a debug build starts in well under a second here).
const READY_WITHIN: Duration = Duration::from_secs(30);
/// SIGTERM to exit: the service's own grace period (20 s by default) plus margin.
const EXIT_WITHIN: Duration = Duration::from_secs(40);

pub struct Settings {
    /// Where the debug (or release) binaries are.
    pub bin_dir: PathBuf,
    /// Each process's log, appended to across restarts.
    pub log_dir: PathBuf,
    /// This run's schemas, exchange and queue prefix (named like a test's, and dropped the same
    /// way: `TestEnv::cleanup`).
    pub env: testkit::TestEnv,
}

/// One OS process of the stack and how to start it again.
pub struct Proc {
    pub name: String,
    program: PathBuf,
    /// `serve` for the services; nothing for stripe-fake.
    args: Vec<&'static str>,
    /// What answers 200 once it can take requests.
    ready_path: &'static str,
    env: Vec<(String, String)>,
    /// Inherited variables this process must not see (the dev metrics ports: two replicas
    /// cannot share one, and the chaos run does not scrape).
    env_remove: Vec<String>,
    log: PathBuf,
    /// `http://127.0.0.1:<port>`: its API, with `/health/ready`.
    pub url: String,
    child: Option<Child>,
    /// How many times it was started, for the log's markers.
    starts: u32,
}

impl Proc {
    fn new(name: String, program: PathBuf, port: u16, log_dir: &Path) -> Self {
        let log = log_dir.join(format!("{name}.log"));
        Self {
            name,
            program,
            args: vec!["serve"],
            ready_path: "/health/ready",
            env: Vec::new(),
            env_remove: Vec::new(),
            log,
            url: format!("http://127.0.0.1:{port}"),
            child: None,
            starts: 0,
        }
    }

    pub fn start(&mut self) -> Result<(), String> {
        use std::io::Write;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        self.starts += 1;
        let _ = writeln!(log, "===== chaos: start #{} of {} =====", self.starts, self.name);
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for var in &self.env_remove {
            cmd.env_remove(var);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            // A driver that panics or is interrupted leaves no process behind.
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| format!("starting {}: {e}", self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// SIGKILL: no drain, no flush, in-flight requests and messages cut off.
    pub async fn kill9(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else { return Err(format!("{} is not running", self.name)) };
        child.kill().await.map_err(|e| format!("kill -9 {}: {e}", self.name))
    }

    /// SIGTERM, then wait for the process to exit on its own; returns how long the drain took and
    /// fails when it exits with an error or not at all.
    pub async fn terminate(&mut self) -> Result<Duration, String> {
        let Some(mut child) = self.child.take() else { return Err(format!("{} is not running", self.name)) };
        let pid = child.id().ok_or_else(|| format!("{} has no pid", self.name))?;
        let started = Instant::now();
        let sent = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        if !sent.is_ok_and(|s| s.success()) {
            return Err(format!("kill -TERM {pid} ({}) failed", self.name));
        }
        match tokio::time::timeout(EXIT_WITHIN, child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(started.elapsed()),
            Ok(Ok(status)) => Err(format!("{} exited with {status} after SIGTERM", self.name)),
            Ok(Err(e)) => Err(format!("waiting for {}: {e}", self.name)),
            Err(_) => {
                let _ = child.kill().await;
                Err(format!("{} did not exit within {EXIT_WITHIN:?} of SIGTERM", self.name))
            }
        }
    }

    /// Poll its readiness until it answers 200; fails early when the process died.
    pub async fn wait_ready(&mut self, http: &reqwest::Client) -> Result<Duration, String> {
        let started = Instant::now();
        while started.elapsed() < READY_WITHIN {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "{} exited with {status} while starting (see {})",
                        self.name,
                        self.log.display()
                    ));
                }
            }
            let ready = http.get(format!("{}{}", self.url, self.ready_path)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{} not ready within {READY_WITHIN:?} (see {})", self.name, self.log.display()))
    }
}

pub struct Stack {
    pub fake: Proc,
    /// `replicas[service][i]`, in the order of [`SERVICES`].
    pub replicas: BTreeMap<&'static str, Vec<Proc>>,
    pub gateway: Proc,
    pub settings: Settings,
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn upper(service: &str) -> String {
    service.to_uppercase()
}

impl Stack {
    /// Lay out every process (ports, environment); nothing starts yet.
    pub fn plan(settings: Settings) -> Result<Self, String> {
        let env = settings.env.clone();
        let retry = testkit::TEST_RETRY;
        let bin = |name: &str| settings.bin_dir.join(name);
        let gateway_port = free_port()?;
        let gateway_url = format!("http://127.0.0.1:{gateway_port}");
        let fake_port = free_port()?;
        let fake_url = format!("http://127.0.0.1:{fake_port}");
        let mut fake = Proc::new("stripe-fake".into(), bin("stripe-fake"), fake_port, &settings.log_dir);
        fake.args = Vec::new();
        // The test double has no health routes; its event list answers once it listens.
        fake.ready_path = "/_fake/events";
        fake.env = vec![
            ("STRIPE_FAKE_PORT".into(), fake_port.to_string()),
            ("STRIPE_FAKE_WEBHOOK_URL".into(), format!("{gateway_url}/api/payments/webhook")),
        ];

        let mut ports: BTreeMap<&'static str, Vec<u16>> = BTreeMap::new();
        for s in SERVICES {
            ports.insert(s, (0..REPLICAS).map(|_| free_port()).collect::<Result<_, _>>()?);
        }
        let list = |s: &str| ports[s].iter().map(|p| format!("http://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
        let content_dir = settings.log_dir.join("content");
        let mut replicas = BTreeMap::new();
        for s in SERVICES {
            let p = upper(s);
            let mut procs = Vec::new();
            for (i, port) in ports[s].iter().enumerate() {
                let mut proc = Proc::new(format!("{s}-{}", i + 1), bin(s), *port, &settings.log_dir);
                proc.env = vec![
                    (format!("{p}_PORT"), port.to_string()),
                    (format!("{p}_DATABASE_SCHEMA"), env.schema(s)),
                    (format!("{p}_EVENTS_EXCHANGE"), env.exchange.clone()),
                    (format!("{p}_QUEUE_PREFIX"), env.queue_prefix.clone()),
                    (format!("{p}_DATABASE_POOL_SIZE"), "5".into()),
                    // Draining, a replica serves on with readiness 503 for this long before its
                    // listener closes: four of the gateway's readiness probes (500 ms), so the
                    // gateway has stopped sending it requests by then (docs/operations.md).
                    (format!("{p}_SHUTDOWN_DELAY_SECS"), "2".into()),
                    // The tests' retry schedule: quick, and the retry queues `cleanup` deletes.
                    (format!("{p}_EVENT_RETRY_INITIAL_MS"), retry.initial.as_millis().to_string()),
                    (format!("{p}_EVENT_RETRY_MAX_MS"), retry.max.as_millis().to_string()),
                    (format!("{p}_EVENT_RETRY_MULTIPLIER"), retry.multiplier.to_string()),
                    (format!("{p}_EVENT_RETRY_HORIZON_SECS"), retry.horizon.as_secs().to_string()),
                ];
                proc.env_remove = vec![format!("{p}_METRICS_PORT")];
                match s {
                    "billing" => proc.env.push(("BILLING_STRIPE_API_BASE".into(), fake_url.clone())),
                    "subscriptions" => proc.env.push(("SUBSCRIPTIONS_BILLING_URL".into(), list("billing"))),
                    "marketplace" => proc.env.extend([
                        ("MARKETPLACE_BILLING_URL".into(), list("billing")),
                        ("MARKETPLACE_REWARDS_URL".into(), list("rewards")),
                        ("MARKETPLACE_CONTENT_DIR".into(), content_dir.display().to_string()),
                    ]),
                    _ => {}
                }
                procs.push(proc);
            }
            replicas.insert(s, procs);
        }

        let mut gateway = Proc::new("gateway".into(), bin("gateway"), gateway_port, &settings.log_dir);
        gateway.env = vec![
            ("GATEWAY_PORT".into(), gateway_port.to_string()),
            // One client address sends everything: the per-IP limit would be all we measured.
            ("GATEWAY_RATE_LIMIT_IP_PER_SEC".into(), "1000000".into()),
            ("GATEWAY_RATE_LIMIT_IP_BURST".into(), "1000000".into()),
            ("GATEWAY_RATE_LIMIT_USER_PER_SEC".into(), "1000".into()),
            ("GATEWAY_RATE_LIMIT_USER_BURST".into(), "2000".into()),
            // The search scenario is an expensive route: the same ceiling as every other one.
            ("GATEWAY_RATE_LIMIT_EXPENSIVE_PER_MIN".into(), "60000".into()),
            ("GATEWAY_RATE_LIMIT_EXPENSIVE_BURST".into(), "2000".into()),
            // Scenario B counts requests failed by restarts. On this shared 2-core machine a
            // request stalls for seconds when other work starves the processes (load averages
            // of 15-20 were seen); the default 10 s would turn those stalls into 504s that say
            // nothing about restarts. A slow answer still counts in the printed duration.
            ("GATEWAY_UPSTREAM_TIMEOUT_MS".into(), "30000".into()),
        ];
        gateway.env.extend(SERVICES.iter().map(|s| (format!("GATEWAY_{}_URL", upper(s)), list(s))));
        gateway.env_remove = vec!["GATEWAY_METRICS_PORT".into()];
        Ok(Self { fake, replicas, gateway, settings })
    }

    /// Migrate each schema once (what the k8s Job does), then start everything and wait until
    /// every process is ready.
    pub async fn start(&mut self, http: &reqwest::Client) -> Result<(), String> {
        std::fs::create_dir_all(&self.settings.log_dir).map_err(|e| e.to_string())?;
        for s in SERVICES {
            self.migrate(s).await?;
        }
        self.fake.start()?;
        for procs in self.replicas.values_mut() {
            for p in procs.iter_mut() {
                p.start()?;
            }
        }
        self.gateway.start()?;
        for p in self.all_mut() {
            p.wait_ready(http).await?;
        }
        Ok(())
    }

    async fn migrate(&self, service: &str) -> Result<(), String> {
        let proc = &self.replicas[service][0];
        let log = self.settings.log_dir.join(format!("{service}-migrate.log"));
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let status = Command::new(&proc.program)
            .arg("migrate")
            .envs(proc.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .status()
            .await
            .map_err(|e| format!("{service} migrate: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{service} migrate failed: see {}", log.display()))
        }
    }

    pub fn all_mut(&mut self) -> impl Iterator<Item = &mut Proc> {
        std::iter::once(&mut self.fake)
            .chain(self.replicas.values_mut().flatten())
            .chain(std::iter::once(&mut self.gateway))
    }

    /// SIGTERM to everything still running (gateway first, stripe-fake last).
    pub async fn stop(&mut self) {
        let _ = self.gateway.terminate().await;
        for procs in self.replicas.values_mut() {
            for p in procs.iter_mut() {
                if p.pid().is_some() {
                    let _ = p.terminate().await;
                }
            }
        }
        let _ = self.fake.terminate().await;
    }
}
