#!/bin/sh
# Verifies the nginx-config-fix challenge on one target. One line per failed requirement.
status=0
fail() { echo "FAIL: $*"; status=1; }
site=/etc/nginx/sites-available/shop.conf
has() { grep -qE "^[[:space:]]*$1[[:space:]]*(#.*)?\$" "$site" 2>/dev/null; }

dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q 'install ok installed' || fail "package nginx is not installed"
if [ ! -f "$site" ]; then
    fail "$site does not exist"
else
    [ "$(stat -c '%U %a' "$site" 2>/dev/null)" = "root 644" ] || fail "$site must be owned by root with mode 0644"
    has 'listen 8080;' || fail "$site lacks 'listen 8080;'"
    has 'server_name shop\.example\.test;' || fail "$site lacks 'server_name shop.example.test;'"
    has 'root /var/www/shop;' || fail "$site lacks 'root /var/www/shop;'"
    has 'try_files \$uri \$uri/ =404;' || fail "$site lacks 'try_files \$uri \$uri/ =404;'"
    has 'expires 7d;' || fail "$site lacks 'expires 7d;'"
fi
[ "$(readlink -f /etc/nginx/sites-enabled/shop.conf 2>/dev/null)" = "$site" ] || fail "/etc/nginx/sites-enabled/shop.conf is not a link to $site"
if command -v nginx >/dev/null 2>&1; then
    if nginx -t >/dev/null 2>&1; then
        nginx -T 2>/dev/null | grep -q 'server_name shop\.example\.test;' || fail "nginx does not load the shop site (server_name shop.example.test missing in nginx -T)"
    else
        fail "nginx -t rejects the configuration: $(nginx -t 2>&1 | grep -m1 emerg | sed 's/^.*\[emerg\] [0-9#]*: //')"
    fi
fi
grep -qx 'Shop is open' /var/www/shop/index.html 2>/dev/null || fail "/var/www/shop/index.html does not contain 'Shop is open'"
systemctl is-active -q nginx 2>/dev/null || fail "nginx is not started"
systemctl is-enabled -q nginx 2>/dev/null || fail "nginx is not enabled"

[ $status -eq 0 ] && echo "ok: shop site fixed and enabled, nginx -t passes, nginx started and enabled"
exit $status
