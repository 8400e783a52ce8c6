#!/usr/bin/env bash
# The database side of a seat activation, before and after issue 22's round 2, in the same
# minutes: pgbench runs the old fifteen-statement transaction (scripts/bench-seat-statements.sql)
# and the one-statement function the service now calls (scripts/bench-seat-once.sql) in
# interleaved rounds, on a scratch database with licensing's migrations (applied with psql, no
# binary needed), over PGB_LICENSES licenses of 1,000,000 seats: 20 (as `make bench` spreads its
# seat scenario) and 1 (every activation on one license, so its row lock is the bottleneck).
# Knobs: PGB_SECONDS (10), PGB_CLIENTS (16), PGB_ROUNDS (3), PGB_LICENSES ("20 1").
# PGB_RATE=N: the hot-spot mode (docs/scaling.md, hot spot 8): `activate_seat_once` alone, offered
# N activations a second whatever the answers (open loop, pgbench -R), and each run's achieved
# rate, p50 and p99 (the transaction's time plus its wait for a free client), so one license's
# row lock shows as a tail, not only as a lower rate.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=bench_seat_pg
ADMIN=postgres://postgres:postgres@127.0.0.1:5432/postgres
URL=postgres://postgres:postgres@127.0.0.1:5432/$DB
psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
trap '[ -n "${PGB_KEEP:-}" ] || psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
{
  echo "CREATE SCHEMA licensing; SET search_path TO licensing;"
  for m in crates/platform/migrations/* crates/events/migrations/* services/licensing/migrations/*; do
    cat "$m/up.sql"; echo
  done
} | psql -q -v ON_ERROR_STOP=1 "$URL" >/dev/null
psql -q -v ON_ERROR_STOP=1 "$URL" -c "SET search_path TO licensing" -c "
  INSERT INTO tiers (tier, description) VALUES ('bench', 'bench') ON CONFLICT DO NOTHING;
  INSERT INTO organizations (id, name, domain, created_at)
  SELECT lpad(to_hex(i), 32, '0')::uuid, 'Org ' || i, 'org' || i || '.example', now() FROM generate_series(1, 1000) AS i;
  INSERT INTO licenses (id, organization_id, license_key_hash, license_key_prefix, tier, seats, status, starts_at,
                        expires_at, created_at, updated_at)
  SELECT lpad(to_hex(i), 32, '0')::uuid, lpad(to_hex(i), 32, '0')::uuid, sha256(convert_to(i::text, 'UTF8')), 'BENCH',
         'bench', 1000000, 'active', now() - interval '1 day', now() + interval '1 year', now(), now()
    FROM generate_series(1, 1000) AS i" -c "VACUUM ANALYZE"
export PGOPTIONS='-c search_path=licensing'
if [ -n "${PGB_RATE:-}" ]; then
  logs=$(mktemp -d)
  for nlic in ${PGB_LICENSES:-1000 20 1}; do
    for round in $(seq "${PGB_ROUNDS:-3}"); do
      load=$(cut -d' ' -f1 /proc/loadavg)
      rm -f "$logs"/tx* "$logs/out"
      # A failed run must not print a made-up rate from an empty log: its own message, then stop.
      if ! pgbench -n -M simple -c "${PGB_CLIENTS:-16}" -j 2 -T "${PGB_SECONDS:-10}" -R "$PGB_RATE" -D nlic="$nlic" \
        --log --log-prefix="$logs/tx" -f scripts/bench-seat-once.sql "$URL" >"$logs/out" 2>&1; then
        cat "$logs/out" >&2
        exit 1
      fi
      # A log line: client, transaction, latency (us), script, epoch s, us, schedule lag (us).
      cat "$logs"/tx* | awk '{print $3 + $7}' | sort -n | awk -v secs="${PGB_SECONDS:-10}" \
        '{a[NR] = $1} END {printf "%.0f/s, p50 %.1f ms, p99 %.1f ms", NR / secs, a[int(NR * 0.5) + 1] / 1000, a[int(NR * 0.99) + 1] / 1000}' |
        sed "s|^|licenses $nlic round $round at $PGB_RATE/s offered: |"
      echo " (load $load)"
    done
  done
  rm -rf "$logs"
  exit 0
fi
for nlic in ${PGB_LICENSES:-20 1}; do
  for round in $(seq "${PGB_ROUNDS:-3}"); do
    for script in statements once; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      tps=$(pgbench -n -M simple -c "${PGB_CLIENTS:-16}" -j 2 -T "${PGB_SECONDS:-10}" -D nlic="$nlic" \
            -f "scripts/bench-seat-$script.sql" "$URL" 2>/dev/null |
            awk '/^tps/ {printf "%.0f", $3} /latency average/ {lat=$4} END {printf " tx/s, latency avg %s ms", lat}')
      echo "licenses $nlic round $round $script: $tps (load $load)"
    done
  done
done
