#!/usr/bin/env bash
# `make bench-hotspots`: the write hot spots that adding replicas does not fix, shown with pgbench
# on this machine (docs/scaling.md). Each pair writes the same rows with the same commit; only the
# contended row differs:
#   histogram-one-row   every transaction moves a user into the same leaderboard score row
#                       (what every award does to `score_histogram` when many learners share a score)
#   histogram-spread    the same write spread over 50,000 score rows
#   histogram-deltas    what an award writes now: its move as delta rows (no row shared), which
#                       rewards' fold adds into the histogram once a second (docs/scaling.md)
#   receipt-counter     the gap-free receipt number: one counter row per year, locked until commit
#   receipt-sequence    the same receipt insert numbered by a sequence (gaps allowed)
# Then the outbox between vacuums: the relay's pending-rows probe over an outbox whose published
# rows were not vacuumed yet (10,000 / 100,000 / 1,000,000 of them), and after a VACUUM. Publishing
# a row moves it out of the partial index `outbox_pending`, but its old entry stays until VACUUM,
# and the probe walks every such entry before reaching the first pending row.
# Knobs: HOTSPOT_SECONDS (10), HOTSPOT_CLIENTS (16), HOTSPOT_OUTBOX_ROWS ("10000 100000 1000000"). Uses its own database (bench_hotspots).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/dev-deps.sh >/dev/null 2>&1
set -a
# shellcheck disable=SC1091
. scripts/dev.env
set +a
SECONDS_EACH=${HOTSPOT_SECONDS:-10}
CLIENTS=${HOTSPOT_CLIENTS:-16}
ADMIN=$DEV_DATABASE_URL
DB=${ADMIN%/*}/bench_hotspots
psql -q "$ADMIN" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_hotspots WITH (FORCE)" \
  -c "CREATE DATABASE bench_hotspots"
trap 'psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS bench_hotspots WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
work=$(mktemp -d)
psql -q "$DB" <<'SQL'
CREATE TABLE score_histogram (board TEXT NOT NULL, score BIGINT NOT NULL, users BIGINT NOT NULL, PRIMARY KEY (board, score));
INSERT INTO score_histogram SELECT 'global', s, 1000000 FROM generate_series(1, 50000) AS s;
CREATE TABLE ledger (id BIGSERIAL PRIMARY KEY, score BIGINT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE score_histogram_deltas (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, board TEXT NOT NULL,
  score BIGINT NOT NULL, delta INT NOT NULL);
CREATE INDEX ON score_histogram_deltas (board, score);
CREATE TABLE receipt_counters (year INT PRIMARY KEY, last_value BIGINT NOT NULL);
CREATE SEQUENCE receipt_numbers;
CREATE TABLE receipts (id BIGSERIAL PRIMARY KEY, number TEXT NOT NULL UNIQUE, at TIMESTAMPTZ NOT NULL DEFAULT now());
SQL
cat >"$work/histogram-one-row.sql" <<'SQL'
BEGIN;
INSERT INTO ledger (score) VALUES (1);
UPDATE score_histogram SET users = users + 1 WHERE board = 'global' AND score = 1;
COMMIT;
SQL
cat >"$work/histogram-spread.sql" <<'SQL'
\set s random(1, 50000)
BEGIN;
INSERT INTO ledger (score) VALUES (:s);
UPDATE score_histogram SET users = users + 1 WHERE board = 'global' AND score = :s;
COMMIT;
SQL
cat >"$work/histogram-deltas.sql" <<'SQL'
BEGIN;
INSERT INTO ledger (score) VALUES (1);
INSERT INTO score_histogram_deltas (board, score, delta) VALUES ('global', 1, 1);
COMMIT;
SQL
cat >"$work/receipt-counter.sql" <<'SQL'
BEGIN;
INSERT INTO receipt_counters (year, last_value) VALUES (2026, 1)
    ON CONFLICT (year) DO UPDATE SET last_value = receipt_counters.last_value + 1 RETURNING last_value \gset
INSERT INTO receipts (number) VALUES ('R-2026-' || lpad(:last_value::text, 9, '0'));
COMMIT;
SQL
cat >"$work/receipt-sequence.sql" <<'SQL'
BEGIN;
INSERT INTO receipts (number) VALUES ('S-2026-' || lpad(nextval('receipt_numbers')::text, 9, '0'));
COMMIT;
SQL
tps() {
  pgbench -n -j 2 -c "$CLIENTS" -T "$SECONDS_EACH" -f "$work/$1.sql" "$DB" 2>&1 |
    awk '/^tps = /{print $3}' | head -1
}
echo "bench-hotspots: $CLIENTS clients, ${SECONDS_EACH} s each, load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A r
for s in histogram-one-row histogram-spread histogram-deltas receipt-counter receipt-sequence; do
  r[$s]=$(tps "$s")
  printf '  %-20s %8.0f tx/s\n' "$s" "${r[$s]}"
done
awk -v a="${r[histogram-one-row]}" -v b="${r[histogram-spread]}" -v c="${r[receipt-counter]}" -v d="${r[receipt-sequence]}" \
  -v e="${r[histogram-deltas]}" \
  'BEGIN { printf "  one histogram row: %.2f of spread; as deltas (rewards now): %.2f of spread; gap-free counter: %.2f of a sequence\n", a / b, e / b, c / d }'

# The outbox's partial index between vacuums (docs/scaling.md, hot spot 9). The table is the
# events crate's outbox (the columns the probe reads) with autovacuum off for it, so the figures do
# not depend on when the server's autovacuum would have come by.
psql -q "$DB" <<'SQL'
CREATE TABLE outbox (seq BIGSERIAL PRIMARY KEY, event_type TEXT NOT NULL DEFAULT 'x', envelope TEXT NOT NULL DEFAULT '{}',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(), published_at TIMESTAMPTZ) WITH (autovacuum_enabled = false);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
SQL
echo 'SELECT seq FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1;' >"$work/outbox-probe.sql"
probe_ms() {
  pgbench -n -c 1 -T 3 -f "$work/outbox-probe.sql" "$DB" 2>&1 | awk '/^tps = /{printf "%.3f", 1000 / $3}' | head -1
}
published=0
for rows in ${HOTSPOT_OUTBOX_ROWS:-10000 100000 1000000}; do
  add=$((rows - published))
  psql -q "$DB" -c "INSERT INTO outbox (envelope) SELECT '{}' FROM generate_series(1, $add)" \
    -c "INSERT INTO outbox DEFAULT VALUES" -c "UPDATE outbox SET published_at = now() WHERE published_at IS NULL AND seq < (SELECT max(seq) FROM outbox)" -c "ANALYZE outbox"
  published=$rows
  printf '  outbox probe, %8d published rows not vacuumed: %s ms\n' "$rows" "$(probe_ms)"
done
psql -q "$DB" -c "VACUUM outbox"
printf '  outbox probe, the same after VACUUM:               %s ms\n' "$(probe_ms)"
