#!/bin/bash
# Check: a configure hook killed at a random moment leaves every file whole and nothing
# stray, and the next run reconciles the files with snapd's configuration. Until ten have been
# killed, a
# `snap set` of a new server alias has its hook SIGKILLed after a random delay; after each,
# ood_portal.yml still parses and the Apache config still passes `httpd -t` (old or new
# content, never partial) and Apache still serves. Then one `snap set` runs to the end: it
# succeeds, the vhost has its value, and no staging directory or temporary file is left.
#
# Usage: configure-killed.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
SERVE_DIR=/etc/ondemand-check-configure-killed-auth
EXTRA_PATHS=("$SERVE_DIR")
configure_begin configure-killed portal.servername portal.server-aliases "${BASIC_KEYS[@]}" -- "$@"
[ ! -e "$SERVE_DIR" ] || fail "precondition: $SERVE_DIR exists; run configure-killed.sh --restore first"

KILLS=10
serve_by_name killed.check.example.test

hook_pid() { pgrep -f 'ondemand_hooks configure' | head -1; }
strays() {
    find "$ETC/apache2" "$OOD_CONFIG" -maxdepth 2 \( -name '.check-*' -o -name '.*.tmp' \) -printf '%p\n' 2>/dev/null
}
files_whole() {
    local out
    if ! out=$("$SNAP_MOUNT/bin/ondemand-python" -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$PORTAL_YML" 2>&1); then
        problem "$1: $PORTAL_YML does not parse: $(oneline "$out")"
    fi
    if ! out=$("$SNAP_MOUNT/bin/httpd" -t -f "$HTTPD_CONF" 2>&1); then
        problem "$1: httpd -t rejects the installed Apache config: $(oneline "$out")"
    fi
}

killed=0
# The hook takes about 0.2 s here: random delays inside that window, until KILLS runs were
# killed mid-way (at most 4 attempts per kill).
n=0
while [ "$killed" -lt "$KILLS" ] && [ "$n" -lt $((KILLS * 4)) ]; do
    n=$((n + 1))
    delay=$(printf '0.%03d' $((RANDOM % 200)))
    snap set "$SNAP_NAME" "portal.server-aliases=killed-$n.check.example.test" >"$WORK/out" 2>&1 &
    setter=$!
    # Wait for the hook to start, then let it run for the random delay.
    for _ in $(seq 1 100); do
        pid=$(hook_pid) && [ -n "$pid" ] && break
        sleep 0.02
    done
    sleep "$delay"
    if pid=$(hook_pid) && [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; then
        killed=$((killed + 1))
        how="killed after ${delay}s"
    else
        how="finished before ${delay}s"
    fi
    wait "$setter" && result=succeeded || result=failed
    say "  run $n: hook $how; snap set $result"
    files_whole "run $n"
    answers 200 "$PAGE_URL" -H "Host: $NAME" || problem "run $n: $PAGE_URL does not answer 200 after the hook was killed"
done
[ "$killed" -ge "$KILLS" ] || problem "only $killed hooks of $n runs were killed mid-run, want $KILLS; the check proves little"

step "a run to the end reconciles"
set_ok portal.server-aliases=final.check.example.test
has_line "$VHOST" "  ServerAlias final.check.example.test"
left=$(strays)
[ -z "$left" ] || problem "left behind after a complete run: $(oneline "$left")"
files_whole "after the complete run"
until_answers 200 "$PAGE_URL" -H "Host: $NAME"
apache_active

finish configure-killed
