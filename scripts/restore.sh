#!/usr/bin/env bash
# `make restore SERVICE=<service> FILE=<archive> [ARGS="--create-database --replace --jobs N"]`:
# restore one service's schema from a scripts/backup.sh archive with pg_restore.
#
#   scripts/restore.sh <service> <file> [--create-database] [--replace] [--jobs N] [--no-owner]
#
# Into the database `<SVC>_DATABASE_URL` points at (without it, the local stack's, scripts/dev.env),
# under the schema name the archive holds (pg_restore cannot rename a schema; the service must run
# with `<SVC>_DATABASE_SCHEMA` = that name, which is the service's name unless it was overridden).
#
#   --create-database  create the target database first when it does not exist (a FRESH database,
#                      the drill's and the runbook's default: the damaged one stays for forensics)
#   --replace          the schema exists in the target: rename it aside to <schema>_replaced_<time>
#                      (kept, drop it by hand once the restore is accepted) and restore in its place.
#                      Without it an existing schema is refused: a restore never merges.
#   --jobs N           pg_restore -j N (parallel data load and index builds). Default: one
#                      transaction (--single-transaction), so a failed restore leaves nothing behind.
#   --no-owner         objects owned by the restoring role instead of the archive's owner (the
#                      service's role must then be granted the schema: see docs/runbooks/restore.md)
#
# Then: ANALYZE of the restored tables (pg_restore does not carry planner statistics), the
# archive's snapshot time, and what to do about the events the service consumed after it
# (`<producer> outbox replay --to <service> --since <time>`: the restored inbox deduplicates).
# Stop the service before restoring in place; start it on the restored schema afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
# Archive times (the snapshot time the restore prints) in UTC whatever the host says.
export TZ=UTC

die() { echo "restore: $*" >&2; exit 2; }
usage="usage: scripts/restore.sh <service> <file> [--create-database] [--replace] [--jobs N] [--no-owner]"
service=${1:-}
file=${2:-}
[ -n "$service" ] && [ -n "$file" ] || die "$usage"
shift 2
create=0 replace=0 jobs=0 owner=()
while [ $# -gt 0 ]; do
  case $1 in
    --create-database) create=1 ;;
    --replace) replace=1 ;;
    --jobs) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a positive number"; jobs=$2; shift ;;
    --no-owner) owner=(--no-owner --no-privileges) ;;
    *) die "unknown option '$1'; $usage" ;;
  esac
  shift
done
case $service in
  billing | subscriptions | marketplace | rewards | licensing) ;;
  *) die "unknown service '$service' (billing, subscriptions, marketplace, rewards, licensing)" ;;
esac
[ -f "$file" ] || die "no archive at $file"
P=${service^^}
url_var=${P}_DATABASE_URL
schema_var=${P}_DATABASE_SCHEMA
if [ -z "${!url_var:-}" ]; then
  # shellcheck disable=SC1091
  . scripts/stack-env.sh
fi
url=${!url_var:-}
[ -n "$url" ] || die "$url_var is not set"
command -v pg_restore >/dev/null || die "pg_restore is not installed (postgresql-client)"

# The archive: readable, one schema, and the one the service will run in.
toc=$(pg_restore --list "$file") || die "$file is not a pg_dump custom-format archive"
schemas=$(awk '$4 == "SCHEMA" && $5 == "-" {print $6}' <<<"$toc" | sort -u)
[ "$(wc -w <<<"$schemas")" = 1 ] || die "$file holds $(wc -w <<<"$schemas") schemas ($schemas): expected one service's"
schema=$schemas
want=${!schema_var:-$service}
[ "$schema" = "$want" ] || die "the archive holds schema '$schema' but the service runs in '$want' (set $schema_var=$schema)"
created=$(sed -n 's/^;[[:space:]]*Archive created at //p' <<<"$toc")

# The target database (created when asked: connect to the server's `postgres` database for that).
base=${url%%\?*}
query=${url#"$base"}
db=${base##*/}
[ -n "$db" ] && [ "$db" != "$base" ] || die "$url_var names no database"
if [ "$create" = 1 ]; then
  admin=${base%/*}/postgres$query
  if [ "$(psql -X -At "$admin" -v db="$db" <<<"SELECT count(*) FROM pg_database WHERE datname = :'db'")" = 0 ]; then
    psql -X -q "$admin" -c "CREATE DATABASE \"$db\""
    echo "restore: created database $db" >&2
  fi
fi
exists=$(psql -X -At "$url" -v schema="$schema" <<<"SELECT count(*) FROM pg_namespace WHERE nspname = :'schema'" 2>&1) \
  || die "cannot connect: $exists"
if [ "$exists" = 1 ]; then
  [ "$replace" = 1 ] || die "schema '$schema' already exists in $db: restore into a fresh database (--create-database with a new name) or pass --replace"
  aside=${schema}_replaced_$(date -u +%Y%m%d%H%M%S)
  psql -X -q -v ON_ERROR_STOP=1 "$url" -c "ALTER SCHEMA \"$schema\" RENAME TO \"$aside\""
  echo "restore: the existing schema is kept as $aside" >&2
fi

started=$(date +%s%3N)
if [ "$jobs" -gt 0 ]; then
  pg_restore --exit-on-error --jobs="$jobs" "${owner[@]}" --dbname="$url" "$file"
else
  pg_restore --exit-on-error --single-transaction "${owner[@]}" --dbname="$url" "$file"
fi
loaded=$(( $(date +%s%3N) - started ))
# Planner statistics are not in a dump: without them the first queries plan blind.
psql -X -q -v ON_ERROR_STOP=1 -v schema="$schema" "$url" >/dev/null <<'SQL'
SELECT format('ANALYZE %I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = :'schema' \gexec
SQL
ms=$(( $(date +%s%3N) - started ))
tables=$(psql -X -At "$url" -v schema="$schema" <<<"SELECT count(*) FROM pg_tables WHERE schemaname = :'schema'")
printf 'restore: %s schema %s into database %s: %s tables, loaded in %d.%03d s, analyzed, %d.%03d s in all\n' \
  "$service" "$schema" "$db" "$tables" $((loaded / 1000)) $((loaded % 1000)) $((ms / 1000)) $((ms % 1000)) >&2
cat >&2 <<MSG
restore: the archive is a snapshot of $created. Before serving traffic:
  1. run the service's migrations against it (\`$service migrate\`): a newer binary brings the schema forward;
  2. start $service on it: its outbox relay publishes what was pending at the snapshot (consumers'
     inboxes drop what they already had), and its queue, which kept what arrived meanwhile, drains;
  3. replay what it consumed after the snapshot, from each service it consumes from:
       <producer> outbox replay --to $service --since '<the snapshot time, minus a few minutes>'
     (its inbox drops what it already applied). docs/runbooks/restore.md has the whole procedure.
MSG
