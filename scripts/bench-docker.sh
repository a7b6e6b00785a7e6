#!/usr/bin/env bash
# What a Docker-track attempt costs, as medians of N attempts (default 5), side by side:
#   cold build    build 1 of a Dockerfile whose steps no attempt ran before (a fresh RUN)
#   cached build  build 2 of docker-non-root's solution (nothing changed: every step cached)
#   rebuild       build 2 of docker-layer-cache's solution (a source change, deps cached)
#   attempt       a whole `sandbox run --solution challenges/docker-non-root` (two builds,
#                 two runs of the image with their checks, teardown)
# Figures come from each attempt's --json (image.builds[].seconds, duration_seconds).
#
# Usage: scripts/bench-docker.sh [N]    Needs: scripts/setup.sh (the builder up), a built
# target/debug/sandbox (or SANDBOX=path).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${1:-5}
SANDBOX=${SANDBOX:-target/debug/sandbox}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# A one-step challenge whose RUN line is new on every attempt.
mkdir -p "$work/cold/app" "$work/cold/solution"
printf 'track = "docker"\ntitle = "cold"\n' > "$work/cold/challenge.toml"
printf '#!/bin/bash\nexit 0\n' > "$work/cold/check.sh"
chmod 755 "$work/cold/check.sh"
echo x > "$work/cold/app/x"

json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: > "$work/cold.txt"; : > "$work/cached.txt"; : > "$work/rebuild.txt"; : > "$work/attempt.txt"
for i in $(seq 1 "$N"); do
    printf 'FROM debian:12\nRUN echo %s-%s > /nonce\nCOPY x /x\nCMD ["sleep", "infinity"]\n' "$$" "$i" > "$work/cold/Dockerfile"
    cp "$work/cold/Dockerfile" "$work/cold/solution/Dockerfile"
    "$SANDBOX" run "$work/cold" --json 2>/dev/null | json_field 'd["image"]["builds"][0]["seconds"]' >> "$work/cold.txt"
    out=$("$SANDBOX" run --solution challenges/docker-non-root --json 2>/dev/null)
    json_field 'd["image"]["builds"][1]["seconds"]' <<<"$out" >> "$work/cached.txt"
    json_field 'd["duration_seconds"]' <<<"$out" >> "$work/attempt.txt"
    "$SANDBOX" run --solution challenges/docker-layer-cache --json 2>/dev/null \
        | json_field 'd["image"]["builds"][1]["seconds"]' >> "$work/rebuild.txt"
done

printf '\n%-14s %10s   (median of %s, seconds; load %s)\n' "" "median" "$N" "$(cut -d' ' -f1-3 /proc/loadavg)"
for row in cold cached rebuild attempt; do
    printf '%-14s %10s\n' "$row" "$(median < "$work/$row.txt")"
done
