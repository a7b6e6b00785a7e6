#!/usr/bin/env bash
# Soak (issue 14): N pooled runs back to back (default 30), then 3 at once, against a warm
# pool; then proves nothing leaked: no container or network of a run, no new image or
# dangling layer, and the pool back to the slots it had before. Not a test (it takes minutes
# and its figures depend on the machine); run as root after scripts/setup.sh.
#
# Usage: scripts/soak.sh [RUNS] [CHALLENGE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-30}
challenge=${2:-challenges/idempotency-trap}
bin=target/release/sandbox
[ -x "$bin" ] || cargo build --release --quiet
# A pool of its own, so the soak neither uses nor disturbs a pool the machine already has.
export SANDBOX_STATE_DIR=$(mktemp -d /tmp/sandbox-soak-state.XXXX) SANDBOX_POOL_NAMESPACE=soak
work=$(mktemp -d /tmp/sandbox-soak.XXXX)
trap '"$bin" pool down >/dev/null 2>&1 || true; rm -rf "$work" "$SANDBOX_STATE_DIR"' EXIT

run_containers() { docker ps -aq --filter label=io.sandbox.run | wc -l; }
run_networks() { docker network ls -q --filter label=io.sandbox.run | wc -l; }
images() { docker images -aq | sort -u | wc -l; }
dangling() { docker images -q --filter dangling=true | wc -l; }
# `pool status`: a state line, a header, then `kind ready warming target` per row.
pool_slots() { "$bin" pool status | awk 'NR > 2 {print $1, $2 + $3}' | sort | tr '\n' ' '; }
pool_warming() { "$bin" pool status | awk 'NR > 2 {s += $3} END {print s + 0}'; }
# The pool refills in the background after each claim: wait (bounded) until it is whole.
settle_pool() {
    local want=$1
    for _ in $(seq 1 240); do
        [ "$(pool_slots)" = "$want" ] && [ "$(pool_warming)" = 0 ] && return 0
        sleep 0.5
    done
    return 1
}
duration() { python3 -c 'import json,sys; print(json.load(sys.stdin)["duration_seconds"])'; }

"$bin" pool up --size 1 --distro debian-12 >/dev/null
pool_before=$(pool_slots)
settle_pool "$pool_before" || { echo "the pool did not warm up"; exit 1; }
containers_before=$(run_containers) networks_before=$(run_networks)
images_before=$(images) dangling_before=$(dangling)

passed=0 failed=0
: >"$work/durations"
for i in $(seq "$runs"); do
    # A learner reads the result before the next attempt; meanwhile the pool refills.
    settle_pool "$pool_before" || echo "run $i: the pool had not refilled; this run starts cold"
    if "$bin" run "$challenge" --solution --distro debian-12 --json >"$work/run-$i.json" 2>"$work/run-$i.err"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "run $i failed: $(tail -1 "$work/run-$i.err")"
    fi
    duration <"$work/run-$i.json" >>"$work/durations" || true
done
settle_pool "$pool_before" || true
echo "3 concurrent runs"
for i in 1 2 3; do
    "$bin" run "$challenge" --solution --distro debian-12 --json >"$work/concurrent-$i.json" 2>"$work/concurrent-$i.err" &
done
concurrent_failed=0
for job in $(jobs -p); do wait "$job" || concurrent_failed=$((concurrent_failed + 1)); done
settle_pool "$pool_before" || echo "the pool did not settle back to: $pool_before"

median=$(python3 -c 'import statistics,sys; v=[float(x) for x in open(sys.argv[1])]; print(f"{statistics.median(v):.1f}")' "$work/durations")
printf '\n%-34s %s\n' "what" "figure"
printf '%-34s %s\n' "sequential runs (passed/failed)" "$passed/$failed"
printf '%-34s %s\n' "sequential run, median (s)" "$median"
printf '%-34s %s\n' "concurrent runs failed" "$concurrent_failed of 3"
printf '%-34s %s\n' "run containers left" "$(( $(run_containers) - containers_before ))"
printf '%-34s %s\n' "run networks left" "$(( $(run_networks) - networks_before ))"
printf '%-34s %s\n' "new images" "$(( $(images) - images_before ))"
printf '%-34s %s\n' "new dangling layers" "$(( $(dangling) - dangling_before ))"
printf '%-34s %s\n' "pool before" "$pool_before"
printf '%-34s %s\n' "pool after" "$(pool_slots)"
