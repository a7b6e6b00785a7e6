#!/bin/sh
# What goss.yaml cannot express for the nginx-template-handler challenge: the running nginx
# must have picked up the current app.conf, so its last (re)start must not be older than the
# file's last change (that is the handler's job). One line per failed requirement.
status=0
fail() { echo "FAIL: $*"; status=1; }

CONF=/etc/nginx/sites-available/app.conf
if [ -f "$CONF" ] && systemctl is-active -q nginx 2>/dev/null; then
    since=$(systemctl show -P ActiveEnterTimestamp nginx 2>/dev/null)
    since_s=$(date -d "$since" +%s 2>/dev/null)
    conf_s=$(stat -c %Y "$CONF" 2>/dev/null)
    if [ -n "$since_s" ] && [ -n "$conf_s" ] && [ "$since_s" -lt "$conf_s" ]; then
        fail "nginx was not restarted after $CONF last changed (notify a handler that restarts nginx)"
    fi
fi

[ $status -eq 0 ] && echo "ok: nginx (re)started after app.conf last changed"
exit $status
