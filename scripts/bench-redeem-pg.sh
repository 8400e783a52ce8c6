#!/usr/bin/env bash
# The database side of a redemption, before and after issue 22's round 2, in the same minutes:
# pgbench runs the old eleven-statement transaction (scripts/bench-redeem-statements.sql), the
# one-statement function the service now calls (scripts/bench-redeem-once.sql), in interleaved
# rounds on a scratch database seeded with 100,000 accounts. Needs the rewards binary (debug is fine: only its `migrate` runs).
# Knobs: PGB_SECONDS (10), PGB_CLIENTS (16), PGB_ROUNDS (3), PGB_BIN (target/debug/rewards).
set -euo pipefail
cd "$(dirname "$0")/.."
DB=bench_redeem_pg
ADMIN=postgres://postgres:postgres@127.0.0.1:5432/postgres
URL=postgres://postgres:postgres@127.0.0.1:5432/$DB
BIN=${PGB_BIN:-${CARGO_TARGET_DIR:-target}/debug/rewards}
psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
trap '[ -n "${PGB_KEEP:-}" ] || psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
REWARDS_DATABASE_URL=$URL REWARDS_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f REWARDS_PORT=0 \
  REWARDS_INTERNAL_TOKEN_SECRET=bench-only-secret-long-enough-1234567890 \
  REWARDS_CODE_HASH_KEY=bench-only-code-hash-key-1234567890 "$BIN" migrate >/dev/null
psql -q "$URL" -c "SET search_path TO rewards" -c "
  INSERT INTO token_balances (user_id, spendable, debt, lifetime_earned, score_reached_at, updated_at)
  SELECT lpad(to_hex(i), 32, '0')::uuid, 100000000, 0, 0, now(), now() FROM generate_series(1, 100000) AS i" \
  -c "VACUUM ANALYZE"
export PGOPTIONS='-c search_path=rewards'
for round in $(seq "${PGB_ROUNDS:-3}"); do
  for script in statements once; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    tps=$(pgbench -n -M simple -c "${PGB_CLIENTS:-16}" -j 2 -T "${PGB_SECONDS:-10}" \
          -f "scripts/bench-redeem-$script.sql" "$URL" 2>/dev/null |
          awk '/^tps/ {printf "%.0f", $3} /latency average/ {lat=$4} END {printf " tx/s, latency avg %s ms", lat}')
    echo "round $round $script: $tps (load $load)"
  done
done
