#!/bin/bash
# Check: an existing site comes over with `snap run ondemand.import-config DIR`, and the
# portal then serves it. The site is tests/sites/slurm-basic (an upstream-style
# /etc/ood/config of a Slurm site, with basic auth for a uid-1603 user whose htpasswd the
# check writes); it is installed under /etc/ood-import-check, never in /etc/ood/config.
#   refused  the same site with a directive Apache allows only server-wide: httpd -t (the
#            configure hook's) refuses it, the command fails naming the key and the
#            directive, and nothing changes (snap get -d, every file under $COMMON/etc);
#   dry run  prints the plan (the snap keys, which must be exactly the ones --restore
#            unsets; the site-file keys; the rewritten paths; the copied cluster file) and
#            changes nothing;
#   import   sets the keys, writes ood_portal.site.yml (root, 0600, upstream's paths
#            rewritten) and the copied clusters.d file; upstream's generator renders the
#            site keys into the vhost, and Apache serves them: the imported headers on a
#            401 and on the user's page, the custom access log format, the piped error
#            log running; the user signs in and reaches their own PUN, whose environment
#            and config carry the imported nginx_stage.yml values and whose shell app
#            shows the mapped cluster's login host; importing again is refused (the files
#            exist, no --force) and changes nothing;
#   restore  import_end (also --restore) unsets every key, removes the files, the user
#            and the directory, and the vhost is back without the site keys.
# Skips, saying why, on a build without OnDemand (no generator, no PUN).
# Usage: import-config.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
# shellcheck source-path=SCRIPTDIR source=pun.bash
. "$here/pun.bash"

SITE=$here/../sites/slurm-basic
ROOT=/etc/ood-import-check
CONFIG=$ROOT/config
REFUSED_CONFIG=$ROOT/refused-config
USER_NAME=tundrauser
USER_ID=1603
PASSWORD=tundra-$RANDOM$RANDOM
SERVERNAME=ondemand.hpc.example.edu
SITE_YML=$OOD_CONFIG/ood_portal.site.yml
COPIED=$CLUSTERS_D/vizlab.yml
MAPPED=$CLUSTERS_D/tundra.yml
# What the site maps to `snap set` keys, in the plan's order (tests/unit/hooks/
# test_import_config.py holds the same list): the dry run must list exactly these, and
# import_end unsets them.
KEYS=(
    portal.servername portal.port portal.lua-log-level portal.auth.type portal.auth.basic.user-file
    portal.user-map-match portal.maintenance.allowlist
    nginx-stage.min-uid nginx-stage.nginx-file-upload-max
    nginx-stage.pun-custom-env.ood-dashboard-title nginx-stage.pun-custom-env.ood-support-email
    clusters.tundra.title clusters.tundra.login.host clusters.tundra.job.adapter
    clusters.tundra.job.cluster clusters.tundra.job.bin clusters.tundra.job.conf
)
# The site's keys without a snap key, which go to ood_portal.site.yml.
SITE_KEYS=(
    errorlog accesslog logformat disable_logs use_rewrites map_fail_uri register_uri
    register_root security_csp_frame_ancestors security_strict_transport strip_proxy_cookies
    pun_max_retries custom_vhost_directives custom_location_directives
)
# Upstream's paths as whole path components (the snap's own paths contain them after
# /var/snap/ondemand/common, which this does not match).
UPSTREAM_PATHS='(^|[^[:alnum:]_./-])(/opt/ood|/var/www/ood|/etc/ood/config)([^[:alnum:]_.-]|$)'


# The restore command: what an import of this site and the check leave, removed. The site
# file and the copy go first, so that the unset re-renders the vhost without them; each
# is removed only if it is this site's (its marker), never an admin's file of that name.
# The keys go in one unset before $ROOT does: the configure hook checks every value, and
# the htpasswd and slurm.conf that two of them name are in $ROOT.
import_end() {
    if grep -qs 'X-Imported-Site "slurm-basic"' "$SITE_YML"; then rm -f "$SITE_YML"; fi
    if grep -qs 'Tundra Viz Lab' "$COPIED"; then rm -f "$COPIED"; fi
    local -a keys=()
    if snap list "$SNAP_NAME" >/dev/null 2>&1; then
        mapfile -t keys < <(set_options "${KEYS[@]}")
    fi
    if [ "${#keys[@]}" -gt 0 ]; then
        snap unset "$SNAP_NAME" "${keys[@]}"
    fi
    # The user's PUN, the user, $ROOT (its unset of the auth keys finds them unset).
    signin_end "$USER_NAME" "$ROOT"
}

