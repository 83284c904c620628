#!/bin/bash
# Check: what a user sees in a real browser. Debian's headless Chromium (driven by its
# ChromeDriver through browser.py) loads, reading each page's DOM after its scripts ran and
# keeping a screenshot in $CHECK_ARTIFACTS/portal-browser (default ./build/portal-browser):
#   1. a fresh install's portal: the snap's need_auth page;
#   2. the shell app, signed in with basic auth as a uid-1604 user whose cluster's login
#      host is localhost: the page's terminal must connect (its WebSocket through Apache and
#      mod_ood_proxy to the user's PUN), show the user's shell prompt, take typed keys and
#      show the command's output, `id -un` included;
#   3. the maintenance page while portal.maintenance.enabled=true, for a client outside the
#      allowlist.
# Installs chromium and chromium-driver with apt when they are absent (Debian's archive).
# Skips, saying why, on a build without OnDemand or where no Chromium can be had.
# Usage: portal-browser.sh | --restore   (remove the user and files, unset the keys)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=pun.bash
. "$here/pun.bash"

USER_NAME=browseruser
USER_ID=1604
AUTH_DIR=/etc/ondemand-check-browser
PASSWORD=browser-password-$RANDOM
CLUSTER=checkbrowser
ARTIFACTS=${CHECK_ARTIFACTS:-$PWD/build}/portal-browser

check_begin portal-browser --root --installed \
    --restore-with signin_end "$USER_NAME" "$AUTH_DIR" "clusters.$CLUSTER" \
    portal.maintenance.enabled portal.maintenance.allowlist -- "$@"
require_ondemand "the portal in a browser"
[ "$(snap_option portal.auth.type)" = "<unset>" ] || fail "precondition: portal.auth.type is already set"
[ "$(snap_option portal.maintenance.enabled)" != true ] || fail "precondition: portal.maintenance.enabled=true"

if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
    if ! command -v apt-get >/dev/null || ! apt-cache show chromium chromium-driver >/dev/null 2>&1; then
        skip "the portal in a browser: no /usr/bin/chromium and chromedriver, and no apt source with Debian's chromium"
    fi
    say "portal-browser: apt-get install chromium chromium-driver (not in this machine's image)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null ||
        fail "apt-get install chromium chromium-driver failed"
fi
say "portal-browser: $(chromium --version 2>/dev/null), screenshots in $ARTIFACTS"
defer_restore

port=$(portal_port)
base=http://127.0.0.1:$port
wait_for 30 "Apache answers on port $port" apache_answers || fail "Apache does not answer on port $port"
out=$(mktemp)
defer rm -f "$out"

# browse WHAT ARGS...: run browser.py, its lines indented into the log (kept in $out).
browse() {
    local what=$1 status=0
    shift
    say "portal-browser: $what"
    python3 "$here/browser.py" "$@" >"$out" 2>&1 || status=$?
    sed 's/^/  browser: /' "$out"
    return "$status"
}

# 1. A fresh install: every URL shows the need_auth page.
if browse "a fresh install's / in Chromium" page "$base/" "$ARTIFACTS/need-auth.png"; then
    grep -q "^text .*$NEED_AUTH_MARKER" "$out" ||
        problem "the page Chromium shows for / on a fresh install does not say '$NEED_AUTH_MARKER'"
else
    problem "Chromium could not load / on a fresh install"
fi

# 2. The shell, signed in. `ssh localhost` in the terminal logs in with the user's own key,
# so what the page shows past the WebSocket is the user's real shell.
signin_begin "$USER_NAME" "$USER_ID" "$AUTH_DIR" "$PASSWORD" "clusters.$CLUSTER.login.host=localhost"
home=$(getent passwd "$USER_NAME" | cut -d: -f6)
sudo -u "$USER_NAME" sh -c 'mkdir -p -m 700 ~/.ssh && ssh-keygen -q -t ed25519 -N "" -f ~/.ssh/id_ed25519 &&
    cp ~/.ssh/id_ed25519.pub ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys'
ssh-keyscan -t ed25519 localhost 2>/dev/null >"$home/.ssh/known_hosts" || fail "ssh-keyscan localhost: no sshd answers"
chown "$USER_NAME:" "$home/.ssh/known_hosts"

shell_url="http://$USER_NAME:$PASSWORD@127.0.0.1:$port/pun/sys/shell/ssh/localhost"
# Typed into the page: the shell prints what only a shell could (42), and whose it is.
# shellcheck disable=SC2016  # expanded by the user's shell in the terminal, not here
if browse "$USER_NAME signs in and types into the shell app's terminal" shell "$shell_url" "$ARTIFACTS/shell.png" \
    --prompt "$USER_NAME@" --type 'echo "typed-in-browser $((6 * 7)) $(id -un)"' \
    --expect "typed-in-browser 42 $USER_NAME"; then
    grep -q "^title Shell - " "$out" || problem "the shell page's title is not upstream's 'Shell - ...'"
    say "  the terminal showed the user's prompt, took the typed command and printed its output"
else
    problem "the shell app's terminal in Chromium did not connect, prompt and answer as $USER_NAME (see the browser lines)"
fi
master=$(pun_master_pid "$USER_NAME")
if [ -z "$master" ]; then
    problem "no PUN of $USER_NAME after the browser's session"
else
    # The PUN's nginx master is root's (pun-privileges checks that); its workers are the user's.
    workers=$(pgrep -u "$USER_NAME" -P "$master" -c || true)
    [ "${workers:-0}" -gt 0 ] || problem "$USER_NAME's PUN (master $master) has no worker running as $USER_NAME"
fi

# 3. Maintenance: this machine's own address is outside the allowlist.
outside=$(own_address)
[ -n "$outside" ] || fail "no global IPv4 address on this machine to act as a client outside the allowlist"
snap set "$SNAP_NAME" portal.maintenance.enabled=true portal.maintenance.allowlist=127.0.0.1 ||
    fail "snap set portal.maintenance.enabled=true was refused"
if browse "the portal from $outside during maintenance" page "http://$outside:$port/pun/sys/shell" "$ARTIFACTS/maintenance.png"; then
    grep -q "^text .*$MAINTENANCE_MARKER" "$out" ||
        problem "the page Chromium shows during maintenance does not say '$MAINTENANCE_MARKER'"
else
    problem "Chromium could not load the portal during maintenance"
fi

finish portal-browser
