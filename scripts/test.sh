#!/usr/bin/env bash
# Sets up the host (scripts/setup.sh) and runs the whole test suite against real Docker,
# real runsc and real Ansible. This is what `.ci/run` calls.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh --no-build
cargo build --quiet
# Build the prepared images once, up front, so parallel tests do not race to build them.
./target/debug/sandbox images build debian-11 debian-12 debian-13
./target/debug/sandbox doctor
cargo test --quiet -- --test-threads="${SANDBOX_TEST_THREADS:-2}"
# The targets' systemctl (a workspace member): its own unit tests.
cargo test --quiet -p sandbox-systemctl
# Every bundled challenge: lint, then its solution must pass and its starter must fail.
./target/debug/sandbox lint
./target/debug/sandbox test --jobs 2 --junit target/challenges-junit.xml
# The fuzz targets (tests/fuzz, a workspace of its own) must keep compiling against today's
# code and pass over their own seeds. A plain build, without cargo-fuzz's sanitizer and
# coverage, so libFuzzer only replays each seed (-runs=0); fuzzing is scripts/fuzz.sh's. It
# shares the main build's target directory: the dependencies built above are reused (a cold
# build of its own would compile them all again) and neither build invalidates the other.
# The [[bin]]s are the list of targets.
fuzz_build="${CARGO_TARGET_DIR:-target}"
if ! CARGO_TARGET_DIR="$fuzz_build" cargo build --quiet --locked --manifest-path tests/fuzz/Cargo.toml --bins; then
    echo "the fuzz targets do not build; after a dependency change refresh their lock file:" >&2
    echo "  cp Cargo.lock tests/fuzz/Cargo.lock && cargo update --workspace --manifest-path tests/fuzz/Cargo.toml" >&2
    exit 1
fi
fuzz_targets=$(awk '/^\[\[bin\]\]/ { bin = 1 } bin && sub(/^name *= */, "") { gsub(/"/, ""); print; bin = 0 }' \
    tests/fuzz/Cargo.toml)
mkdir -p "$fuzz_build/fuzz-seeds"
for target in $fuzz_targets; do
    seeds="tests/fuzz/seeds/$target"
    [ -d "$seeds" ] || { echo "fuzz target $target has no seeds in $seeds" >&2; exit 1; }
    log="$fuzz_build/fuzz-seeds/$target.log"
    if ! "$fuzz_build/debug/$target" -runs=0 -timeout=10 "$seeds" >"$log" 2>&1; then
        cat "$log" >&2
        echo "fuzz target $target fails on its seeds ($seeds)" >&2
        exit 1
    fi
done
