#!/bin/sh
# Verifies the nginx-static challenge on one target. One line per failed requirement.
status=0
fail() { echo "FAIL: $*"; status=1; }

dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q 'install ok installed' || fail "package nginx is not installed"
if [ "$(cat /var/www/html/index.html 2>/dev/null)" != "Hello from sandbox" ]; then
    fail "/var/www/html/index.html does not contain 'Hello from sandbox'"
fi
[ "$(stat -c '%U %a' /var/www/html/index.html 2>/dev/null)" = "root 644" ] || fail "/var/www/html/index.html must be owned by root with mode 0644"
command -v nginx >/dev/null 2>&1 && { nginx -t >/dev/null 2>&1 || fail "nginx -t rejects the configuration"; }
systemctl is-active -q nginx || fail "nginx is not started"
systemctl is-enabled -q nginx || fail "nginx is not enabled"

[ $status -eq 0 ] && echo "ok: nginx installed, page in place, service started and enabled"
exit $status
