#!/bin/bash
# Check: the README's quickstart ("Using the snap"), run as written on a machine without the
# snap, gets a user to the shell within 2 minutes of `snap install`. The commands are read
# from README.md (the fenced block between `<!-- quickstart begin -->` and `<!-- quickstart
# end -->`, see quickstart.bash) and run one by one, `sudo` and all, with two substitutions,
# each printed: `snap install ondemand --classic` becomes `snap install --dangerous
# --classic "$SNAP_FILE"` (no store here: the local build stands in for the store's edge
# channel), and the example cluster's login host becomes localhost. The user the quickstart
# names is the site's precondition, not a quickstart step: the check creates that Unix
# user (with a home) first, then removes the snap (`snap remove --purge`) so the quickstart
# really starts from `snap install`, which starts the clock. Within 120 s of it, the user
# signing in with the quickstart's password must get the shell page the README says to
# open (200 through mod_ood_proxy and the user's PUN: the shell app's page for localhost,
# with the CSRF token of its WebSocket), from a PUN whose processes all run as that user
# but the nginx master. Then the log places the README names are there: `snap logs
# ondemand` prints lines, and the portal's, the user's PUN's and the hooks' logs exist.
# Skips, saying why, on a build without OnDemand.
# Usage: quickstart.sh | --restore   (stop the user's PUN, remove the user and the htpasswd
#        file, unset the keys the quickstart set; the snap stays installed)
# Reads $SNAP_FILE (spread.yaml sets it) and README.md two levels up (spread's copy of the
# project; QUICKSTART_README=FILE names another).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=pun.bash
. "$here/pun.bash"
# shellcheck source-path=SCRIPTDIR source=quickstart.bash
. "$here/quickstart.bash"

README=${QUICKSTART_README:-$here/../../README.md}
USER_ID=1605 # the quickstart's user, as the site would have it (uid >= min_uid 1000)
TARGET=120   # seconds from `snap install` to the shell page (issue 15)
INSTALL_AS_WRITTEN="snap install ondemand --classic"
LOCAL_HOST=localhost

