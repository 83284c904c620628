#!/bin/bash
# Check: an invalid `snap set` is refused by the configure hook, the option keeps its
# previous value, and no file under $SNAP_COMMON/etc changes (not even metadata).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
require_root
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

finish configure-rollback
