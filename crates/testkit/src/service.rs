//! Starting a service in-process for a test, and the checks every service must pass.

use crate::{http, internal_token, TestEnv};
use platform::auth::Role;
use runtime::{Context, RunningService, ServiceSpec, Wiring};

/// Migrate `spec`'s schema for this test and start it on a random port.
pub async fn start<F>(env: &TestEnv, spec: &ServiceSpec, setup: F) -> RunningService
where
    F: FnOnce(&Context) -> Result<Wiring, String>,
{
    let config = env.service_config(spec.name);
    runtime::migrate(spec, &config).await.expect("migrations");
    let svc = runtime::start(spec, config, setup).await.expect("service starts");
    if svc.consumes {
        // Events published before its queue exists would find no queue: wait for it.
        let queue = env.topology().queue(spec.name);
        crate::eventually("the service's queue", std::time::Duration::from_secs(15), || {
            let queue = queue.clone();
            async move { crate::bus::queue_depth(&queue).await }
        })
        .await;
    }
    svc
}

/// The service boots, is ready (database and broker), answers `whoami` for an internal token and
/// refuses a call without one.
pub async fn assert_boots<F>(spec: &ServiceSpec, setup: F)
where
    F: FnOnce(&Context) -> Result<Wiring, String>,
{
    let env = TestEnv::new();
    let svc = start(&env, spec, setup).await;
    let client = http();
    // Readiness no longer waits for the broker (see platform::health): wait for both checks.
    let body = crate::eventually("readiness with the broker connected", std::time::Duration::from_secs(10), || {
        let client = client.clone();
        let url = format!("{}/health/ready", svc.url());
        async move {
            let res = client.get(url).send().await.ok()?;
            if res.status() != 200 {
                return None;
            }
            let body: serde_json::Value = res.json().await.ok()?;
            (body["checks"]["broker"] == "ok").then_some(body)
        }
    })
    .await;
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["broker"], "ok");
    let whoami = format!("{}/api/{}/whoami", svc.url(), spec.name);
    let user = uuid::Uuid::now_v7().to_string();
    let res = client
        .get(&whoami)
        .header("x-internal-token", internal_token(spec.name, &user, &[Role::Learner]))
        .send()
        .await
        .expect("whoami");
    assert_eq!(res.status(), 200);
    let p: serde_json::Value = res.json().await.expect("json");
    assert_eq!(p["sub"], user);
    let res = client.get(&whoami).send().await.expect("whoami");
    assert_eq!(res.status(), 401);
    svc.stop().await;
    env.cleanup(&[spec.name]).await;
}

/// The binary at `bin` (from `env!("CARGO_BIN_EXE_<name>")`) refuses to start without its
/// configuration, exits non-zero and names every missing variable.
pub fn assert_exits_naming_missing_config(bin: &str, required: &[&str]) {
    let mut command = std::process::Command::new(bin);
    command.arg("serve").env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    // Not configuration: under `make coverage` it says where the instrumented binary writes its
    // profile; cleared, the profile lands in the crate's directory and the run never counts it.
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    let out = command.output().expect("run binary");
    assert!(!out.status.success(), "started without configuration");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for var in required {
        assert!(stderr.contains(var), "stderr does not name {var}: {stderr}");
    }
}
