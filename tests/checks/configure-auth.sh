#!/bin/bash
# Check: how users log in, portal.auth.type none|basic|oidc with portal.auth.basic.* and
# portal.oidc.*. basic with an htpasswd file: Apache asks for a password and takes the
# right one; none: every page leads to need_auth.html; oidc needs an https discovery URL
# and a client id, and with a client secret it lands in ood_portal.yml and the vhost (both
# root-only) and Apache loads mod_auth_openidc. Unknown keys are refused with a hint; bad
# values, and values that try to break out of the Apache config (a line break, a quote, a
# '<', '${'), are refused naming each key, without echoing the secret, changing nothing;
# snap unset brings back the need_auth page.
#
# Usage: configure-auth.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
AUTH_DIR=/etc/ondemand-check-auth
EXTRA_PATHS=("$AUTH_DIR")
configure_begin configure-auth \
    portal.auth.type portal.auth.basic.user-file portal.oidc.provider-metadata-url \
    portal.oidc.client-id portal.oidc.client-secret portal.oidc.remote-user-claim portal.oidc.scope portal.oidc.uri \
    -- "$@"
[ ! -e "$AUTH_DIR" ] || fail "precondition: $AUTH_DIR exists; run configure-auth.sh --restore first"

HTPASSWD=$AUTH_DIR/htpasswd
USER_NAME=checkuser
PASSWORD=check-password-$RANDOM
METADATA=https://idp.check.example.test/realms/hpc/.well-known/openid-configuration
CLIENT_ID=ondemand-check
SECRET=check-secret-$RANDOM$RANDOM
PROTECTED=http://127.0.0.1$(protected_uri)

write_htpasswd "$AUTH_DIR" "$USER_NAME" "$PASSWORD"  # writes $HTPASSWD
until_answers "$NEED_AUTH_CODE" http://127.0.0.1/

step "refused: unknown keys under portal.auth. and portal.oidc."
refused portal.auth.kind=basic
says "portal.auth.kind: unknown key; did you mean portal.auth.type?"
refused "portal.oidc.client=$CLIENT_ID"
says "portal.oidc.client: unknown key; did you mean portal.oidc.client-id?"

step "invalid: basic"
refused portal.auth.type=kerberos
says 'portal.auth.type: "kerberos" is not one of: auto, none, oidc, basic'
refused portal.auth.type=basic
says "portal.auth.basic.user-file: required when portal.auth.type is basic; set it"
refused portal.auth.type=basic "portal.auth.basic.user-file=$AUTH_DIR/missing"
says "portal.auth.basic.user-file: \"$AUTH_DIR/missing\" does not exist; give the path of the htpasswd file"
# Apache's workers (the portal user) read it: a root-only file would fail every login.
install -m 600 "$HTPASSWD" "$AUTH_DIR/root-only"
refused portal.auth.type=basic "portal.auth.basic.user-file=$AUTH_DIR/root-only"
says "portal.auth.basic.user-file: \"$AUTH_DIR/root-only\": the htpasswd file must be readable by the portal's user, but $PORTAL_USER cannot read it"

step "allowed: basic"
pid=$(apache_pid)
set_ok portal.auth.type=basic "portal.auth.basic.user-file=$HTPASSWD"
expect_yaml "$PORTAL_YML" "auth=[\"AuthType Basic\", \"AuthName \\\"Open OnDemand\\\"\", \"AuthBasicProvider file\", \"AuthUserFile \\\"$HTPASSWD\\\"\", \"Require valid-user\"]"
has_line "$HTTPD_CONF" "  LoadModule auth_basic_module \"$SNAP_MOUNT/apache/modules/mod_auth_basic.so\""
has_line "$VHOST" "    AuthType Basic" "    AuthUserFile \"$HTPASSWD\""
until_answers 401 "$PROTECTED"
expect_restart "$pid"  # basic auth loads mod_auth_basic and mod_authn_file
apache_active
expect_hop "$PROTECTED" 401 "" -u "$USER_NAME:wrong-password"
# With OnDemand this reaches mod_ood_proxy, whose nginx_stage call for a user with no
# account retries for several seconds before its 404 "cannot find user".
read -r code _ <<<"$(hop "$PROTECTED" --max-time 30 -u "$USER_NAME:$PASSWORD")"
case $code in
401 | 5?? | 000) problem "$PROTECTED with the right password -> HTTP $code (want it past authentication)" ;;
*) say "    $PROTECTED (-u $USER_NAME:...) -> $code: past authentication" ;;
esac
expect_hop "http://127.0.0.1$NEED_AUTH" 200 ""

step "allowed: none"
set_ok portal.auth.type=none
expect_yaml "$PORTAL_YML" 'auth=[]'
lacks_line "$HTTPD_CONF" 'auth_basic_module|auth_openidc_module'
lacks_line "$VHOST" '^ *Auth'
until_answers "$NEED_AUTH_CODE" http://127.0.0.1/
expect_hop "$PROTECTED" "$NEED_AUTH_CODE" "http://127.0.0.1$NEED_AUTH"

step "invalid: oidc without what it needs"
refused portal.auth.type=oidc
says "portal.oidc.provider-metadata-url: required when portal.auth.type is oidc; set it" \
    "portal.oidc.client-id: required when portal.auth.type is oidc; set it"
refused portal.auth.type=oidc "portal.oidc.provider-metadata-url=${METADATA/https:/http:}" "portal.oidc.client-id=$CLIENT_ID"
says "portal.oidc.provider-metadata-url: \"${METADATA/https:/http:}\" is not an https URL; it must start with https://"

