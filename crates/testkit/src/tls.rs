//! TLS test fixtures: a throwaway certificate authority made with the `openssl` command line (the
//! Rust code never links OpenSSL), and throwaway PostgreSQL and RabbitMQ servers that speak TLS
//! with it, on free ports in temporary directories. The shared servers (5432, 5672) are never
//! touched. Everything is stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let path = std::env::temp_dir().join(format!("{label}-{}", &id[..12]));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A CA and a server certificate it signed, as PEM files in `dir`.
pub struct Pki {
    /// The CA certificate (what clients trust).
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl Pki {
    /// A CA named `name`, and a server certificate for `hosts` (DNS names; IP addresses as
    /// `IP:1.2.3.4`), P-256 keys, valid for two days.
    pub fn new(dir: &Path, name: &str, hosts: &[&str]) -> Self {
        let ca_key = dir.join(format!("{name}-ca.key"));
        let ca_cert = dir.join(format!("{name}-ca.crt"));
        let server_key = dir.join(format!("{name}-server.key"));
        let server_csr = dir.join(format!("{name}-server.csr"));
        let server_cert = dir.join(format!("{name}-server.crt"));
        let ext = dir.join(format!("{name}-server.ext"));
        let p = |p: &Path| p.to_string_lossy().into_owned();
        run(Command::new("openssl").args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &p(&ca_key),
            "-out",
            &p(&ca_cert),
        ]));
        run(Command::new("openssl").args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={}", hosts.first().copied().unwrap_or("localhost")),
            "-keyout",
            &p(&server_key),
            "-out",
            &p(&server_csr),
        ]));
        let sans: Vec<String> =
            hosts.iter().map(|h| if h.starts_with("IP:") { h.to_string() } else { format!("DNS:{h}") }).collect();
        std::fs::write(
            &ext,
            format!(
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
                 extendedKeyUsage=serverAuth\nsubjectAltName={}\n",
                sans.join(",")
            ),
        )
        .expect("extensions file");
        let serial = format!("0x{}", uuid::Uuid::new_v4().simple());
        run(Command::new("openssl").args([
            "x509",
            "-req",
            "-in",
            &p(&server_csr),
            "-CA",
            &p(&ca_cert),
            "-CAkey",
            &p(&ca_key),
            "-set_serial",
            &serial,
            "-days",
            "2",
            "-sha256",
            "-extfile",
            &p(&ext),
            "-out",
            &p(&server_cert),
        ]));
        Self { ca_cert, server_cert, server_key }
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Hand `path` (recursively) to a system user, for servers that refuse to run as root.
fn chown(user: &str, path: &Path) {
    run(Command::new("chown").args(["-R", &format!("{user}:{user}")]).arg(path));
}

/// The newest installed PostgreSQL's binary directory, if any.
pub fn postgres_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop()
}

/// Whether the RabbitMQ server and its CLI are installed.
pub fn rabbitmq_installed() -> bool {
    Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server").exists()
        && Path::new("/usr/lib/rabbitmq/bin/rabbitmqctl").exists()
}

/// A throwaway PostgreSQL cluster with `ssl = on`, listening on 127.0.0.1 only.
pub struct PgServer {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    // Last: removed after the server stopped.
    _dir: TempDir,
}

