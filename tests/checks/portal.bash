# shellcheck shell=bash
# Helpers for the front proxy checks (portal-*.sh), sourced after lib.sh. Not a check itself
# (systemtest.check_names() takes only *.sh).

# shellcheck disable=SC2034  # used by the checks that source this file
{
APACHE_UNIT=snap.$SNAP_NAME.apache.service
NEED_AUTH_PAGE=$COMMON/var/www/ood/public/need_auth.html
MAINTENANCE_PAGE=$COMMON/var/www/ood/public/maintenance/index.html
# Words of the pages' headings (hooks/ondemand_hooks/data/*.html).
NEED_AUTH_MARKER="nobody can sign in yet"
MAINTENANCE_MARKER="down for maintenance"
}

# The portal port: the snap option, else what the hook wrote to ood_portal.yml, else 80.
portal_port() {
    local port
    port=$(snap_option portal.port)
    if [ "$port" = "<unset>" ]; then
        port=$(awk '/^port:/ {gsub(/["'\'']/, "", $2); print $2; exit}' "$COMMON/etc/ood/config/ood_portal.yml" 2>/dev/null || true)
    fi
    printf '%s' "${port:-80}"
}

# The container's own address on its first global IPv4 interface (eth0 in LXD).
own_address() {
    ip -4 -o addr show scope global | awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

# first_hop FROM URL: "CODE REDIRECT_URL" of one request from source address FROM.
first_hop() {
    curl -s -o /dev/null --max-time 10 --interface "$1" -w '%{http_code} %{redirect_url}' "$2" || true
}

# follow FROM URL BODYFILE: follow redirects; prints "CODE NUM_REDIRECTS EFFECTIVE_URL".
follow() {
    curl -s -L --max-redirs 5 --max-time 10 --interface "$1" -o "$3" \
        -w '%{http_code} %{num_redirects} %{url_effective}' "$2" || true
}

apache_answers() {
    local code
    code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$(portal_port)/public/need_auth.html" || true)
    [ "$code" = 200 ]
}

# The client address Apache logged for the request whose URL contains TOKEN (upstream's
# vhost names its access log after the server name: <name>_access.log, _access_ssl.log).
logged_client() {
    awk -v t="$1" 'index($0, t) { ip = $1 } END { print ip }' "$COMMON"/var/log/apache2/*_access*.log 2>/dev/null
}
