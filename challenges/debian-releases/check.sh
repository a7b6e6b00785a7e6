#!/bin/sh
# Verifies the debian-releases challenge on one target. One line per failed requirement.
# The expectation depends on the Debian release: bullseye uses ntp, bookworm and later ntpsec.
status=0
fail() { echo "FAIL: $*"; status=1; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

release=$(. /etc/os-release 2>/dev/null && echo "$VERSION_ID")
[ -n "$release" ] || release=$(cut -d. -f1 /etc/debian_version 2>/dev/null)
case "$release" in
    11) pkg=ntp;    conf=/etc/ntp.conf;        svc=ntp;    other=ntpsec ;;
    12|13) pkg=ntpsec; conf=/etc/ntpsec/ntp.conf; svc=ntpsec; other= ;;
    *) echo "FAIL: unsupported release '$release' (expected Debian 11, 12 or 13)"; exit 1 ;;
esac
want='pool europe.pool.ntp.org iburst'

installed "$pkg" || fail "package $pkg is not installed (Debian $release)"
[ -n "$other" ] && installed "$other" && fail "package $other must not be installed on Debian $release (use $pkg)"
if [ ! -f "$conf" ]; then
    fail "$conf does not exist"
else
    active=$(grep -E '^[[:space:]]*(pool|server)[[:space:]]' "$conf" 2>/dev/null | sed 's/[[:space:]]*$//')
    [ "$active" = "$want" ] || fail "the only active pool/server line in $conf must be '$want' (found: $(echo "$active" | tr '\n' '|'))"
    grep -q '^[[:space:]]*driftfile' "$conf" 2>/dev/null \
        || fail "$conf lost the packaged settings such as driftfile (edit the file, do not replace it)"
fi
systemctl is-active -q "$svc" 2>/dev/null || fail "service $svc is not started"
systemctl is-enabled -q "$svc" 2>/dev/null || fail "service $svc is not enabled"

[ $status -eq 0 ] && echo "ok: Debian $release runs $pkg with '$want' in $conf, $svc started and enabled"
exit $status