check_begin import-config --root --installed --work --restore-with import_end -- "$@"
require_ondemand "an imported site rendered by upstream's generator and served up to the user's PUN"
[ "$#" -eq 0 ] || fail "usage: import-config.sh [--restore]"
mapfile -t already < <(set_options "${KEYS[@]}")
[ "${#already[@]}" -eq 0 ] || fail "precondition: ${already[*]} already set; run import-config.sh --restore first"
for path in "$ROOT" "$SITE_YML" "$COPIED" "$MAPPED"; do
    [ ! -e "$path" ] || fail "precondition: $path exists; run import-config.sh --restore first"
done
[ -f "$SITE/ood_portal.yml" ] || fail "the site to import is not there: $SITE/ood_portal.yml"
defer_restore

# The machine the site comes from: the user it signs in, its htpasswd and slurm.conf,
# and its config directory with @ROOT@ filled in (tests/sites/README.md).
ensure_user "$USER_NAME" "$USER_ID"
write_htpasswd "$ROOT" "$USER_NAME" "$PASSWORD"
install -d -m 755 "$ROOT/slurm" "$CONFIG"
printf 'ClusterName=tundra\n' >"$ROOT/slurm/slurm.conf"
cp -r "$SITE/." "$CONFIG/"
find "$CONFIG" -type f -exec sed -i "s|@ROOT@|$ROOT|g" {} +
chown -R root:root "$CONFIG"

# state FILE: what an import must not change when it fails or only plans: every snap
# value and every file under $ETC.
state() {
    {
        snap get -d "$SNAP_NAME" 2>&1 || true
        tree_fingerprint "$ETC"
    } >"$1"
}

# expect_unchanged BEFORE WHAT: the state is still BEFORE's.
expect_unchanged() {
    state "$WORK/state.after"
    if diff -u "$1" "$WORK/state.after" >"$WORK/state.diff"; then
        say "    snap get -d and every file under $ETC unchanged"
    else
        problem "$2 changed the snap's configuration or files under $ETC:
$(sed 's/^/    /' "$WORK/state.diff")"
    fi
}

# import ARG...: snap run ondemand.import-config ARG..., its output in $WORK/import.
import() {
    say "  snap run $SNAP_NAME.import-config $*"
    snap run "$SNAP_NAME.import-config" "$@" >"$WORK/import" 2>&1
}

# section TITLE: the first word of each indented line under the line TITLE of the output.
section() {
    awk -v title="$1" '$0 == title { on = 1; next } /^[^ ]/ { on = 0 } on { print $1 }' "$WORK/import"
}

# output_has LINE...: the last import printed each LINE.
output_has() {
    local line
    for line; do
        if grep -qxF -- "$line" "$WORK/import"; then
            say "    $line"
        else
            problem "import-config did not print '$line'; it printed: $(oneline "$(cat "$WORK/import")")"
        fi
    done
}

# vhost_has LINE...: the vhost holds each LINE (indentation aside).
vhost_has() {
    local line
    for line; do
        # Not grep -q: under pipefail its early exit would fail sed with SIGPIPE.
        if sed 's/^[[:space:]]*//; s/[[:space:]]*$//' "$VHOST" | grep -xF -- "$line" >/dev/null; then
            say "    ${VHOST##*/}: $line"
        else
            problem "$VHOST: no line '$line'"
        fi
    done
}

# headers_have FILE HEADER...: the response headers in FILE (curl -D) hold each HEADER line.
headers_have() {
    local file=$1 header
    shift
    for header; do
        if tr -d '\r' <"$file" | grep -ixF -- "$header" >/dev/null; then
            say "    $header"
        else
            problem "no '$header' in the response headers: $(tr -d '\r' <"$file" | oneline "$(cat)")"
        fi
    done
}

