#!/usr/bin/env bash
# Makes sure `prometheus` and `promtool` are on PATH: installs Debian's `prometheus` package (which
# ships both) when either is missing, as dev-deps.sh does for PostgreSQL. Used by `make observe`,
# scripts/promtool-check.sh and the e2e dashboards test (e2e/tests/flows/dashboards.rs), so a fresh
# machine or CI gets the same Prometheus everywhere. Prints nothing when both are there.
set -euo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    exit 0
fi
echo "ensure-prometheus: installing the Debian package prometheus" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v prometheus >/dev/null && command -v promtool >/dev/null
