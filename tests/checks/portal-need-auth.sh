#!/bin/bash
# Check: with no authentication configured (a fresh install), every portal URL outside
# /public redirects to /public/need_auth.html, which is served (200) with the page the snap
# installed; from loopback and from the machine's own network address.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
check_begin portal-need-auth --root --installed -- "$@"

auth=$(snap_option portal.auth.type)
metadata=$(snap_option portal.oidc.provider-metadata-url)
case "$auth" in
"<unset>" | auto) [ "$metadata" = "<unset>" ] || fail "precondition: OpenID Connect is configured (portal.oidc.provider-metadata-url=$metadata); this check needs no authentication" ;;
none) ;;
*) fail "precondition: portal.auth.type=$auth; this check needs no authentication configured" ;;
esac
[ "$(snap_option portal.maintenance.enabled)" != true ] || fail "precondition: portal.maintenance.enabled=true"
[ -f "$NEED_AUTH_PAGE" ] || fail "$NEED_AUTH_PAGE: missing (the install hook writes it)"
grep -q "$NEED_AUTH_MARKER" "$NEED_AUTH_PAGE" ||
    fail "$NEED_AUTH_PAGE does not contain '$NEED_AUTH_MARKER' (replaced by the admin?)"

port=$(portal_port)
wait_for 30 "Apache answers on port $port" apache_answers || fail "Apache does not answer on port $port"
body=$(mktemp)
defer rm -f "$body"

addresses=(127.0.0.1 "$(own_address)")
paths=(/ /pun/sys/dashboard "/nginx/start?redir=%2Fpun%2Fsys%2Fdashboard" /node/c1.example/8888/lab
    /rnode/c1.example/8888/ /oidc /logout /does/not/exist.html "/x?q=1")
say "portal-need-auth: ${#paths[@]} URLs from ${addresses[*]} on port $port"
for from in "${addresses[@]}"; do
    for path in "${paths[@]}"; do
        url=http://$from:$port$path
        read -r code location <<<"$(first_hop "$from" "$url")"
        if [ "$code" != 301 ]; then  # upstream's need_auth vhost: a permanent redirect
            problem "$url: HTTP $code ${location:-}, want 301 to /public/need_auth.html"
            continue
        fi
        if ! [[ "$location" =~ ^http://$from(:$port)?/public/need_auth\.html(\?.*)?$ ]]; then
            problem "$url: redirects to $location, want http://$from/public/need_auth.html"
            continue
        fi
        read -r final redirects effective <<<"$(follow "$from" "$url" "$body")"
        if [ "$final" != 200 ] || [ "$redirects" != 1 ]; then
            problem "$url: ends with HTTP $final after $redirects redirect(s) at $effective, want 200 after 1"
        elif ! grep -q "$NEED_AUTH_MARKER" "$body"; then
            problem "$url: final page has no '$NEED_AUTH_MARKER': $(head -c 200 "$body" | oneline "$(cat)")"
        elif ! cmp -s "$body" "$NEED_AUTH_PAGE"; then
            problem "$url: final page differs from $NEED_AUTH_PAGE"
        else
            say "  $url: 301 $location -> 200 need_auth.html ($(stat -c %s "$body") bytes)"
        fi
    done
done

say "portal-need-auth: the page itself is public"
read -r code location <<<"$(first_hop 127.0.0.1 "http://127.0.0.1:$port/public/need_auth.html")"
[ "$code" = 200 ] || problem "/public/need_auth.html: HTTP $code ${location:-}, want 200 without a redirect"

finish portal-need-auth
