#!/bin/bash
# Runs as root inside each target after each pass. One FAIL line per unmet requirement.
status=0
fail() { echo "FAIL: $*"; status=1; }
ok() { echo "ok: $*"; }
pkg() { # package installed
  if dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; then ok "package $1 installed"; else fail "package $1 is not installed"; fi
}
proc() { # a process whose comm matches (regex)
  local p found=""
  for p in /proc/[0-9]*; do
    if grep -Eqx "$1" "$p/comm" 2>/dev/null; then found="${p#/proc/}"; break; fi
  done
  if [ -n "$found" ]; then ok "process $1 running (pid $found)"; else fail "no process named $1 is running"; fi
}
active() { # systemctl says active
  local s; s=$(systemctl is-active "$1" 2>&1)
  if [ "$s" = active ]; then ok "unit $1 active"; else fail "unit $1 is $s"; fi
}
enabled() {
  local s; s=$(systemctl is-enabled "$1" 2>&1)
  if [ "$s" = enabled ]; then ok "unit $1 enabled"; else fail "unit $1 is-enabled: $s"; fi
}
listening() { # TCP port in LISTEN state (IPv4 or IPv6 table)
  local hex; hex=$(printf '%04X' "$1")
  if awk -v h=":$hex" '$4=="0A" && substr($2, length($2)-4)==h {f=1} END {exit !f}' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then ok "port $1 listening"; else fail "nothing listens on TCP port $1"; fi
}
banner() { # connect to 127.0.0.1:$1, send $2 (may be empty), expect a line matching $3
  local line
  line=$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1; [ -n "$1" ] && printf "%b" "$1" >&3; IFS= read -r -t 4 l <&3; printf "%s" "$l"' _ "$2" 2>/dev/null | tr -d '\r')
  if printf '%s' "$line" | grep -Eq "$3"; then ok "port $1 answered: $line"; else fail "port $1 did not answer as expected ($3), got: '${line}'"; fi
}
http() { # an HTTP answer (any status) from 127.0.0.1:$1
  local out
  out=$(timeout 10 python3 - "$1" <<'PY' 2>&1
import sys, http.client
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", "/")
r = c.getresponse()
print(r.status, r.getheader("Server"))
PY
)
  if printf '%s' "$out" | grep -Eq '^[1-5][0-9][0-9] '; then ok "HTTP on port $1 answered: $out"; else fail "no HTTP answer on port $1: $out"; fi
}
finish() { [ $status -eq 0 ] && echo "ok: all checks passed"; exit $status; }
