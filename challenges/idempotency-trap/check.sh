#!/bin/sh
# Verifies the idempotency-trap challenge on one target. One line per failed requirement.
# (That pass 2 reports changed=0 is checked by the run itself.)
status=0
fail() { echo "FAIL: $*"; status=1; }

PROFILE=/etc/profile.d/app.sh
KEY=/etc/app/secret.key
# The key's checksum seen by the previous check (after pass 1): a new key means it was regenerated.
SEEN=/var/tmp/.idempotency-trap-key.sha256

# 1. profile line, exactly once
if [ -f "$PROFILE" ]; then
    [ "$(stat -c '%U %a' "$PROFILE" 2>/dev/null)" = "root 644" ] || fail "$PROFILE must be owned by root with mode 0644"
    n=$(grep -cx 'export APP_ENV=prod' "$PROFILE" 2>/dev/null)
    if [ "${n:-0}" -eq 0 ]; then
        fail "$PROFILE has no line 'export APP_ENV=prod'"
    elif [ "$n" -gt 1 ]; then
        fail "$PROFILE has the line 'export APP_ENV=prod' $n times: each run appended it again"
    fi
    [ "$(sh -c ". $PROFILE >/dev/null 2>&1; echo \"\$APP_ENV\"")" = prod ] || fail "sourcing $PROFILE does not set APP_ENV=prod"
else
    fail "$PROFILE does not exist"
fi

# 2. secret key: private, well-formed, generated once
[ "$(stat -c '%F %U %a' /etc/app 2>/dev/null)" = "directory root 700" ] || fail "/etc/app must be a directory owned by root with mode 0700"
if [ -f "$KEY" ]; then
    [ "$(stat -c '%U %a' "$KEY" 2>/dev/null)" = "root 600" ] || fail "$KEY must be owned by root with mode 0600"
    if [ "$(wc -l <"$KEY" 2>/dev/null)" -eq 1 ] && grep -Eqx '[0-9a-f]{64}' "$KEY" 2>/dev/null; then
        sum=$(sha256sum <"$KEY" 2>/dev/null | cut -d' ' -f1)
        if [ -f "$SEEN" ] && [ "$(cat "$SEEN" 2>/dev/null)" != "$sum" ]; then
            fail "$KEY was replaced by a new key since the previous pass: generate it only when it does not exist"
        fi
        echo "$sum" >"$SEEN" 2>/dev/null
    else
        fail "$KEY must hold one line of 64 hexadecimal characters"
    fi
else
    fail "$KEY does not exist"
fi

# 3. migration tool installed and run
[ "$(stat -c '%U %a' /usr/local/sbin/app-migrate 2>/dev/null)" = "root 755" ] || fail "/usr/local/sbin/app-migrate must be installed, owned by root with mode 0755"
[ "$(cat /var/lib/app/schema-version 2>/dev/null)" = 3 ] || fail "/var/lib/app/schema-version is not 3: run app-migrate"

[ $status -eq 0 ] && echo "ok: APP_ENV set once, secret key private and stable, schema migrated to version 3"
exit $status
