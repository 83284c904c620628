#!/bin/bash
# Check: an invalid `snap set` is refused by the configure hook, the option keeps its
# previous value, and no file under $SNAP_COMMON/etc changes (not even metadata). Then a
# valid portal.port=8080 is accepted and reaches the vhost: the refusal came from
# validation, not from a hook that fails whatever it gets.
# Usage: configure-rollback.sh | --restore   (unset portal.port)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root
if [ "${1:-}" = --restore ]; then
    if snap list "$SNAP_NAME" >/dev/null 2>&1 && [ "$(snap_option portal.port)" != "<unset>" ]; then
        snap unset "$SNAP_NAME" portal.port
    fi
    exit 0
fi
require_installed

ETC=$COMMON/etc
[ -d "$ETC" ] || fail "$ETC: missing (did the install hook run?)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

before=$(snap_option portal.port)
tree_fingerprint "$ETC" >"$work/before"
say "configure-rollback: portal.port is $before; $(grep -c '^[0-9a-f]\{64\} ' "$work/before") files under $ETC fingerprinted"

say "configure-rollback: snap set $SNAP_NAME portal.port=70000 must fail"
if snap set "$SNAP_NAME" portal.port=70000 >"$work/out" 2>&1; then
    fail "snap set $SNAP_NAME portal.port=70000 succeeded; the configure hook must refuse a port above 65535"
fi
sed 's/^/  /' "$work/out"
grep -q 'portal\.port' "$work/out" ||
    problem "the error of snap set does not name portal.port: $(tr '\n' ' ' <"$work/out")"

after=$(snap_option portal.port)
if [ "$after" != "$before" ]; then
    problem "portal.port is $after after the refused snap set, was $before"
else
    say "  portal.port still $after"
fi

tree_fingerprint "$ETC" >"$work/after"
if ! diff -u "$work/before" "$work/after" >"$work/diff"; then
    problem "files under $ETC changed although snap set failed:
$(sed 's/^/    /' "$work/diff")"
else
    say "  every file under $ETC is byte-identical (sha256), modes and owners unchanged"
fi

GOOD=8080
VHOST=$ETC/apache2/ood-portal.conf
say "configure-rollback: snap set $SNAP_NAME portal.port=$GOOD right after the refusal must succeed"
trap 'rm -rf "$work"; snap unset "$SNAP_NAME" portal.port || true' EXIT
if ! snap set "$SNAP_NAME" portal.port=$GOOD >"$work/out" 2>&1; then
    problem "snap set portal.port=$GOOD after a refused value failed: $(oneline "$(cat "$work/out")")"
else
    now=$(snap_option portal.port)
    [ "$now" = "$GOOD" ] || problem "portal.port is $now after snap set portal.port=$GOOD"
    if grep -q "<VirtualHost \*:$GOOD>" "$VHOST" 2>/dev/null; then
        say "  portal.port=$now; $VHOST has <VirtualHost *:$GOOD>"
    else
        problem "$VHOST has no <VirtualHost *:$GOOD> after portal.port=$GOOD (its VirtualHost lines: $(grep -h '<VirtualHost' "$VHOST" 2>/dev/null | paste -sd ';' || echo none))"
    fi
fi

finish configure-rollback
