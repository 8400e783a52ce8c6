#!/usr/bin/env bash
# `make sbom`: one CycloneDX SBOM (JSON, spec 1.5) per service binary, from Cargo.lock with the
# features each binary is built with, into ${SBOM_DIR:-target/sbom}/<service>.cdx.json.
# cargo-cyclonedx is installed on first use (scripts/cargo-tool.sh), pinned below. Offline once
# every platform's crates are fetched (the first step below).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_CYCLONEDX_VERSION=0.5.9
TOOL=$(scripts/cargo-tool.sh cargo-cyclonedx cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION")
OUT=${SBOM_DIR:-${CARGO_TARGET_DIR:-target}/sbom}
# `--target all` reads the dependencies of every platform, and a build only downloads the host's:
# fetch the rest from the registry first (a no-op once they are cached; the one network step).
cargo fetch --locked --quiet
mkdir -p "$OUT"
SERVICES=(gateway billing subscriptions marketplace rewards licensing webhooks)
# The tool writes an SBOM beside the manifest of every workspace member with a binary, whichever
# manifest it is given: keep the services' (moved below) and remove the rest from the source tree.
cleanup() { find . -path ./target -prune -o -name '*.cdx.json' -print0 | xargs -0 -r rm -f; }
trap cleanup EXIT
for service in "${SERVICES[@]}"; do
    dir=services/$service
    # Written beside the manifest (the tool's only mode), then moved out of the source tree.
    rm -f "$dir"/*.cdx.json
    # cargo-cyclonedx 0.5 has no --offline flag: cargo's own setting keeps its `cargo metadata` offline.
    # Its license warnings (our crates are UNLICENSED: not SPDX) would bury the result: errors only.
    CARGO_NET_OFFLINE=true RUST_LOG=${RUST_LOG:-error} "$TOOL" cyclonedx --manifest-path "$dir/Cargo.toml" --format json --spec-version 1.5 \
        --describe binaries --target all --quiet
    produced=$(ls "$dir"/*.cdx.json 2>/dev/null | head -n 1 || true)
    [ -n "$produced" ] || { echo "sbom: cargo-cyclonedx wrote nothing for $service" >&2; exit 1; }
    mv "$produced" "$OUT/$service.cdx.json"
    rm -f "$dir"/*.cdx.json
    components=$(grep -c '"bom-ref"' "$OUT/$service.cdx.json" || true)
    echo "sbom: $OUT/$service.cdx.json ($components entries)"
done
