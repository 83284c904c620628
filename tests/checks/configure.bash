# shellcheck shell=bash
# Helpers for the configure-*.sh checks, sourced after lib.sh and portal.bash. Not a check
# itself (systemtest.check_names() takes only *.sh).
#
# Each configure-* check takes one group of `snap set` keys through four cases:
#   allowed  a valid value: the generated file says it and Apache still serves;
#   refused  an unknown key of the namespace: snap set fails with a hint naming a real key;
#   invalid  bad values: snap set fails naming each key and the accepted form, every key
#            keeps its previous value (snap get) and every file under $COMMON/etc stays
#            byte-identical (sha256, modes and owners too);
#   unset    snap unset: the default is back in the file.

# shellcheck disable=SC2034  # used by the checks that source this file
{
ETC=$COMMON/etc
OOD_CONFIG=$ETC/ood/config
PORTAL_YML=$OOD_CONFIG/ood_portal.yml
NGINX_STAGE_YML=$OOD_CONFIG/nginx_stage.yml
CLUSTERS_D=$OOD_CONFIG/clusters.d
HTTPD_CONF=$ETC/apache2/httpd.conf
VHOST=$ETC/apache2/ood-portal.conf
}

# Upstream's need_auth vhost (no auth type yet) answers every URL with a permanent redirect.
NEED_AUTH=/public/need_auth.html
NEED_AUTH_CODE=301
BASIC_KEYS=(portal.auth.type portal.auth.basic.user-file)

GROUP_KEYS=()
EXTRA_PATHS=()  # removed by --restore and at exit (files and directories a check made)

# The restore command of every configure check: unset the group, remove EXTRA_PATHS.
restore_group() {
    local -a keys
    mapfile -t keys < <(set_options "${GROUP_KEYS[@]}")
    if [ "${#keys[@]}" -gt 0 ]; then
        snap unset "$SNAP_NAME" "${keys[@]}" || printf 'WARNING: snap unset %s failed\n' "${keys[*]}" >&2
    fi
    if [ "${#EXTRA_PATHS[@]}" -gt 0 ]; then
        rm -rf "${EXTRA_PATHS[@]}"
    fi
}

# configure_begin NAME KEY... -- "$@": check_begin for a configure check (root, the snap
# installed, $WORK), KEY... being the snap options the check sets (whole groups like
# clusters.check-a may be named). `NAME.sh --restore` unsets them and removes EXTRA_PATHS
# (restore_group). Otherwise the check takes no argument, every KEY must be unset to begin
# with, and restore_group is deferred: they are unset again when the check exits, whatever
# happened.
configure_begin() {
    local name=$1
    shift
    GROUP_KEYS=()
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        GROUP_KEYS+=("$1")
        shift
    done
    [ "$#" -gt 0 ] || fail "configure_begin $name: no -- before the check's own arguments"
    shift
    check_begin "$name" --root --installed --work --restore-with restore_group -- "$@"
    [ "$#" -eq 0 ] || fail "usage: $CHECK.sh [--restore]"
    [ -d "$ETC" ] || fail "$ETC: missing (did the install hook run?)"
    local -a already
    mapfile -t already < <(set_options "${GROUP_KEYS[@]}")
    [ "${#already[@]}" -eq 0 ] ||
        fail "precondition: ${already[*]} already set; run $CHECK.sh --restore first"
    defer_restore
}

step() { say "$CHECK: $*"; }

# basic_auth_on DIR: basic auth with an htpasswd file in DIR that the portal user can read.
# Upstream's full vhost, where the keys about names, ports, SSL and maintenance show, is
# rendered only once authentication is configured. The check names BASIC_KEYS among its
# keys and DIR in EXTRA_PATHS. A change of the auth type restarts Apache.
basic_auth_on() {
    local dir=$1
    write_htpasswd "$dir" checkuser "check-$RANDOM$RANDOM"
    set_ok portal.auth.type=basic "portal.auth.basic.user-file=$dir/htpasswd"
    until_answers 401 "http://127.0.0.1:$(portal_port)$(protected_uri)"
}

# The arguments as one could type them (a line break shows as $'\n').
shown() {
    local out
    out=$(printf '%q ' "$@")
    printf '%s' "${out% }"
}

# set_ok KEY=VALUE...: snap set must succeed; stop otherwise (later steps build on it).
set_ok() {
    say "  snap set $(shown "$@")"
    snap set "$SNAP_NAME" "$@" >"$WORK/out" 2>&1 ||
        fail "snap set $(shown "$@") was refused: $(oneline "$(cat "$WORK/out")")"
}

