#!/usr/bin/env bash
# `make fuzz`: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each (60 by default; `make test`
# runs a 5-second smoke of each). Needs the nightly toolchain (rustup); installs cargo-fuzz if it
# is missing. Seeds are committed in fuzz/seeds/<target>; what libFuzzer finds goes to
# fuzz/corpus/<target> (not committed) and a crash to fuzz/artifacts/<target>/, which fails the
# run: turn the artifact into a regression test (docs/security.md says how).
# FUZZ_TARGETS (space-separated) picks some targets.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_LC_SYS_USE_SYSTEM=0
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/monetization/fuzz-target}
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: installing the nightly toolchain" >&2
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi
cd fuzz
targets=${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}
cargo +nightly fuzz build --target-dir "$TARGET_DIR" $targets >/dev/null 2>&1 ||
  cargo +nightly fuzz build --target-dir "$TARGET_DIR"
status=0
printf '%-18s %12s %8s %8s  %s\n' target executions "exec/s" "cov" result
for t in $targets; do
  mkdir -p "corpus/$t"
  log=$(mktemp)
  if cargo +nightly fuzz run --target-dir "$TARGET_DIR" "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see fuzz/artifacts/$t)"
    status=1
    tail -40 "$log" >&2
  fi
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  speed=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  printf '%-18s %12s %8s %8s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "$result"
  rm -f "$log"
done
exit $status
