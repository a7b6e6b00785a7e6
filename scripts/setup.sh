#!/usr/bin/env bash
# One-command host setup for sandbox: Docker engine, gVisor (runsc) registered as the
# Docker runtime `runsc`, Debian base images built with debootstrap (no registry needed),
# test tools, and the release binary, linked as /usr/local/bin/sandbox (an existing symlink
# there is replaced, a regular file never). Idempotent: a second run changes nothing.
#
# Usage: scripts/setup.sh [--no-build]   (--no-build: neither builds nor links the binary)
#   SANDBOX_RUNSC_PLATFORM=ptrace|systrap|kvm  the gVisor platform (default ptrace)
#   SANDBOX_BASE_SUITES="bullseye bookworm trixie"  which Debian base images to build
set -euo pipefail

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_binary=1
[ "${1:-}" = "--no-build" ] && build_binary=0

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts dockerd)"
if ! command -v apt-get >/dev/null 2>&1; then
    die "this script supports Debian/Ubuntu hosts. Elsewhere install: a Docker engine, gVisor runsc (2024 or newer) registered as runtime 'runsc' with runtimeArgs [\"--network=host\", \"--platform=ptrace\", \"--overlay2=root:memory\"], debootstrap; then run 'cargo build --release'."
fi

. /etc/os-release
codename=${VERSION_CODENAME:-bookworm}

