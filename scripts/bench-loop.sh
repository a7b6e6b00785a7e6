#!/usr/bin/env bash
# The learner's loop (issues 19, 29), medians of N runs (default 5) per challenge, side by side
# in one run, `--solution --distro debian-12`:
#  (A) sandbox run on a warm set (`pool up --challenge`), under runsc
#  (P) pooled single containers (`pool up --distro`), under runsc
#  (B) cold (--no-pool) under runsc
#  (C) cold under runc                    (D) the floor: plain ansible-playbook (linear,
#      pipelining) twice from the controller image against an already-running runc target;
#      no checks, no isolation, no sandbox
# and A/D. With BASELINE=path/to/an/older/sandbox binary, (B0) is B with that binary, timed
# in the same loop, for a before/after comparison. Not a test: figures depend on the machine
# and its load. Run as root after setup.
#
# Usage: [BASELINE=BIN] scripts/bench-loop.sh [N] [CHALLENGE...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
runs=${1:-5}
shift || true
challenges=("$@")
[ ${#challenges[@]} -gt 0 ] || challenges=(challenges/idempotency-trap challenges/vault-secrets challenges/nginx-static)
bin=target/release/sandbox
[ -x "$bin" ] || cargo build --release --quiet
export SANDBOX_STATE_DIR=$(mktemp -d /tmp/sandbox-bench-state.XXXX) SANDBOX_POOL_NAMESPACE=bench-loop
cleanup() {
    "$bin" pool down >/dev/null 2>&1 || true
    docker rm -f bench-loop-target bench-loop-controller >/dev/null 2>&1 || true
    docker network rm bench-loop-net >/dev/null 2>&1 || true
    rm -rf "$SANDBOX_STATE_DIR"
}
trap cleanup EXIT
duration() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["duration_seconds"] if d["passed"] else "nan")'; }
sandbox_runs() { # binary, challenge, extra args...
    local binary=$1 challenge=$2
    shift 2
    for _ in $(seq "$runs"); do
        "$binary" run "$challenge" --solution --distro debian-12 --json "$@" 2>/dev/null | duration || echo nan
    done
}
# The pool refills in the background after each claim; a pooled run waits until it is warm
# (nothing warming: the column before the last).
pool_ready() {
    for _ in $(seq 1 240); do
        "$bin" pool status | awk 'NR > 2 && $(NF - 1) != 0 {busy = 1} END {exit busy}' && return 0
        sleep 0.5
    done
}
# A set's refill starts once its run's teardown is done: wait for a ready set of the challenge.
set_ready() {
    for _ in $(seq 1 480); do
        "$bin" pool status | awk -v name="$(basename "$1")" '$1 == "set" && $2 == name && $3 >= 1 {ok = 1} END {exit !ok}' \
            && return 0
        sleep 0.5
    done
}
set_runs() {
    "$bin" pool up --challenge "$1" --distro debian-12 --size 1 >/dev/null
    for _ in $(seq "$runs"); do
        set_ready "$1"
        "$bin" run "$1" --solution --distro debian-12 --json 2>/dev/null | duration || echo nan
    done
    "$bin" pool up --challenge "$1" --distro debian-12 --size 0 >/dev/null
}
pooled_runs() {
    for _ in $(seq "$runs"); do
        pool_ready
        "$bin" run "$1" --solution --distro debian-12 --json 2>/dev/null | duration || echo nan
    done
}

image_of() { docker images --format '{{.Repository}}:{{.Tag}} {{.CreatedAt}}' | grep "^$1:" | sort -k2 -r | head -1 | cut -d' ' -f1; }
"$bin" images build debian-12 >/dev/null
target=$(image_of sandbox/target-debian-12)
controller=$(image_of sandbox/controller)
docker network create bench-loop-net >/dev/null
docker run -d --name bench-loop-controller --runtime runc --network bench-loop-net --cpus 2 --memory 1g "$controller" sleep infinity >/dev/null
docker exec bench-loop-controller sh -c "ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519"
floor_runs() {
    docker exec bench-loop-controller rm -rf /work/challenge
    tar -C "$1" -c . | docker exec -i bench-loop-controller sh -c 'mkdir -p /work/challenge && tar -x -C /work/challenge'
    docker exec bench-loop-controller sh -c 'printf "[debian_12]\ndebian-12 ansible_host=bench-loop-target ansible_user=root ansible_python_interpreter=/usr/bin/python3\n" > /work/inventory.ini'
    local env=(-e ANSIBLE_HOST_KEY_CHECKING=False -e ANSIBLE_PIPELINING=True -e ANSIBLE_NOCOLOR=1 -e ANSIBLE_STRATEGY=linear
        -e "ANSIBLE_SSH_ARGS=-o ControlMaster=auto -o ControlPersist=120s -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no")
    for _ in $(seq "$runs"); do
        # A fresh, running, reachable target each time; only the two passes are timed.
        docker rm -f bench-loop-target >/dev/null 2>&1 || true
        docker run -d --name bench-loop-target --hostname debian-12 --runtime runc --network bench-loop-net --memory 512m --cpus 2 "$target" >/dev/null
        docker exec bench-loop-controller cat /root/.ssh/id_ed25519.pub | docker exec -i bench-loop-target sh -c 'cat > /root/.ssh/authorized_keys; chmod 600 /root/.ssh/authorized_keys'
        docker exec bench-loop-controller sh -c 'until ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@bench-loop-target true 2>/dev/null; do sleep 0.1; done'
        local start
        start=$(now)
        for _pass in 1 2; do
            docker exec "${env[@]}" -w /work/challenge bench-loop-controller ansible-playbook -i /work/inventory.ini solution/playbook.yml >/dev/null
        done
        seconds_since "$start"
    done
}

"$bin" pool up --size 1 --distro debian-12 >/dev/null
printf '%-28s %8s %8s %8s %8s %8s %6s %8s\n' challenge "A set" "P pool" "B cold" "C runc" "D floor" "A/D" "B0 base"
for challenge in "${challenges[@]}"; do
    a=$(set_runs "$challenge")
    p=$(pooled_runs "$challenge")
    b=$(sandbox_runs "$bin" "$challenge" --no-pool)
    c=$(sandbox_runs "$bin" "$challenge" --no-pool --runtime runc)
    d=$(floor_runs "$challenge")
    b0=
    [ -z "${BASELINE:-}" ] || b0=$(sandbox_runs "$BASELINE" "$challenge" --no-pool)
    ma=$(echo "$a" | median 1) mp=$(echo "$p" | median 1) mb=$(echo "$b" | median 1) mc=$(echo "$c" | median 1)
    md=$(echo "$d" | median 1)
    mb0=$([ -n "$b0" ] && echo "$b0" | median 1 || echo -)
    ratio=$(python3 -c "print(f'{$ma / $md:.2f}')" 2>/dev/null || echo nan)
    printf '%-28s %8s %8s %8s %8s %8s %6s %8s\n' "$(basename "$challenge")" "$ma" "$mp" "$mb" "$mc" "$md" "$ratio" "$mb0"
    echo "    A: $(echo $a)  P: $(echo $p)  B: $(echo $b)  C: $(echo $c)  D: $(echo $d)  B0: $(echo $b0)" >&2
done
echo "$(bench_machine), $runs runs each, medians in seconds" >&2