# quickstart_read: COMMANDS, USER_NAME, PASSWORD, USER_FILE, LOGIN_HOST, URL and KEYS from
# the README's quickstart block, or fail saying what the block lacks.
quickstart_read() {
    local account
    [ -f "$README" ] || fail "$README: not found (spread.yaml's include: sends README.md along; elsewhere set QUICKSTART_README)"
    COMMANDS=$(quickstart_commands "$README") ||
        fail "$README: no quickstart (a fenced block of commands between '$QUICKSTART_BEGIN' and '$QUICKSTART_END')"
    account=$(quickstart_account "$COMMANDS") ||
        fail "$README: the quickstart writes no htpasswd entry as echo \"USER:\$(openssl passwd -apr1 'PASSWORD')\""
    USER_NAME=${account%% *}
    PASSWORD=${account#* }
    USER_FILE=$(quickstart_user_file "$COMMANDS") || fail "$README: the quickstart sets no portal.auth.basic.user-file"
    LOGIN_HOST=$(quickstart_login_host "$COMMANDS") || fail "$README: the quickstart sets no clusters.ID.login.host"
    URL=$(quickstart_url "$README") || fail "$README: the quickstart names no http://HOST/... to open"
    KEYS=$(quickstart_keys "$COMMANDS") || fail "$README: the quickstart has no snap set ondemand KEY=VALUE"
}

# The restore command: what the quickstart and the check left, removed; the snap stays.
quickstart_end() {
    local -a keys
    quickstart_read
    mapfile -t keys <<<"$KEYS"
    # A cluster's keys go with the cluster (a title without a login host is refused).
    mapfile -t -O "${#keys[@]}" keys < <(grep -oE '^clusters\.[a-z0-9-]+' <<<"$KEYS" | sort -u)
    # The user's PUN, the user, the htpasswd file, the keys (signin_end's own two included).
    signin_end "$USER_NAME" "$USER_FILE" "${keys[@]}"
    rmdir --ignore-fail-on-non-empty "$(dirname "$USER_FILE")" 2>/dev/null || true
    rm -rf "${PUN_LOG_ROOT:?}/$USER_NAME" "${PUN_TMP_ROOT:?}/$USER_NAME"
}

# seconds since the epoch, with decimals
now() { date +%s.%N; }
# since START: seconds since START, one decimal
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

check_begin quickstart --root --installed --restore-with quickstart_end -- "$@"
require_ondemand "the README's quickstart (the shell app through the front proxy)"
[ -f "${SNAP_FILE:-}" ] ||
    fail "SNAP_FILE='${SNAP_FILE:-}': not a file; set it to the .snap that stands in for the store's (spread.yaml does)"
command -v sudo >/dev/null || fail "precondition: no sudo here (the quickstart's commands use it; the snap's nginx_stage rule needs it anyway)"
quickstart_read
[ ! -e "$USER_FILE" ] || fail "precondition: $USER_FILE exists before the quickstart writes it; run quickstart.sh --restore"
first=${COMMANDS%%$'\n'*}
[ "${first#sudo }" = "$INSTALL_AS_WRITTEN" ] ||
    fail "$README: the quickstart's first command is '$first', not '[sudo] $INSTALL_AS_WRITTEN'"
defer_restore

say "quickstart: $(wc -l <<<"$COMMANDS") commands from $README; substitutions:"
install_here="snap install --dangerous --classic $(printf '%q' "$SNAP_FILE")"
say "  '$INSTALL_AS_WRITTEN' -> '$install_here' (no store here: the local build stands in for the store's edge channel)"
say "  '$LOGIN_HOST' -> '$LOCAL_HOST' (the example cluster's login host: this machine is the login node)"
say "  sudo: kept (the check runs as root; sudo is on the machine, as the snap's sudoers rule needs)"

say "quickstart: precondition (the site's, not a quickstart step): Unix user $USER_NAME, uid $USER_ID, with a home"
ensure_user "$USER_NAME" "$USER_ID"
home=$(getent passwd "$USER_NAME" | cut -d: -f6)
[ -d "$home" ] || fail "user $USER_NAME has no home directory ($home)"
say "  $(id "$USER_NAME"), home $home"

say "quickstart: snap remove --purge $SNAP_NAME (to start from snap install)"
snap remove --purge "$SNAP_NAME" >/dev/null || fail "snap remove --purge $SNAP_NAME failed"

mapfile -t commands <<<"$COMMANDS"
started=$(now)
for command in "${commands[@]}"; do
    run=${command//"$INSTALL_AS_WRITTEN"/"$install_here"}
    run=${run//"$LOGIN_HOST"/"$LOCAL_HOST"}
    say "\$ $command"
    [ "$run" = "$command" ] || say "  run as: $run"
    step_started=$(now)
    if ! out=$(bash -o pipefail -c "$run" 2>&1 </dev/null); then
        fail "quickstart command failed after $(since "$started") s: $run: $(oneline "$out")"
    fi
    [ -z "$out" ] || printf '  | %s\n' "${out//$'\n'/$'\n'  | }"
    say "  ($(since "$step_started") s)"
done
commands_took=$(since "$started")
say "quickstart: commands done $commands_took s after snap install"

path=${URL#http://HOST}
path=${path//"$LOGIN_HOST"/"$LOCAL_HOST"}
[[ $path == /pun/sys/shell/ssh/* ]] || fail "$README: the quickstart's URL $URL is not the shell app's (/pun/sys/shell/ssh/HOST)"
url=http://127.0.0.1:$(portal_port)$path
say "quickstart: $USER_NAME opens $URL (here $url) with the quickstart's password"
body=$(mktemp)
defer rm -f "$body"
# The shell app's page (apps/shell/views/index.hbs) for that host: its title, the host, and
# the CSRF token the page's WebSocket URL carries.
shell_page() {
    grep -q '<title>Shell - ' "$1" && grep -q "Host: $LOCAL_HOST " "$1" && grep -qE 'csrf=[^"&]+"' "$1"
}
ready='' code='' attempts=0
while :; do
    left=$(awk -v a="$started" -v b="$(now)" -v t="$TARGET" 'BEGIN { l = a + t - b; printf "%d", (l > 30 ? 30 : l) }')
    [ "$left" -gt 0 ] || break
    attempts=$((attempts + 1))
    code=$(curl -s -L --max-redirs 10 --max-time "$left" -u "$USER_NAME:$PASSWORD" -o "$body" \
        -w '%{http_code}' "$url" 2>/dev/null || true)
    if [ "$code" = 200 ] && shell_page "$body"; then
        ready=$(since "$started")
        break
    fi
    sleep 1
done
if [ -z "$ready" ]; then
    fail "no shell page for $USER_NAME at $url within $TARGET s of snap install (the commands took $commands_took s; $attempts tries, last HTTP ${code:-none}: $(oneline "$(head -c 300 "$body")"))"
fi
say "  HTTP 200 after $attempts try(s): the shell app's page for $LOCAL_HOST with its WebSocket's CSRF token"
say "quickstart: portal ready in $ready s from snap install (target $TARGET s)"
awk -v r="$ready" -v t="$TARGET" 'BEGIN { exit !(r <= t) }' ||
    problem "portal ready in $ready s from snap install, over the target of $TARGET s"

say "quickstart: the page came from $USER_NAME's own PUN (mod_ood_proxy -> nginx_stage), running as $USER_NAME"
sock=$(pun_sock "$USER_NAME")
[ -S "$sock" ] || problem "$sock: no socket; the front proxy did not start $USER_NAME's PUN"
master=$(pun_master_pid "$USER_NAME")
if [ -z "$master" ] || ! kill -0 "$master" 2>/dev/null; then
    problem "no running nginx master for $USER_NAME ($(pun_pidfile "$USER_NAME"): ${master:-missing})"
else
    tree=$(pun_tree "$USER_NAME")
    printf '%s\n' "$tree" | sed 's/^/  /'
    pun_tree_owned "$USER_NAME" "$tree"
    grep -q ' nginx: worker process' <<<"$tree" || problem "no nginx worker in $USER_NAME's PUN"
fi
# The shell app (Node.js, spawned by Passenger, whose daemonized watchdog pun_tree finds
# only through an instance registry it may not know): a process of the user's, retitled
# by Passenger's Node loader; and no PUN process (the nginx masters aside) runs as root.
apps=$(pgrep -a -U "$USER_NAME" -u "$USER_NAME" -f '^(Passenger NodeApp|[^ ]*node [^ ]*node-loader\.js)' || true)
if [ -n "$apps" ]; then
    say "  the shell app as $USER_NAME: $(oneline "$apps")"
else
    problem "no Node.js app process (Passenger NodeApp: the shell app) runs as $USER_NAME"
fi
no_pun_runs_as_root
cluster=$(grep -oE '^clusters\.[a-z0-9-]+\.login\.host$' <<<"$KEYS" | head -n 1 | cut -d. -f2)
cluster_file=$COMMON/etc/ood/config/clusters.d/$cluster.yml
if grep -qE "host: \"?$LOCAL_HOST\"?\$" "$cluster_file" 2>/dev/null; then
    say "  $cluster_file: login host $LOCAL_HOST"
else
    problem "$cluster_file: no login host $LOCAL_HOST: $(oneline "$(cat "$cluster_file" 2>&1)")"
fi

say "quickstart: the logs the README names"
logs=$(snap logs -n 20 "$SNAP_NAME" 2>&1 || true)
if [ -n "$(grep -v '^[[:space:]]*$' <<<"$logs" | grep -v -e '^-- No entries --$' || true)" ]; then
    say "  snap logs $SNAP_NAME: $(grep -c . <<<"$logs") line(s), the last: $(tail -n 1 <<<"$logs")"
else
    problem "snap logs $SNAP_NAME prints nothing: $(oneline "$logs")"
fi
mapfile -t named < <(grep -oE "\`$COMMON/var/log/[^\`]*\`" "$README" | tr -d '`' | sort -u)
[ "${#named[@]}" -gt 0 ] || problem "$README names no log under $COMMON/var/log/"
for log in "${named[@]}"; do
    log=${log//USER/$USER_NAME}
    if [ -d "$log" ]; then
        say "  $log: $(stat -c '%U:%G %04a' "$log"), holding: $(oneline "$(ls "$log")")"
    elif [ -e "$log" ]; then
        say "  $log: $(stat -c '%U:%G %04a %s bytes' "$log")"
    else
        problem "$log: named in $README, missing after $USER_NAME signed in"
    fi
done
[ -d "$PUN_LOG_ROOT/$USER_NAME" ] || problem "$PUN_LOG_ROOT/$USER_NAME: no log directory of $USER_NAME's PUN"

finish quickstart
