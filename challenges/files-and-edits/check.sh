#!/bin/sh
# Verifies the files-and-edits challenge on one target. One line per failed requirement.
status=0
fail() { echo "FAIL: $*"; status=1; }

SSHD=/etc/ssh/sshd_config
LIMITS=/etc/security/limits.conf

# 1. system user app
entry=$(getent passwd app 2>/dev/null)
if [ -n "$entry" ]; then
    uid=$(echo "$entry" | cut -d: -f3)
    sys_max=$(awk '$1 == "SYS_UID_MAX" { print $2 }' /etc/login.defs 2>/dev/null)
    [ -n "$sys_max" ] || sys_max=999
    [ "$uid" -le "$sys_max" ] 2>/dev/null || fail "user app must be a system user (uid $uid > $sys_max)"
    [ "$(echo "$entry" | cut -d: -f7)" = /usr/sbin/nologin ] || fail "user app must have the shell /usr/sbin/nologin"
    getent group app >/dev/null 2>&1 || fail "group app does not exist"
else
    fail "user app does not exist"
fi

# 2./3. directories
for d in /srv/app /srv/app/releases; do
    [ "$(stat -c '%F %U %G %a' "$d" 2>/dev/null)" = "directory app app 750" ] || fail "$d must be a directory owned by app:app with mode 0750"
done

# 4. exact file content and mode
expected=$(printf 'APP_ENV=production\nAPP_PORT=8080\nx')
actual=$(cat /srv/app/app.env 2>/dev/null; printf x)
[ "$actual" = "$expected" ] || fail "/srv/app/app.env must contain exactly 'APP_ENV=production' and 'APP_PORT=8080' (two lines)"
[ "$(stat -c '%U %G %a' /srv/app/app.env 2>/dev/null)" = "root app 640" ] || fail "/srv/app/app.env must be owned by root:app with mode 0640"

# 5. sshd_config edits
n=$(grep -Eic '^[[:space:]]*PermitRootLogin[[:space:]]' "$SSHD" 2>/dev/null)
[ "${n:-0}" -le 1 ] || fail "$SSHD has $n active PermitRootLogin lines: replace the existing line instead of adding one"
grep -Eqi '^[[:space:]]*PermitRootLogin[[:space:]]+prohibit-password[[:space:]]*$' "$SSHD" 2>/dev/null || fail "$SSHD must set 'PermitRootLogin prohibit-password'"
n=$(grep -Eic '^[[:space:]]*PasswordAuthentication[[:space:]]' "$SSHD" 2>/dev/null)
[ "${n:-0}" -le 1 ] || fail "$SSHD has $n active PasswordAuthentication lines: replace the existing line instead of adding one"
grep -Eqi '^[[:space:]]*PasswordAuthentication[[:space:]]+no[[:space:]]*$' "$SSHD" 2>/dev/null || fail "$SSHD must set 'PasswordAuthentication no'"
if [ -x /usr/sbin/sshd ]; then
    /usr/sbin/sshd -t >/dev/null 2>&1 || fail "sshd -t rejects $SSHD"
else
    fail "/usr/sbin/sshd is missing"
fi

# 6. managed block in limits.conf
block=$(sed -n '/^# BEGIN app limits$/,/^# END app limits$/p' "$LIMITS" 2>/dev/null)
if [ -n "$block" ]; then
    [ "$(grep -c '^# BEGIN app limits$' "$LIMITS")" = 1 ] || fail "$LIMITS must hold the app limits block exactly once"
    echo "$block" | grep -Eq '^app[[:space:]]+soft[[:space:]]+nofile[[:space:]]+4096$' || fail "the app limits block must hold 'app soft nofile 4096'"
    echo "$block" | grep -Eq '^app[[:space:]]+hard[[:space:]]+nofile[[:space:]]+8192$' || fail "the app limits block must hold 'app hard nofile 8192'"
else
    fail "$LIMITS has no block between '# BEGIN app limits' and '# END app limits'"
fi
grep -q '^# End of file' "$LIMITS" 2>/dev/null || fail "$LIMITS lost its original content (edit it, do not replace it)"

[ $status -eq 0 ] && echo "ok: app user, directories, app.env, sshd_config edited (sshd -t passes), limits block in place"
exit $status
