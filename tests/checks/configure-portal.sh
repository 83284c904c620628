#!/bin/bash
# Check: the portal's address keys (portal.servername, portal.server-aliases, portal.port,
# portal.listen-addr-port). Valid values reach ood_portal.yml and the Apache config and
# Apache serves them: the host names it answers to, a port other than 80, one listen
# address only. Basic auth is on first: upstream's need_auth vhost uses none of these keys
# but the server name. A repeated snap set changes nothing and restarts nothing. Unknown portal.*
# keys are refused with a hint; bad values are refused naming each key and the accepted
# form, changing nothing; snap unset brings back port 80 on every address.
#
# Usage: configure-portal.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
AUTH_DIR=/etc/ondemand-check-portal
EXTRA_PATHS=("$AUTH_DIR")
configure_begin configure-portal \
    portal.servername portal.server-aliases portal.port portal.listen-addr-port "${BASIC_KEYS[@]}" -- "$@"
[ ! -e "$AUTH_DIR" ] || fail "precondition: $AUTH_DIR exists; run configure-portal.sh --restore first"

NAME=portal.check.example.test
ALIAS_A=alias-a.check.example.test
ALIAS_B=alias-b.check.example.test
PORT=8081
PROTECTED_URI=$(protected_uri)

until_answers "$NEED_AUTH_CODE" http://127.0.0.1/
[ "$(listeners 80)" != "" ] || fail "precondition: nothing listens on port 80"
basic_auth_on "$AUTH_DIR"

step "allowed: servername and server-aliases"
pid=$(apache_pid) reloads=$(reload_count)
set_ok "portal.servername=$NAME" "portal.server-aliases=$ALIAS_A,$ALIAS_B"
expect_yaml "$PORTAL_YML" "servername=\"$NAME\"" "server_aliases=[\"$ALIAS_A\", \"$ALIAS_B\"]" "port=80"
has_line "$HTTPD_CONF" "ServerName $NAME"
has_line "$VHOST" "  ServerName $NAME" "  ServerAlias $ALIAS_A" "  ServerAlias $ALIAS_B"
until_answers 401 "http://127.0.0.1$PROTECTED_URI" -H "Host: $NAME"
expect_reload yes "$pid" "$reloads"
apache_active
for host in "$NAME" "$ALIAS_B"; do
    expect_hop "http://127.0.0.1$PROTECTED_URI" 401 "" -H "Host: $host"
done
# Upstream's canonical-host rule names the port in its target.
expect_hop http://127.0.0.1/x 301 "http://$NAME:80/x" -H "Host: other.check.example.test"

step "the same values again: no file changes, no restart"
pid=$(apache_pid) reloads=$(reload_count)
tree_fingerprint "$ETC" >"$WORK/same.before"
set_ok "portal.servername=$NAME" "portal.server-aliases=$ALIAS_A,$ALIAS_B"
tree_fingerprint "$ETC" >"$WORK/same.after"
cmp -s "$WORK/same.before" "$WORK/same.after" ||
    problem "files under $ETC changed on a snap set that changed no value: $(diff "$WORK/same.before" "$WORK/same.after" | oneline "$(cat)")"
expect_reload no "$pid" "$reloads"

step "allowed: portal.port=$PORT (Apache moves to it)"
set_ok "portal.port=$PORT"
expect_yaml "$PORTAL_YML" "port=$PORT" "listen_addr_port=[\"$PORT\"]"
# Upstream's template opens the listen_addr_port ports; the main config then opens none.
has_line "$VHOST" "Listen $PORT" "<VirtualHost *:$PORT>"
lacks_line "$HTTPD_CONF" '^Listen '
until_answers 200 "http://127.0.0.1:$PORT$NEED_AUTH" -H "Host: $NAME"
apache_active
expect_hop "http://127.0.0.1:$PORT/x" 301 "http://$NAME:$PORT/x" -H "Host: other.check.example.test"
[ "$(listeners "$PORT")" != "" ] || problem "nothing listens on port $PORT"
[ "$(listeners 80)" = "" ] || problem "something still listens on port 80: $(listeners 80)"
say "    listening on $PORT: $(listeners "$PORT"); on 80: nothing"

step "allowed: portal.listen-addr-port=127.0.0.1:$PORT (loopback only)"
set_ok "portal.listen-addr-port=127.0.0.1:$PORT"
expect_yaml "$PORTAL_YML" "listen_addr_port=[\"127.0.0.1:$PORT\"]"
has_line "$VHOST" "Listen 127.0.0.1:$PORT"
until_answers 200 "http://127.0.0.1:$PORT$NEED_AUTH" -H "Host: $NAME"
[ "$(listeners "$PORT")" = "127.0.0.1:$PORT" ] ||
    problem "port $PORT: listening on '$(listeners "$PORT")', want 127.0.0.1:$PORT only"
outside=$(own_address)
if [ -n "$outside" ]; then
    expect_hop "http://$outside:$PORT$NEED_AUTH" 000 ""
fi

step "refused: unknown keys under portal."
refused "portal.server-alias=$ALIAS_A"
says "portal.server-alias: unknown key; did you mean portal.server-aliases?"
refused portal.listen=80
says "portal.listen: unknown key; did you mean portal.listen-addr-port?"

step "invalid: bad values, each named with the accepted form"
refused portal.port=70000 portal.servername=-bad-.check.example.test \
    "portal.server-aliases=$ALIAS_A,alias_b.check.example.test" portal.listen-addr-port=127.0.0.1:8081,1.2.3:80
says "(4 problems; nothing was changed)" \
    'portal.port: "70000" is not a port; use a number from 1 to 65535' \
    "portal.servername: \"-bad-.check.example.test\" is not a host name; use letters, digits, '-' and '.'" \
    'portal.server-aliases: "alias_b.check.example.test" is not a host name' \
    'portal.listen-addr-port: "1.2.3:80" is not PORT, IPv4:PORT or [IPv6]:PORT'
refused portal.port=http
says 'portal.port: "http" is not a port; use a number from 1 to 65535'
refused portal.listen-addr-port=127.0.0.1:9090
says "portal.listen-addr-port: \"127.0.0.1:9090\" does not include portal.port $PORT"
until_answers 200 "http://127.0.0.1:$PORT$NEED_AUTH" -H "Host: $NAME"

step "unset: back to port 80 on every address, any host name"
pid=$(apache_pid) reloads=$(reload_count)
unset_ok portal.servername portal.server-aliases portal.port portal.listen-addr-port
expect_yaml "$PORTAL_YML" servername=absent server_aliases=absent port=80 'listen_addr_port=["80"]'
has_line "$HTTPD_CONF" "ServerName localhost"
has_line "$VHOST" "Listen 80" "<VirtualHost *:80>"
lacks_line "$VHOST" '^ *Server(Name|Alias) '
until_answers 302 http://127.0.0.1/ -H "Host: other.check.example.test"
expect_reload yes "$pid" "$reloads"
expect_hop http://127.0.0.1/ 302 "http://other.check.example.test$PROTECTED_URI" -H "Host: other.check.example.test"
expect_hop "http://127.0.0.1$PROTECTED_URI" 401 "" -H "Host: other.check.example.test"
[ "$(listeners "$PORT")" = "" ] || problem "something still listens on port $PORT: $(listeners "$PORT")"
apache_active

finish configure-portal
