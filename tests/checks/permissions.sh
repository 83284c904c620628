#!/bin/bash
# Check: a permission audit of the installed snap with an OIDC client secret configured.
# Nothing in the snap or under $SNAP_COMMON is world-writable (symlinks and the PUN sockets,
# which sit in per-user 0700 directories, aside); the files that hold a secret (ood_portal.yml
# with the client secret, the generated vhost, its backups and .new copies, the OIDC crypto
# passphrase) are root's and readable by root only; the sudoers rule is 0440 root; no
# secret-bearing file is readable by the portal's user (Apache reads its config as root).
#
# Usage: permissions.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
configure_begin permissions \
    portal.auth.type portal.oidc.provider-metadata-url portal.oidc.client-id portal.oidc.client-secret -- "$@"

SECRET=perm-check-$RANDOM$RANDOM
step "an OIDC client with a secret"
set_ok portal.auth.type=oidc portal.oidc.provider-metadata-url=https://idp.check.example.test/.well-known/openid-configuration \
    portal.oidc.client-id=perm-check "portal.oidc.client-secret=$SECRET"
grep -q "$SECRET" "$PORTAL_YML" || fail "precondition: the client secret is not in $PORTAL_YML"
grep -q "$SECRET" "$VHOST" || fail "precondition: the client secret is not in $VHOST"

step "no world-writable file in $SNAP_MOUNT/ or under $COMMON/"
for root in "$SNAP_MOUNT/" "$COMMON/"; do
    found=$(find "$root" -xdev -perm -o+w ! -type l ! -type s -printf '%M %u:%g %p\n' 2>/dev/null | head -20)
    if [ -n "$found" ]; then
        problem "world-writable under $root: $(oneline "$found")"
    else
        say "  $root: none"
    fi
done

step "every file holding the secret is root's, mode 0600"
holders=$(grep -rlF -D skip -- "$SECRET" "$COMMON" 2>/dev/null || true)
[ -n "$holders" ] || problem "no file under $COMMON holds the secret (the check cannot see them)"
while IFS= read -r path; do
    [ -n "$path" ] || continue
    expect_path f root:root 0600 "$path"
    if runuser -u "$PORTAL_USER" -- cat "$path" >/dev/null 2>&1; then
        problem "$path: readable by the portal's user $PORTAL_USER"
    fi
done <<<"$holders"
for path in "$COMMON/etc/ood/config/oidc_crypto_passphrase" "$COMMON/var/log/hooks.log"; do
    expect_path f root:root 0600 "$path"
done
expect_path f root:root 0440 "$SUDOERS_FILE"
if grep -rqF -D skip -- "$SECRET" "$COMMON/var/log" 2>/dev/null; then
    problem "the client secret appears in a log under $COMMON/var/log"
fi

finish permissions