step "refused: the site with 'ServerTokens Prod' in custom_vhost_directives (server-wide only)"
cp -r "$CONFIG" "$REFUSED_CONFIG"
sed -i "s/^  - 'ServerSignature Off'$/  - 'ServerTokens Prod'/" "$REFUSED_CONFIG/ood_portal.yml"
grep -q "ServerTokens Prod" "$REFUSED_CONFIG/ood_portal.yml" || fail "could not make the refused site"
state "$WORK/state.before"
if import "$REFUSED_CONFIG"; then
    problem "import-config $REFUSED_CONFIG succeeded; httpd -t must refuse ServerTokens in the vhost"
else
    grep '^  ' "$WORK/import" | tail -n 3 | sed 's/^ */    /' || true
    for text in custom_vhost_directives ServerTokens "nothing was changed"; do
        grep -qF -- "$text" "$WORK/import" || problem "the refusal does not say '$text': $(oneline "$(cat "$WORK/import")")"
    done
fi
expect_unchanged "$WORK/state.before" "the refused import"
for path in "$SITE_YML" "$COPIED"; do
    [ ! -e "$path" ] || problem "$path exists after the refused import"
done

step "dry run: the plan, and nothing changes"
state "$WORK/state.before"
import --dry-run "$CONFIG" || fail "import-config --dry-run $CONFIG failed: $(oneline "$(cat "$WORK/import")")"
output_has "snap set $SNAP_NAME:" "  portal.servername = $SERVERNAME" "  portal.auth.type = basic" \
    "kept in $SITE_YML:" "  custom_vhost_directives" \
    "rewritten paths:" "  register_root: /var/www/ood -> $COMMON/var/www/ood" \
    "  custom_vhost_directives: /etc/ood/config -> $OOD_CONFIG" \
    "  clusters.d/vizlab.yml: /opt/ood -> $SNAP_MOUNT/opt/ood" \
    "copied as admin files into $CLUSTERS_D:" "  vizlab.yml" \
    "dry run: nothing was changed"
# The plan's keys are the ones import_end unsets: no key of the import outlives --restore.
diff <(printf '%s\n' "${KEYS[@]}") <(section "snap set $SNAP_NAME:") >"$WORK/keys.diff" ||
    problem "the plan's snap keys are not the check's KEYS (import_end would leave some set): $(oneline "$(cat "$WORK/keys.diff")")"
diff <(printf '%s\n' "${SITE_KEYS[@]}") <(section "kept in $SITE_YML:") >"$WORK/site-keys.diff" ||
    problem "the plan's site-file keys are not the site's ${#SITE_KEYS[@]}: $(oneline "$(cat "$WORK/site-keys.diff")")"
expect_unchanged "$WORK/state.before" "the dry run"

step "import: $CONFIG"
import "$CONFIG" || fail "import-config $CONFIG failed: $(oneline "$(cat "$WORK/import")")"
# snap get -d indents its JSON with tabs, which YAML (expect_yaml) does not allow.
snap get -d "$SNAP_NAME" | expand -t 4 >"$WORK/config.json"
expect_yaml "$WORK/config.json" "portal.servername=\"$SERVERNAME\"" portal.port=80 'portal.auth.type="basic"' \
    "portal.auth.basic.user-file=\"$ROOT/htpasswd\"" 'portal.user-map-match="^([^@]+)"' \
    'portal.maintenance.allowlist=["10.20.", "192.168.77.5"]' nginx-stage.min-uid=1000 \
    'nginx-stage.pun-custom-env.ood-dashboard-title="Tundra OnDemand"' \
    'clusters.tundra.login.host="tundra-login.hpc.example.edu"' 'clusters.tundra.job.adapter="slurm"' \
    "clusters.tundra.job.conf=\"$ROOT/slurm/slurm.conf\""

say "  $SITE_YML: the site's keys, upstream's paths rewritten"
expect_path f root:root 0600 "$SITE_YML"
"$SNAP_MOUNT/bin/ondemand-python" -c 'import sys, yaml; print("\n".join(yaml.safe_load(open(sys.argv[1]))))' \
    "$SITE_YML" >"$WORK/site-keys" 2>&1 || true
