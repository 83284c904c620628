# shellcheck shell=bash
# Helpers sourced by the behaviour checks in this directory. Each check runs as root on a
# machine where the ondemand snap is installed, and exits non-zero naming what differed.

SNAP_NAME=ondemand
# shellcheck disable=SC2034  # used by the checks that source this file
{
SNAP_MOUNT=/snap/$SNAP_NAME/current
COMMON=/var/snap/$SNAP_NAME/common
SUDOERS_FILE=/etc/sudoers.d/snap-$SNAP_NAME
PORTAL_USER=snap_daemon
}

PROBLEMS=()

# OnDemand itself (a full build; `+stacks-only` builds lack it).
# shellcheck disable=SC2034  # used by the checks that source this file
{
NGINX_STAGE=$SNAP_MOUNT/sbin/nginx_stage
NGINX_STAGE_CODE=$SNAP_MOUNT/opt/ood/nginx_stage
MOD_OOD_PROXY=$SNAP_MOUNT/opt/ood/mod_ood_proxy/lib
}

say() { printf '%s\n' "$*"; }

# Stop now: a step failed and nothing after it would mean anything.
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# Stop here, successfully, because this machine cannot show the behaviour: print the
# reason and, where the driver asks for it ($CHECK_SKIP_FILE, set by spread.yaml and
# fetched as a task artifact), write it there so the run's summary lists the skip.
skip() {
    printf 'SKIP: %s\n' "$*"
    if [ -n "${CHECK_SKIP_FILE:-}" ]; then
        printf '%s\n' "$*" >>"$CHECK_SKIP_FILE"
    fi
    exit 0
}

# Whether the installed snap has OnDemand's PUN parts (nginx_stage, mod_ood_proxy).
ondemand_present() {
    [ -e "$NGINX_STAGE" ] && [ -e "$NGINX_STAGE_CODE" ] && [ -e "$MOD_OOD_PROXY" ]
}

# A URL behind the portal's authentication: with OnDemand, upstream's vhost redirects / to
# the dashboard without asking and guards the /pun routes; without it, the vhost guards /.
protected_uri() {
    if ondemand_present; then echo /pun/sys/dashboard; else echo /x; fi
}

# Skip (see skip) unless the installed snap has OnDemand's PUN parts; $1 says what needs them.
require_ondemand() {
    local path missing=()
    for path in "$NGINX_STAGE" "$NGINX_STAGE_CODE" "$MOD_OOD_PROXY"; do
        [ -e "$path" ] || missing+=("$path")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    skip "$1: OnDemand is not in this build ($(snap list "$SNAP_NAME" 2>/dev/null | awk 'NR==2 {print $1, $2}'): ${missing[*]} absent)"
}

# One line: newlines in $1 become spaces.
oneline() { tr -s '\n' ' ' <<<"$1" | sed 's/ $//'; }

# Record a difference and go on, so one run reports every one of them (see finish).
problem() {
    printf 'FAIL: %s\n' "$*" >&2
    PROBLEMS+=("$*")
}

# Exit non-zero if any problem was recorded; $1 names the check.
finish() {
    if [ "${#PROBLEMS[@]}" -gt 0 ]; then
        printf '%s: %d problem(s):\n' "$1" "${#PROBLEMS[@]}" >&2
        printf '  - %s\n' "${PROBLEMS[@]}" >&2
        exit 1
    fi
    say "$1: ok"
}

# nothing_to_restore "$@": in a check that leaves no state behind, `CHECK.sh --restore`
# (spread's restore-each runs it after every task) does nothing.
nothing_to_restore() {
    if [ "${1:-}" = --restore ]; then exit 0; fi
}

require_root() {
    [ "$(id -u)" -eq 0 ] || fail "run this check as root"
}

require_installed() {
    snap list "$SNAP_NAME" >/dev/null 2>&1 || fail "the $SNAP_NAME snap is not installed (snap list $SNAP_NAME fails)"
}

# expect_path TYPE(d|f) OWNER:GROUP MODE PATH: PATH exists with that type, owner and mode.
expect_path() {
    local type=$1 owner=$2 mode=$3 path=$4 actual
    if [ "$type" = d ] && [ ! -d "$path" ]; then
        problem "$path: missing directory (want $owner $mode)"
        return
    fi
    if [ "$type" = f ] && [ ! -f "$path" ]; then
        problem "$path: missing file (want $owner $mode)"
        return
    fi
    if [ -L "$path" ]; then
        problem "$path: is a symlink (want a real $([ "$type" = d ] && echo directory || echo file))"
        return
    fi
    actual=$(stat -c '%U:%G %04a' "$path")
    if [ "$actual" != "$owner $mode" ]; then
        problem "$path: $actual, want $owner $mode"
    else
        say "  $path: $actual"
    fi
}

# The value of a snap option, or the word <unset> (snap get fails for unset options).
snap_option() {
    snap get "$SNAP_NAME" "$1" 2>/dev/null || echo "<unset>"
}

# Fingerprint of a tree: type, mode, owner and path of every entry, then the sha256 of
# every regular file; two fingerprints are equal only if nothing in the tree changed.
tree_fingerprint() {
    (
        cd "$1" &&
            find . -printf '%y %m %u:%g %p\n' | LC_ALL=C sort &&
            find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    )
}

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND once a second until it succeeds.
wait_for() {
    local timeout=$1 what=$2 waited=0
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ "$waited" -ge "$timeout" ]; then
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "  $what after ${waited}s"
}

# Print "APP KIND" for every app with a `daemon:` key in snap.yaml (KIND: timer or daemon).
# Block-style YAML: app names one indent under `apps:`, their keys deeper.
declared_services() {
    awk '
        function flush() { if (app != "" && daemon) print app, (timer ? "timer" : "daemon") }
        /^[^[:space:]#]/ { flush(); app = ""; in_apps = ($0 ~ /^apps:[[:space:]]*$/); app_indent = -1; next }
        !in_apps || /^[[:space:]]*(#|$)/ { next }
        {
            match($0, /^[[:space:]]*/); indent = RLENGTH
            if (app_indent < 0) app_indent = indent
            if (indent == app_indent) {
                flush(); app = $1; sub(/:$/, "", app); gsub(/["\047]/, "", app); daemon = 0; timer = 0
            } else if ($1 == "daemon:") { daemon = 1
            } else if ($1 == "timer:") { timer = 1 }
        }
        END { flush() }
    ' "$1"
}
