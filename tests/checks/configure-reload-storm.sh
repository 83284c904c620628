#!/bin/bash
# Check: 20 portal changes back to back reload Apache gracefully and refuse no request.
# A client asks for a public page every 50 ms throughout; every `snap set` changes the vhost
# (a new server alias of a fixed servername; the client asks for that name). Afterwards: every snap set succeeded, every request was answered
# (none refused or reset), Apache's main process is the one from before (reloaded, never
# restarted, so systemd's start limit is never reached and no `reset-failed` is needed),
# and the hooks logged one graceful reload per change.
#
# Usage: configure-reload-storm.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
SERVE_DIR=/etc/ondemand-check-configure-reload-storm-auth
EXTRA_PATHS=("$SERVE_DIR")
configure_begin configure-reload-storm portal.servername portal.server-aliases "${BASIC_KEYS[@]}" -- "$@"
[ ! -e "$SERVE_DIR" ] || fail "precondition: $SERVE_DIR exists; run configure-reload-storm.sh --restore first"

CHANGES=20
serve_by_name storm.check.example.test

pid=$(apache_pid) reloads=$(reload_count)
# The client: one line per request, curl's HTTP code (000 when the connection failed).
client_log=$WORK/client.log
(
    while [ ! -e "$WORK/stop" ]; do
        curl -s -o /dev/null --max-time 5 -H "Host: $NAME" -w '%{http_code}\n' "$PAGE_URL" >>"$client_log" || true
        sleep 0.05
    done
) &
client=$!
sleep 1

step "$CHANGES changes of portal.server-aliases back to back"
started=$(date +%s%N)
for n in $(seq 1 "$CHANGES"); do
    if ! snap set "$SNAP_NAME" "portal.server-aliases=storm-$n.check.example.test" >"$WORK/out" 2>&1; then
        problem "change $n: snap set was refused: $(oneline "$(cat "$WORK/out")")"
    fi
done
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
sleep 1
touch "$WORK/stop"
wait "$client" || true

total=$(wc -l <"$client_log")
answered=$(grep -c '^200$' "$client_log" || true)
refused=$(grep -c '^000$' "$client_log" || true)
say "  $CHANGES changes in $elapsed_ms ms ($((elapsed_ms / CHANGES)) ms each); $total requests meanwhile: $answered answered 200, $refused refused"
[ "$total" -ge 20 ] || problem "the client made only $total requests; the check proves nothing"
[ "$refused" = 0 ] || problem "$refused of $total requests were refused or cut off during the changes"
[ "$answered" = "$total" ] || problem "$((total - answered)) of $total requests answered other than 200: $(sort "$client_log" | uniq -c | oneline "$(cat)")"
has_line "$VHOST" "  ServerAlias storm-$CHANGES.check.example.test"
expect_reload yes "$pid" "$reloads"
count=$(reload_count)
[ $((count - reloads)) -eq "$CHANGES" ] || problem "hooks.log shows $((count - reloads)) graceful reloads for $CHANGES changes"
apache_active
until_answers 200 "$PAGE_URL" -H "Host: $NAME"

finish configure-reload-storm
