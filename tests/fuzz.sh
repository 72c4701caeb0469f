#!/usr/bin/env bash
# Fuzz every parser at the edge (crates/fuzz, cargo-fuzz on the nightly toolchain), each
# target for a bounded time, from the seed corpora kept in crates/fuzz/corpus. New inputs
# the fuzzer finds go to target/fuzz/corpus (never into the repository); a crash stops the
# run with its input saved under target/fuzz/artifacts and a non-zero exit.
#
#   bash tests/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(canon forwarded_headers login_json codes webauthn_json config_toml breach_filter pam_answers)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
export CARGO_TARGET_DIR="$PWD/target/fuzz"
echo "== building the fuzz targets (nightly, release, coverage instrumentation)"
cargo +nightly fuzz build --fuzz-dir crates/fuzz --sanitizer none
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
summary=()
for t in "${targets[@]}"; do
  work="$CARGO_TARGET_DIR/corpus/$t"
  artifacts="$CARGO_TARGET_DIR/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  log="$CARGO_TARGET_DIR/$t.log"
  echo "== $t: ${seconds} s"
  if ! "$bin/$t" "$work" "crates/fuzz/corpus/$t" -max_total_time="$seconds" \
      -artifact_prefix="$artifacts/" -print_final_stats=1 -close_fd_mask=3 >"$log" 2>&1; then
    echo "!! $t crashed; the input is in $artifacts:" >&2
    tail -40 "$log" >&2
    exit 1
  fi
  runs="$(awk '/stat::number_of_executed_units/ {print $2}' "$log")"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')"
  summary+=("$(printf '%-18s %12s executions  %6s edges' "$t" "${runs:-?}" "${cov:-?}")")
done
echo "== fuzzing passed"
printf '%s\n' "${summary[@]}"
