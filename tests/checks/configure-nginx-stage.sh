#!/bin/bash
# Check: the per-user nginx keys (nginx-stage.min-uid, nginx-stage.nginx-file-upload-max,
# nginx-stage.pun-custom-env.<NAME>). Valid values land in nginx_stage.yml (a dash-cased
# NAME as the upper-case variable) and, since Apache's config does not change, Apache is
# not restarted. Unknown keys are refused with a hint; min-uid below 1000, a bad size, an
# invalid variable name and a value with a line break are refused naming each key and the
# accepted form, changing nothing; snap unset brings back the defaults.
#
# Usage: configure-nginx-stage.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
configure_begin configure-nginx-stage \
    nginx-stage.min-uid nginx-stage.nginx-file-upload-max nginx-stage.pun-custom-env -- "$@"

TITLE="Open OnDemand check $RANDOM"
until_answers "$NEED_AUTH_CODE" http://127.0.0.1/
expect_yaml "$NGINX_STAGE_YML" min_uid=1000 'nginx_file_upload_max="10737420000"' pun_custom_env=absent

step "allowed: min-uid, upload size, two environment variables"
pid=$(apache_pid) reloads=$(reload_count)
apache_sums=$(sha256sum "$HTTPD_CONF" "$VHOST")
set_ok nginx-stage.min-uid=5000 nginx-stage.nginx-file-upload-max=21474836480 \
    "nginx-stage.pun-custom-env.ood-dashboard-title=$TITLE" nginx-stage.pun-custom-env.ood-brand-bg-color=#2a5d84
expect_yaml "$NGINX_STAGE_YML" min_uid=5000 'nginx_file_upload_max="21474836480"' \
    "pun_custom_env={\"OOD_BRAND_BG_COLOR\": \"#2a5d84\", \"OOD_DASHBOARD_TITLE\": \"$TITLE\"}" \
    "proxy_user=\"$PORTAL_USER\""
expect_path f root:root 0644 "$NGINX_STAGE_YML"
[ "$(sha256sum "$HTTPD_CONF" "$VHOST")" = "$apache_sums" ] ||
    problem "the Apache config changed on a snap set of nginx-stage.* keys only"
expect_reload no "$pid" "$reloads"
apache_active
until_answers "$NEED_AUTH_CODE" http://127.0.0.1/

step "allowed: the lowest min-uid, upload limit off"
set_ok nginx-stage.min-uid=1000 nginx-stage.nginx-file-upload-max=0
expect_yaml "$NGINX_STAGE_YML" min_uid=1000 'nginx_file_upload_max="0"'

step "refused: unknown keys under nginx-stage."
refused nginx-stage.minimum-uid=5000
says "nginx-stage.minimum-uid: unknown key; did you mean nginx-stage.min-uid?"
refused nginx-stage.pun-custom-env=x
says "nginx-stage.pun-custom-env: is a group of settings, not a value; set one of nginx-stage.pun-custom-env.<NAME>"

step "invalid: min-uid below 1000, bad size, bad variable name and value"
set_ok nginx-stage.min-uid=5000
refused nginx-stage.min-uid=999 nginx-stage.nginx-file-upload-max=-1 nginx-stage.pun-custom-env.1abc=x \
    "nginx-stage.pun-custom-env.ood-dashboard-title=$TITLE"$'\nnginx_bin: /bin/sh'
says "(4 problems; nothing was changed)" \
    'nginx-stage.min-uid: "999" is not a uid the portal may serve; use a number from 1000 (the safe floor: no system accounts) to 4294967294' \
    'nginx-stage.nginx-file-upload-max: "-1" is not a number of bytes' \
    'nginx-stage.pun-custom-env.1abc: "1abc" is not an environment variable name ([A-Z_][A-Z0-9_]*)' \
    'nginx-stage.pun-custom-env.ood-dashboard-title: "'"$TITLE"'\nnginx_bin: /bin/sh" contains a line break'
refused nginx-stage.min-uid=0
says 'nginx-stage.min-uid: "0" is not a uid the portal may serve; use a number from 1000'
refused nginx-stage.min-uid=lots
says 'nginx-stage.min-uid: "lots" is not a uid the portal may serve'
expect_yaml "$NGINX_STAGE_YML" min_uid=5000

step "unset: the defaults"
pid=$(apache_pid) reloads=$(reload_count)
unset_ok nginx-stage.min-uid nginx-stage.nginx-file-upload-max nginx-stage.pun-custom-env
expect_yaml "$NGINX_STAGE_YML" min_uid=1000 'nginx_file_upload_max="10737420000"' pun_custom_env=absent
expect_reload no "$pid" "$reloads"
apache_active

finish configure-nginx-stage
