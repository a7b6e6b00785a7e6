#!/usr/bin/env bash
# Runs widely used public roles as challenges in supervised mode, on debian-12 and debian-13,
# with the default limits: each role's molecule converge playbook (scripts/public-roles/
# ROLE.converge.yml, trimmed of what only molecule or RedHat needs) is the solution, and a
# check.sh (common.sh + ROLE.check.sh) wants the package installed, the daemon running and
# active and enabled, its port listening and a real answer on it, after both passes.
#
#   scripts/public-roles.sh ROLES_DIR [ROLE ...]
#
# ROLES_DIR holds checkouts of geerlingguy's roles named by role: ROLES_DIR/nginx is
# https://github.com/geerlingguy/ansible-role-nginx, and so on for apache, redis, php,
# memcached, postfix, git (the default list). Prints a line per role; the reports are kept in
# target/public-roles/ROLE.json (the live output beside it, ROLE.log).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
roles_dir=$(realpath "$1")
shift
roles=("$@")
[ ${#roles[@]} -gt 0 ] || roles=(nginx apache redis php memcached postfix git)
sandbox=${SANDBOX:-target/release/sandbox}
gen=scripts/public-roles
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p target/public-roles

make_challenge() {
    local role=$1 dir=$work/$1
    mkdir -p "$dir/solution/roles"
    cp -a "$roles_dir/$role" "$dir/solution/roles/geerlingguy.$role"
    rm -rf "$dir/solution/roles/geerlingguy.$role"/{molecule,.github,.git}
    cp "$gen/$role.converge.yml" "$dir/solution/playbook.yml"
    cat >"$dir/challenge.toml" <<T
title = "Public role: geerlingguy.$role"
topic = "public roles"
difficulty = "hard"
hints = ["Apply the role geerlingguy.$role."]
distros = ["debian-12", "debian-13"]

[run]
timeout = "30m"
services = "supervised"
T
    printf '# geerlingguy.%s\n\nInstall and start it with the public role.\n' "$role" >"$dir/README.md"
    printf -- '- hosts: all\n  tasks: []\n' >"$dir/playbook.yml"
    { cat "$gen/common.sh"; cat "$gen/$role.extra.sh" 2>/dev/null || true; cat "$gen/$role.check.sh"; echo finish; } >"$dir/check.sh"
    chmod +x "$dir/check.sh"
}

for role in "${roles[@]}"; do
    make_challenge "$role"
    report=target/public-roles/$role.json
    start=$(date +%s.%N)
    status=0
    "$sandbox" run --solution "$work/$role" --no-pool --json >"$report" 2>"${report%.json}.log" || status=$?
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    verdicts=$(jq -r '[.platforms[] | "\(.distro) \(.verdict)"] | join(", ")' "$report" 2>/dev/null || echo "no report")
    printf '%-10s exit %d  %6.1f s  %s\n' "$role" "$status" "$seconds" "$verdicts"
done
