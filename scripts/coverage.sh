#!/usr/bin/env bash
# `make coverage`: line coverage of the test suite (issue 21, point 8), printed per crate against
# the seed's target of 80 % for every service and every shared crate that ships (platform, events,
# runtime, stripe). Test doubles and tools (testkit, stripe-fake, contracts, bench, e2e) are shown
# without a target: their lines run only in tests.
#
# cargo-llvm-cov (pinned below, installed once by scripts/cargo-tool.sh) instruments the build
# with rustc's own `-C instrument-coverage`. It needs llvm-cov and llvm-profdata of the LLVM that
# rustc was built with; rustup's llvm-tools component is used when installed, otherwise Debian's
# llvm-<major> package (installed here when missing, as ensure-prometheus.sh does for Prometheus).
# A mismatched LLVM reads the profiles wrongly or not at all, so the major version is checked.
#
# Knobs:
#   COVERAGE_PACKAGES  space-separated crates to measure alone (`COVERAGE_PACKAGES="platform
#                      billing" make coverage`); the table then shows only those. Default: the
#                      whole workspace (every test binary, e2e flows included: ~40 min on 2 cores).
#   COVERAGE_SKIP      test-name filters skipped (libtest `--skip`). Default `broker_restart`: the
#                      two tests that stop RabbitMQ's application (crates/events broker_restart,
#                      e2e failures::a_broker_restart_...) would break every other user of the
#                      shared broker; `COVERAGE_SKIP= make coverage` runs them too, as `make test` does.
#   COVERAGE_TARGET_DIR  the instrumented build (separate from the normal one: other RUSTFLAGS).
#   COVERAGE_HTML=1    also writes an HTML report under $COVERAGE_TARGET_DIR/llvm-cov/html.
#
# `scripts/coverage.sh report` prints the table again from the profiles of the last run without
# running anything (after `cargo llvm-cov --no-report -p <crate> --test it <filter>` with the
# same target dir and LLVM_COV/LLVM_PROFDATA, it counts those extra tests too).
#
# Output: the table on stdout, and $COVERAGE_TARGET_DIR/coverage-summary.json (per file). Exits 1
# when a test failed (the table is still printed: it counts what ran).
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_LC_SYS_USE_SYSTEM=0
CARGO_LLVM_COV_VERSION=0.9.1
TARGET_PERCENT=80
SKIP=${COVERAGE_SKIP-broker_restart}
export CARGO_TARGET_DIR=${COVERAGE_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/monetization/coverage-target}

# --- LLVM tools matching rustc ---------------------------------------------------------------
major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
if [ -z "${LLVM_COV:-}" ] && ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
    dir=/usr/lib/llvm-$major/bin
    if [ ! -x "$dir/llvm-cov" ] || [ ! -x "$dir/llvm-profdata" ]; then
        echo "coverage: installing Debian's llvm-$major (rustc uses LLVM $major)" >&2
        sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq >/dev/null
        $sudo apt-get install -y -qq --no-install-recommends "llvm-$major" >/dev/null
    fi
    export LLVM_COV=$dir/llvm-cov LLVM_PROFDATA=$dir/llvm-profdata
fi
if [ -n "${LLVM_COV:-}" ] && ! "$LLVM_COV" --version | grep -q "LLVM version $major\."; then
    echo "coverage: $LLVM_COV is not LLVM $major (rustc's): the profiles would not be read" >&2
    exit 1
fi
COV=$(scripts/cargo-tool.sh cargo-llvm-cov cargo-llvm-cov "$CARGO_LLVM_COV_VERSION")

# --- run the tests instrumented ----------------------------------------------------------------
scope=(--workspace)
if [ -n "${COVERAGE_PACKAGES:-}" ]; then
    scope=()
    for p in $COVERAGE_PACKAGES; do scope+=(-p "$p"); done
fi
skips=()
for s in $SKIP; do skips+=(--skip "$s"); done
status=0
if [ "${1:-run}" != report ]; then
    scripts/dev-deps.sh
    scripts/check-migrations.sh
    "$COV" llvm-cov clean --workspace
    "$COV" llvm-cov "${scope[@]}" --no-report --no-fail-fast -- "${skips[@]}" || status=$?
fi

# --- the report, per crate --------------------------------------------------------------------
summary=$CARGO_TARGET_DIR/coverage-summary.json
"$COV" llvm-cov report --json --summary-only --output-path "$summary"
if [ "${COVERAGE_HTML:-0}" = 1 ]; then
    "$COV" llvm-cov report --html
fi
# A file belongs to the crate of its directory (services/<name>/, crates/<name>/, or a top-level
# crate); the crate's figure is the sum of its files' lines, not a mean of percentages.
jq -r --arg root "$PWD/" --arg only "${COVERAGE_PACKAGES:-}" --argjson target "$TARGET_PERCENT" '
  def crate: ltrimstr($root) | split("/") | if .[0] == "services" or .[0] == "crates" then .[1] else .[0] end;
  def dir: ltrimstr($root) | split("/") | if .[0] == "services" or .[0] == "crates" then .[0] + "/" + .[1] else .[0] end;
  # What ships gets the target; test doubles and tools do not.
  def shipped: test("^(services/|crates/(platform|events|runtime|stripe)$)");
  [.data[0].files[] | select(.filename | startswith($root))
   | {crate: (.filename | crate), dir: (.filename | dir), count: .summary.lines.count, covered: .summary.lines.covered}]
  | group_by(.dir)
  | map({dir: .[0].dir, crate: .[0].crate, count: (map(.count) | add), covered: (map(.covered) | add)})
  | map(select($only == "" or (.crate as $c | $only | split(" ") | index($c))))
  | sort_by(.dir)
  | (["crate", "lines", "covered", "line %", "target", "status"] | @tsv),
    (.[] | (if .count > 0 then (.covered * 1000 / .count | floor) / 10 else 0 end) as $pct
         | [.dir, .count, .covered, $pct,
            (if (.dir | shipped) then "\($target) %" else "-" end),
            (if (.dir | shipped) then (if $pct >= $target then "met" else "below" end) else "test support" end)]
         | @tsv),
    (map(select(.dir | shipped)) | ["shipped total", (map(.count) | add), (map(.covered) | add),
      ((map(.covered) | add) * 1000 / (map(.count) | add) | floor) / 10, "\($target) %", ""] | @tsv)
' "$summary" | column -t -s $'\t'
if [ "$status" != 0 ]; then
    echo "coverage: some tests failed (exit $status): the figures count what ran" >&2
fi
exit "$status"
