#!/bin/bash
# Check: portal.maintenance.enabled and portal.maintenance.allowlist. Valid values reach
# ood_portal.yml and the vhost: a client outside the allowlist gets 503, one inside the
# normal portal, entries are normalized (a host route 10.1.2.3/32 is 10.1.2.3, a network
# keeps its prefix). Unknown keys are refused with a hint; a non-boolean switch and bad
# addresses or CIDR networks are refused naming each key and the accepted form, changing
# nothing; snap unset turns maintenance off. (portal-maintenance.sh covers the two
# clients from different addresses; this check is about the keys.)
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
configure_begin configure-maintenance portal.maintenance.enabled portal.maintenance.allowlist -- "$@"

NEED_AUTH=/public/need_auth.html
until_answers 302 http://127.0.0.1/

step "allowed: maintenance on, loopback not in the allowlist"
pid=$(apache_pid) reloads=$(reload_count)
set_ok portal.maintenance.enabled=true portal.maintenance.allowlist=192.0.2.0/24,198.51.100.7/32
expect_yaml "$PORTAL_YML" use_maintenance=true 'maintenance_ip_allowlist=["192.0.2.0/24", "198.51.100.7"]'
has_line "$VHOST" "  RewriteCond expr \"! -R '192.0.2.0/24'\"" "  RewriteCond expr \"! -R '198.51.100.7'\"" \
    "  RewriteRule ^ - [R=503,L]"
until_answers 503 http://127.0.0.1/
expect_reload yes "$pid" "$reloads"
apache_active
expect_hop "http://127.0.0.1$NEED_AUTH" 200 ""

step "allowed: loopback in the allowlist (an address inside a network given loosely)"
set_ok portal.maintenance.allowlist=127.0.0.9/8
expect_yaml "$PORTAL_YML" use_maintenance=true 'maintenance_ip_allowlist=["127.0.0.0/8"]'
has_line "$VHOST" "  RewriteCond expr \"! -R '127.0.0.0/8'\""
until_answers 302 http://127.0.0.1/
expect_hop http://127.0.0.1/x 302 "http://127.0.0.1$NEED_AUTH"

step "refused: unknown keys under portal.maintenance."
refused portal.maintenance.allow-list=127.0.0.1
says "portal.maintenance.allow-list: unknown key; did you mean portal.maintenance.allowlist?"
refused portal.maintenance=true
says "portal.maintenance: is a group of settings, not a value; set one of portal.maintenance.allowlist, portal.maintenance.enabled"

step "invalid: bad switch and bad networks"
refused portal.maintenance.enabled=maybe portal.maintenance.allowlist=127.0.0.1,10.0.0.0/33
says "(2 problems; nothing was changed)" \
    'portal.maintenance.enabled: "maybe" is not true or false' \
    'portal.maintenance.allowlist: "10.0.0.0/33" is not an IP address or CIDR network, e.g. 10.0.0.5 or 192.168.0.0/16'
refused portal.maintenance.allowlist=300.1.2.3
says 'portal.maintenance.allowlist: "300.1.2.3" is not an IP address or CIDR network'
refused portal.maintenance.allowlist=localhost
says 'portal.maintenance.allowlist: "localhost" is not an IP address or CIDR network'
refused "portal.maintenance.allowlist=127.0.0.1\"' -R '0.0.0.0/0"
says "portal.maintenance.allowlist: \"127.0.0.1\\\"' -R '0.0.0.0/0\" is not an IP address or CIDR network"
until_answers 302 http://127.0.0.1/

step "unset: maintenance off"
unset_ok portal.maintenance.enabled portal.maintenance.allowlist
expect_yaml "$PORTAL_YML" use_maintenance=false 'maintenance_ip_allowlist=[]'
lacks_line "$VHOST" 'R=503' 'RewriteCond expr'
until_answers 302 http://127.0.0.1/
apache_active

finish configure-maintenance
