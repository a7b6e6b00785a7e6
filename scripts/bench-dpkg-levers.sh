#!/usr/bin/env bash
# Issue 19 part 4: what under gVisor makes package installs slow, and which settings a
# prepared image could carry against it. Each figure is one `apt-get install nginx php-fpm`
# in a fresh debian-12 target (the prepared image), timed after the downloads, so it is
# dpkg's unpack and configure alone; then, from the target's /var/log/dpkg.log, the packages
# whose configure step took longest.
#
# Usage: scripts/bench-dpkg-levers.sh [ROUNDS]   (env: RUNTIMES="runsc runc")
# Needs: scripts/setup.sh, a prepared debian-12 target image (`sandbox images build
# debian-12`), the Debian archive reachable from containers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
rounds=${1:-1}
runtimes=${RUNTIMES:-"runsc runc"}
image=$(docker images --format '{{.Repository}}:{{.Tag}} {{.CreatedAt}}' | grep '^sandbox/target-debian-12:' |
    sort -k2 -r | head -1 | cut -d' ' -f1)
[ -n "$image" ] || { echo "no prepared debian-12 target image: run sandbox images build debian-12" >&2; exit 1; }
name="sandbox-bench-levers-$$"
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT

# The levers: each a shell line run in the target before the install.
declare -A levers=(
    [none]=":"
    [unsafe-io]="echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/sandbox-unsafe-io"
    [no-docs]="printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' > /etc/dpkg/dpkg.cfg.d/sandbox-nodoc"
    [debconf-quiet]="echo 'debconf debconf/frontend select Noninteractive' | debconf-set-selections; echo conf_force_conffold=YES >> /etc/ucf.conf"
)

# install RUNTIME LEVER: seconds of the install, and the slowest configure steps on stderr.
install() {
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" --label sandbox.bench=levers --runtime "$1" --memory 1g --cpus 2 "$image" >/dev/null
    docker exec "$name" bash -c "echo 'deb http://deb.debian.org/debian bookworm main' > /etc/apt/sources.list
        rm -f /etc/apt/sources.list.d/*; apt-get update -qq >/dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only nginx php-fpm >/dev/null 2>&1
        ${levers[$2]}; : > /var/log/dpkg.log"
    local start seconds
    start=$(now)
    docker exec "$name" bash -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx php-fpm >/dev/null 2>&1'
    seconds=$(seconds_since "$start" 1)
    docker exec "$name" cat /var/log/dpkg.log | python3 -c '
import datetime, sys
events = [l.split() for l in sys.stdin if l.strip()]
at = lambda f: datetime.datetime.strptime(f[0] + " " + f[1], "%Y-%m-%d %H:%M:%S")
took = {}
for before, after in zip(events, events[1:]):
    if after[2:4] == ["status", "installed"]:
        took[after[4]] = took.get(after[4], 0) + (at(after) - at(before)).total_seconds()
top = sorted(took.items(), key=lambda kv: -kv[1])[:3]
print("    slowest configure: " + ", ".join("%s %.0f s" % (p.partition(chr(58))[0], s) for p, s in top), file=sys.stderr)'
    echo "$seconds"
}

printf '%-10s %-14s %s\n' runtime lever "install (s)"
for _ in $(seq "$rounds"); do
    for runtime in $runtimes; do
        for lever in none unsafe-io no-docs debconf-quiet; do
            printf '%-10s %-14s %s\n' "$runtime" "$lever" "$(install "$runtime" "$lever")"
        done
    done
done
bench_machine >&2
