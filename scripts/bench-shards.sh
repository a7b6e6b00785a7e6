#!/usr/bin/env bash
# `sandbox test` over the bundled challenges as CI shards would run it (issue 16), one after
# the other on this machine, side by side in one run:
#   1 shard                      every challenge in one `sandbox test`
#   2 shards, by count           --partition 1/2 then 2/2
#   2 shards, by --durations     the same, balanced by an untimed warm-up run's durations
# For each: the sum of the shards' wall times and the longest shard (what a CI matrix of two
# runners would wait for). Not a test: one run each, figures depend on the machine's load.
#
# Usage: scripts/bench-shards.sh [DIR]    (default: challenges). Needs scripts/setup.sh and a
# built binary (SANDBOX=path, default target/release/sandbox).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

dir=${1:-challenges}
SANDBOX=${SANDBOX:-target/release/sandbox}
[ -x "$SANDBOX" ] || cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# One `sandbox test` with the given flags; prints its wall seconds and how many challenges ran.
shard() {
    local start out
    start=$(now)
    out=$("$SANDBOX" test "$dir" --json "$@" 2>/dev/null) || { echo "a shard failed: $*" >&2; exit 1; }
    local seconds count
    seconds=$(seconds_since "$start" 1)
    count=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["challenges"]))' <<<"$out")
    echo "$seconds $count"
}
# Sum and longest of the shards' "seconds count" lines on stdin.
totals() { awk '{sum += $1; if ($1 > max) max = $1; list = list sprintf("%s s (%d), ", $1, $2)} END {printf "%.1f %.1f %s\n", sum, max, substr(list, 1, length(list) - 2)}'; }

# Untimed: fills every cache a first run builds (prepared images per distro, package layers,
# the builder's layer cache), which would otherwise count against whichever layout ran first,
# and records the durations the balanced layout reads.
echo "warming up: one untimed sandbox test (its durations are saved for --durations)" >&2
shard --save-durations "$work/durations.json" >/dev/null
one=$(shard | totals)
by_count=$(for k in 1 2; do shard --partition "$k/2"; done | totals)
by_durations=$(for k in 1 2; do shard --partition "$k/2" --durations "$work/durations.json"; done | totals)

printf '%-26s %8s %9s   %s\n' layout "sum s" "longest s" "shards: seconds (challenges)"
for row in "1 shard|$one" "2 shards, by count|$by_count" "2 shards, by durations|$by_durations"; do
    name=${row%%|*} figures=${row#*|}
    read -r sum max list <<<"$figures"
    printf '%-26s %8s %9s   %s\n' "$name" "$sum" "$max" "$list"
done
bench_machine >&2
