#!/bin/sh
# Verifies the cron-and-timer challenge on one target. One line per failed requirement.
status=0
fail() { echo "FAIL: $*"; status=1; }

SERVICE=/etc/systemd/system/app-backup.service
TIMER=/etc/systemd/system/app-backup.timer
JOB='30 2 * * * find /var/tmp -type f -mtime +7 -delete'

# 1. cron installed and running
dpkg-query -W -f='${Status}' cron 2>/dev/null | grep -q 'install ok installed' || fail "package cron is not installed"
systemctl is-active -q cron 2>/dev/null || fail "cron is not started"
systemctl is-enabled -q cron 2>/dev/null || fail "cron is not enabled"

# 2. root's crontab
if command -v crontab >/dev/null 2>&1; then
    tab=$(crontab -l -u root 2>/dev/null)
    echo "$tab" | grep -qxF "$JOB" || fail "crontab -l -u root has no line '$JOB'"
    echo "$tab" | grep -qxF '#Ansible: nightly cleanup' || fail "root's cron job is not named 'nightly cleanup'"
    [ "$(echo "$tab" | grep -cF 'find /var/tmp -type f -mtime +7 -delete')" -le 1 ] || fail "root's crontab holds the clean-up job more than once"
else
    fail "crontab is not available (install cron)"
fi

# 3. service unit
if [ -f "$SERVICE" ]; then
    [ "$(stat -c '%U %a' "$SERVICE" 2>/dev/null)" = "root 644" ] || fail "$SERVICE must be owned by root with mode 0644"
    grep -qx 'Type=oneshot' "$SERVICE" || fail "$SERVICE has no 'Type=oneshot'"
    grep -qxF 'ExecStart=/usr/bin/tar -czf /var/backups/etc.tar.gz -C / etc' "$SERVICE" || fail "$SERVICE has not the required ExecStart="
else
    fail "$SERVICE does not exist"
fi

# 4. timer unit
if [ -f "$TIMER" ]; then
    [ "$(stat -c '%U %a' "$TIMER" 2>/dev/null)" = "root 644" ] || fail "$TIMER must be owned by root with mode 0644"
    grep -qxF 'OnCalendar=*-*-* 03:15:00' "$TIMER" || fail "$TIMER has no 'OnCalendar=*-*-* 03:15:00'"
    grep -qx 'Persistent=true' "$TIMER" || fail "$TIMER has no 'Persistent=true'"
    grep -qx '\[Install\]' "$TIMER" || fail "$TIMER has no [Install] section"
    grep -qx 'WantedBy=timers.target' "$TIMER" || fail "$TIMER has no 'WantedBy=timers.target'"
else
    fail "$TIMER does not exist"
fi

# 5. timer enabled and started
systemctl is-enabled -q app-backup.timer 2>/dev/null || fail "app-backup.timer is not enabled"
systemctl is-active -q app-backup.timer 2>/dev/null || fail "app-backup.timer is not started"
[ "$(systemctl is-enabled app-backup.service 2>/dev/null)" = enabled ] && fail "app-backup.service is enabled: only the timer should be"

[ $status -eq 0 ] && echo "ok: cron running with root's nightly cleanup, app-backup.timer and its oneshot service in place, timer enabled and started"
exit $status
