#!/bin/sh
# Verifies the users-sudo challenge on one target. One line per failed requirement.
status=0
fail() { echo "FAIL: $*"; status=1; }

KEY='AAAAC3NzaC1lZDI1NTE5AAAAILsunHXC7UjGl9cHr4XAkPe20TXL7twXlEIYQEMnC+nN'
DROPIN=/etc/sudoers.d/deploy

# 1. sudo installed (dpkg on the Debian family, rpm on the RedHat family)
if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' sudo 2>/dev/null | grep -q 'install ok installed' || fail "package sudo is not installed"
else
    rpm -q sudo >/dev/null 2>&1 || fail "package sudo is not installed"
fi

# 2. group
getent group deploy >/dev/null 2>&1 || fail "group deploy does not exist"

# 3. users
for u in alice bob; do
    entry=$(getent passwd "$u" 2>/dev/null)
    if [ -z "$entry" ]; then
        fail "user $u does not exist"
        continue
    fi
    shell=$(echo "$entry" | cut -d: -f7)
    home=$(echo "$entry" | cut -d: -f6)
    [ "$shell" = /bin/bash ] || fail "user $u must have the shell /bin/bash (has '$shell')"
    [ -n "$home" ] && [ "$(stat -c '%F %U' "$home" 2>/dev/null)" = "directory $u" ] || fail "home directory of $u ($home) was not created (or is not owned by $u)"
    id -nG "$u" 2>/dev/null | tr ' ' '\n' | grep -qx deploy || fail "user $u is not a member of group deploy"
done

# 4. alice's key
ahome=$(getent passwd alice 2>/dev/null | cut -d: -f6)
if [ -n "$ahome" ]; then
    [ "$(stat -c '%F %U %a' "$ahome/.ssh" 2>/dev/null)" = "directory alice 700" ] || fail "$ahome/.ssh must be a directory owned by alice with mode 0700"
    if [ -f "$ahome/.ssh/authorized_keys" ]; then
        [ "$(stat -c '%U %a' "$ahome/.ssh/authorized_keys" 2>/dev/null)" = "alice 600" ] || fail "$ahome/.ssh/authorized_keys must be owned by alice with mode 0600"
        grep -q "^ssh-ed25519 $KEY" "$ahome/.ssh/authorized_keys" 2>/dev/null || fail "alice's authorized_keys does not hold the key from files/alice.pub"
    else
        fail "alice has no ~/.ssh/authorized_keys"
    fi
else
    fail "alice's SSH key cannot be checked: user alice does not exist"
fi

# 5./6. sudoers drop-in
if [ -f "$DROPIN" ]; then
    [ "$(stat -c '%U %a' "$DROPIN" 2>/dev/null)" = "root 440" ] || fail "$DROPIN must be owned by root with mode 0440"
    if command -v visudo >/dev/null 2>&1; then
        visudo -cf "$DROPIN" >/dev/null 2>&1 || fail "visudo -cf $DROPIN rejects the file"
    fi
    grep -Eq '^[[:space:]]*%deploy[[:space:]].*NOPASSWD:[[:space:]]*/usr/bin/systemctl[[:space:]]*$' "$DROPIN" || fail "$DROPIN has no line '%deploy ALL=(root) NOPASSWD: /usr/bin/systemctl'"
    if command -v sudo >/dev/null 2>&1 && getent passwd alice >/dev/null 2>&1; then
        sudo -l -U alice 2>/dev/null | grep -Eq 'NOPASSWD:[[:space:]]*/usr/bin/systemctl' || fail "sudo -l -U alice does not allow /usr/bin/systemctl without a password"
        sudo -l -U alice 2>/dev/null | grep -Eq '\)[[:space:]]+(NOPASSWD:[[:space:]]*)?ALL[[:space:]]*$' && fail "alice may run any command with sudo: allow only /usr/bin/systemctl"
    fi
else
    fail "$DROPIN does not exist"
fi

[ $status -eq 0 ] && echo "ok: sudo installed, deploy group, alice and bob with bash and homes, alice's key, sudoers drop-in valid"
exit $status
