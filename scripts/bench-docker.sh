#!/usr/bin/env bash
# What a Docker-track attempt costs, as medians of N attempts (default 5), side by side:
#   cold build    build 1 of a Dockerfile whose steps no attempt ran before (a fresh RUN)
#   write 200 MB  build 1 of a fresh RUN that writes 200 MB (what committing a layer costs)
#   cached build  build 2 of docker-non-root's solution (nothing changed: every step cached)
#   rebuild       build 2 of docker-layer-cache's solution (a source change, deps cached)
#   attempt       a whole `sandbox run --solution challenges/docker-non-root` (two builds,
#                 two runs of the image with their checks, teardown)
# Figures come from each attempt's --json (image.builds[].seconds, duration_seconds).
#
# Usage: [BASELINE=BIN [BASELINE_CHALLENGES=DIR]] scripts/bench-docker.sh [N]
#   Needs scripts/setup.sh (the builder up) and target/debug/sandbox (or SANDBOX=path).
#   BASELINE=BIN adds a column: the same attempts, interleaved, by an older sandbox binary
#   against a throwaway builder of the old kind (overlay2 store on the host's disk, plain
#   runsc, no write bound), started here on its own bridge and removed at the end: what the
#   bounded store (btrfs, a quota per step) costs. BASELINE_CHALLENGES is that binary's
#   own challenges/ (an older binary may refuse today's manifests), e.g. a `git worktree`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

N=${1:-5}
SANDBOX=${SANDBOX:-target/debug/sandbox}
work=$(mktemp -d)
baseline_pid=""
cleanup() {
    if [ -n "$baseline_pid" ]; then
        kill "$baseline_pid" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 "$baseline_pid" 2>/dev/null || break; sleep 0.5; done
        ip link del sbxbench0 2>/dev/null || true
        # overlay2 bind-mounts its data root onto itself; a killed daemon may leave it.
        umount "$work/baseline-builder/data" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The old kind of builder: its own daemon, bridge and data root, never docker0.
start_baseline_builder() {
    local root=$work/baseline-builder
    mkdir -p "$root/data" "$root/exec"
    ip link del sbxbench0 2>/dev/null || true   # a bench killed before its cleanup
    ip link add sbxbench0 type bridge
    ip addr add 10.232.0.1/24 dev sbxbench0
    ip link set sbxbench0 up
    python3 - "$root" "$(command -v runsc)" <<'EOF'
import json, sys
root, runsc = sys.argv[1:]
json.dump({
    "hosts": ["unix://" + root + "/docker.sock"], "data-root": root + "/data", "exec-root": root + "/exec",
    "pidfile": root + "/dockerd.pid", "bridge": "sbxbench0", "iptables": False, "ip-masq": False,
    "ip6tables": False, "features": {"buildkit": False}, "storage-driver": "overlay2",
    "default-runtime": "runsc-build",
    "runtimes": {"runsc-build": {"path": runsc, "runtimeArgs": ["--network=host", "--platform=ptrace", "--overlay2=none"]}},
    "default-ulimits": {"nproc": {"Name": "nproc", "Soft": 256, "Hard": 256}},
}, open(root + "/daemon.json", "w"))
EOF
    setsid dockerd --config-file "$root/daemon.json" >"$root/dockerd.log" 2>&1 </dev/null &
    baseline_pid=$!
    for _ in $(seq 1 60); do DOCKER_HOST=unix://$root/docker.sock docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker save debian:12 | DOCKER_HOST=unix://$root/docker.sock docker load >/dev/null
    baseline_socket=$root/docker.sock
}

# A one-step challenge whose RUN line is new on every attempt; `write` writes 200 MB.
for kind in cold write; do
    mkdir -p "$work/$kind/app" "$work/$kind/solution"
    printf 'track = "docker"\ntitle = "%s"\n' "$kind" > "$work/$kind/challenge.toml"
    printf '#!/bin/bash\nexit 0\n' > "$work/$kind/check.sh"
    chmod 755 "$work/$kind/check.sh"
    echo x > "$work/$kind/app/x"
done

json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# One round of every row for one binary against one builder; figures appended to $work/<row>.<column>.
round() { # column, binary, builder socket, round number, challenges directory
    local column=$1 bin=$2 socket=$3 i=$4 challenges=$5 out
    export SANDBOX_BUILDER_SOCKET=$socket
    for kind in cold write; do
        local step="RUN echo $column-$$-$i > /nonce"
        [ "$kind" = write ] && step="RUN head -c 200000000 /dev/urandom > /data-$column-$$-$i"
        printf 'FROM debian:12\n%s\nCOPY x /x\nCMD ["sleep", "infinity"]\n' "$step" > "$work/$kind/Dockerfile"
        cp "$work/$kind/Dockerfile" "$work/$kind/solution/Dockerfile"
        "$bin" run "$work/$kind" --json 2>/dev/null | json_field 'd["image"]["builds"][0]["seconds"]' >> "$work/$kind.$column"
    done
    out=$("$bin" run --solution "$challenges/docker-non-root" --json 2>/dev/null)
    json_field 'd["image"]["builds"][1]["seconds"]' <<<"$out" >> "$work/cached.$column"
    json_field 'd["duration_seconds"]' <<<"$out" >> "$work/attempt.$column"
    "$bin" run --solution "$challenges/docker-layer-cache" --json 2>/dev/null \
        | json_field 'd["image"]["builds"][1]["seconds"]' >> "$work/rebuild.$column"
}

columns=(bounded)
bounded_socket=${SANDBOX_BUILDER_SOCKET:-/run/sandbox/builder.sock}
if [ -n "${BASELINE:-}" ]; then
    # In this shell, not a $(…) subshell: cleanup needs the daemon's pid.
    start_baseline_builder
    columns+=(baseline)
fi
for i in $(seq 1 "$N"); do
    round bounded "$SANDBOX" "${bounded_socket#unix://}" "$i" challenges
    [ -z "${BASELINE:-}" ] || round baseline "$BASELINE" "$baseline_socket" "$i" "${BASELINE_CHALLENGES:-challenges}"
done

printf '\n%-14s' ""
for column in "${columns[@]}"; do printf ' %10s' "$column"; done
printf '   (median of %s, seconds; load %s; commit %s)\n' "$N" "$(bench_load 1-3)" "$(bench_commit)"
for row in cold write cached rebuild attempt; do
    printf '%-14s' "$row"
    for column in "${columns[@]}"; do printf ' %10s' "$(median < "$work/$row.$column")"; done
    printf '\n'
done
