#!/bin/bash
# Check: nginx_stage refuses to start a per-user nginx for a user below min_uid (1000 by
# default, and nginx-stage.min-uid cannot lower it): `nginx_stage pun -u lowuid` for a
# uid-990 system user fails and creates no socket. Skips, saying why, on a build without
# OnDemand (no nginx_stage).
# Usage: nginx-stage-min-uid.sh | --restore   (remove the user and its PUN files)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

USER_NAME=lowuid
USER_ID=990
RUN_DIR=$COMMON/run/ondemand-nginx/$USER_NAME
SOCK=$RUN_DIR/passenger.sock

cleanup() {
    pkill -KILL -u "$USER_NAME" 2>/dev/null || true
    if id -u "$USER_NAME" >/dev/null 2>&1; then userdel "$USER_NAME" 2>/dev/null || true; fi
    rm -rf "$RUN_DIR" "$COMMON/var/lib/ondemand-nginx/config/puns/$USER_NAME.conf"
}
check_begin nginx-stage-min-uid --root --installed --restore-with cleanup -- "$@"
require_ondemand "nginx_stage's min-uid refusal"

if id -u "$USER_NAME" >/dev/null 2>&1; then
    [ "$(id -u "$USER_NAME")" = "$USER_ID" ] || fail "user $USER_NAME exists with uid $(id -u "$USER_NAME"), want $USER_ID"
else
    useradd -r -u "$USER_ID" -M "$USER_NAME"
fi
defer_restore
[ ! -e "$SOCK" ] || fail "precondition: $SOCK exists before the check"

say "nginx-stage-min-uid: $NGINX_STAGE pun -u $USER_NAME (uid $USER_ID) must fail"
out=$(mktemp)
defer rm -f "$out"
if "$NGINX_STAGE" pun -u "$USER_NAME" >"$out" 2>&1; then
    problem "nginx_stage started a PUN for uid $USER_ID: $(oneline "$(cat "$out")")"
else
    say "  refused: $(oneline "$(cat "$out")")"
fi
if [ -e "$SOCK" ]; then
    problem "$SOCK exists after nginx_stage pun -u $USER_NAME"
else
    say "  no socket at $SOCK"
fi
if pgrep -u "$USER_NAME" >/dev/null; then
    problem "processes run as $USER_NAME: $(oneline "$(pgrep -a -u "$USER_NAME")")"
fi

finish nginx-stage-min-uid
