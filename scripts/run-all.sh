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

set -a
# shellcheck disable=SC1091
. scripts/dev.env
set +a
# scripts/bench.sh runs the stack on a database of its own.
DEV_DATABASE_URL=${RUN_DATABASE_URL:-$DEV_DATABASE_URL}
SERVICES=(billing subscriptions marketplace rewards licensing)
PORTS=(8081 8082 8083 8084 8085)
# Prometheus /metrics of each process, apart from the API ports (`make observe` scrapes them).
METRICS_PORTS=(9081 9082 9083 9084 9085)
for i in "${!SERVICES[@]}"; do
  s=${SERVICES[$i]}; P=${s^^}
  export "${P}_DATABASE_URL=$DEV_DATABASE_URL" "${P}_AMQP_URL=$DEV_AMQP_URL" \
         "${P}_INTERNAL_TOKEN_SECRET=$DEV_INTERNAL_TOKEN_SECRET" "${P}_PORT=${PORTS[$i]}"
  # RUN_METRICS=0 (scripts/bench.sh, measuring what instrumentation costs): no listener, and
  # requests are not timed.
  [ "${RUN_METRICS:-1}" = 0 ] || export "${P}_METRICS_PORT=${METRICS_PORTS[$i]}"
done
[ "${RUN_METRICS:-1}" = 0 ] || export GATEWAY_METRICS_PORT=${GATEWAY_METRICS_PORT:-9080}
export BILLING_STRIPE_API_BASE=${BILLING_STRIPE_API_BASE:-http://127.0.0.1:$STRIPE_FAKE_PORT}
export BILLING_STRIPE_API_KEY=${BILLING_STRIPE_API_KEY:-$STRIPE_FAKE_API_KEY}
export BILLING_STRIPE_WEBHOOK_SECRETS=${BILLING_STRIPE_WEBHOOK_SECRETS:-$STRIPE_FAKE_WEBHOOK_SECRET}

# DEV-ONLY certificate keys for licensing (committed; never used outside development).
LICENSING_CERTIFICATE_SIGNING_KEY_PEM=${LICENSING_CERTIFICATE_SIGNING_KEY_PEM:-$(cat services/licensing/dev-keys/certificate-signing.dev-only.key.pem)}
LICENSING_CERTIFICATE_PUBLIC_KEY_PEM=${LICENSING_CERTIFICATE_PUBLIC_KEY_PEM:-$(cat services/licensing/dev-keys/certificate-signing.dev-only.pub.pem)}
export LICENSING_CERTIFICATE_SIGNING_KEY_PEM LICENSING_CERTIFICATE_PUBLIC_KEY_PEM

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

  Gateway:      http://127.0.0.1:8080   (services on 8081-8085, stripe-fake on $STRIPE_FAKE_PORT)
  Dev token:    make -s token ROLE=admin      (roles: learner, instructor, admin, org_admin)
  Try:          curl -H "Authorization: Bearer \$(make -s token)" http://127.0.0.1:8080/api/billing/whoami
  Metrics:      http://127.0.0.1:9080/metrics (gateway), 9081-9085 (services); Prometheus: make observe
  Logs:         .run/logs/*.log      Stop: Ctrl-C here, or make stop

MSG
[ "$ok" = 1 ] || echo "some services are not ready yet; check their logs"
if [ "${RUN_DETACHED:-0}" = 1 ]; then exit 0; fi
trap 'scripts/stop-all.sh; exit 0' INT TERM
tail -n 0 -F .run/logs/*.log
