#!/bin/bash
# Check: configuration survives a refresh to a new revision and a revert.
# Usage: refresh.sh SNAP_FILE   (or SNAP_FILE in the environment): the .snap to refresh to.
#        refresh.sh --restore     (unset portal.servername)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# The restore command: portal.servername unset again if the check left it set.
unset_servername() {
    if snap list "$SNAP_NAME" >/dev/null 2>&1 && [ "$(snap_option portal.servername)" != "<unset>" ]; then
        snap unset "$SNAP_NAME" portal.servername
    fi
}
check_begin refresh --root --installed --restore-with unset_servername -- "$@"

snap_file=${1:-${SNAP_FILE:-}}
[ -n "$snap_file" ] || fail "usage: $0 SNAP_FILE (the .snap to refresh to; or set SNAP_FILE)"
[ -f "$snap_file" ] || fail "$snap_file: no such file"

SERVERNAME=ood.example.org
VHOST=$COMMON/etc/apache2/ood-portal.conf

revision() { readlink "/snap/$SNAP_NAME/current"; }

# The setting and the vhost Apache loads both carry the server name; $1 says when.
expect_servername() {
    local value lines
    value=$(snap_option portal.servername)
    if [ "$value" != "$SERVERNAME" ]; then
        problem "$1: portal.servername is $value, want $SERVERNAME"
    fi
    if [ ! -f "$VHOST" ]; then
        problem "$1: $VHOST missing"
    elif ! grep -Eq "^[[:space:]]*ServerName[[:space:]]+\"?${SERVERNAME//./\\.}\"?[[:space:]]*$" "$VHOST"; then
        lines=$(grep -E '^[[:space:]]*ServerName' "$VHOST" | sed 's/^[[:space:]]*//' | paste -sd ';' || true)
        problem "$1: $VHOST has no 'ServerName $SERVERNAME' (its ServerName lines: ${lines:-none})"
    else
        say "  $1: portal.servername=$value, $VHOST has ServerName $SERVERNAME"
    fi
}

say "refresh: snap set $SNAP_NAME portal.servername=$SERVERNAME"
snap set "$SNAP_NAME" portal.servername="$SERVERNAME" || fail "snap set portal.servername=$SERVERNAME failed"
expect_servername "before refresh"
first=$(revision)

say "refresh: snap install --dangerous --classic $snap_file (a new revision)"
snap install --dangerous --classic "$snap_file" || fail "installing $snap_file over revision $first failed"
second=$(revision)
[ "$second" != "$first" ] || fail "revision still $first after installing $snap_file again"
say "  revision $first -> $second"
expect_servername "after refresh to $second"

say "refresh: snap revert $SNAP_NAME"
snap revert "$SNAP_NAME" || fail "snap revert $SNAP_NAME failed"
reverted=$(revision)
[ "$reverted" = "$first" ] || problem "revert went to revision $reverted, want $first"
expect_servername "after revert to $reverted"

finish refresh
