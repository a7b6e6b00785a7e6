#!/bin/sh
# Verifies the nginx-template-handler challenge on one target. One line per failed requirement.
status=0
fail() { echo "FAIL: $*"; status=1; }

CONF=/etc/nginx/sites-available/app.conf
LINK=/etc/nginx/sites-enabled/app.conf

dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q 'install ok installed' || fail "package nginx is not installed"

[ "$(stat -c '%F %U %a' /srv/www/app 2>/dev/null)" = "directory root 755" ] || fail "/srv/www/app must be a directory owned by root with mode 0755"
[ "$(stat -c '%U %a' /srv/www/app/index.html 2>/dev/null)" = "root 644" ] || fail "/srv/www/app/index.html must exist, owned by root with mode 0644"

if [ -f "$CONF" ]; then
    [ "$(stat -c '%U %a' "$CONF" 2>/dev/null)" = "root 644" ] || fail "$CONF must be owned by root with mode 0644"
    grep -Eq '^[[:space:]]*listen[[:space:]]+8080;' "$CONF" || fail "$CONF has no 'listen 8080;' (app_port)"
    grep -Eq '^[[:space:]]*server_name[[:space:]]+app\.example\.test;' "$CONF" || fail "$CONF has no 'server_name app.example.test;' (app_server_name)"
    grep -Eq '^[[:space:]]*root[[:space:]]+/srv/www/app;' "$CONF" || fail "$CONF has no 'root /srv/www/app;' (app_root)"
    if grep -q '{{\|{%' "$CONF"; then fail "$CONF still contains unrendered Jinja2 ({{ ... }} or {% ... %})"; fi
else
    fail "$CONF does not exist (render it with ansible.builtin.template)"
fi

if [ -L "$LINK" ]; then
    [ "$(readlink -f "$LINK")" = "$CONF" ] || fail "$LINK does not point to $CONF"
else
    fail "$LINK is not a symlink to $CONF"
fi

command -v nginx >/dev/null 2>&1 && { nginx -t >/dev/null 2>&1 || fail "nginx -t rejects the configuration"; }
systemctl is-active -q nginx 2>/dev/null || fail "nginx is not started"
systemctl is-enabled -q nginx 2>/dev/null || fail "nginx is not enabled"

# The running nginx must have picked up the current app.conf: its last (re)start must not be
# older than the file's last change (that is the handler's job).
if [ -f "$CONF" ] && systemctl is-active -q nginx 2>/dev/null; then
    since=$(systemctl show -P ActiveEnterTimestamp nginx 2>/dev/null)
    since_s=$(date -d "$since" +%s 2>/dev/null)
    conf_s=$(stat -c %Y "$CONF" 2>/dev/null)
    if [ -n "$since_s" ] && [ -n "$conf_s" ] && [ "$since_s" -lt "$conf_s" ]; then
        fail "nginx was not restarted after $CONF last changed (notify a handler that restarts nginx)"
    fi
fi

[ $status -eq 0 ] && echo "ok: site rendered from the template, enabled, nginx -t passes, nginx started and enabled"
exit $status
