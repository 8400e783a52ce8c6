#!/usr/bin/env bash
# `make bench`: build release binaries, start the whole stack from them on a database of its own
# (`bench`, recreated each run) and its own exchange and queues (`bench.*`), seed realistic data
# with psql, run the open-loop scenarios (bench/), print the table, and stop the stack again,
# whatever happens (trap). Never part of `make test`. Takes ~4-5 min more on a cold build.
#
# Knobs (environment): BENCH_DURATION (15 s per scenario), BENCH_WARMUP (2 s), BENCH_SCALE (1.0,
# multiplies every offered rate), BENCH_ONLY (comma-separated scenario names), BENCH_POOL_SIZE,
# BENCH_HTTP_WORKERS, BENCH_GATEWAY_WORKERS, BENCH_INSTRUMENTATION (`on`: metrics listeners and
# every span exported over OTLP/HTTP to a sink in the bench process, as in production; `off`: no
# metrics listener, requests untimed, no spans at all: the pair measures what instrumentation
# costs; the spans kept follow OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG when set, every span
# otherwise), BENCH_RESEED (1; 0: reuse the database a previous run seeded, for repeated short
# runs such as the instrumentation on/off pairs), BENCH_PROFILE (release; debug: see below),
# BENCH_REPEATS (3: every scenario runs that many times in interleaved rounds; the table shows
# medians and the p99 spread, and the load average before each run), BENCH_WRITE_RATE (auto: the
# money writes are offered 40 % of the pgbench baseline's rate; or operations per second),
# BENCH_PGBENCH_CLIENTS (16: the baseline's concurrency), BENCH_STATEMENTS (0; 1: the database's
# top statements by execution time, from pg_stat_statements, after the scenarios), BENCH_SETTLE_SECS
# (120: before each scenario, wait at most that long for the outboxes and the consumers' queues to
# empty, so one scenario's backlog is not measured as the next one's cost), BENCH_VACUUM (auto:
# then VACUUM (ANALYZE) the database when the server runs with autovacuum off, as autovacuum would
# in production; 0: never, as runs before round 11 measured). Results:
# $CARGO_TARGET_DIR/bench/<time>.json, latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_LC_SYS_USE_SYSTEM=0
TARGET=${CARGO_TARGET_DIR:-target}

scripts/dev-deps.sh
# BENCH_PROFILE=debug: the debug binaries (no release build; absolute figures are not what ships,
# only comparisons within one run set mean anything).
BENCH_PROFILE=${BENCH_PROFILE:-release}
case $BENCH_PROFILE in
  release) cargo build --release --workspace --bins ;;
  debug) cargo build --workspace --bins ;;
  *) echo "bench: BENCH_PROFILE is release or debug" >&2; exit 2 ;;
esac

