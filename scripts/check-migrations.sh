#!/usr/bin/env bash
# Every schema runs the shared migrations (platform, events) and its service's own, recorded in one
# diesel table by version (the name before the first `_`). Two migrations with one version would be
# applied together on a fresh database but the second skipped on one that already ran the first, so
# versions must be unique across the three sets.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for service in services/*/migrations; do
    dupes=$(ls crates/platform/migrations crates/events/migrations "$service" | grep -E '^[0-9]' |
        sed 's/_.*//' | sort | uniq -d)
    if [ -n "$dupes" ]; then
        echo "check-migrations: $service shares versions with another migration: $dupes" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "check-migrations: every migration version is unique per schema"
exit $status
