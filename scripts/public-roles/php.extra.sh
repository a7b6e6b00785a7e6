fcgi() { # a FastCGI request to $1 (a unix socket path, or HOST:PORT) for the script $2; expect $3 in the body
  local out
  out=$(timeout 10 python3 - "$1" "$2" <<'PY' 2>&1
import socket, struct, sys
sock, script = sys.argv[1], sys.argv[2]
def rec(t, rid, body):
    return struct.pack("!BBHHBx", 1, t, rid, len(body), 0) + body
def nv(k, v):
    k, v = k.encode(), v.encode()
    return bytes([len(k)]) + bytes([len(v)]) + k + v
params = b"".join(nv(k, v) for k, v in {
    "SCRIPT_FILENAME": script, "SCRIPT_NAME": "/check.php", "REQUEST_METHOD": "GET",
    "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "",
    "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80"}.items())
if sock.startswith("/"):
    s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sock)
else:
    host, port = sock.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), 5)
s.sendall(rec(1, 1, struct.pack("!HB5x", 1, 0)) + rec(4, 1, params) + rec(4, 1, b"") + rec(5, 1, b""))
data = b""
while True:
    c = s.recv(65536)
    if not c: break
    data += c
out = b""; i = 0
while i + 8 <= len(data):
    v, t, rid, ln, pad = struct.unpack("!BBHHB", data[i:i+7]); i += 8
    if t in (6, 7): out += data[i:i+ln]
    i += ln + pad
print(out.decode(errors="replace").replace("\r", "").strip().splitlines()[-1])
PY
)
  if printf '%s' "$out" | grep -q "$3"; then ok "php-fpm answered over $1: $out"; else fail "php-fpm did not answer over $1: $out"; fi
}
