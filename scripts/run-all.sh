#!/usr/bin/env bash
# `make run`: dependencies, build, migrations, then every service and the Stripe test double in
# the background with logs under .run/logs. Ctrl-C (or `make stop`) stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_LC_SYS_USE_SYSTEM=0

scripts/dev-deps.sh
# PROFILE=release (scripts/bench.sh) runs the release binaries, which the caller has built.
PROFILE=${PROFILE:-debug}
[ "$PROFILE" = release ] || cargo build --workspace --bins
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE

# shellcheck source=scripts/stack-env.sh
. scripts/stack-env.sh
SERVICES=("${STACK_SERVICES[@]}")
PORTS=("${STACK_PORTS[@]}")

mkdir -p .run/logs
scripts/stop-all.sh >/dev/null 2>&1 || true
for s in "${SERVICES[@]}"; do
  "$BIN/$s" migrate > ".run/logs/$s-migrate.log" 2>&1 || { cat ".run/logs/$s-migrate.log"; exit 1; }
done

start() { # name, command...
  local name=$1; shift
  "$@" > ".run/logs/$name.log" 2>&1 &
  echo $! > ".run/$name.pid"
}
[ -x "$BIN/stripe-fake" ] && start stripe-fake "$BIN/stripe-fake"
for s in "${SERVICES[@]}"; do start "$s" "$BIN/$s" serve; done
start gateway "$BIN/gateway" serve

for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:8080/health/ready >/dev/null 2>&1 && break; sleep 0.2
done
ok=1
# The gateway's readiness has no dependencies: wait for each service's own (database reachable) too.
for i in "${!SERVICES[@]}"; do
  ready=0
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:${PORTS[$i]}/health/ready" >/dev/null 2>&1 && { ready=1; break; }
    sleep 0.2
  done
  [ "$ready" = 1 ] || { ok=0; echo "not ready: ${SERVICES[$i]} (see .run/logs/${SERVICES[$i]}.log)"; }
done
cat <<MSG

  Gateway:      http://127.0.0.1:8080   (services on 8081-8086, stripe-fake on $STRIPE_FAKE_PORT)
  Dev token:    make -s token ROLE=admin      (roles: learner, instructor, admin, org_admin)
  Try:          curl -H "Authorization: Bearer \$(make -s token)" http://127.0.0.1:8080/api/billing/whoami
  Metrics:      http://127.0.0.1:9080/metrics (gateway), 9081-9086 (services); Prometheus: make observe
  Logs:         .run/logs/*.log      Stop: Ctrl-C here, or make stop

MSG
[ "$ok" = 1 ] || echo "some services are not ready yet; check their logs"
if [ "${RUN_DETACHED:-0}" = 1 ]; then exit 0; fi
trap 'scripts/stop-all.sh; exit 0' INT TERM
tail -n 0 -F .run/logs/*.log
