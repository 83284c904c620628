#!/bin/bash
# Check: after `snap install`, the writable tree, default config, sudoers rule and portal
# user are exactly what docs/layout.md promises.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
check_begin install --root --installed -- "$@"

say "install: \$SNAP_COMMON tree (owners and modes from docs/layout.md)"
# type owner:group mode path (relative to $SNAP_COMMON)
while read -r type owner mode rel; do
    expect_path "$type" "$owner" "$mode" "$COMMON/$rel"
done <<'LAYOUT'
d root:root 0755 etc/ood/config
d root:root 0755 etc/ood/config/clusters.d
d root:root 0755 etc/ood/config/ondemand.d
d root:root 0755 etc/ood/config/apps
d root:root 0755 etc/apache2
d root:root 0755 var/lib/ondemand-nginx/config/puns
d root:root 0755 var/lib/ondemand-nginx/config/apps/sys
d root:root 0755 var/lib/ondemand-nginx/config/apps/usr
d root:root 0755 var/lib/ondemand-nginx/config/apps/dev
d root:root 0755 var/www/ood/public
d root:root 0755 var/www/ood/apps/sys
d root:root 0755 var/www/ood/discover
d root:root 0755 var/www/ood/register
d root:root 0700 var/log/apache2
d root:root 0755 var/log/ondemand-nginx
d root:root 0755 run/ondemand-nginx
d root:root 0755 run/apache2
f root:root 0600 var/log/hooks.log
LAYOUT

say "install: default configuration files"
for rel in etc/ood/config/ood_portal.yml etc/ood/config/nginx_stage.yml etc/ood/config/ood_portal.sha256sum \
    etc/apache2/httpd.conf etc/apache2/ood-portal.conf; do
    path=$COMMON/$rel
    if [ ! -f "$path" ]; then
        problem "$path: missing (the install hook writes it)"
    elif [ ! -s "$path" ]; then
        problem "$path: empty"
    elif [ "$(stat -c %U:%G "$path")" != root:root ]; then
        problem "$path: owned by $(stat -c %U:%G "$path"), want root:root"
    elif [ -n "$(find "$path" -perm /022)" ]; then
        problem "$path: mode $(stat -c %04a "$path") lets others than root write it"
    else
        say "  $path: $(stat -c '%U:%G %04a' "$path"), $(wc -l <"$path") lines"
    fi
done

say "install: the vhost is upstream's update_ood_portal output, with its checksum"
vhost=$COMMON/etc/apache2/ood-portal.conf
read -r recorded recorded_path <"$COMMON/etc/ood/config/ood_portal.sha256sum" || true
actual=$(grep -v '^[[:space:]]*#' "$vhost" | sha256sum | cut -d' ' -f1)
if [ "${recorded:-}" = "$actual" ] && [ "${recorded_path:-}" = "$vhost" ]; then
    say "  ood_portal.sha256sum: $recorded $recorded_path (upstream's checksum of the vhost, comments left out)"
else
    problem "ood_portal.sha256sum says '${recorded:-} ${recorded_path:-}', want '$actual $vhost'"
fi
grep -qx '  RewriteRule ^.*$ /public/need_auth.html \[R=301,L\]' "$vhost" ||
    problem "$vhost: not upstream's need_auth vhost (no RewriteRule to /public/need_auth.html [R=301,L])"

say "install: sudoers rule $SUDOERS_FILE"
expect_path f root:root 0440 "$SUDOERS_FILE"
if [ -f "$SUDOERS_FILE" ]; then
    if ! command -v visudo >/dev/null; then
        problem "visudo not found: install sudo to check $SUDOERS_FILE"
    elif ! out=$(visudo -c -f "$SUDOERS_FILE" 2>&1); then
        problem "visudo -c -f $SUDOERS_FILE rejects it: $out"
    else
        say "  visudo: $out"
    fi
    grep -q "^[^#]*$PORTAL_USER" "$SUDOERS_FILE" ||
        problem "$SUDOERS_FILE: no rule for $PORTAL_USER"
    grep -q "^[^#]*/snap/$SNAP_NAME/current/sbin/nginx_stage" "$SUDOERS_FILE" ||
        problem "$SUDOERS_FILE: does not allow /snap/$SNAP_NAME/current/sbin/nginx_stage"
fi

say "install: portal user $PORTAL_USER"
if entry=$(getent passwd "$PORTAL_USER"); then
    say "  $entry"
else
    problem "user $PORTAL_USER does not exist (snapd creates it from system-usernames)"
fi

finish install
