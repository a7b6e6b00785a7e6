#!/bin/sh
# Verifies the vault-secrets challenge on one target. One line per failed requirement.
# The expected password is known only by its SHA-256 hash.
status=0
fail() { echo "FAIL: $*"; status=1; }
conf=/etc/app/db.conf
want_hash=79317608ef8aefb32ca57e1b4599a1942e70f5cbd6d55b2ac043f34d912838b3

[ -d /etc/app ] || fail "directory /etc/app does not exist"
[ -d /etc/app ] && { [ "$(stat -c '%U %a' /etc/app 2>/dev/null)" = "root 750" ] || fail "/etc/app must be owned by root with mode 0750"; }
if [ ! -f "$conf" ]; then
    fail "$conf does not exist"
else
    [ "$(stat -c '%U %G %a' "$conf" 2>/dev/null)" = "root root 600" ] || fail "$conf must be owned by root:root with mode 0600 (it is $(stat -c '%U:%G %a' "$conf" 2>/dev/null))"
    setting() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$conf" 2>/dev/null | sed 's/[[:space:]]*$//' | head -n 1; }
    grep -qx '\[database\]' "$conf" 2>/dev/null || fail "$conf lacks the [database] section"
    [ "$(setting host)" = "db.internal.example" ] || fail "$conf: host must be db.internal.example"
    [ "$(setting port)" = "5432" ] || fail "$conf: port must be 5432"
    [ "$(setting name)" = "shop" ] || fail "$conf: name must be shop"
    [ "$(setting user)" = "shop_app" ] || fail "$conf: user must be shop_app"
    password=$(setting password)
    if [ -z "$password" ]; then
        fail "$conf has no password setting"
    elif printf '%s' "$password" | grep -q 'ANSIBLE_VAULT'; then
        fail "$conf holds the still-encrypted vault text, not the decrypted password"
    elif [ "$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)" != "$want_hash" ]; then
        fail "$conf: password is not the decrypted db_password from vars/secrets.yml"
    fi
fi

[ $status -eq 0 ] && echo "ok: $conf rendered with the vaulted password, root:root 0600"
exit $status
