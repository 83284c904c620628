#!/bin/bash
# Check: `snap set ondemand portal.maintenance.enabled=true` puts the portal in maintenance
# through upstream's mechanism (the flag file its vhost tests on every request): a client
# outside portal.maintenance.allowlist is redirected to the maintenance page for every URL,
# an allowlisted one gets the normal portal; unsetting restores it. Basic auth is on
# (upstream's need_auth vhost has no maintenance mode).
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

KEYS=(portal.maintenance.enabled portal.maintenance.allowlist portal.auth.type portal.auth.basic.user-file)
AUTH_DIR=/etc/ondemand-check-maintenance-auth
check_begin portal-maintenance --root --installed \
    --restore-with sh -c "snap unset $SNAP_NAME ${KEYS[*]}; rm -rf $AUTH_DIR" -- "$@"

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
[ "${saved[portal.maintenance.enabled]}" != true ] || fail "precondition: portal.maintenance.enabled is already true"
[ ! -e "$AUTH_DIR" ] || fail "precondition: $AUTH_DIR exists; run portal-maintenance.sh --restore first"
defer rm -rf "$AUTH_DIR"
defer restore_options

port=$(portal_port)
inside=127.0.0.1
outside=$(own_address)
protected=$(protected_uri)
[ -n "$outside" ] || fail "no global IPv4 address on this machine to act as a client outside the allowlist"
wait_for 30 "Apache answers on port $port" apache_answers || fail "Apache does not answer on port $port"
say "portal-maintenance: allowlisted client $inside, other client $outside, port $port"

write_htpasswd "$AUTH_DIR" checkuser "check-$RANDOM$RANDOM"
snap set "$SNAP_NAME" portal.auth.type=basic "portal.auth.basic.user-file=$AUTH_DIR/htpasswd" ||
    fail "snap set portal.auth.type=basic was refused"

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

outside_code() { first_hop "$outside" "http://$outside:$port$protected" | cut -d' ' -f1; }
maintenance_on() { [ "$(outside_code)" = 302 ]; }
maintenance_off() { [ "$(outside_code)" = 401 ]; }
wait_for 30 "Apache asks $outside to log in" maintenance_off ||
    fail "precondition: $outside gets HTTP $(outside_code) for $protected with basic auth on, want 401"

say "portal-maintenance: snap set $SNAP_NAME portal.maintenance.enabled=true portal.maintenance.allowlist=$inside"
snap set "$SNAP_NAME" portal.maintenance.enabled=true "portal.maintenance.allowlist=$inside"
[ -f "$COMMON/etc/ood/maintenance.enable" ] || problem "no $COMMON/etc/ood/maintenance.enable after enabling maintenance"
wait_for 30 "maintenance in effect" maintenance_on ||
    fail "still no maintenance redirect for $outside 30s after enabling maintenance ($(first_hop "$outside" "http://$outside:$port$protected"))"

# Upstream's rule: every URL but the maintenance page itself, public ones included.
for path in / "$protected" "/nginx/start?redir=%2F" /some/page.html /public/need_auth.html; do
    read -r code location <<<"$(get "$outside" "$path" "$(token)")"
    if [ "$code" != 302 ] || [[ "$location" != "http://$outside"*/public/maintenance/index.html* ]]; then
        problem "$outside $path: HTTP $code ${location:-}, want 302 to /public/maintenance/index.html"
        continue
    fi
    read -r final redirects _ <<<"$(follow "$outside" "http://$outside:$port$path" "$body")"
    if [ "$final" = 200 ] && grep -q "$MAINTENANCE_MARKER" "$body" && cmp -s "$body" "$MAINTENANCE_PAGE"; then
        say "  $outside $path: 302 -> the maintenance page ($redirects redirect)"
    else
        problem "$outside $path: after $redirects redirect(s) HTTP $final, not the page $MAINTENANCE_PAGE: $(head -c 200 "$body" | oneline "$(cat)")"
    fi
done

read -r code _ <<<"$(get "$inside" "$protected" "$(token)")"
if [ "$code" = 401 ]; then
    say "  $inside $protected: 401 (allowlisted: the normal portal, which asks to log in)"
else
    problem "$inside $protected (allowlisted): HTTP $code, want the normal portal's 401"
fi
read -r code location <<<"$(get "$inside" / "$(token)")"
if [ "$code" = 302 ] && [[ "$location" == *"$protected"* ]]; then
    say "  $inside /: 302 $location"
else
    problem "$inside / (allowlisted): HTTP $code ${location:-}, want 302 to $protected"
fi

say "portal-maintenance: snap unset the maintenance keys"
snap unset "$SNAP_NAME" portal.maintenance.enabled portal.maintenance.allowlist
[ ! -e "$COMMON/etc/ood/maintenance.enable" ] || problem "$COMMON/etc/ood/maintenance.enable still exists after unset"
wait_for 30 "maintenance lifted" maintenance_off ||
    problem "$outside still gets $(first_hop "$outside" "http://$outside:$port$protected") 30s after unsetting maintenance"
for from in "$inside" "$outside"; do
    read -r code location <<<"$(get "$from" / "$(token)")"
    if [ "$code" = 302 ] && [[ "$location" == *"$protected"* ]]; then
        say "  $from /: 302 $location"
    else
        problem "$from / after unset: HTTP $code ${location:-}, want 302 to $protected"
    fi
done

finish portal-maintenance
