#!/bin/bash
# Check: refresh -> revert -> refresh keeps every admin value and file: the snap options set
# here, the vhost carrying the server name, a key the admin added to nginx_stage.yml, a
# clusters.d file and an app env file the admin wrote by hand (byte-identical after each
# step).
# Usage: refresh.sh SNAP_FILE   (or SNAP_FILE in the environment): the .snap to refresh to.
#        refresh.sh --restore     (unset what the check set, remove its files)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
OPTIONS=(portal.servername=ood.example.org nginx-stage.min-uid=2000 clusters.check-r.login.host=login.check-r.example.test)
ADMIN_CLUSTER=$COMMON/etc/ood/config/clusters.d/check-admin.yml
ADMIN_ENV=$COMMON/etc/ood/config/apps/shell/env
NGINX_STAGE_YML=$COMMON/etc/ood/config/nginx_stage.yml
# The restore command: the options unset, the admin files removed (if the check left them).
unset_servername() {
    if snap list "$SNAP_NAME" >/dev/null 2>&1; then
        snap unset "$SNAP_NAME" portal.servername nginx-stage.min-uid clusters.check-r || true
    fi
    rm -f "$ADMIN_CLUSTER" "$ADMIN_ENV"
    [ ! -f "$NGINX_STAGE_YML" ] || sed -i '/^passenger_pool_idle_time: 301$/d' "$NGINX_STAGE_YML"
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

if [ -e "$ADMIN_CLUSTER" ] || [ -e "$ADMIN_ENV" ]; then
    fail "precondition: $ADMIN_CLUSTER or $ADMIN_ENV exists; run refresh.sh --restore first"
fi
defer_restore
say "refresh: snap set $SNAP_NAME ${OPTIONS[*]}"
snap set "$SNAP_NAME" "${OPTIONS[@]}" || fail "snap set ${OPTIONS[*]} failed"
install -d -m 755 "$(dirname "$ADMIN_ENV")"
printf 'OOD_SHELL_INACTIVE_TIMEOUT_MS=600000\n' >"$ADMIN_ENV"
printf 'v2:\n  metadata:\n    title: "Admin own"\n  login:\n    host: "login.admin.example.test"\n' >"$ADMIN_CLUSTER"
printf 'passenger_pool_idle_time: 301\n' >>"$NGINX_STAGE_YML"
# A configure run after the admin's edit (it must keep the added key).
snap set "$SNAP_NAME" nginx-stage.min-uid=2001 || fail "snap set nginx-stage.min-uid=2001 failed"
snap set "$SNAP_NAME" nginx-stage.min-uid=2000 || fail "snap set nginx-stage.min-uid=2000 failed"
grep -qx 'passenger_pool_idle_time: 301' "$NGINX_STAGE_YML" || fail "the configure hook dropped the admin's key from $NGINX_STAGE_YML"
admin_sums=$(sha256sum "$ADMIN_CLUSTER" "$ADMIN_ENV")

# Every option, the admin's files and the admin's nginx_stage.yml key as they were; $1 says when.
expect_admin_state() {
    local option key want now
    for option in "${OPTIONS[@]}"; do
        key=${option%%=*} want=${option#*=}
        now=$(snap_option "$key")
        [ "$now" = "$want" ] || problem "$1: $key is $now, want $want"
    done
    [ "$(sha256sum "$ADMIN_CLUSTER" "$ADMIN_ENV" 2>&1)" = "$admin_sums" ] ||
        problem "$1: the admin's $ADMIN_CLUSTER or $ADMIN_ENV changed or went"
    grep -qx 'passenger_pool_idle_time: 301' "$NGINX_STAGE_YML" || problem "$1: $NGINX_STAGE_YML lost the admin's passenger_pool_idle_time"
    grep -qx 'min_uid: 2000' "$NGINX_STAGE_YML" || problem "$1: $NGINX_STAGE_YML has no min_uid: 2000"
    [ -f "$COMMON/etc/ood/config/clusters.d/check-r.yml" ] || problem "$1: clusters.d/check-r.yml (from clusters.check-r.*) is gone"
    expect_servername "$1"
}
expect_admin_state "before refresh"
first=$(revision)

say "refresh: snap install --dangerous --classic $snap_file (a new revision)"
snap install --dangerous --classic "$snap_file" || fail "installing $snap_file over revision $first failed"
second=$(revision)
[ "$second" != "$first" ] || fail "revision still $first after installing $snap_file again"
say "  revision $first -> $second"
expect_admin_state "after refresh to $second"

say "refresh: snap revert $SNAP_NAME"
snap revert "$SNAP_NAME" || fail "snap revert $SNAP_NAME failed"
reverted=$(revision)
[ "$reverted" = "$first" ] || problem "revert went to revision $reverted, want $first"
expect_admin_state "after revert to $reverted"

say "refresh: snap install --dangerous --classic $snap_file again (refresh after the revert)"
snap install --dangerous --classic "$snap_file" || fail "installing $snap_file after the revert failed"
third=$(revision)
[ "$third" != "$reverted" ] || problem "revision still $reverted after installing $snap_file again"
expect_admin_state "after the second refresh to $third"
apache_up=$(systemctl is-active "snap.$SNAP_NAME.apache.service" || true)
[ "$apache_up" = active ] || problem "after the second refresh: snap.$SNAP_NAME.apache.service is $apache_up"

finish refresh
