#!/usr/bin/env bash
# Print a JWT signed with the committed DEV-ONLY key, trusted only by the dev gateway.
# Usage: scripts/dev-token.sh [ROLE] [SUB]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CARGO_TARGET_DIR:-target}/debug/gateway
[ -x "$BIN" ] || cargo build -q -p gateway --bin gateway
args=(--role "${1:-learner}")
[ -n "${2:-}" ] && args+=(--sub "$2")
[ -n "${ORG:-}" ] && args+=(--org "$ORG")
exec "$BIN" dev-token "${args[@]}"
