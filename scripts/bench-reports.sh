#!/usr/bin/env bash
# Time the report queries of marketplace, rewards and licensing on bench-sized data (issue 19):
# a scratch database with the services' migrations, the bench seed's sizes (1,000,000 reward
# accounts, 100,000 courses) plus a year of report facts, then each report's queries run by pgbench
# for a year of monthly buckets; prints p50/p99 per query from pgbench's per-transaction log.
#   scripts/bench-reports.sh [transactions per query, default 200]   (KEEP=1 keeps the database;
#   ONLY="rewards-tokens marketplace-sales" times only the queries whose file names start with those)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
ADMIN_URL=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=reports_timing
URL=${ADMIN_URL%/*}/$DB
psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
[ -n "${KEEP:-}" ] || trap 'psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
for svc in marketplace rewards licensing; do
  { echo "CREATE SCHEMA $svc; SET search_path TO $svc;"
    for m in services/$svc/migrations/*/up.sql; do cat "$m"; echo; done
  } | psql -q -v ON_ERROR_STOP=1 "$URL" >/dev/null
done
start=$(date +%s)
psql -q -v ON_ERROR_STOP=1 "$URL" -f scripts/bench-reports/seed.sql >/dev/null
echo "seeded in $(( $(date +%s) - start )) s" >&2
work=$(mktemp -d)
printf '%-34s %8s %8s %8s\n' query p50_ms p99_ms max_ms
read -ra prefixes <<< "${ONLY:-}"
[ ${#prefixes[@]} -gt 0 ] || prefixes=("")
for q in $(for only in "${prefixes[@]}"; do echo scripts/bench-reports/"$only"*.pgbench.sql; done); do
  name=$(basename "$q" .pgbench.sql)
  (cd "$work" && rm -f pgbench_log.* && pgbench -n -c 1 -t "$N" -f "$OLDPWD/$q" -l "$URL" >/dev/null 2>&1)
  # pgbench's log: client, transaction, latency in microseconds, ...
  sort -n -k3 "$work"/pgbench_log.* | awk -v name="$name" '{ l[NR] = $3 } END {
    p50 = l[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]; p99 = l[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1];
    printf "%-34s %8.1f %8.1f %8.1f\n", name, p50 / 1000, p99 / 1000, l[NR] / 1000 }'
done
rm -rf "$work"
