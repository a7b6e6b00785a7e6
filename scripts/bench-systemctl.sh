#!/usr/bin/env bash
# Per-call cost of the targets' systemctl under gVisor: the old POSIX-sh mock against the
# static binary (mocks/sandbox-systemctl), in one debian-12 container under runsc.
#
# Each figure is the median of N calls (default 20), timed inside the container with bash's
# $EPOCHREALTIME (no exec of `date` in the measured interval), so it is what Ansible's
# modules and maintainer scripts pay per call, without docker exec's own overhead.
# Queries run in mock mode against the nginx unit; `start`/`stop` run nginx supervised, and
# "nginx alone" is the cost of the commands its unit runs (ExecStartPre= + ExecStart=, and
# ExecStop=) typed by hand, which a supervised start cannot avoid.
#
# Usage: scripts/bench-systemctl.sh [N]      (env: OLD_MOCK=path to the sh mock, RUNTIME=runsc)
# Needs: docker with runsc registered, the debian:12 base image (scripts/setup.sh), and the
# Debian archive reachable from containers (nginx is installed in the container).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

N=${1:-20}
RUNTIME=${RUNTIME:-runsc}
IMAGE=${IMAGE:-debian:12}
TARGET=x86_64-unknown-linux-gnu
name="sandbox-bench-systemctl-$$"
work=$(mktemp -d)
cleanup() {
    docker rm -f "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

say() { printf '==> %s\n' "$*" >&2; }

# ---- the two programs
say "building the binary (release, static)"
RUSTFLAGS="-C target-feature=+crt-static -C strip=symbols" CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} \
    cargo build --quiet --release -p sandbox-systemctl --target "$TARGET" --target-dir target/bench-systemctl
cp "target/bench-systemctl/$TARGET/release/sandbox-systemctl" "$work/systemctl.bin"
if [ -n "${OLD_MOCK:-}" ]; then
    cp "$OLD_MOCK" "$work/systemctl.sh"
elif [ -f mocks/systemctl ]; then
    cp mocks/systemctl "$work/systemctl.sh"
else
    # Removed from the tree: take it from the commit before the one that deleted it.
    gone=$(git rev-list -1 HEAD -- mocks/systemctl)
    git show "$gone^:mocks/systemctl" >"$work/systemctl.sh"
fi
say "old mock: $(wc -l <"$work/systemctl.sh") lines of sh; binary: $(du -k "$work/systemctl.bin" | cut -f1) KiB"

# ---- the target
say "starting a $IMAGE container under $RUNTIME"
# PID 1 reaps orphans, as the targets' init does: a daemon that exits must not linger as a
# zombie (start-stop-daemon --retry would wait its whole timeout for it).
docker run -d --name "$name" --label sandbox.bench=systemctl --runtime="$RUNTIME" "$IMAGE" \
    bash -c 'trap "exit 0" TERM; while :; do sleep 86400 & wait $!; done' >/dev/null