set -a
# shellcheck disable=SC1091
. scripts/dev.env
set +a
DB=bench
ADMIN_URL=$DEV_DATABASE_URL
BENCH_URL=${DEV_DATABASE_URL%/*}/$DB

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi; }

started=0
cleanup() {
  if [ "$started" = 1 ]; then
    echo "bench: stopping the stack" >&2
    scripts/stop-all.sh >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A clean slate: the database, and the queues a previous run may have left messages in.
scripts/stop-all.sh >/dev/null 2>&1 || true
reseed=1
if [ "${BENCH_RESEED:-1}" = 0 ] && [ "$(psql -Atq "$BENCH_URL" -c 'SELECT count(*) FROM public.bench_seeded' 2>/dev/null)" = 1 ]; then
  reseed=0
fi
[ "$reseed" = 0 ] || psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
for q in $(as_root rabbitmqctl -q list_queues name 2>/dev/null | grep '^bench\.' || true); do
  as_root rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || echo "bench: could not delete queue $q" >&2
done

# The stack, from release binaries, configured for load: rate limits far above the offered load
# (one client address sends everything, and a limiter answering 429 would be all we measured),
# production-style JSON logs, and the bench's own database, exchange and queues.
export RUN_DATABASE_URL=$BENCH_URL
for S in BILLING SUBSCRIPTIONS MARKETPLACE REWARDS LICENSING; do
  export "${S}_EVENTS_EXCHANGE=bench.events" "${S}_QUEUE_PREFIX=bench." "${S}_LOG_FORMAT=json" \
         "${S}_DATABASE_POOL_SIZE=${BENCH_POOL_SIZE:-10}" "${S}_HTTP_WORKERS=${BENCH_HTTP_WORKERS:-1}"
done
export GATEWAY_RATE_LIMIT_IP_PER_SEC=1000000 GATEWAY_RATE_LIMIT_IP_BURST=1000000 \
       GATEWAY_RATE_LIMIT_USER_PER_SEC=1000 GATEWAY_RATE_LIMIT_USER_BURST=2000 \
       GATEWAY_RATE_LIMIT_EXPENSIVE_PER_MIN=60000 GATEWAY_RATE_LIMIT_EXPENSIVE_BURST=2000 \
       GATEWAY_LOG_FORMAT=json GATEWAY_HTTP_WORKERS=${BENCH_GATEWAY_WORKERS:-1}
case ${BENCH_INSTRUMENTATION:-on} in
  on) export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:${BENCH_OTLP_SINK_PORT:=14318} BENCH_OTLP_SINK_PORT ;;
  off) export RUN_METRICS=0 OTEL_SDK_DISABLED=true; unset OTEL_EXPORTER_OTLP_ENDPOINT BENCH_OTLP_SINK_PORT ;;
  *) echo "bench: BENCH_INSTRUMENTATION is on or off" >&2; exit 2 ;;
esac
echo "bench: instrumentation ${BENCH_INSTRUMENTATION:-on}" >&2
started=1
PROFILE=$BENCH_PROFILE RUN_DETACHED=1 scripts/run-all.sh >/dev/null

if [ "$reseed" = 1 ]; then
  echo "bench: seeding (1,000,000 reward accounts, 100,000 courses, 20,000 subscriptions with a year of MRR history, 120,000 payments, 20 licenses)" >&2
  seed_start=$(date +%s)
  psql -q "$BENCH_URL" -f scripts/bench-seed.sql >/dev/null
  psql -q "$BENCH_URL" -c "CREATE TABLE public.bench_seeded AS SELECT now() AS seeded_at"
  echo "bench: seeded in $(( $(date +%s) - seed_start )) s" >&2
  export BENCH_RUN_NUMBER=0
else
  echo "bench: reusing the database seeded at $(psql -Atq "$BENCH_URL" -c 'SELECT seeded_at FROM public.bench_seeded') (BENCH_RESEED=0)" >&2
  # Fresh buyers and seat holders of this run are users no earlier run on this database touched.
  BENCH_RUN_NUMBER=$(psql -Atq "$BENCH_URL" -c 'ALTER TABLE public.bench_seeded ADD COLUMN IF NOT EXISTS runs int NOT NULL DEFAULT 0' \
    -c 'UPDATE public.bench_seeded SET runs = runs + 1 RETURNING runs' | tail -1)
  export BENCH_RUN_NUMBER
fi

# BENCH_STATEMENTS=1: which statements the database spent its time on during the scenarios, from
# pg_stat_statements (how the supersede lookup's missing index was found: docs/performance.md,
# round 3). The extension must be preloaded, a server restart PostgreSQL needs once.
statements=0
if [ "${BENCH_STATEMENTS:-0}" = 1 ]; then
  if psql -Atq "$BENCH_URL" -c 'SHOW shared_preload_libraries' | grep -q pg_stat_statements; then
    PGOPTIONS='-c client_min_messages=warning' psql -q "$BENCH_URL" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' \
      -c 'SELECT pg_stat_statements_reset()' >/dev/null
    statements=1
  else
    echo "bench: BENCH_STATEMENTS=1 needs pg_stat_statements preloaded: as postgres, ALTER SYSTEM SET" >&2
    echo "bench:   shared_preload_libraries = 'pg_stat_statements', then restart PostgreSQL" >&2
  fi
fi

args=()
[ -n "${BENCH_ONLY:-}" ] && args+=(--only "$BENCH_ONLY")
DEV_DATABASE_URL=$ADMIN_URL BENCH_DATABASE=$DB BENCH_RUN_DIR=.run BENCH_OUT_DIR="$TARGET/bench" "$TARGET/$BENCH_PROFILE/bench" "${args[@]}"

if [ "$statements" = 1 ]; then
  out="$TARGET/bench/statements-latest.txt"
  # plans: how often the statement was planned (with pg_stat_statements.track_planning on; 0
  # otherwise). A hot statement planned at every call is one the service sends as SQL text, which
  # diesel never prepares (a second round trip and a fresh plan each time).
  psql -q "$BENCH_URL" -P pager=off -c "SELECT round(total_exec_time::numeric) AS total_ms, calls, plans,
      round((total_exec_time / calls)::numeric, 3) AS ms_per_call, round(rows::numeric / calls, 1) AS rows_per_call,
      regexp_replace(left(query, 120), '\s+', ' ', 'g') AS statement
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND calls > 0
    ORDER BY total_exec_time DESC LIMIT 25" > "$out"
  echo "bench: the database's top statements by execution time ($out):" >&2
  head -14 "$out" >&2
fi
