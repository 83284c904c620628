#!/bin/bash
# Check: `snap set ondemand portal.maintenance.enabled=true` puts the portal in maintenance:
# a client outside portal.maintenance.allowlist gets 503 and the maintenance page, an
# allowlisted one the normal portal; /public stays reachable; unsetting restores it.
#
# The two clients are real: the allowlist holds 127.0.0.1 only; the other client is the
# machine itself through its own network address (curl --interface ADDRESS to ADDRESS), and
# Apache's access log is checked to have seen each request from the intended address.
#
# Usage: portal-maintenance.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"

KEYS=(portal.maintenance.enabled portal.maintenance.allowlist)
check_begin portal-maintenance --root --installed \
    --restore-with snap unset "$SNAP_NAME" "${KEYS[@]}" -- "$@"

declare -A saved
for key in "${KEYS[@]}"; do
    saved[$key]=$(snap_option "$key")
done
body=$(mktemp)
defer rm -f "$body"
# At exit, each key back to the value it had before the check.
restore_options() {
    local key
    for key in "${KEYS[@]}"; do
        if [ "${saved[$key]}" = "<unset>" ]; then
            snap unset "$SNAP_NAME" "$key" || true
        else
            snap set "$SNAP_NAME" "$key=${saved[$key]}" || true
        fi
    done
}
defer restore_options
[ "${saved[portal.maintenance.enabled]}" != true ] || fail "precondition: portal.maintenance.enabled is already true"

port=$(portal_port)
inside=127.0.0.1
outside=$(own_address)
[ -n "$outside" ] || fail "no global IPv4 address on this machine to act as a client outside the allowlist"
wait_for 30 "Apache answers on port $port" apache_answers || fail "Apache does not answer on port $port"
say "portal-maintenance: allowlisted client $inside, other client $outside, port $port"

# get FROM PATH TOKEN: first hop "CODE LOCATION" from FROM; checks Apache logged FROM.
get() {
    local from=$1 path=$2 token=$3 answer client sep="?"
    [[ "$path" != *\?* ]] || sep="&"
    answer=$(first_hop "$from" "http://$from:$port$path${sep}probe=$token")
    client=$(logged_client "probe=$token")
    [ "$client" = "$from" ] || problem "request $path from $from: Apache logged client '${client:-nothing}'"
    printf '%s' "$answer"
}

# A token unique to one request (get runs in a subshell: no counters).
token() { printf 'm%s-%s' "$(date +%s%N)" "$RANDOM"; }

maintenance_on() { [ "$(first_hop "$outside" "http://$outside:$port/pun/sys/dashboard" | cut -d' ' -f1)" = 503 ]; }
maintenance_off() { [ "$(first_hop "$outside" "http://$outside:$port/pun/sys/dashboard" | cut -d' ' -f1)" = 302 ]; }

say "portal-maintenance: before: $outside gets the normal portal"
read -r code _ <<<"$(get "$outside" /pun/sys/dashboard "$(token)")"
[ "$code" = 302 ] || fail "precondition: $outside gets HTTP $code for /pun/sys/dashboard before maintenance, want 302 (need_auth)"

say "portal-maintenance: snap set $SNAP_NAME portal.maintenance.enabled=true portal.maintenance.allowlist=$inside"
snap set "$SNAP_NAME" portal.maintenance.enabled=true "portal.maintenance.allowlist=$inside"
wait_for 30 "maintenance in effect" maintenance_on ||
    fail "still no 503 for $outside 30s after enabling maintenance ($(first_hop "$outside" "http://$outside:$port/"))"

for path in / /pun/sys/dashboard "/nginx/start?redir=%2F" /some/page.html; do
    read -r code location <<<"$(get "$outside" "$path" "$(token)")"
    if [ "$code" != 503 ]; then
        problem "$outside $path: HTTP $code ${location:-}, want 503"
        continue
    fi
    curl -s --max-time 10 --interface "$outside" -o "$body" "http://$outside:$port$path" || true
    if grep -q "$MAINTENANCE_MARKER" "$body" && cmp -s "$body" "$MAINTENANCE_PAGE"; then
        say "  $outside $path: 503 with the maintenance page"
    else
        problem "$outside $path: 503 but not the page $MAINTENANCE_PAGE: $(head -c 200 "$body" | oneline "$(cat)")"
    fi
done
read -r code _ <<<"$(get "$outside" /public/need_auth.html "$(token)")"
if [ "$code" = 200 ]; then
    say "  $outside /public/need_auth.html: 200 (public assets stay reachable)"
else
    problem "$outside /public/need_auth.html: HTTP $code during maintenance, want 200"
fi

for path in / /pun/sys/dashboard; do
    read -r code location <<<"$(get "$inside" "$path" "$(token)")"
    if [ "$code" = 302 ] && [[ "$location" == *"/public/need_auth.html"* ]]; then
        read -r final redirects _ <<<"$(follow "$inside" "http://$inside:$port$path" "$body")"
        if [ "$final" = 200 ] && grep -q "$NEED_AUTH_MARKER" "$body"; then
            say "  $inside $path: normal portal (302 -> need_auth.html 200)"
        else
            problem "$inside $path: after $redirects redirect(s) HTTP $final, want the need_auth page"
        fi
    else
        problem "$inside $path (allowlisted): HTTP $code ${location:-}, want the normal 302 to need_auth.html"
    fi
done

say "portal-maintenance: snap unset the maintenance keys"
snap unset "$SNAP_NAME" "${KEYS[@]}"
wait_for 30 "maintenance lifted" maintenance_off ||
    problem "$outside still gets $(first_hop "$outside" "http://$outside:$port/pun/sys/dashboard") 30s after unsetting maintenance"
for from in "$inside" "$outside"; do
    read -r code location <<<"$(get "$from" / "$(token)")"
    if [ "$code" = 302 ]; then
        say "  $from /: 302 $location"
    else
        problem "$from / after unset: HTTP $code ${location:-}, want 302 to need_auth.html"
    fi
done

finish portal-maintenance
