#!/bin/bash
# Probe for docker-non-root (runs in the app's network namespace): GET / must answer 200
# with a body holding "hello from docker-non-root". One line on stdout; exit 0 = pass.
host=${APP_HOST:-127.0.0.1}
port=${APP_PORT:-8080}
expected="hello from docker-non-root"

if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
    echo "FAIL: nothing accepts connections on $host:$port (does the app listen on 0.0.0.0:$port?)"
    exit 1
fi
printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
response=$(timeout 5 cat <&3)
exec 3<&-
if [ -z "$response" ]; then
    echo "FAIL: GET / got no response from $host:$port within 5 s"
    exit 1
fi

status=${response%%$'\r'*}
case $status in
    "HTTP/1."?" 200"*) ;;
    *) echo "FAIL: GET / answered '${status:-nothing}', expected status 200"; exit 1 ;;
esac
body=${response#*$'\r\n\r\n'}
body=${body%$'\n'}
if [[ $body != *"$expected"* ]]; then
    echo "FAIL: GET / answered '$body', expected '$expected'"
    exit 1
fi
echo "ok: GET / answered 200 '$body'"
