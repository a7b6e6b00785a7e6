#!/usr/bin/env bash
# Issue 6's figures, as medians over N runs (default 5) under runsc:
#  (a) cold start of a prepared target until Ansible can reach it, per distro
#  (b) hand-out latency from a warm pool
#  (c) end-to-end `sandbox run --solution` of the smallest bundled challenge, cold vs pooled
#  (d) the same playbook's two passes with plain ansible-playbook in running containers (floor)
#  (e) a run started while `pool up` is still warming, against a cold run, side by side
# PARTS picks figures (default "abcde"); BIN picks the binary (default target/release/sandbox).
# (a) and (b) are what `sandbox run` itself reports ("ready for Ansible in", "warm from the
# pool in"). Not a test: figures depend on the machine and its load. Run as root after setup.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
runs=${1:-5}
bin=${BIN:-target/release/sandbox}
[ -x "$bin" ] || cargo build --release --quiet
parts=${PARTS:-abcde}
part() { [[ $parts == *"$1"* ]]; }
duration() { python3 -c 'import json,sys; print(json.load(sys.stdin)["duration_seconds"])'; }
challenge=challenges/vault-secrets
export SANDBOX_STATE_DIR=$(mktemp -d /tmp/sandbox-bench-state.XXXX) SANDBOX_POOL_NAMESPACE=bench
work=$(mktemp -d /tmp/sandbox-bench.XXXX)
cleanup() {
    "$bin" pool down >/dev/null 2>&1 || true
    docker rm -f bench-target bench-controller >/dev/null 2>&1 || true
    docker network rm bench-net >/dev/null 2>&1 || true
    rm -rf "$work" "$SANDBOX_STATE_DIR"
}
trap cleanup EXIT
field() { # regex with one group, from stderr of a run
    python3 -c 'import re,sys; m=re.search(sys.argv[1], sys.stdin.read()); print(m.group(1) if m else "nan")' "$1"
}

"$bin" new "$work/probe" --distro debian-11 --distro debian-12 --distro debian-13 >/dev/null
if part a; then
echo "(a) cold start until Ansible reaches the target (s), median of $runs"
for distro in debian-11 debian-12 debian-13; do
    values=$(for _ in $(seq "$runs"); do
        "$bin" run "$work/probe" --solution --no-pool --distro "$distro" 2>&1 | field 'ready for Ansible in ([0-9.]+) s'
    done)
    echo "    $distro: $(echo "$values" | median 3)   [$(echo $values)]"
done

echo "(b) hand-out latency from a warm pool (ms), median of $runs"
"$bin" pool up --size 1 --distro debian-12 >/dev/null 2>&1
values=$(for _ in $(seq "$runs"); do
    "$bin" run "$work/probe" --solution --distro debian-12 2>&1 | field 'warm from the pool in ([0-9]+) ms'
done)
echo "    debian-12: $(echo "$values" | median 3)   [$(echo $values)]"

echo "(c) end-to-end run --solution of $challenge (s), median of $runs"
cold=$(for _ in $(seq "$runs"); do "$bin" run "$challenge" --solution --no-pool --distro debian-12 --json 2>/dev/null | duration; done)
pooled=$(for _ in $(seq "$runs"); do "$bin" run "$challenge" --solution --distro debian-12 --json 2>/dev/null | duration; done)
echo "    cold:   $(echo "$cold" | median 3)   [$(echo $cold)]"
echo "    pooled: $(echo "$pooled" | median 3)   [$(echo $pooled)]"
"$bin" pool down >/dev/null

echo "(d) floor: the two passes with plain ansible-playbook in running containers (s), median of $runs"
target=$(docker images --format '{{.Repository}}:{{.Tag}} {{.CreatedAt}}' | grep '^sandbox/target-debian-12:' | sort -k2 -r | head -1 | cut -d' ' -f1)
controller=$(docker images --format '{{.Repository}}:{{.Tag}} {{.CreatedAt}}' | grep '^sandbox/controller:' | sort -k2 -r | head -1 | cut -d' ' -f1)
docker network create bench-net >/dev/null
docker create --name bench-controller --runtime runsc --network bench-net --cpus 2 --memory 1g "$controller" sleep infinity >/dev/null
docker cp "$challenge" bench-controller:/work/challenge
docker start bench-controller >/dev/null
docker exec bench-controller sh -c "ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519"
docker exec bench-controller sh -c 'printf "[debian_12]\ndebian-12 ansible_host=bench-target ansible_user=root ansible_python_interpreter=/usr/bin/python3\n" > /work/inventory.ini'
env=(-e ANSIBLE_HOST_KEY_CHECKING=False -e ANSIBLE_PIPELINING=True -e ANSIBLE_NOCOLOR=1
     -e "ANSIBLE_SSH_ARGS=-o ControlMaster=auto -o ControlPersist=120s -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no")
values=$(for _ in $(seq "$runs"); do
    # A fresh, reachable target each time; only the two passes are timed.
    docker rm -f bench-target >/dev/null 2>&1 || true
    docker run -d --name bench-target --hostname debian-12 --runtime runsc --network bench-net --memory 512m --cpus 2 "$target" >/dev/null
    docker exec bench-controller cat /root/.ssh/id_ed25519.pub | docker exec -i bench-target sh -c 'cat > /root/.ssh/authorized_keys; chmod 600 /root/.ssh/authorized_keys'
    docker exec bench-controller sh -c 'until ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@bench-target true 2>/dev/null; do sleep 0.2; done'
    start=$(now)
    for pass in 1 2; do
        docker exec "${env[@]}" -w /work/challenge bench-controller ansible-playbook -i /work/inventory.ini solution/playbook.yml >/dev/null
    done
    seconds_since "$start" 3
done)
echo "    debian-12: $(echo "$values" | median 3)   [$(echo $values)]"
fi
if part e; then
echo "(e) run --solution of $challenge started while the pool is still warming vs cold (s), median of $runs"
"$bin" pool down >/dev/null 2>&1 || true
cold=() warming=()
for _ in $(seq "$runs"); do
    cold+=("$("$bin" run "$challenge" --solution --no-pool --distro debian-12 --json 2>/dev/null | duration)")
    "$bin" pool up --size 1 --distro debian-12 >/dev/null 2>&1 &
    up=$!
    # The run starts once the warm-up has begun (a container exists), as a learner's would.
    until "$bin" pool status 2>/dev/null | grep -Eq '^controller +[0-9]+ +[1-9]'; do sleep 0.1; done
    warming+=("$("$bin" run "$challenge" --solution --distro debian-12 --json 2>/dev/null | duration)")
    wait "$up" || true
    "$bin" pool down >/dev/null
done
echo "    cold:                $(printf '%s\n' "${cold[@]}" | median 3)   [${cold[*]}]"
echo "    during the warm-up:  $(printf '%s\n' "${warming[@]}" | median 3)   [${warming[*]}]"
fi
bench_machine >&2
