#!/usr/bin/env bash
# Supply-chain checks with cargo-deny against deny.toml (issue 21, point 3).
#
#   scripts/deny.sh             licenses, bans, sources: no advisory database needed (crates.io only);
#                               run by `make lint` and CI
#   scripts/deny.sh advisories  the RustSec advisory database (`make audit`): needs to fetch
#                               github.com/rustsec/advisory-db, which these machines cannot reach,
#                               so it is not part of CI; it fails with a clear message here. Where
#                               a copy exists, ADVISORY_DB=<dir holding it> checks against that
#                               copy without fetching.
#
# cargo-deny is installed on first use (scripts/cargo-tool.sh), pinned below.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DENY_VERSION=0.20.2
DENY=$(scripts/cargo-tool.sh cargo-deny cargo-deny "$CARGO_DENY_VERSION")

case "${1:-policy}" in
policy)
    "$DENY" --locked check --hide-inclusion-graph licenses bans sources
    ;;
advisories)
    if [ -n "${ADVISORY_DB:-}" ]; then
        config=$(mktemp)
        trap 'rm -f "$config"' EXIT
        sed "s|^\[advisories\]|[advisories]\ndb-path = \"$ADVISORY_DB\"|" deny.toml >"$config"
        "$DENY" --locked check --config "$config" --disable-fetch advisories
    elif ! "$DENY" --locked check advisories; then
        echo "deny: the advisory check failed; if the error above is a fetch of the RustSec database," >&2
        echo "deny: this machine cannot reach it (not a finding): see docs/security.md, supply chain." >&2
        exit 1
    fi
    ;;
*)
    echo "usage: scripts/deny.sh [advisories]" >&2
    exit 2
    ;;
esac
