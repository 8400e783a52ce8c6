# shellcheck shell=bash
# Sourced, never run: the environment every process of the local stack reads (scripts/dev.env,
# then the per-service variables derived from it). `make run` (scripts/run-all.sh) and `make chaos`
# (scripts/chaos.sh) both start the stack from it, so they cannot drift apart; each overrides only
# what it must (ports, schemas, exchange). Expects to be sourced from the repository root.

set -a
# shellcheck disable=SC1091
. scripts/dev.env
set +a
# scripts/bench.sh and scripts/chaos.sh run the stack on a database of their own.
DEV_DATABASE_URL=${RUN_DATABASE_URL:-$DEV_DATABASE_URL}
STACK_SERVICES=(billing subscriptions marketplace rewards licensing webhooks)
STACK_PORTS=(8081 8082 8083 8084 8085 8086)
# Prometheus /metrics of each process, apart from the API ports (`make observe` scrapes them).
STACK_METRICS_PORTS=(9081 9082 9083 9084 9085 9086)
for i in "${!STACK_SERVICES[@]}"; do
  P=${STACK_SERVICES[$i]^^}
  export "${P}_DATABASE_URL=$DEV_DATABASE_URL" "${P}_AMQP_URL=$DEV_AMQP_URL" \
         "${P}_INTERNAL_TOKEN_SECRET=$DEV_INTERNAL_TOKEN_SECRET" "${P}_PORT=${STACK_PORTS[$i]}"
  # RUN_METRICS=0 (scripts/bench.sh, measuring what instrumentation costs): no listener, and
  # requests are not timed.
  [ "${RUN_METRICS:-1}" = 0 ] || export "${P}_METRICS_PORT=${STACK_METRICS_PORTS[$i]}"
done
unset P
[ "${RUN_METRICS:-1}" = 0 ] || export GATEWAY_METRICS_PORT=${GATEWAY_METRICS_PORT:-9080}
export BILLING_STRIPE_API_BASE=${BILLING_STRIPE_API_BASE:-http://127.0.0.1:$STRIPE_FAKE_PORT}
export BILLING_STRIPE_API_KEY=${BILLING_STRIPE_API_KEY:-$STRIPE_FAKE_API_KEY}
export BILLING_STRIPE_WEBHOOK_SECRETS=${BILLING_STRIPE_WEBHOOK_SECRETS:-$STRIPE_FAKE_WEBHOOK_SECRET}

# DEV-ONLY certificate keys for licensing (committed; never used outside development).
LICENSING_CERTIFICATE_SIGNING_KEY_PEM=${LICENSING_CERTIFICATE_SIGNING_KEY_PEM:-$(cat services/licensing/dev-keys/certificate-signing.dev-only.key.pem)}
LICENSING_CERTIFICATE_PUBLIC_KEY_PEM=${LICENSING_CERTIFICATE_PUBLIC_KEY_PEM:-$(cat services/licensing/dev-keys/certificate-signing.dev-only.pub.pem)}
export LICENSING_CERTIFICATE_SIGNING_KEY_PEM LICENSING_CERTIFICATE_PUBLIC_KEY_PEM
