#!/bin/bash
# Check: the shell app's terminal works end to end through OnDemand's own code path, and
# a user's PUN stops on request. A cluster with login host localhost allowlists the host;
# a uid-1602 user signs in with basic auth, loads /pun/sys/shell/ssh/localhost (mod_ood_proxy
# -> sudo nginx_stage -> the user's PUN -> the Node app), takes the page's CSRF token and
# opens its WebSocket through Apache (mod_proxy_wstunnel) to the app. The WebSocket must
# upgrade (101) and carry the terminal's output, and the terminal's process (`ssh
# localhost`, which node-pty spawns) must run with the user's uid and gid. Then
# /nginx/stop (mod_ood_proxy -> nginx_stage nginx -s stop) must stop the user's PUN.
# Skips, saying why, on a build without OnDemand.
# Usage: shell-websocket.sh | --restore   (stop the PUN, remove the user, unset the keys)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=pun.bash
. "$here/pun.bash"

USER_NAME=shelluser
USER_ID=1602
AUTH_DIR=/etc/ondemand-check-shell
PASSWORD=shell-password-$RANDOM
CLUSTER=checklocal

check_begin shell-websocket --root --installed \
    --restore-with signin_end "$USER_NAME" "$AUTH_DIR" "clusters.$CLUSTER" -- "$@"
require_ondemand "the shell app through the front proxy"
[ "$(snap_option portal.auth.type)" = "<unset>" ] || fail "precondition: portal.auth.type is already set"
defer_restore

signin_begin "$USER_NAME" "$USER_ID" "$AUTH_DIR" "$PASSWORD" "clusters.$CLUSTER.login.host=localhost"
port=$(portal_port)

page=/pun/sys/shell/ssh/localhost
say "shell-websocket: $USER_NAME opens $page and its terminal's WebSocket"
# The client is Python's standard library only (the test machine has python3): the page,
# the handshake with the page's CSRF token, then whatever the terminal sends for a while,
# while the process check below runs. Prints `status`, `token`, `upgrade`, `bytes` lines.
report=$(mktemp)
defer rm -f "$report"
python3 - "$port" "$page" "$USER_NAME" "$PASSWORD" >"$report" 2>&1 <<'PY' &
import base64, os, re, socket, sys, time, urllib.request
port, page, user, password = sys.argv[1:]
auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
request = urllib.request.Request(f"http://127.0.0.1:{port}{page}", headers={"Authorization": auth})
with urllib.request.urlopen(request, timeout=60) as answer:
    body = answer.read().decode()
    print("status", answer.status, flush=True)
match = re.search(r'csrf=([^"&]+)"', body)
print("token", "found" if match else "missing", flush=True)
if not match:
    sys.exit(1)
key = base64.b64encode(os.urandom(16)).decode()
conn = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
conn.sendall((f"GET {page}?csrf={match.group(1)} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
              f"Authorization: {auth}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = conn.recv(4096)
    if not chunk:
        break
    head += chunk
print("upgrade", head.split(b"\r\n", 1)[0].decode(errors="replace"), flush=True)
data, deadline = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b"", time.time() + 12
conn.settimeout(1)
while time.time() < deadline:
    try:
        chunk = conn.recv(4096)
    except socket.timeout:
        continue
    if not chunk:
        break
    data += chunk
# Server frames are unmasked; the payload text is what the terminal printed.
print("bytes", len(data), flush=True)
print("text", re.sub(r"[^ -~]+", " ", data.decode(errors="replace"))[:300], flush=True)
PY
client=$!

# While the WebSocket is open: the terminal's process runs as the user.
terminal=""
for _ in $(seq 1 40); do
    terminal=$(pgrep -u "$USER_NAME" -x ssh | head -n 1 || true)
    [ -n "$terminal" ] && break
    sleep 0.5
done
if [ -z "$terminal" ]; then
    problem "no \`ssh localhost\` process of $USER_NAME while the shell's WebSocket was open"
else
    ids=$(ps -o ruid=,rgid= -p "$terminal" | tr -s ' ')
    want=" $USER_ID $(id -g "$USER_NAME")"
    if [ "$ids" = "$want" ]; then
        say "  terminal process $terminal (ssh localhost): uid/gid$ids, $USER_NAME's"
    else
        problem "terminal process $terminal runs as uid/gid$ids, want$want"
    fi
fi
wait "$client" || true
sed "s/^/  client: /" "$report"
grep -q '^status 200$' "$report" || problem "the shell page did not answer 200"
grep -q '^token found$' "$report" || problem "the shell page has no CSRF token for its WebSocket"
grep -q '^upgrade HTTP/1.1 101' "$report" || problem "the WebSocket did not upgrade through Apache (want HTTP/1.1 101)"
bytes=$(sed -n 's/^bytes //p' "$report")
[ "${bytes:-0}" -gt 0 ] || problem "the WebSocket carried nothing from the terminal"

# /nginx/stop: mod_ood_proxy has nginx_stage stop the user's PUN.
master=$(pun_master_pid "$USER_NAME")
[ -n "$master" ] || problem "no PUN pid file for $USER_NAME after the shell session"
code=$(curl -s -o /dev/null -m 60 -w '%{http_code}' -u "$USER_NAME:$PASSWORD" \
    "http://127.0.0.1:$port/nginx/stop?redir=/pun/sys/shell" || true)
if [ -n "$master" ] && wait_for 30 "PUN master $master gone after /nginx/stop (HTTP $code)" sh -c "! kill -0 $master"; then
    :
else
    problem "/nginx/stop (HTTP $code) did not stop $USER_NAME's PUN (master ${master:-none})"
fi

finish shell-websocket
