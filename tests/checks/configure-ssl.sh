#!/bin/bash
# Check: HTTPS from portal.ssl.certificate, -key and -chain. Missing files, non-PEM files,
# relative paths and a certificate without its key are refused naming the key, changing
# nothing. A self-signed certificate and key made here with openssl are accepted: Apache
# serves that very certificate on 443 (with basic auth on: upstream renders SSL only into
# the full vhost) and port 80 redirects to https. snap unset brings
# back plain HTTP on port 80 and nothing on 443.
#
# Usage: configure-ssl.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
SSL_DIR=/etc/ondemand-check-ssl
AUTH_DIR=/etc/ondemand-check-ssl-auth
EXTRA_PATHS=("$SSL_DIR" "$AUTH_DIR")
configure_begin configure-ssl \
    portal.ssl.certificate portal.ssl.certificate-key portal.ssl.certificate-chain "${BASIC_KEYS[@]}" -- "$@"
[ ! -e "$SSL_DIR" ] || fail "precondition: $SSL_DIR exists; run configure-ssl.sh --restore first"
[ ! -e "$AUTH_DIR" ] || fail "precondition: $AUTH_DIR exists; run configure-ssl.sh --restore first"

CN=ssl.check.example.test
CERT=$SSL_DIR/cert.pem
KEY=$SSL_DIR/key.pem
PROTECTED_URI=$(protected_uri)

install -d -m 700 "$SSL_DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=$CN" -keyout "$KEY" -out "$CERT" 2>"$WORK/openssl" ||
    fail "openssl could not make a self-signed certificate: $(oneline "$(cat "$WORK/openssl")")"
chmod 600 "$KEY"
want_fingerprint=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256)
say "$CHECK: self-signed $CERT for $CN, $want_fingerprint"
until_answers "$NEED_AUTH_CODE" http://127.0.0.1/
# Upstream's need_auth vhost has no SSL: HTTPS is for a portal with authentication.
basic_auth_on "$AUTH_DIR"

step "invalid: certificate paths"
refused "portal.ssl.certificate=$SSL_DIR/missing.pem" "portal.ssl.certificate-key=$SSL_DIR/missing-key.pem"
says "portal.ssl.certificate: \"$SSL_DIR/missing.pem\" does not exist; give the path of the certificate" \
    "portal.ssl.certificate-key: \"$SSL_DIR/missing-key.pem\" does not exist; give the path of the private key"
refused "portal.ssl.certificate=$KEY" "portal.ssl.certificate-key=$CERT"
says "portal.ssl.certificate: \"$KEY\" is not a PEM certificate (no 'BEGIN CERTIFICATE' line)" \
    "portal.ssl.certificate-key: \"$CERT\" is not a PEM private key (no 'PRIVATE KEY' line)"
refused portal.ssl.certificate=cert.pem "portal.ssl.certificate-key=$KEY" "portal.ssl.certificate-chain=$SSL_DIR"
says 'portal.ssl.certificate: "cert.pem" is not an absolute path; start it with /' \
    "portal.ssl.certificate-chain: \"$SSL_DIR\" is not a regular file; give the path of the certificate chain"
refused "portal.ssl.certificate=$CERT"
says "portal.ssl.certificate-key: required when portal.ssl.certificate is set"

step "refused: unknown key under portal.ssl."
refused "portal.ssl.cert=$CERT"
says "portal.ssl.cert: unknown key; did you mean portal.ssl.certificate?"

step "allowed: the self-signed certificate"
pid=$(apache_pid) reloads=$(reload_count)
set_ok "portal.ssl.certificate=$CERT" "portal.ssl.certificate-key=$KEY" "portal.ssl.certificate-chain=$CERT"
expect_yaml "$PORTAL_YML" port=443 'listen_addr_port=["443", "80"]' \
    "ssl=[\"SSLCertificateFile \\\"$CERT\\\"\", \"SSLCertificateKeyFile \\\"$KEY\\\"\", \"SSLCertificateChainFile \\\"$CERT\\\"\"]"
has_line "$VHOST" "Listen 443" "Listen 80" "<VirtualHost *:80>"
lacks_line "$HTTPD_CONF" '^Listen '
has_line "$VHOST" "<VirtualHost *:443>" "  SSLEngine On" "  SSLCertificateFile \"$CERT\"" \
    "  SSLCertificateKeyFile \"$KEY\"" "  SSLCertificateChainFile \"$CERT\""
until_answers 200 "https://127.0.0.1$NEED_AUTH" -k
expect_reload yes "$pid" "$reloads"
apache_active
served=$(openssl s_client -connect 127.0.0.1:443 -servername "$CN" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null || true)
if [ "$served" = "$want_fingerprint" ]; then
    say "    port 443 serves $CERT ($served)"
else
    problem "port 443 serves '${served:-no certificate}', want $CERT's $want_fingerprint"
fi
expect_hop "https://127.0.0.1$PROTECTED_URI" 401 "" -k
# Upstream's port-80 vhost redirects to the request's host on the HTTPS port.
expect_hop http://127.0.0.1/x 301 https://127.0.0.1:443/x
if curl -s -o /dev/null --max-time 5 "https://127.0.0.1$NEED_AUTH" 2>/dev/null; then
    problem "curl without -k accepted the self-signed certificate"
fi

step "invalid while HTTPS is on: the previous certificate stays"
refused "portal.ssl.certificate=$SSL_DIR/missing.pem"
says "portal.ssl.certificate: \"$SSL_DIR/missing.pem\" does not exist"
until_answers 200 "https://127.0.0.1$NEED_AUTH" -k

step "unset: plain HTTP on port 80 again"
unset_ok portal.ssl.certificate portal.ssl.certificate-key portal.ssl.certificate-chain
expect_yaml "$PORTAL_YML" ssl=absent port=80 'listen_addr_port=["80"]'
lacks_line "$HTTPD_CONF" '^Listen 443' '^SSL'
lacks_line "$VHOST" 'SSL'
has_line "$VHOST" "<VirtualHost *:80>" "Listen 80"
until_answers 401 "http://127.0.0.1$PROTECTED_URI"
[ "$(listeners 443)" = "" ] || problem "something still listens on port 443: $(listeners 443)"
apache_active

finish configure-ssl
