#!/bin/sh
# Verifies the roles-layout challenge on one target. One line per failed requirement.
# The expected platform text and SSH service name depend on the platform (/etc/os-release).
status=0
fail() { echo "FAIL: $*"; status=1; }

id=$(. /etc/os-release 2>/dev/null && echo "$ID")
version=$(. /etc/os-release 2>/dev/null && echo "$VERSION_ID")
case "$id:$version" in
    debian:12)     platform='Debian 12 (bookworm)';      svc=ssh ;;
    ubuntu:22.04)  platform='Ubuntu 22.04 LTS (jammy)';  svc=ssh ;;
    rocky:9|rocky:9.*) platform='Rocky Linux 9 (Blue Onyx)'; svc=sshd ;;
    *) echo "FAIL: unsupported platform '$id $version'"; exit 1 ;;
esac

if [ ! -f /etc/motd ]; then
    fail "/etc/motd does not exist"
else
    grep -qxF "Platform: $platform" /etc/motd 2>/dev/null || fail "/etc/motd lacks the line 'Platform: $platform' (per-platform value from group_vars)"
    grep -qxF "Contact: ops@example.org" /etc/motd 2>/dev/null || fail "/etc/motd lacks the line 'Contact: ops@example.org' (role default)"
    [ "$(stat -c '%U %a' /etc/motd 2>/dev/null)" = "root 644" ] || fail "/etc/motd must be owned by root with mode 0644"
fi
if [ ! -f /etc/issue.net ]; then
    fail "/etc/issue.net does not exist"
else
    [ "$(head -n 1 /etc/issue.net 2>/dev/null)" = "Authorized access only." ] || fail "/etc/issue.net must start with 'Authorized access only.'"
    grep -qF "$platform" /etc/issue.net 2>/dev/null || fail "/etc/issue.net does not name the platform '$platform'"
    [ "$(stat -c '%U %a' /etc/issue.net 2>/dev/null)" = "root 644" ] || fail "/etc/issue.net must be owned by root with mode 0644"
fi
[ -f /etc/ssh/sshd_config.d/10-banner.conf ] || fail "the drop-in /etc/ssh/sshd_config.d/10-banner.conf does not exist"
mkdir -p /run/sshd 2>/dev/null
sshd=$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd)
if ! "$sshd" -t >/dev/null 2>&1; then
    fail "sshd -t rejects the SSH server configuration"
else
    "$sshd" -T 2>/dev/null | grep -qix 'banner /etc/issue.net' || fail "sshd's effective configuration (sshd -T) has no 'banner /etc/issue.net'"
fi
systemctl is-active -q "$svc" 2>/dev/null || fail "the SSH service $svc is not started"

[ $status -eq 0 ] && echo "ok: motd and banner for '$platform', sshd shows /etc/issue.net, $svc started"
exit $status