diff <(printf '%s\n' "${SITE_KEYS[@]}") "$WORK/site-keys" >"$WORK/site-keys.diff" ||
    problem "$SITE_YML does not hold the site's keys: $(oneline "$(cat "$WORK/site-keys.diff")")"
expect_yaml "$SITE_YML" "register_root=\"$COMMON/var/www/ood/register\"" pun_max_retries=10 \
    'errorlog="|/usr/bin/logger -t ood-portal-error"'
say "  $COPIED: copied, upstream's paths rewritten; $MAPPED: the snap's"
expect_path f root:root 0644 "$COPIED"
for file in "$SITE_YML" "$COPIED"; do
    if found=$(grep -nE -- "$UPSTREAM_PATHS" "$file"); then
        problem "$file still names upstream's paths: $(oneline "$found")"
    fi
done
grep -qF "source $OOD_CONFIG/clusters.d/vizlab-env.sh" "$COPIED" ||
    problem "$COPIED: the batch_connect wrapper does not source $OOD_CONFIG/clusters.d/vizlab-env.sh"
head -n 1 "$MAPPED" 2>/dev/null | grep -q '^# Managed by the ondemand snap' ||
    problem "$MAPPED: not written by the snap from clusters.tundra.* ($(head -n 1 "$MAPPED" 2>&1))"
expect_yaml "$NGINX_STAGE_YML" min_uid=1000 'pun_custom_env.OOD_DASHBOARD_TITLE="Tundra OnDemand"'

say "  $VHOST: the site keys, rendered by upstream's generator"
vhost_has "ServerName $SERVERNAME" \
    'ErrorLog  "|/usr/bin/logger -t ood-portal-error"' \
    'LogFormat "%h %l %u %t \"%r\" %>s %b \"%{User-Agent}i\" %D"' \
    "TransferLog \"$COMMON/var/log/apache2/ondemand_access.log\"" \
    'Header always set X-Imported-Site "slurm-basic"' \
    "IncludeOptional $OOD_CONFIG/apache.d/*.conf" \
    'Header always set X-Imported-Location "pun"' \
    'SetEnv OOD_PUN_MAX_RETRIES "10"' \
    "Alias \"/register\" \"$COMMON/var/www/ood/register\""

step "Apache serves the imported site"
port=$(portal_port)
base=http://$SERVERNAME:$port
# The vhost sends other host names to the server name: ask for it, on this machine.
resolve=(--resolve "$SERVERNAME:$port:127.0.0.1")
until_answers 401 "$base/pun/sys/shell" "${resolve[@]}"
curl -s -o /dev/null -D "$WORK/401.headers" --max-time 10 "${resolve[@]}" "$base/pun/sys/shell" || true
say "  without a password: 401 with the imported headers"
headers_have "$WORK/401.headers" "X-Imported-Site: slurm-basic" "X-Imported-Location: pun"

agent=import-config-check/$RANDOM$RANDOM
page=/pun/sys/shell/ssh/default
say "  $USER_NAME opens $page (mod_ood_proxy -> sudo nginx_stage -> the PUN -> the shell app)"
read -r code hops effective <<<"$(curl -s -L --max-redirs 10 --max-time 60 "${resolve[@]}" \
    -u "$USER_NAME:$PASSWORD" -A "$agent" -D "$WORK/page.headers" -o "$WORK/page" \
    -w '%{http_code} %{num_redirects} %{url_effective}' "$base$page" || true)"
say "    -> HTTP $code after $hops redirect(s), at $effective"
if [ "$code" != 200 ]; then
    problem "GET $page as $USER_NAME -> HTTP $code at $effective (want 200): $(oneline "$(head -c 300 "$WORK/page")")"
else
    # The title is the PUN's OOD_DASHBOARD_TITLE (nginx_stage.yml's pun_custom_env); the
    # default host is the mapped cluster's login host (the snap's clusters.d).
    for text in "<title>Shell - Tundra OnDemand</title>" "Host: tundra-login.hpc.example.edu"; do
        if grep -qF -- "$text" "$WORK/page"; then
            say "    the shell app's page: $text"
        else
            problem "the shell app's page lacks '$text': $(oneline "$(head -c 400 "$WORK/page")")"
        fi
    done
