#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for N seconds each (default 30): scripts/fuzz.sh [N] [target…]
# For developers, not CI. Installs cargo-fuzz if missing. Works on stable Rust: cargo-fuzz's
# sanitizer flags are nightly-only, so RUSTC_BOOTSTRAP=1 is set for these builds only.
# New corpus entries go to $CARGO_TARGET_DIR/corpus/<target> (fuzz/corpus/ holds the seeds
# and is read, not written); crashes land in fuzz/artifacts/<target>/.
set -euo pipefail

seconds="${1:-30}"
shift || true
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [seconds] [target…]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/throughline-fuzz}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz…" >&2
  cargo install cargo-fuzz --locked
fi

cd "$root/fuzz"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

nice -n 10 cargo fuzz build

logs="$CARGO_TARGET_DIR/fuzz-logs"
mkdir -p "$logs"
failed=()
printf '%-22s %8s %12s %10s %8s  %s\n' target seconds execs exec/s cov result
for target in "${targets[@]}"; do
  work="$CARGO_TARGET_DIR/corpus/$target"
  mkdir -p "$work" "corpus/$target"
  log="$logs/$target.log"
  result=ok
  if ! nice -n 10 cargo fuzz run "$target" "$work" "corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    result="CRASH (see $log, fuzz/artifacts/$target/)"
    failed+=("$target")
  fi
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)"
  printf '%-22s %8s %12s %10s %8s  %s\n' "$target" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$result"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]}" >&2
  exit 1
fi
