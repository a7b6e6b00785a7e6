#!/usr/bin/env bash
# Issue 10's figures: one full double-pass `sandbox run --solution` of a package-heavy
# challenge (nginx + php-fpm, benches/challenges/nginx-php-fpm) under runc, under runsc with
# gVisor's default platform (systrap) and under runsc as registered by setup (the platform
# the probe chose), each with and without the prepared package layer. Prints medians.
# Not a test: figures depend on the machine and its load. Usage: scripts/bench-packages.sh
# [runs per configuration, default 3]; BENCH_RUNTIMES="runc runsc" picks configurations.
# Run as root after scripts/setup.sh (which also registers runsc-systrap, gVisor's default
# platform, for this comparison).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
runs=${1:-3}
bin=target/release/sandbox
[ -x "$bin" ] || cargo build --release --quiet

chosen=$(docker info --format '{{json .Runtimes}}' | python3 -c 'import json,sys; a=json.load(sys.stdin)["runsc"].get("runtimeArgs") or []; print(next((x.split("=",1)[1] for x in a if x.startswith("--platform=")), "systrap"))')

work=$(mktemp -d /tmp/sandbox-bench.XXXX)
trap 'rm -rf "$work"' EXIT
cp -r benches/challenges/nginx-php-fpm "$work/with-layer"
cp -r benches/challenges/nginx-php-fpm "$work/without-layer"
python3 - "$work/without-layer/challenge.toml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
open(path, "w").write(text[: text.index("[prepare]")])
PY
# Build the layer once, untimed.
"$bin" run "$work/with-layer" --solution --runtime runc --no-pool >/dev/null 2>&1 || true

printf '%-26s %-14s %s\n' "runtime (platform)" "package layer" "median of $runs (s)   all"
for runtime in ${BENCH_RUNTIMES:-runc runsc-systrap runsc}; do
    case $runtime in
        runc) label="runc";;
        runsc-systrap) label="runsc (systrap)";;
        runsc) label="runsc ($chosen, chosen)";;
    esac
    for variant in without-layer with-layer; do
        times=()
        for _ in $(seq "$runs"); do
            seconds=$("$bin" run "$work/$variant" --solution --runtime "$runtime" --no-pool --json 2>/dev/null \
                | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["duration_seconds"] if r["passed"] else "failed")' \
                || true)  # a failed run is recorded as such, not the end of the benchmark
            times+=("$seconds")
        done
        median=$(printf '%s\n' "${times[@]}" | median 1 failed)
        printf '%-26s %-14s %-22s %s\n' "$label" "${variant%-layer}" "$median" "${times[*]}"
    done
done
bench_machine >&2