step "invalid: values that would break out of the Apache config"
# shellcheck disable=SC2016  # '${HOME}' is meant literally: Apache would expand it
refused portal.auth.type=oidc \
    "portal.oidc.provider-metadata-url=https://idp.check.example.test/</Location><Location />" \
    "portal.oidc.client-id=$CLIENT_ID\"" \
    "portal.oidc.client-secret=$SECRET"$'\nOIDCSSLValidateServer Off' \
    "portal.oidc.remote-user-claim=sub'" \
    'portal.oidc.scope=openid ${HOME}' \
    'portal.oidc.uri=/oidc"><Location "/'
says "portal.oidc.provider-metadata-url: \"https://idp.check.example.test/</Location><Location />\" contains a '<'" \
    "portal.oidc.client-id: \"$CLIENT_ID\\\"\" contains a double quote" \
    'portal.oidc.client-secret: (hidden) contains a line break' \
    "portal.oidc.remote-user-claim: \"sub'\" contains a single quote" \
    "portal.oidc.scope: \"openid \${HOME}\" contains '\${'" \
    'portal.oidc.uri: "/oidc\"><Location \"/" is not a URL path'
never_says "$SECRET" OIDCSSLValidateServer

step "allowed: oidc"
set_ok portal.auth.type=oidc "portal.oidc.provider-metadata-url=$METADATA" \
    "portal.oidc.client-id=$CLIENT_ID" "portal.oidc.client-secret=$SECRET"
expect_yaml "$PORTAL_YML" 'auth=["AuthType openid-connect", "Require valid-user"]' \
    "oidc_provider_metadata_url=\"$METADATA\"" "oidc_client_id=\"$CLIENT_ID\"" "oidc_client_secret=\"$SECRET\"" \
    'oidc_uri="/oidc"' 'oidc_scope="openid profile email"' 'oidc_remote_user_claim="preferred_username"'
has_line "$HTTPD_CONF" "  LoadModule auth_openidc_module \"$SNAP_MOUNT/apache/modules/mod_auth_openidc.so\""
# Upstream's template writes these values unquoted.
has_line "$VHOST" "  OIDCProviderMetadataURL $METADATA" "  OIDCClientID $CLIENT_ID" \
    "  OIDCClientSecret $SECRET" '  OIDCRedirectURI /oidc'
expect_path f root:root 0600 "$PORTAL_YML"
expect_path f root:root 0600 "$VHOST"
until_answers 200 "http://127.0.0.1$NEED_AUTH"
apache_active
read -r code location <<<"$(hop "$PROTECTED")"
if [ "$code" = 200 ] || [ "${location:-}" = "http://127.0.0.1$NEED_AUTH" ]; then
    problem "$PROTECTED -> $code ${location:-} with portal.auth.type=oidc (want it behind OpenID Connect)"
else
    say "    $PROTECTED -> $code ${location:-} (behind OpenID Connect; the IdP is not reachable here)"
fi
step "allowed: 10 changes back to back while oidc is on: graceful reloads, no request refused"
# mod_auth_openidc stays loaded, so Apache reloads (only loading it anew restarts; see
# needs_restart in the hooks). A client asks for the public page every 50 ms meanwhile.
pid=$(apache_pid) reloads=$(reload_count)
client_log=$WORK/oidc-client.log
(
    while [ ! -e "$WORK/oidc-stop" ]; do
        curl -s -o /dev/null --max-time 5 -w '%{http_code}\n' "http://127.0.0.1$NEED_AUTH" >>"$client_log" || true
        sleep 0.05
    done
) &
client=$!
for n in 1 2 3 4 5 6 7 8 9 10; do
    set_ok "portal.oidc.scope=openid profile s$n"
done
sleep 0.5
touch "$WORK/oidc-stop"
wait "$client" || true
has_line "$VHOST" '  OIDCScope "openid profile s10"'
until_answers 200 "http://127.0.0.1$NEED_AUTH"
expect_reload yes "$pid" "$reloads"
count=$(reload_count)
[ $((count - reloads)) -eq 10 ] || problem "hooks.log shows $((count - reloads)) graceful reloads for 10 changes under OIDC"
answered=$(grep -c '^200$' "$client_log" || true)
others=$(grep -vc '^200$' "$client_log" || true)
if [ "$others" -eq 0 ] && [ "$answered" -gt 0 ]; then
    say "    $answered requests during the changes, all 200; main pid still $pid"
else
    problem "during the OIDC changes: $answered requests answered 200, $others not: $(sort "$client_log" | uniq -c | oneline "$(cat)")"
fi

step "invalid while oidc is on: the previous values stay"
refused "portal.oidc.client-id=two words"
says 'portal.oidc.client-id: "two words" contains spaces; give a single word'

step "unset: need_auth again"
unset_ok portal.auth.type portal.auth.basic.user-file portal.oidc.provider-metadata-url \
    portal.oidc.client-id portal.oidc.client-secret portal.oidc.scope
expect_yaml "$PORTAL_YML" 'auth=[]' oidc_client_id=absent oidc_client_secret=absent oidc_provider_metadata_url=absent
lacks_line "$HTTPD_CONF" 'auth_basic_module|auth_openidc_module'
lacks_line "$VHOST" '^ *(Auth|OIDC)'
until_answers "$NEED_AUTH_CODE" http://127.0.0.1/
expect_hop "$PROTECTED" "$NEED_AUTH_CODE" "http://127.0.0.1$NEED_AUTH"
apache_active

finish configure-auth