in_target() { docker exec -i "$name" bash -c "$1"; }
# Copied through an exec: gVisor may not show files put into a running container from outside.
in_target 'mkdir -p /opt/bench /etc/sandbox /var/lib/sandbox-systemctl /etc/systemd/system'
in_target 'cat > /opt/bench/systemctl.sh && chmod 755 /opt/bench/systemctl.sh' <"$work/systemctl.sh"
in_target 'cat > /opt/bench/systemctl.bin && chmod 755 /opt/bench/systemctl.bin' <"$work/systemctl.bin"
in_target 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
say "installing nginx in the target (apt, Debian archive)"
if in_target 'echo "deb http://deb.debian.org/debian bookworm main" > /etc/apt/sources.list &&
    rm -f /etc/apt/sources.list.d/* && apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null 2>&1'; then
    unit=nginx
    own_start="/usr/sbin/nginx -t -q -g 'daemon on; master_process on;'; /usr/sbin/nginx -g 'daemon on; master_process on;'"
    own_stop="/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid"
else
    # No archive: a small forking unit of our own stands in for nginx (and the table says so).
    say "nginx could not be installed: using benchd.service (a forking sleep) instead"
    unit=benchd
    in_target 'printf "[Unit]\nDescription=bench daemon\n[Service]\nType=forking\nPIDFile=/run/benchd.pid\nExecStart=/bin/sh -c \"sleep 86400 & echo \\$! > /run/benchd.pid\"\n[Install]\nWantedBy=multi-user.target\n" > /lib/systemd/system/benchd.service'
    own_start="/bin/sh -c 'sleep 86400 & echo \$! > /run/benchd.pid'"
    own_stop="kill \$(cat /run/benchd.pid)"
fi

# times NAME COMMAND: N timings of COMMAND (ms, one per line) inside the target.
times() {
    in_target "for i in \$(seq $N); do s=\$EPOCHREALTIME; $1 >/dev/null 2>&1; e=\$EPOCHREALTIME;
        echo \"\$s \$e\"; done" | awk '{ printf "%.1f\n", ($2 - $1) * 1000 }'
}

# start_stop: N timings each of `systemctl start` and `systemctl stop`, as "start stop" lines.
start_stop() {
    in_target "for i in \$(seq $N); do s=\$EPOCHREALTIME; systemctl start $unit >/dev/null 2>&1; m=\$EPOCHREALTIME;
        systemctl stop $unit >/dev/null 2>&1; e=\$EPOCHREALTIME; echo \"\$s \$m \$e\"; done" |
        awk '{ printf "%.1f %.1f\n", ($2 - $1) * 1000, ($3 - $2) * 1000 }'
}

own() {
    in_target "for i in \$(seq $N); do s=\$EPOCHREALTIME; $own_start >/dev/null 2>&1; m=\$EPOCHREALTIME;
        $own_stop >/dev/null 2>&1; e=\$EPOCHREALTIME; echo \"\$s \$m \$e\"; done" |
        awk '{ printf "%.1f %.1f\n", ($2 - $1) * 1000, ($3 - $2) * 1000 }'
}

load_before=$(bench_load 1-3)
declare -A result
for variant in sh bin; do
    say "measuring the $variant systemctl ($N calls each)"
    in_target "rm -rf /var/lib/sandbox-systemctl/* /var/log/sandbox-journal; for p in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do cp /opt/bench/systemctl.$variant \$p/systemctl; done"
    in_target 'echo mock > /etc/sandbox/services'
    in_target "systemctl enable $unit >/dev/null 2>&1; systemctl start $unit >/dev/null 2>&1"
    result[$variant,is-active]=$(times "systemctl is-active $unit" | median 1)
    result[$variant,show]=$(times "systemctl show $unit" | median 1)
    result[$variant,is-enabled]=$(times "systemctl is-enabled $unit -l" | median 1)
    result[$variant,list-unit-files]=$(times "systemctl list-unit-files --no-pager --type service --all" | median 1)
    result[$variant,list-units]=$(times "systemctl list-units --no-pager --type service --all --plain" | median 1)
    in_target "systemctl stop $unit >/dev/null 2>&1; echo supervised > /etc/sandbox/services"
    pairs=$(start_stop)
    result[$variant,start]=$(cut -d' ' -f1 <<<"$pairs" | median 1)
    result[$variant,stop]=$(cut -d' ' -f2 <<<"$pairs" | median 1)
    in_target "systemctl stop $unit >/dev/null 2>&1 || true; echo mock > /etc/sandbox/services"
done
pairs=$(own)
own_start_ms=$(cut -d' ' -f1 <<<"$pairs" | median 1)
own_stop_ms=$(cut -d' ' -f2 <<<"$pairs" | median 1)
true_ms=$(times /bin/true | median 1)

platform=$(docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -o -- '--platform=[a-z]*' | head -1 || true)
printf '\nsystemctl per call under %s %s, %s target, unit %s: median of %s calls, ms\n' \
    "$RUNTIME" "${platform:-}" "$IMAGE" "$unit" "$N"
# Shared build machines: the load says how much the figures are inflated.
printf 'host: %s CPUs, load average %s before, %s after; commit %s\n\n' "$(bench_cores)" "$load_before" "$(bench_load 1-3)" "$(bench_commit)"
printf '| %-52s | %9s | %9s |\n' call "sh mock" binary
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "-----------" "-----------"
row() { printf '| %-52s | %9s | %9s |\n' "$1" "${result[sh,$2]}" "${result[bin,$2]}"; }
row "is-active $unit" is-active
row "show $unit" show
row "is-enabled $unit -l" is-enabled
row "list-unit-files --type service --all" list-unit-files
row "list-units --type service --all --plain" list-units
row "start $unit (supervised)" start
row "stop $unit (supervised)" stop
printf '| %-52s | %21s |\n' "$unit alone: its start commands / its ExecStop=" "$own_start_ms / $own_stop_ms"
printf '| %-52s | %21s |\n' "/bin/true (one exec)" "$true_ms"