impl PgServer {
    /// `hba` is the whole pg_hba.conf for TCP (a `local` trust line is added for the socket).
    /// `None` when PostgreSQL is not installed.
    pub fn start(pki: &Pki, hba: &str) -> Option<Self> {
        let bin = postgres_bin()?;
        let dir = TempDir::new("pg-tls-test");
        let data = dir.path().join("data");
        let port = free_port();
        std::fs::copy(&pki.server_cert, dir.path().join("server.crt")).expect("copy cert");
        std::fs::copy(&pki.server_key, dir.path().join("server.key")).expect("copy key");
        chown("postgres", dir.path());
        run(Command::new("chmod").arg("600").arg(dir.path().join("server.key")));
        let as_postgres = |program: &Path| {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        };
        run(as_postgres(&bin.join("initdb"))
            .args(["--no-sync", "-A", "trust", "-U", "postgres", "-E", "UTF8", "-D"])
            .arg(&data));
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{dir}'\n\
             ssl = on\nssl_cert_file = '{dir}/server.crt'\nssl_key_file = '{dir}/server.key'\n\
             fsync = off\nmax_connections = 20\nshared_buffers = 16MB\n",
            dir = dir.path().display()
        );
        let mut pg_conf = std::fs::read_to_string(data.join("postgresql.conf")).expect("postgresql.conf");
        pg_conf.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), pg_conf).expect("postgresql.conf");
        std::fs::write(data.join("pg_hba.conf"), format!("local all all trust\n{hba}\n")).expect("pg_hba.conf");
        let log = dir.path().join("server.log");
        let started = as_postgres(&bin.join("pg_ctl"))
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl");
        assert!(started.success(), "pg_ctl start failed: {}", std::fs::read_to_string(&log).unwrap_or_default());
        Some(Self { port, bin, data, _dir: dir })
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-m", "immediate", "-w", "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A throwaway RabbitMQ node with an `amqps` listener (and a plain one), its own node name,
/// ports, configuration, data and logs; no plugins.
pub struct RabbitServer {
    pub node: String,
    pub tls_port: u16,
    pub plain_port: u16,
    child: Child,
    _dir: TempDir,
}

fn as_rabbitmq(program: &str) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", "rabbitmq", "--", "env", "HOME=/var/lib/rabbitmq"]).arg(format!("/usr/lib/rabbitmq/bin/{program}"));
    cmd.current_dir("/");
    cmd
}

impl RabbitServer {
    /// `None` when RabbitMQ is not installed.
    pub fn start(pki: &Pki) -> Option<Self> {
        if !rabbitmq_installed() {
            return None;
        }
        let dir = TempDir::new("rabbit-tls-test");
        let id = uuid::Uuid::new_v4().simple().to_string();
        let node = format!("tls-test-{}@localhost", &id[..10]);
        let (tls_port, plain_port, dist_port) = (free_port(), free_port(), free_port());
        let d = dir.path();
        std::fs::copy(&pki.ca_cert, d.join("ca.crt")).expect("copy ca");
        std::fs::copy(&pki.server_cert, d.join("server.crt")).expect("copy cert");
        std::fs::copy(&pki.server_key, d.join("server.key")).expect("copy key");
        std::fs::write(
            d.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{plain_port}\n\
                 listeners.ssl.default = 127.0.0.1:{tls_port}\n\
                 ssl_options.cacertfile = {d}/ca.crt\n\
                 ssl_options.certfile = {d}/server.crt\n\
                 ssl_options.keyfile = {d}/server.key\n\
                 ssl_options.verify = verify_none\n\
                 ssl_options.fail_if_no_peer_cert = false\n",
                d = d.display()
            ),
        )
        .expect("rabbitmq.conf");
        std::fs::write(d.join("enabled_plugins"), "[].\n").expect("enabled_plugins");
        std::fs::write(d.join("rabbitmq-env.conf"), "").expect("rabbitmq-env.conf");
        for sub in ["mnesia", "log"] {
            std::fs::create_dir_all(d.join(sub)).expect("dir");
        }
        chown("rabbitmq", d);
        let log = std::fs::File::create(d.join("log").join("stdout.log")).expect("log");
        let child = as_rabbitmq("rabbitmq-server")
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_NODE_PORT", plain_port.to_string())
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("rabbitmq-server");
        let server = Self { node, tls_port, plain_port, child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ok = as_rabbitmq("rabbitmqctl")
                .args(["-n", &server.node, "-q", "await_startup", "--timeout", "5"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "RabbitMQ node {} did not start: {}",
                server.node,
                std::fs::read_to_string(server._dir.path().join("log").join("stdout.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        Some(server)
    }
}

impl Drop for RabbitServer {
    fn drop(&mut self) {
        let stopped = as_rabbitmq("rabbitmqctl")
            .args(["-n", &self.node, "-q", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
