#!/bin/bash
# Check: the front proxy routes a signed-in user to their own per-user nginx, through
# OnDemand's own code path. With basic auth for a normal user (uid >= 1000), a request for
# the shell app (/pun/sys/shell/ssh/localhost) goes through mod_ood_proxy, which has
# `sudo nginx_stage pun` start the user's PUN and `nginx_stage app` stage the app: the
# answer is the shell app's page (200, its <title>), the user's socket exists, and an nginx
# master serves it with workers as the user. Skips, saying why, on a build without
# OnDemand (no mod_ood_proxy, no nginx_stage).
# Usage: portal-routes-to-pun.sh | --restore   (stop the PUN, remove the user, unset auth)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=pun.bash
. "$here/pun.bash"

USER_NAME=routeuser
USER_ID=1601
AUTH_DIR=/etc/ondemand-check-route
PASSWORD=route-password-$RANDOM

check_begin portal-routes-to-pun --root --installed \
    --restore-with signin_end "$USER_NAME" "$AUTH_DIR" -- "$@"
require_ondemand "front proxy -> PUN routing"
[ "$(snap_option portal.auth.type)" = "<unset>" ] || fail "precondition: portal.auth.type is already set"
defer_restore

signin_begin "$USER_NAME" "$USER_ID" "$AUTH_DIR" "$PASSWORD"

sock=$(pun_sock "$USER_NAME")
[ ! -e "$sock" ] || fail "precondition: $sock exists before any request"
url=http://127.0.0.1:$(portal_port)/pun/sys/shell/ssh/localhost
say "portal-routes-to-pun: GET $url as $USER_NAME (following redirects)"
body=$(mktemp)
defer rm -f "$body"
read -r code hops effective <<<"$(curl -s -L --max-redirs 10 --max-time 60 -u "$USER_NAME:$PASSWORD" \
    -o "$body" -w '%{http_code} %{num_redirects} %{url_effective}' "$url" || true)"
say "  -> HTTP $code after $hops redirect(s), at $effective"
if [ "$code" != 200 ]; then
    problem "GET $url as $USER_NAME -> HTTP $code at $effective (want 200): $(oneline "$(head -c 300 "$body")")"
elif ! grep -q '<title>Shell - ' "$body"; then
    problem "GET $url as $USER_NAME -> 200 but not the shell app's page: $(oneline "$(head -c 300 "$body")")"
else
    say "  the shell app's page (<title>Shell - ...), served by $USER_NAME's PUN"
fi

if [ -S "$sock" ]; then
    say "  $sock: created by the request (nginx_stage through mod_ood_proxy)"
else
    problem "$sock: no socket after the request; the front proxy did not start $USER_NAME's PUN"
fi
master=$(pun_master_pid "$USER_NAME")
if [ -z "$master" ] || ! kill -0 "$master" 2>/dev/null; then
    problem "no running nginx master for $USER_NAME ($(pun_pidfile "$USER_NAME"): ${master:-missing})"
else
    workers=$(pgrep -P "$master" -u "$USER_NAME" | wc -l)
    [ "$workers" -gt 0 ] || problem "nginx master $master of $USER_NAME has no worker running as $USER_NAME"
    say "  nginx master $master, $workers worker(s) as $USER_NAME"
fi

finish portal-routes-to-pun
