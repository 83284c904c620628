#!/bin/bash
# Check: portal.maintenance.enabled and portal.maintenance.allowlist, upstream's mechanism.
# The switch creates or removes the flag file upstream's vhost tests on every request
# ($COMMON/etc/ood/maintenance.enable; no reload); the allowlist reaches ood_portal.yml
# in upstream's prefix form and the vhost's RewriteConds: a client outside it is sent to
# the maintenance page, one inside gets the normal portal. Basic auth is on first, as
# upstream's need_auth vhost has no maintenance. Unknown keys are refused with a hint; a
# non-boolean switch and addresses or networks upstream cannot express are refused naming
# each key and the accepted form, changing nothing; snap unset turns maintenance off.
# (portal-maintenance.sh covers two clients from different addresses; this check is about
# the keys.)
#
# Usage: configure-maintenance.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
AUTH_DIR=/etc/ondemand-check-maintenance
EXTRA_PATHS=("$AUTH_DIR")
configure_begin configure-maintenance portal.maintenance.enabled portal.maintenance.allowlist "${BASIC_KEYS[@]}" -- "$@"
[ ! -e "$AUTH_DIR" ] || fail "precondition: $AUTH_DIR exists; run configure-maintenance.sh --restore first"
FLAG=$COMMON/etc/ood/maintenance.enable
MAINTENANCE=/public/maintenance/index.html
PROTECTED=http://127.0.0.1$(protected_uri)
[ ! -e "$FLAG" ] || fail "precondition: $FLAG exists (maintenance already on)"
until_answers "$NEED_AUTH_CODE" http://127.0.0.1/
basic_auth_on "$AUTH_DIR"

step "allowed: maintenance on, loopback not in the allowlist"
pid=$(apache_pid) reloads=$(reload_count)
set_ok portal.maintenance.enabled=true portal.maintenance.allowlist=192.0.2.0/24,198.51.100.7/32
expect_yaml "$PORTAL_YML" use_maintenance=true 'maintenance_ip_allowlist=["192.0.2.", "198.51.100.7"]'
expect_path f root:root 0644 "$FLAG"
has_line "$VHOST" "  RewriteCond $FLAG -f" '  RewriteCond %{REMOTE_ADDR} !^192\.0\.2\.' \
    '  RewriteCond %{REMOTE_ADDR} !^198\.51\.100\.7' "  RewriteRule ^.*$ $MAINTENANCE [R=302,L]"
until_answers 302 "$PROTECTED"
expect_hop "$PROTECTED" 302 "http://127.0.0.1$MAINTENANCE"
expect_hop "http://127.0.0.1$MAINTENANCE" 200 ""
expect_reload yes "$pid" "$reloads"  # the allowlist changed the vhost
apache_active

step "allowed: maintenance off and on again: only the flag file, no reload"
pid=$(apache_pid) reloads=$(reload_count)
set_ok portal.maintenance.enabled=false
[ ! -e "$FLAG" ] || problem "$FLAG still exists after portal.maintenance.enabled=false"
until_answers 401 "$PROTECTED"
set_ok portal.maintenance.enabled=true
until_answers 302 "$PROTECTED"
expect_reload no "$pid" "$reloads"

step "allowed: loopback in the allowlist (a network on an octet boundary becomes its prefix)"
set_ok portal.maintenance.allowlist=127.0.0.9/8
expect_yaml "$PORTAL_YML" use_maintenance=true 'maintenance_ip_allowlist=["127."]'
has_line "$VHOST" '  RewriteCond %{REMOTE_ADDR} !^127\.'
until_answers 401 "$PROTECTED"

step "refused: unknown keys under portal.maintenance."
refused portal.maintenance.allow-list=127.0.0.1
says "portal.maintenance.allow-list: unknown key; did you mean portal.maintenance.allowlist?"
refused portal.maintenance=true
says "portal.maintenance: is a group of settings, not a value; set one of portal.maintenance.allowlist, portal.maintenance.enabled"

step "invalid: bad switch and bad networks"
refused portal.maintenance.enabled=maybe portal.maintenance.allowlist=127.0.0.1,10.0.0.0/33
says "(2 problems; nothing was changed)" \
    'portal.maintenance.enabled: "maybe" is not true or false' \
    'portal.maintenance.allowlist: "10.0.0.0/33" is not an IP address or an IPv4 network of /8, /16 or /24'
refused portal.maintenance.allowlist=10.1.16.0/20
says "portal.maintenance.allowlist: \"10.1.16.0/20\" is not an IP address or an IPv4 network of /8, /16 or /24 (upstream's allowlist matches the start of the client's address)"
refused portal.maintenance.allowlist=300.1.2.3
says 'portal.maintenance.allowlist: "300.1.2.3" is not an IP address'
refused portal.maintenance.allowlist=localhost
says 'portal.maintenance.allowlist: "localhost" is not an IP address'
refused "portal.maintenance.allowlist=127.0.0.1\"' -R '0.0.0.0/0"
says "portal.maintenance.allowlist: \"127.0.0.1\\\"' -R '0.0.0.0/0\" is not an IP address"
until_answers 401 "$PROTECTED"

step "unset: maintenance off"
unset_ok portal.maintenance.enabled portal.maintenance.allowlist
expect_yaml "$PORTAL_YML" use_maintenance=true 'maintenance_ip_allowlist=[]'
[ ! -e "$FLAG" ] || problem "$FLAG still exists after snap unset"
lacks_line "$VHOST" 'REMOTE_ADDR'
until_answers 401 "$PROTECTED"
apache_active

finish configure-maintenance
