#!/usr/bin/env bash
# `make chaos`: faults at two replicas per service, on real processes (bench/src/bin/chaos).
# Builds the binaries, takes the environment `make run` uses (scripts/stack-env.sh), and runs the
# driver, which starts stripe-fake, two replicas of each domain service and of webhooks, and the gateway on free
# ports, in schemas, an exchange and queues of the run's own (dropped at the end), so it runs
# beside `make run` and the test suite. Never stops PostgreSQL or RabbitMQ.
#
# Knobs: CHAOS_BUYERS, CHAOS_REDEEMERS, CHAOS_REDEMPTIONS_EACH, CHAOS_WINDOW_SECS, CHAOS_RATE,
# CHAOS_KEEP=1 (see bench/src/bin/chaos/main.rs). Logs of every process: .run/chaos/*.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_LC_SYS_USE_SYSTEM=0
TARGET=${CARGO_TARGET_DIR:-target}

scripts/dev-deps.sh
# The workspace's binaries, as `make run` builds them (a no-op after `cargo test --workspace`).
cargo build --workspace --bins

# shellcheck source=scripts/stack-env.sh
. scripts/stack-env.sh
# The driver's own checks read the same database the services use.
export TEST_DATABASE_URL=$DEV_DATABASE_URL TEST_AMQP_URL=$DEV_AMQP_URL
export CHAOS_BIN_DIR=${CHAOS_BIN_DIR:-$TARGET/debug}
# Debug binaries log at info; keep the logs to what explains a failure.
export RUST_LOG=${RUST_LOG:-warn}
exec timeout "${CHAOS_TIMEOUT:-600}" "$TARGET/debug/chaos"
