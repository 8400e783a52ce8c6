#!/usr/bin/env bash
# `make backup SERVICE=<service> [FILE=<path>]`: a logical backup of ONE service's schema with
# pg_dump, in the custom format (compressed, restorable table by table, in parallel).
#
#   scripts/backup.sh <service> [file]
#
# What it dumps: the schema the service runs in (`<SVC>_DATABASE_SCHEMA`, default the service's
# name) of the database `<SVC>_DATABASE_URL` points at: its tables, sequences, functions,
# triggers, the outbox, the inbox, the idempotency keys, the audit log and the migration history
# (`__diesel_schema_migrations`), so the restored schema is exactly what the service's binary
# expects. Nothing of another service's schema (services never share tables).
#
# Consistency: pg_dump reads everything in ONE repeatable-read transaction (a single snapshot),
# so the dump is consistent while the service keeps serving: a purchase and its outbox row, a
# ledger entry and its balance are either both in it or both not. It takes ACCESS SHARE locks
# only (writes continue); it waits at most BACKUP_LOCK_WAIT (30s) for a migration's exclusive
# lock rather than queueing behind it forever.
#
# Without `<SVC>_DATABASE_URL` in the environment, the local stack's (scripts/dev.env) is used.
# The file is written under a temporary name and renamed once pg_restore can read its table of
# contents back, so a file with the final name is always a complete archive.
# Knobs: BACKUP_DIR (default backups/), BACKUP_COMPRESSION (pg_dump -Z, default 6),
# BACKUP_LOCK_WAIT (default 30s).
set -euo pipefail
cd "$(dirname "$0")/.."
# Archive times (the snapshot time the restore prints) in UTC whatever the host says.
export TZ=UTC

die() { echo "backup: $*" >&2; exit 2; }
service=${1:-}
[ -n "$service" ] || die "usage: scripts/backup.sh <service> [file] (make backup SERVICE=rewards)"
case $service in
  billing | subscriptions | marketplace | rewards | licensing) ;;
  *) die "unknown service '$service' (billing, subscriptions, marketplace, rewards, licensing; the gateway has no database)" ;;
esac
P=${service^^}
url_var=${P}_DATABASE_URL
schema_var=${P}_DATABASE_SCHEMA
if [ -z "${!url_var:-}" ]; then
  # shellcheck disable=SC1091
  . scripts/stack-env.sh
fi
url=${!url_var:-}
[ -n "$url" ] || die "$url_var is not set"
schema=${!schema_var:-$service}
command -v pg_dump >/dev/null || die "pg_dump is not installed (postgresql-client, the server's major version or newer)"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
file=${2:-${BACKUP_DIR:-backups}/$service-$stamp.dump}
mkdir -p "$(dirname "$file")"
tmp=$file.partial
trap 'rm -f "$tmp"' EXIT

# The schema must exist: pg_dump --schema of a missing schema fails, but say it plainly.
exists=$(psql -X -At "$url" -v schema="$schema" <<<"SELECT count(*) FROM pg_namespace WHERE nspname = :'schema'" 2>&1) \
  || die "cannot connect: $exists"
[ "$exists" = 1 ] || die "schema '$schema' does not exist in that database (set $schema_var?)"

started=$(date +%s%3N)
pg_dump --format=custom --compress="${BACKUP_COMPRESSION:-6}" --schema="$schema" \
  --lock-wait-timeout="${BACKUP_LOCK_WAIT:-30s}" --file="$tmp" --dbname="$url"
# A readable table of contents, or it is not a backup.
entries=$(pg_restore --list "$tmp" | grep -cv '^;')
mv "$tmp" "$file"
trap - EXIT
ms=$(( $(date +%s%3N) - started ))
created=$(pg_restore --list "$file" | sed -n 's/^;[[:space:]]*Archive created at //p')
printf 'backup: %s schema %s -> %s (%s bytes, %s entries, snapshot of %s) in %d.%03d s\n' \
  "$service" "$schema" "$file" "$(stat -c %s "$file")" "$entries" "$created" $((ms / 1000)) $((ms % 1000)) >&2
echo "$file"