fi
headers_have "$WORK/page.headers" "X-Imported-Site: slurm-basic" "X-Imported-Location: pun" \
    "Content-Security-Policy: frame-ancestors 'self' https://$SERVERNAME;"

# The access log in the site's format: the user, then the agent, then %D (microseconds).
access_log=$COMMON/var/log/apache2/ondemand_access.log
logged() { grep -qE -- " $USER_NAME \[.*\"$agent\" [0-9]+\$" "$access_log"; }
if wait_for 10 "$access_log: the request in the site's format" logged; then
    :
else
    problem "$access_log: no line of $USER_NAME's request ending '\"$agent\" <microseconds>': $(tail -n 2 "$access_log" 2>&1 | oneline "$(cat)")"
fi
pgrep -x logger -a | grep -qF 'logger -t ood-portal-error' ||
    problem "no '/usr/bin/logger -t ood-portal-error' process: the piped error log is not running"

say "  $USER_NAME's PUN, from the imported nginx_stage.yml"
master=$(pun_master_pid "$USER_NAME")
if [ -z "$master" ] || ! kill -0 "$master" 2>/dev/null; then
    problem "no running PUN master for $USER_NAME ($(pun_pidfile "$USER_NAME"): ${master:-missing})"
else
    say "    PUN master $master ($(pgrep -P "$master" -u "$USER_NAME" | wc -l) worker(s) as $USER_NAME)"
    # nginx hands pun_custom_env (its `env` lines) to what it starts, not to its own master:
    # the user's apps (the shell app, under Passenger) must have it.
    for variable in "OOD_DASHBOARD_TITLE=Tundra OnDemand" "OOD_SUPPORT_EMAIL=hpc-help@example.edu"; do
        holder=""
        for pid in $(pgrep -u "$USER_NAME" || true); do
            if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -xF -- "$variable" >/dev/null; then
                holder=$pid
                break
            fi
        done
        if [ -n "$holder" ]; then
            say "    $variable: in the environment of $USER_NAME's process $holder ($(ps -o comm= -p "$holder"))"
        else
            problem "no process of $USER_NAME's PUN has $variable in its environment"
        fi
    done
fi
grep -qE '^\s*client_max_body_size 21474836480;' "$(pun_conf "$USER_NAME")" 2>/dev/null ||
    problem "$(pun_conf "$USER_NAME"): no 'client_max_body_size 21474836480;' (nginx_file_upload_max)"

step "refused: the same import again (its files exist; no --force)"
state "$WORK/state.before"
if import "$CONFIG"; then
    problem "a second import-config $CONFIG succeeded without --force"
else
    for text in "$SITE_YML: exists" "$COPIED: exists" "--force"; do
        grep -qF -- "$text" "$WORK/import" || problem "the refusal does not say '$text': $(oneline "$(cat "$WORK/import")")"
    done
fi
expect_unchanged "$WORK/state.before" "the refused second import"

step "restore: every key unset, the files, the user and $ROOT gone"
import_end >"$WORK/restore" 2>&1 || problem "import_end failed: $(oneline "$(cat "$WORK/restore")")"
mapfile -t left < <(set_options "${KEYS[@]}")
[ "${#left[@]}" -eq 0 ] || problem "still set after the restore: ${left[*]}"
for path in "$SITE_YML" "$COPIED" "$MAPPED" "$ROOT"; do
    [ ! -e "$path" ] || problem "$path still exists after the restore"
done
if id -u "$USER_NAME" >/dev/null 2>&1; then problem "user $USER_NAME still exists after the restore"; fi
if grep -qF 'X-Imported-Site' "$VHOST"; then problem "$VHOST still holds the site's directives after the restore"; fi
# No auth type any more: upstream's need_auth vhost, on the default port again.
until_answers "$NEED_AUTH_CODE" "http://127.0.0.1:$(portal_port)/"

finish import-config
