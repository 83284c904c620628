#!/bin/bash
# Check: an invalid `snap set` is refused by the configure hook, the option keeps its
# previous value, and no file under $SNAP_COMMON/etc changes (not even metadata). Then a
# valid portal.port=8080 is accepted and reaches the vhost: the refusal came from
# validation, not from a hook that fails whatever it gets.
# Usage: configure-rollback.sh | --restore   (unset portal.port)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# The restore command: portal.port unset again if the check left it set.
unset_port() {
    if snap list "$SNAP_NAME" >/dev/null 2>&1 && [ "$(snap_option portal.port)" != "<unset>" ]; then
        snap unset "$SNAP_NAME" portal.port
    fi
}
check_begin configure-rollback --root --installed --work --restore-with unset_port -- "$@"

ETC=$COMMON/etc
[ -d "$ETC" ] || fail "$ETC: missing (did the install hook run?)"

before=$(snap_option portal.port)
tree_fingerprint "$ETC" >"$WORK/before"
say "configure-rollback: portal.port is $before; $(grep -c '^[0-9a-f]\{64\} ' "$WORK/before") files under $ETC fingerprinted"

say "configure-rollback: snap set $SNAP_NAME portal.port=70000 must fail"
if snap set "$SNAP_NAME" portal.port=70000 >"$WORK/out" 2>&1; then
    fail "snap set $SNAP_NAME portal.port=70000 succeeded; the configure hook must refuse a port above 65535"
fi
sed 's/^/  /' "$WORK/out"
grep -q 'portal\.port' "$WORK/out" ||
    problem "the error of snap set does not name portal.port: $(tr '\n' ' ' <"$WORK/out")"

after=$(snap_option portal.port)
if [ "$after" != "$before" ]; then
    problem "portal.port is $after after the refused snap set, was $before"
else
    say "  portal.port still $after"
fi

tree_fingerprint "$ETC" >"$WORK/after"
if ! diff -u "$WORK/before" "$WORK/after" >"$WORK/diff"; then
    problem "files under $ETC changed although snap set failed:
$(sed 's/^/    /' "$WORK/diff")"
else
    say "  every file under $ETC is byte-identical (sha256), modes and owners unchanged"
fi

GOOD=8080
# Without authentication upstream's need_auth vhost listens on any port: the main config
# opens portal.port.
MAIN=$ETC/apache2/httpd.conf
say "configure-rollback: snap set $SNAP_NAME portal.port=$GOOD right after the refusal must succeed"
defer_restore
if ! snap set "$SNAP_NAME" portal.port=$GOOD >"$WORK/out" 2>&1; then
    problem "snap set portal.port=$GOOD after a refused value failed: $(oneline "$(cat "$WORK/out")")"
else
    now=$(snap_option portal.port)
    [ "$now" = "$GOOD" ] || problem "portal.port is $now after snap set portal.port=$GOOD"
    if grep -qx "Listen $GOOD" "$MAIN" 2>/dev/null; then
        say "  portal.port=$now; $MAIN has Listen $GOOD"
    else
        problem "$MAIN has no Listen $GOOD after portal.port=$GOOD (its Listen lines: $(grep -h '^Listen' "$MAIN" 2>/dev/null | paste -sd ';' || echo none))"
    fi
fi

finish configure-rollback
