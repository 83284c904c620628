# shellcheck shell=bash
# Helpers sourced by the behaviour checks in this directory. Each check runs as root on a
# machine where the ondemand snap is installed, and exits non-zero naming what differed.
# Sourcing this file only defines things; a check starts with check_begin (below), which
# takes over the EXIT trap for the clean-ups registered with defer.

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

# write_htpasswd DIR USER PASSWORD: DIR/htpasswd with USER's apr1 hash, readable by the
# portal user (Apache's workers read it; the hooks refuse a file that user cannot read).
write_htpasswd() {
    install -d -m 755 "$1"
    printf '%s:%s\n' "$2" "$(openssl passwd -apr1 "$3")" >"$1/htpasswd"
    chgrp "$PORTAL_USER" "$1/htpasswd"
    chmod 640 "$1/htpasswd"
}

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
    local path absent=()
    for path in "$NGINX_STAGE" "$NGINX_STAGE_CODE" "$MOD_OOD_PROXY"; do
        [ -e "$path" ] || absent+=("$path")
    done
    [ "${#absent[@]}" -eq 0 ] && return 0
    skip "$1: OnDemand is not in this build ($(snap list "$SNAP_NAME" 2>/dev/null | awk 'NR==2 {print $1, $2}'): ${absent[*]} absent)"
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

require_root() {
    [ "$(id -u)" -eq 0 ] || fail "run this check as root"
}

require_installed() {
    snap list "$SNAP_NAME" >/dev/null 2>&1 || fail "the $SNAP_NAME snap is not installed (snap list $SNAP_NAME fails)"
}

# ------------------------------------------------------------------------ start and clean-up
#
# A check starts with
#
#     check_begin NAME [--root] [--installed] [--work] [--restore-with CMD [ARG...]] -- "$@"
#
# "$@" being the check's own arguments. Run as `NAME.sh --restore` (spread's restore-each
# does, after every task, whether it passed, failed or was cut short), the check only runs
# its restore command CMD and exits with CMD's status, or exits 0 at once if it has none.
# CMD undoes whatever the check may have left behind, so it must be harmless when nothing
# is there. Otherwise check_begin returns and the check goes on:
#   --root          it must run as root (checked in restore mode too, when there is a CMD);
#   --installed     the snap must be installed (not checked in restore mode);
#   --work          a scratch directory, $WORK, removed at exit;
#   --restore-with  every word up to `--` is CMD.
# check_begin sets CHECK to NAME and owns the EXIT trap from then on: a check sets none.
#
# `defer CMD [ARG...]` registers a clean-up. At exit, however the check ends (finish, fail,
# skip, set -e), the deferred commands run, the last deferred first. Each runs in a subshell
# with set -e: one that fails stops there and is reported on stderr, and the next one still
# runs. The check's own exit status stands; only a check that would have exited 0 exits 1
# when a clean-up failed. The words are taken when defer is called: to work something out
# at exit, defer a function. `defer_restore` defers CMD, typically right after the
# preconditions that CMD must not undo.

CHECK=
WORK=
_CHECK_PID=
_CHECK_RESTORE=
_CHECK_DEFERRED=()
_CHECK_RUN_STATUS=0

check_begin() {
    [ "$#" -gt 0 ] || fail "usage: check_begin NAME [OPTION...] -- CHECK_ARGUMENTS..."
    CHECK=$1
    shift
    local root='' installed='' work='' separated='' word
    local -a restore=()
    while [ "$#" -gt 0 ]; do
        word=$1
        shift
        case $word in
        --root) root=1 ;;
        --installed) installed=1 ;;
        --work) work=1 ;;
        --restore-with)
            while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
                restore+=("$1")
                shift
            done
            [ "${#restore[@]}" -gt 0 ] || fail "check_begin $CHECK: --restore-with needs a command"
            ;;
        --)
            separated=1
            break
            ;;
        *) fail "check_begin $CHECK: unknown option '$word' (the check's own arguments go after --)" ;;
        esac
    done
    [ -n "$separated" ] || fail "check_begin $CHECK: no -- before the check's own arguments"
    _CHECK_RESTORE=
    if [ "${#restore[@]}" -gt 0 ]; then
        printf -v _CHECK_RESTORE '%q ' "${restore[@]}"
        _CHECK_RESTORE=${_CHECK_RESTORE% }
    fi

    if [ "${1:-}" = --restore ]; then
        [ -n "$_CHECK_RESTORE" ] || exit 0
        [ -z "$root" ] || require_root
        _check_run "$_CHECK_RESTORE" restore
        exit "$_CHECK_RUN_STATUS"
    fi

    [ -z "$root" ] || require_root
    [ -z "$installed" ] || require_installed
    _CHECK_PID=$BASHPID
    _CHECK_DEFERRED=()
    trap _check_exit EXIT
    if [ -n "$work" ]; then
        WORK=$(mktemp -d)
        defer rm -rf "$WORK"
    fi
}

defer() {
    [ "$#" -gt 0 ] || fail "usage: defer CMD [ARG...]"
    [ -n "$_CHECK_PID" ] || fail "defer $*: check_begin was not called"
    [ "$BASHPID" = "$_CHECK_PID" ] || fail "defer $*: in a subshell, whose clean-ups would be lost"
    local command
    printf -v command '%q ' "$@"
    _CHECK_DEFERRED+=("${command% }")
}

defer_restore() {
    [ -n "$_CHECK_RESTORE" ] || fail "defer_restore: check_begin $CHECK was given no --restore-with"
    [ -n "$_CHECK_PID" ] || fail "defer_restore: check_begin was not called"
    [ "$BASHPID" = "$_CHECK_PID" ] || fail "defer_restore: in a subshell, whose clean-ups would be lost"
    _CHECK_DEFERRED+=("$_CHECK_RESTORE")
}

# _check_run COMMAND WHAT: eval COMMAND (a quoted command line) in a subshell with set -e;
# its status goes to _CHECK_RUN_STATUS, and a failure is reported naming WHAT. Called as a
# plain command, never as a condition: there bash would ignore the subshell's set -e.
_check_run() {
    local errexit=''
    case $- in *e*) errexit=1 ;; esac
    set +e
    (
        set -e
        eval "$1"
    )
    _CHECK_RUN_STATUS=$?
    [ -z "$errexit" ] || set -e
    if [ "$_CHECK_RUN_STATUS" -ne 0 ]; then
        printf '%s: %s failed (exit %d): %s\n' "$CHECK" "$2" "$_CHECK_RUN_STATUS" "$1" >&2
    fi
}

# The EXIT trap: the deferred clean-ups, last first, then the check's own status.
_check_exit() {
    local status=$? failed=0 i
    set +e
    trap - EXIT
    for ((i = ${#_CHECK_DEFERRED[@]} - 1; i >= 0; i--)); do
        _check_run "${_CHECK_DEFERRED[i]}" clean-up
        [ "$_CHECK_RUN_STATUS" -eq 0 ] || failed=$((failed + 1))
    done
    _CHECK_DEFERRED=()
    if [ "$failed" -gt 0 ] && [ "$status" -eq 0 ]; then
        printf '%s: %d clean-up(s) failed: exit 1\n' "$CHECK" "$failed" >&2
        status=1
    fi
    exit "$status"
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

# set_options KEY...: those of the KEYs that hold a value now, one a line.
set_options() {
    local key
    for key; do
        [ "$(snap_option "$key")" = "<unset>" ] || printf '%s\n' "$key"
    done
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