apt_updated=0
apt_install() {
    local missing=()
    for pkg in "$@"; do
        [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = 'install ok installed' ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ $apt_updated -eq 0 ]; then
        say "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# --- packages ---------------------------------------------------------------------------
# socat runs the daemon-loss test, xmllint (libxml2-utils) validates JUnit reports;
# debootstrap builds base images.
# btrfs-progs: the builder's store is a btrfs filesystem whose qgroups bound each build step;
# jq reads a container's configuration in the builder's runtime (scripts/runsc-build).
apt_install docker.io debootstrap socat libxml2-utils ca-certificates python3 procps btrfs-progs jq

# gVisor: bookworm's own runsc (2022) fails statx on this kernel; the backports build works.
# Version strings look like `runsc version release-20240729.0` or `0.0~20240729.0` (Debian).
# Output is captured before matching: under pipefail, `runsc --version | grep -q` fails about
# one time in five (grep exits at the first line, runsc dies of SIGPIPE writing the second).
runsc_ok() {
    local version
    command -v runsc >/dev/null 2>&1 && version=$(runsc --version 2>/dev/null) || return 1
    grep -qE 'runsc version [^ ]*(202[4-9]|20[3-9][0-9])[01][0-9][0-3][0-9]' <<<"$version"
}
if ! runsc_ok; then
    if [ "$ID" = debian ]; then
        backports=/etc/apt/sources.list.d/sandbox-backports.list
        if [ ! -f "$backports" ]; then
            echo "deb http://deb.debian.org/debian ${codename}-backports main" >"$backports"
            apt_updated=0
        fi
        [ $apt_updated -eq 1 ] || { say "apt-get update"; apt-get update -qq; apt_updated=1; }
        say "installing runsc from ${codename}-backports"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t "${codename}-backports" runsc >/dev/null
    else
        apt_install runsc
    fi
    runsc_ok || die "runsc is older than 2024 (its statx fails on recent kernels); install a newer gVisor"
fi

# --- dockerd ----------------------------------------------------------------------------
docker_up() { docker info >/dev/null 2>&1; }
wait_for_docker() {
    for _ in $(seq 1 60); do docker_up && return 0; sleep 0.5; done
    return 1
}
if ! docker_up; then
    say "starting dockerd (log: /var/log/dockerd.log)"
    # No systemd as PID 1 on these hosts: start the daemon ourselves, detached from this shell.
    setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
    wait_for_docker || die "dockerd did not answer within 30 s; see /var/log/dockerd.log"
fi

# --- register runsc ---------------------------------------------------------------------
# The gVisor platform decides how fast process-heavy work (dpkg maintainer scripts) runs:
# measured here, a php-fpm install took 100.6 s under systrap and 29.6 s under ptrace. So the
# first setup probes: kvm where /dev/kvm exists and a sandbox there finishes a trivial
# command within 10 s (on these VMs it spins forever instead; the probe is killed), then a
# short loop of what dpkg does (fork, exec, pipes, reading files) under each candidate,
# fastest wins (measured here: ptrace ~2.0 s, systrap ~4.0 s). An existing registration is kept
# (setup stays under a second); SANDBOX_RUNSC_PLATFORM=<name> forces one.
probe_platform() { # name, timeout seconds -> milliseconds on stdout, or failure
    local start end
    start=$(date +%s%N)
    timeout -s KILL "$2" runsc --platform="$1" --network=none do /bin/sh -c \
        'for i in $(seq 40); do sh -c "cat /etc/passwd | grep root >/dev/null; ls /usr/bin >/dev/null"; done' \
        >/dev/null 2>&1 || return 1
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}
registered_platform=$(python3 -c 'import json,sys
try: args = json.load(open("/etc/docker/daemon.json"))["runtimes"]["runsc"]["runtimeArgs"]
except Exception: sys.exit(0)
print(next((a.split("=",1)[1] for a in args if a.startswith("--platform=")), ""))' 2>/dev/null || true)
if [ -n "${SANDBOX_RUNSC_PLATFORM:-}" ]; then
    platform=$SANDBOX_RUNSC_PLATFORM
elif [ -n "$registered_platform" ]; then
    platform=$registered_platform
else
    say "probing gVisor platforms (first setup only)"
    best="" best_ms="" report=""
    candidates="ptrace systrap"
    [ -e /dev/kvm ] && candidates="kvm $candidates"
    for candidate in $candidates; do
        limit=60
        [ "$candidate" = kvm ] && limit=10
        if ms=$(probe_platform "$candidate" "$limit"); then
            report="$report $candidate=${ms}ms"
            if [ -z "$best" ] || [ "$ms" -lt "$best_ms" ]; then best=$candidate best_ms=$ms; fi
        else
            report="$report $candidate=failed"
        fi
    done
    [ -n "$best" ] || die "no gVisor platform works here:$report"
    platform=$best
    say "gVisor platform: $platform (probe:$report)"
fi
runsc_path=$(command -v runsc)
daemon_json=/etc/docker/daemon.json
mkdir -p /etc/docker
changed=$(python3 - "$daemon_json" "$runsc_path" "$platform" <<'EOF'
import json, os, sys
path, runsc, platform = sys.argv[1:]
conf = {}
if os.path.exists(path) and os.path.getsize(path) > 0:
    with open(path) as f:
        conf = json.load(f)
# --network=host: without it runsc refuses to start in the root network namespace here;
# runsc then uses the container's own Docker network namespace.
# --overlay2=root:memory: the root filesystem's writes stay in the sandbox's own memory,
# charged to the container's memory limit, so a learner's write is bounded by that limit and
# never reaches the host's disk. Measured here under the default (root:self): a 512 MiB
# container wrote 1.5 GB to /var and the host disk lost 1.4 GB; under root:memory the same
# write was OOM-killed at 512 MiB and the disk did not change.
def registration(platform):
    return {"path": runsc, "runtimeArgs": ["--network=host", f"--platform={platform}", "--overlay2=root:memory"]}
# `runsc` is the chosen platform; runsc-ptrace and runsc-systrap (both work wherever runsc
# does) let `--runtime` compare platforms, as scripts/bench-packages.sh does.
want = {"runsc": registration(platform), "runsc-ptrace": registration("ptrace"), "runsc-systrap": registration("systrap")}
runtimes = conf.setdefault("runtimes", {})
if all(runtimes.get(name) == value for name, value in want.items()):
    print("no")
else:
    runtimes.update(want)
    with open(path, "w") as f:
        json.dump(conf, f, indent=2)
    print("yes")
EOF
)
if [ "$changed" = yes ]; then
    say "registered runsc (platform=$platform) in $daemon_json; reloading dockerd"
    pkill -HUP -x dockerd || true
fi
for _ in $(seq 1 40); do
    [[ $(docker info --format '{{json .Runtimes}}' 2>/dev/null) == *'"runsc"'* ]] && break
    sleep 0.25
done
[[ $(docker info --format '{{json .Runtimes}}') == *'"runsc"'* ]] || die "dockerd did not pick up the runsc runtime"

# --- base images ------------------------------------------------------------------------
declare -A tag_of=([bullseye]=debian:11 [bookworm]=debian:12 [trixie]=debian:13)
# The recipe's version, as a label on each base image: 2 = its / is 0755.
base_recipe=2
pids=()
for suite in ${SANDBOX_BASE_SUITES:-bullseye bookworm trixie}; do
    tag=${tag_of[$suite]}
    # A base image of this script's current recipe carries its label; an older one is rebuilt.
    [ "$(docker image inspect -f '{{index .Config.Labels "sandbox.base"}}' "$tag" 2>/dev/null)" = "$base_recipe" ] && continue
    # No registry on these hosts: a pull would fail, so build the image from Debian's archive.
    (
        rootfs=$(mktemp -d "/tmp/sandbox-rootfs-$suite.XXXX")
        trap 'rm -rf "$rootfs"' EXIT
        debootstrap --variant=minbase "$suite" "$rootfs" http://deb.debian.org/debian >"/tmp/debootstrap-$suite.log" 2>&1 \
            || { echo "debootstrap $suite failed; see /tmp/debootstrap-$suite.log" >&2; exit 1; }
        echo "deb http://deb.debian.org/debian $suite main" >"$rootfs/etc/apt/sources.list"
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        # mktemp made it 0700, and the tar's "./" would make the image's / so: harmless under
        # an overlay (its upper directory's mode shows), but under the builder's btrfs store a
        # non-root USER could then reach nothing ("error finding executable").
        chmod 755 "$rootfs"
        tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' -c "LABEL sandbox.base=$base_recipe" - "$tag" >/dev/null
        echo "built $tag"
    ) &
    say "building base image $tag with debootstrap"
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || die "a base image failed to build"; done

# --- the Docker track's builder -----------------------------------------------------------
# Learner Dockerfiles are built by a private dockerd of sandbox's own, never by the host's:
# - the classic builder runs every RUN under the daemon's default runtime, so this daemon's
#   default is runsc (the host daemon's default stays as it was: other containers on the
#   machine must not change runtime behind their owner's back);
# - runsc builds with --overlay2=none: under runsc's default overlay every RUN layer was
#   committed empty (gvisor issue 11559);
# - BuildKit is off: it runs RUN on the host kernel whatever the default runtime;
# - its own bridge and no iptables/NAT: it never touches docker0 (a second daemon with
#   "bridge": "none" deletes the first one's docker0), and build steps have no route out;
# - its store (data root) is a btrfs filesystem in a file of a fixed size, so the host's disk
#   can lose at most that size whatever any number of builds write (pruning keeps the cache
#   under it), and its runtime is scripts/runsc-build: runsc after a btrfs quota on the
#   container's own layer, so each build step's writes are bounded while it writes. No
#   other mechanism works on these hosts: the kernel has no XFS quotas (overlay2.size) nor
#   ext4 quota formats, and gVisor's memory overlay commits RUN layers empty.
builder_dir=/var/lib/sandbox/builder
builder_sock=/run/sandbox/builder.sock
builder_bridge=sbxbuild0
builder_config=/etc/sandbox/builder.json
builder_up() { DOCKER_HOST=unix://$builder_sock docker info >/dev/null 2>&1; }
if ! ip link show "$builder_bridge" >/dev/null 2>&1; then
    ip link add "$builder_bridge" type bridge
    ip addr add 10.231.0.1/24 dev "$builder_bridge"
    ip link set "$builder_bridge" up
fi
# Egress for the builds of a challenge that allows it (`[run] network = "egress"`; builds run
# on network none otherwise): NAT for the builder's bridge, set here because its daemon runs
# without iptables, so that it never rewrites the main daemon's rules.
builder_subnet=10.231.0.0/24
iptables -t nat -C POSTROUTING -s "$builder_subnet" ! -o "$builder_bridge" -j MASQUERADE 2>/dev/null \
    || iptables -t nat -A POSTROUTING -s "$builder_subnet" ! -o "$builder_bridge" -j MASQUERADE
forward_chain=DOCKER-USER
iptables -L "$forward_chain" -n >/dev/null 2>&1 || forward_chain=FORWARD
iptables -C "$forward_chain" -i "$builder_bridge" ! -o "$builder_bridge" -j ACCEPT 2>/dev/null \
    || iptables -I "$forward_chain" -i "$builder_bridge" ! -o "$builder_bridge" -j ACCEPT
iptables -C "$forward_chain" -o "$builder_bridge" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT 2>/dev/null \
    || iptables -I "$forward_chain" -o "$builder_bridge" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
sysctl -qw net.ipv4.ip_forward=1
builder_store=$builder_dir/data
builder_store_image=$builder_dir/store.btrfs
builder_store_size=${SANDBOX_BUILDER_STORE_SIZE:-20G}
builder_runtime=/usr/local/lib/sandbox/runsc-build
stop_builder() {
    builder_pid=$(cat "$builder_dir/dockerd.pid" 2>/dev/null || true)
    if [ -n "$builder_pid" ]; then
        kill "$builder_pid" 2>/dev/null || true
        # Gone, not only silent: a daemon still shutting down holds its pid file.
        for _ in $(seq 1 60); do kill -0 "$builder_pid" 2>/dev/null || break; sleep 0.5; done
    fi
}
mkdir -p "$builder_store" "$builder_dir/exec" /run/sandbox /etc/sandbox "$(dirname "$builder_runtime")"
install -m 0755 "$repo_root/scripts/runsc-build" "$builder_runtime"
rm -f "$(dirname "$builder_runtime")/runsc-build-quota"
# (Not `mountpoint`: a daemon on overlay2 bind-mounts its own data root onto itself.)
if [ "$(findmnt -n -o FSTYPE --target "$builder_store" | tail -n1)" != btrfs ]; then
    # A builder from before the bounded store kept its layers on the host's disk: they are
    # only a cache and the base images, which are copied in again below.
    if builder_up; then say "stopping the builder dockerd: its store moves to a bounded filesystem"; stop_builder; fi
    while findmnt -n --target "$builder_store" | grep -q " $builder_store "; do umount "$builder_store"; done
    if [ ! -f "$builder_store_image" ]; then
        say "creating the builder's store ($builder_store_size, btrfs) in $builder_store_image"
        truncate -s "$builder_store_size" "$builder_store_image"
        mkfs.btrfs -q "$builder_store_image" >/dev/null
        rm -rf "${builder_store:?}"/*
    fi
    # discard: space the store frees (a removed layer) goes back to the host's disk.
    mount -o loop,discard "$builder_store_image" "$builder_store"
fi
# Quotas on, and kept consistent: past drop_subtree_threshold levels btrfs deletes a
# subvolume (a removed image's layer) without accounting it and marks every qgroup
# inconsistent, which silently stops enforcing the limits; 8 (the most) always accounts.
store_sysfs=/sys/fs/btrfs/$(findmnt -n -o UUID --target "$builder_store" | tail -n1)/qgroups
[ -d "$store_sysfs" ] || btrfs quota enable "$builder_store"
echo 8 >"$store_sysfs/drop_subtree_threshold"
[ "$(cat "$store_sysfs/inconsistent")" = 0 ] || btrfs quota rescan -w "$builder_store" >/dev/null
python3 - "$builder_config.new" "$runsc_path" "$platform" "$builder_dir" "$builder_sock" "$builder_bridge" "$builder_runtime" <<'PYEOF'
import json, sys
path, runsc, platform, root, sock, bridge, runtime = sys.argv[1:]
conf = {
    "hosts": ["unix://" + sock],
    "data-root": root + "/data",
    "exec-root": root + "/exec",
    "pidfile": root + "/dockerd.pid",
    "bridge": bridge,
    "iptables": False,
    "ip-masq": False,
    "ip6tables": False,
    "features": {"buildkit": False},
    "storage-driver": "btrfs",
    "default-runtime": "runsc-build",
    "runtimes": {"runsc-build": {"path": runtime, "runtimeArgs": [
        "--sandbox-runsc=" + runsc, "--sandbox-store=" + root + "/data",
        "--network=host", "--platform=" + platform, "--overlay2=none"]}},
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "1"},
    # Build steps get no ulimits of their own through the classic builder's API: every
    # container of this daemon gets RLIMIT_NPROC, which gVisor enforces in the guest (the
    # fork bomb guard and the host pids cgroup stay behind it). 256: a challenge's default.
    "default-ulimits": {"nproc": {"Name": "nproc", "Soft": 256, "Hard": 256}},
}
json.dump(conf, open(path, "w"), indent=2)
PYEOF
# A configuration this script changed takes effect on a restart of the builder (its own
# daemon, nothing else runs on it between attempts).
if ! cmp -s "$builder_config.new" "$builder_config" && builder_up; then
    say "restarting the builder dockerd: its configuration changed"
    stop_builder
fi
mv "$builder_config.new" "$builder_config"
if ! builder_up; then
    say "starting the builder dockerd (log: /var/log/sandbox-builder.log)"
    setsid nohup dockerd --config-file "$builder_config" >/var/log/sandbox-builder.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do builder_up && break; sleep 0.5; done
    builder_up || die "the builder dockerd did not answer within 30 s; see /var/log/sandbox-builder.log"
fi
# No registry: the builder's FROM images are the host's base images, copied in.
for tag in debian:11 debian:12 debian:13; do
    docker image inspect "$tag" >/dev/null 2>&1 || continue
    host_id=$(docker image inspect -f '{{.Id}}' "$tag")
    builder_id=$(DOCKER_HOST=unix://$builder_sock docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    [ "$host_id" = "$builder_id" ] && continue
    say "copying $tag into the builder"
    docker save "$tag" | DOCKER_HOST=unix://$builder_sock docker load >/dev/null
done

# --- Mitogen for the controller image -------------------------------------------------
# The controller runs playbooks with Mitogen's strategy (one interpreter per host instead of
# a process per task). Its wheel is fetched here, on the host, pinned by version and sha256;
# the image build then needs no network of its own (see MITOGEN_WHEEL in src/bootstrap.rs).
mitogen_wheel=/var/lib/sandbox/wheels/mitogen-0.3.54-py2.py3-none-any.whl
mitogen_sha256=ed7f209225069cbbe0c2f25ec5e4cd88e43bcb7ae0d55c61850083c96b81591d
mitogen_ok() { [ -f "$mitogen_wheel" ] && [ "$(sha256sum "$mitogen_wheel" | cut -d' ' -f1)" = "$mitogen_sha256" ]; }
if ! mitogen_ok; then
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    say "downloading Mitogen 0.3.54 for the controller image"
    mkdir -p "$(dirname "$mitogen_wheel")"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$(dirname "$mitogen_wheel")" mitogen==0.3.54 \
        || die "could not download mitogen==0.3.54 from PyPI"
    mitogen_ok || die "$mitogen_wheel does not have the pinned sha256 $mitogen_sha256"
fi

# --- goss for the target images ------------------------------------------------------
# Checks as data (`[checks] goss`) run goss inside each target. Debian packages it from
# trixie on; it is fetched here with a private sources list and private apt state, so the
# host's apt configuration never changes. The binary is dynamically linked (glibc >= 2.34),
# and debian-11's glibc is 2.31: trixie's loader and libc go beside it, and the targets run it
# through that loader (see GOSS_WRAPPER in src/images/mod.rs). The image build reads
# these files from the host, as it reads Mitogen's wheel.
goss_dir=/var/lib/sandbox/goss
goss_version=0.4.9-2+b3
goss_sha256=6d7fe64e2a1d7c458d619bec0ecb3c551974728f7f6ba1492fa59d44c9284d40
goss_ok() {
    [ "$(cat "$goss_dir/VERSION" 2>/dev/null)" = "$goss_version" ] \
        && [ -x "$goss_dir/goss" ] && [ -f "$goss_dir/lib/ld-linux-x86-64.so.2" ] && [ -f "$goss_dir/lib/libc.so.6" ]
}
if ! goss_ok; then
    say "fetching goss $goss_version (and trixie's libc for it) from Debian's archive"
    apt_state=$(mktemp -d /tmp/sandbox-apt-trixie.XXXX)
    trap 'rm -rf "$apt_state"' EXIT
    mkdir -p "$apt_state/lists/partial" "$apt_state/cache/archives/partial" "$apt_state/debs" "$apt_state/root"
    echo "deb http://deb.debian.org/debian trixie main" >"$apt_state/sources.list"
    private_apt=(-o "Dir::Etc::SourceList=$apt_state/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$apt_state/lists" -o "Dir::Cache=$apt_state/cache" -o APT::Sandbox::User=root)
    apt-get "${private_apt[@]}" update -qq || die "apt-get update for trixie (private state) failed"
    (cd "$apt_state/debs" && apt-get "${private_apt[@]}" download -qq "goss=$goss_version" libc6) \
        || die "could not download goss $goss_version and libc6 from trixie"
    [ "$(sha256sum "$apt_state"/debs/goss_*.deb | cut -d' ' -f1)" = "$goss_sha256" ] \
        || die "goss_$goss_version.deb does not have the pinned sha256 $goss_sha256"
    for deb in "$apt_state"/debs/*.deb; do dpkg-deb -x "$deb" "$apt_state/root"; done
    rm -rf "$goss_dir.new" && mkdir -p "$goss_dir.new/lib"
    install -m 0755 "$apt_state/root/usr/bin/goss" "$goss_dir.new/goss"
    install -m 0755 "$apt_state/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$goss_dir.new/lib/"
    install -m 0644 "$apt_state/root/usr/lib/x86_64-linux-gnu/libc.so.6" "$goss_dir.new/lib/"
    echo "$goss_version" >"$goss_dir.new/VERSION"
    rm -rf "$goss_dir" && mv "$goss_dir.new" "$goss_dir"
    rm -rf "$apt_state"
    trap - EXIT
    goss_ok || die "goss was not installed into $goss_dir"
fi

# --- binary -----------------------------------------------------------------------------
if [ $build_binary -eq 1 ]; then
    say "building the release binary"
    (cd "$repo_root" && cargo build --release --quiet)
    # Put `sandbox` on PATH: a symlink to this clone's binary. An existing symlink is
    # replaced (another clone's, or a stale one); a regular file there is left alone.
    link=/usr/local/bin/sandbox
    binary=$repo_root/target/release/sandbox
    if [ -L "$link" ]; then
        if [ "$(readlink "$link")" != "$binary" ]; then
            say "pointing $link at $binary (it pointed at $(readlink "$link"))"
            ln -sfn "$binary" "$link"
        fi
    elif [ -e "$link" ]; then
        say "$link exists and is not a symlink: left alone; run $binary, or put $(dirname "$binary") first on PATH"
    else
        say "linking $link -> $binary (sandbox is on PATH)"
        mkdir -p "$(dirname "$link")"
        ln -s "$binary" "$link"
    fi
fi
say "host ready: dockerd up, runsc (platform=$platform) registered, base images present, builder up"
