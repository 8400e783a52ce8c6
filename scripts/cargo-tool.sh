#!/usr/bin/env bash
# scripts/cargo-tool.sh <binary> <crate> <version>: prints the path of a cargo-installed tool,
# installing it first (from crates.io, `cargo install --locked`) into
# ${XDG_CACHE_HOME:-$HOME/.cache}/monetization/tools when it is neither on PATH nor there yet, so a
# fresh machine or CI gets the same version as a developer (like ensure-prometheus.sh does for
# Debian packages). The build (minutes on 2 cores, once) goes to $CARGO_TARGET_DIR when set.
set -euo pipefail
bin=${1:?usage: scripts/cargo-tool.sh <binary> <crate> <version>}
crate=${2:?crate}
version=${3:?version}
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/monetization
ROOT=$CACHE_DIR/tools
# A cargo subcommand binary may answer --version only after its subcommand name
# (`cargo-cyclonedx cyclonedx --version`).
wanted() { { "$1" --version || "$1" "${bin#cargo-}" --version; } 2>/dev/null | grep -q " ${version//./\\.}"; }
if [ -x "$ROOT/bin/$bin" ] && wanted "$ROOT/bin/$bin"; then
    echo "$ROOT/bin/$bin"
    exit 0
fi
if command -v "$bin" >/dev/null 2>&1 && wanted "$(command -v "$bin")"; then
    command -v "$bin"
    exit 0
fi
echo "cargo-tool: installing $crate $version into $ROOT (once; minutes on 2 cores)" >&2
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE_DIR/tools-target} \
    cargo install --locked --quiet --root "$ROOT" --version "$version" "$crate" >&2
echo "$ROOT/bin/$bin"
