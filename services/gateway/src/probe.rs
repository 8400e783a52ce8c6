//! Readiness of upstream replicas, for services given several URLs (deployments without a load
//! balancer that follows readiness; on Kubernetes the one Service URL needs no probe). Each
//! replica's `GET /health/ready` is polled every `GATEWAY_UPSTREAM_PROBE_MS` (500 ms); the
//! rotation puts replicas that failed it last (`route_table::Upstream::rotation`). With the
//! services' `<S>_SHUTDOWN_DELAY_SECS` well above that period, a replica that begins to drain answers 503 here and stops getting new requests
//! before its listener closes, and a restarted one gets requests only once it is ready: a rolling
//! restart fails no request.

use crate::route_table::{RouteTable, Upstream};
use std::time::Duration;
use tokio::task::JoinHandle;

/// A probe slower than this counts as not ready.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// One polling task per replica of every service that has more than one, every `every` (none
/// when it is zero).
pub fn spawn(routes: &RouteTable, client: &reqwest::Client, every: Duration) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if every.is_zero() {
        return tasks;
    }
    for upstream in routes.upstreams().into_iter().filter(|u| u.replicas().len() > 1) {
        for index in 0..upstream.replicas().len() {
            tasks.push(tokio::spawn(poll(upstream.clone(), index, client.clone(), every)));
        }
    }
    tasks
}

async fn poll(upstream: Upstream, index: usize, client: reqwest::Client, every: Duration) {
    let replica = &upstream.replicas()[index];
    let url = format!("{}/health/ready", replica.base_url);
    loop {
        let ready = client.get(&url).timeout(PROBE_TIMEOUT).send().await.is_ok_and(|r| r.status().is_success());
        if ready != replica.is_ready() {
            tracing::info!(service = upstream.service, replica = %replica.base_url, ready, "upstream replica readiness changed");
        }
        replica.set_ready(ready);
        tokio::time::sleep(every).await;
    }
}
