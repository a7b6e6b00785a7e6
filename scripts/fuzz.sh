#!/usr/bin/env bash
# Runs every cargo-fuzz target under tests/fuzz (or the TARGETs named) for SECONDS each
# (default 600), one after the other, and prints a table: target, seconds (as run: a finding
# ends a target's run early), executions, exec/s, coverage, findings. .ci/run only builds the
# targets and replays their seeds (scripts/test.sh); the fuzzing is this script's. See
# tests/fuzz/README.md.
#
#   scripts/fuzz.sh [SECONDS [TARGET...]]
#
# The stable toolchain is enough: RUSTC_BOOTSTRAP=1 lets it take the nightly-only flags
# cargo-fuzz passes (-Zsanitizer=address, …). Set CARGO_BUILD_JOBS=1 on a shared machine.
# Each target's working corpus is tests/fuzz/corpus/TARGET (gitignored, kept between runs; the
# committed tests/fuzz/seeds/TARGET is read alongside it); crashes, timeouts and OOMs land in
# tests/fuzz/artifacts/TARGET, the libFuzzer log in tests/fuzz/artifacts/TARGET.log. Exits 1
# when anything was found.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-600}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS [TARGET...]]   (SECONDS per target, default 600)" >&2
    exit 2
fi
shift || true

fuzz_dir=tests/fuzz
all_targets=(challenge_loader recap_parser dockerfile_reader structure_tests build_log)
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
    if ! [[ " ${all_targets[*]} " == *" $target "* ]]; then
        echo "unknown target $target (known: ${all_targets[*]})" >&2
        exit 2
    fi
done
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# Build first, so the build does not eat into the fuzzing time.
cargo fuzz build --fuzz-dir "$fuzz_dir"

rows=()
found_any=0
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    artifacts="$fuzz_dir/artifacts/$target"
    log="$fuzz_dir/artifacts/$target.log"
    mkdir -p "$corpus" "$artifacts"
    before=$(find "$artifacts" -type f | wc -l)

    echo "fuzzing $target for ${seconds}s (log: $log)" >&2
    status=0
    started=$SECONDS
    # New inputs go to the first directory; the seeds are only read.
    cargo fuzz run --fuzz-dir "$fuzz_dir" "$target" "$corpus" "$fuzz_dir/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?

    elapsed=$((SECONDS - started))
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    exec_s=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    coverage=$(grep -ao 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2 || true)
    after=$(find "$artifacts" -type f | wc -l)
    new=$((after - before))
    if [ "$new" -gt 0 ] || [ "$status" -ne 0 ]; then
        found_any=1
        # The panic's location when there is one, else libFuzzer's summary (timeout, OOM, leak…).
        what=$(grep -aoE 'panicked at [^ ]+' "$log" | head -n1 | sed 's/:$//' || true)
        [ -n "$what" ] || what=$(grep -aoE 'SUMMARY: .*' "$log" | head -n1 || true)
        findings="$new new artifact(s) in $artifacts, exit $status${what:+: $what}"
    else
        findings="none"
    fi
    rows+=("$(printf '%-18s %8s %12s %8s %9s  %s' "$target" "$elapsed" "${executions:-?}" "${exec_s:-?}" "${coverage:-?}" "$findings")")
done

printf '%-18s %8s %12s %8s %9s  %s\n' target seconds executions exec/s coverage findings
printf '%s\n' "${rows[@]}"
exit "$found_any"
