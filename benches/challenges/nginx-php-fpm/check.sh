#!/bin/sh
status=0
fail() { echo "FAIL: $*"; status=1; }
for pkg in nginx php-fpm; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || fail "package $pkg is not installed"
done
for unit in nginx php8.2-fpm; do
    systemctl is-active -q "$unit" || fail "$unit is not started"
done
[ $status -eq 0 ] && echo "ok: nginx and php-fpm installed and started"
exit $status