# unset_ok KEY...: snap unset must succeed.
unset_ok() {
    say "  snap unset $*"
    snap unset "$SNAP_NAME" "$@" >"$WORK/out" 2>&1 ||
        fail "snap unset $* failed: $(oneline "$(cat "$WORK/out")")"
}

# refused KEY=VALUE...: snap set must fail and change nothing: each KEY keeps its value
# (snap get) and the tree under $ETC keeps its fingerprint. The message is kept for says.
refused() {
    local arg i now
    local -a keys=() before=()
    for arg; do
        keys+=("${arg%%=*}")
    done
    for i in "${!keys[@]}"; do
        before[i]=$(snap_option "${keys[i]}")
    done
    tree_fingerprint "$ETC" >"$WORK/fingerprint.before"
    if snap set "$SNAP_NAME" "$@" >"$WORK/refusal" 2>&1; then
        problem "snap set $(shown "$@") succeeded; the configure hook must refuse it"
        : >"$WORK/refusal.flat"
        return 0
    fi
    tr -s ' \n\t' ' ' <"$WORK/refusal" >"$WORK/refusal.flat"
    say "  refused: snap set $(shown "$@")"
    grep '^  ' "$WORK/refusal" | sed 's/^ */    /' || sed 's/^/    /' "$WORK/refusal"
    for i in "${!keys[@]}"; do
        now=$(snap_option "${keys[i]}")
        [ "$now" = "${before[i]}" ] ||
            problem "${keys[i]} is $(shown "$now") after the refused snap set, was $(shown "${before[i]}")"
    done
    tree_fingerprint "$ETC" >"$WORK/fingerprint.after"
    if ! diff -u "$WORK/fingerprint.before" "$WORK/fingerprint.after" >"$WORK/fingerprint.diff"; then
        problem "files under $ETC changed although snap set $(shown "$@") failed:
$(sed 's/^/    /' "$WORK/fingerprint.diff")"
    fi
}

# says TEXT...: the last refusal contains every TEXT (fixed strings; runs of white space
# count as one space).
says() {
    local text
    for text; do
        grep -qF -- "$text" "$WORK/refusal.flat" ||
            problem "the refusal does not say '$text'; it says: $(cat "$WORK/refusal.flat")"
    done
}

# never_says TEXT...: the last refusal contains none of them (secrets, injected text).
never_says() {
    local text
    for text; do
        if grep -qF -- "$text" "$WORK/refusal.flat"; then
            problem "the refusal repeats '$text'"
        fi
    done
}

# has_line FILE LINE...: FILE holds every LINE as a whole line.
has_line() {
    local file=$1 line
    shift
    for line; do
        if grep -qxF -- "$line" "$file"; then
            say "    ${file##*/}: $line"
        else
            problem "$file: no line '$line'"
        fi
    done
}

# lacks_line FILE REGEX...: no line of FILE matches any REGEX (extended).
lacks_line() {
    local file=$1 regex found
    shift
    for regex; do
        if found=$(grep -E -m1 -- "$regex" "$file"); then
            problem "$file: has '$found' (want no line matching /$regex/)"
        fi
    done
}

# expect_yaml FILE PATH=JSON...: the value at each dotted PATH of the YAML FILE equals JSON
# (`PATH=absent`: no such key). Read with the snap's own Python and PyYAML.
expect_yaml() {
    local file=$1 out status rest
    shift
    out=$("$SNAP_MOUNT/bin/ondemand-python" - "$file" "$@" <<'PY' 2>&1
import json
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as handle:
    document = yaml.safe_load(handle)
for spec in sys.argv[2:]:
    path, _, want = spec.partition("=")
    node, found = document, True
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            found = False
            break
    got = json.dumps(node) if found else "absent"
    wanted = want if want == "absent" else json.dumps(json.loads(want))
    print(("ok" if got == wanted else "bad"), f"{path}: {got}" + ("" if got == wanted else f", want {wanted}"))
PY
    ) || {
        problem "$file: not readable as YAML: $(oneline "$out")"
        return 0
    }
    while read -r status rest; do
        if [ "$status" = ok ]; then
            say "    ${file##*/}: $rest"
        else
            problem "$file: $rest"
        fi
    done <<<"$out"
}

apache_pid() { systemctl show -p MainPID --value "$APACHE_UNIT"; }

# expect_restart PID: the snap set changed the set of Apache modules (the auth type), which
# restarts Apache instead of reloading it (mod_auth_openidc's children crash after a graceful
# load): the main process id must differ from PID, taken before it.
expect_restart() {
    local old_pid=$1 now
    now=$(apache_pid)
    [ "$now" != "$old_pid" ] || problem "Apache was not restarted (main pid still $now) although its modules changed"
}

# serve_by_name NAME: basic auth on (upstream's full vhost; its htpasswd in
# /etc/ondemand-check-<check>-auth) and the servername NAME (server aliases reach the vhost
# only beside one, so changing them then rewrites it); waits until its public page, asked
# for by that name, answers 200. Sets NAME and PAGE_URL. The check names BASIC_KEYS among
# its keys and SERVE_DIR in EXTRA_PATHS.
SERVE_DIR=
serve_by_name() {
    NAME=$1
    local port
    port=$(portal_port)
    PAGE_URL="http://127.0.0.1:$port/public/need_auth.html"
    wait_for 30 "Apache answers on port $port" apache_answers || fail "Apache does not answer on port $port"
    basic_auth_on "$SERVE_DIR"
    set_ok "portal.servername=$NAME"
    until_answers 200 "$PAGE_URL" -H "Host: $NAME"
}

# reload_count: how many graceful reloads the hooks have logged so far.
reload_count() {
    local n
    n=$(grep -c 'reloading [^ ]* gracefully' "$COMMON/var/log/hooks.log" 2>/dev/null) || true
    printf '%s' "${n:-0}"
}

# expect_reload yes|no PID COUNT: the snap set must (yes) or must not (no) have reloaded
# Apache gracefully; PID and COUNT (apache_pid, reload_count) were taken before it. A change
# that keeps the module set never restarts Apache: its main process id must stay PID.
expect_reload() {
    local want=$1 old_pid=$2 old_count=$3 now count
    now=$(apache_pid)
    count=$(reload_count)
    if [ "$now" != "$old_pid" ]; then
        problem "Apache was restarted (main pid $old_pid -> $now); a portal change must reload it gracefully"
    elif [ "$want" = yes ] && [ "$count" -le "$old_count" ]; then
        problem "Apache was not reloaded (hooks.log has no new graceful reload) although its configuration changed"
    elif [ "$want" = no ] && [ "$count" -ne "$old_count" ]; then
        problem "Apache was reloaded although its configuration did not change"
    fi
}

# hop URL [CURL_ARGS...]: "CODE REDIRECT_URL" of one request, no redirects followed;
# "000 " when nothing answers.
hop() {
    local url=$1
    shift
    curl -s -o /dev/null --max-time 5 -w '%{http_code} %{redirect_url}' "$@" "$url" || true
}

answers() {
    local want=$1 got
    shift
    read -r got _ <<<"$(hop "$@")"
    [ "$got" = "$want" ]
}

# until_answers CODE URL [CURL_ARGS...]: wait (10 s at most, polling every 0.1 s) until
# URL answers CODE: Apache is restarting in the background when snap set returns. Stop
# if it never does: nothing after it would mean anything.
until_answers() {
    local want=$1 tries=0
    shift
    until answers "$want" "$@"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 100 ]; then
            fail "curl $(shown "$@") gets '$(hop "$@")' 10 s after snap set, want HTTP $want"
        fi
        sleep 0.1
    done
    say "    $1: HTTP $want"
}

# expect_hop URL CODE REDIRECT [CURL_ARGS...]: one request answers CODE with that redirect.
expect_hop() {
    local url=$1 want_code=$2 want_location=$3 code location
    shift 3
    read -r code location <<<"$(hop "$url" "$@")"
    if [ "$code" = "$want_code" ] && [ "${location:-}" = "$want_location" ]; then
        say "    $url ${*:+($*) }-> $code ${location:-}"
    else
        problem "$url ${*:+($*) }-> $code ${location:-}, want $want_code $want_location"
    fi
}

# The local addresses listening on TCP PORT, sorted, space-separated ("" if none).
listeners() {
    ss -Hltn "sport = :$1" | awk '{print $4}' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

apache_active() {
    systemctl is-active --quiet "$APACHE_UNIT" || problem "$APACHE_UNIT is $(systemctl is-active "$APACHE_UNIT")"
}
