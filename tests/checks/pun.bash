# shellcheck shell=bash
# Helpers for the per-user nginx (PUN) checks, sourced after lib.sh. Not a check itself
# (systemtest.check_names() takes only *.sh).
#
# This build of the snap has no OnDemand (no nginx_stage Ruby code, no mod_ood_proxy), so
# the checks do by hand what nginx_stage does for a user: write a PUN config with the
# paths of the snap's nginx_stage.yml, create the per-user directories, and start the snap's
# nginx as root with `nginx -c CONF`. The fixture apps (tests/fixtures/apps) stand in for
# OnDemand's system apps under $SNAP_COMMON/var/www/ood/apps/sys.

SNAP_STABLE=/snap/$SNAP_NAME/current
NGINX=$SNAP_STABLE/bin/nginx
PUN_CONFIG_DIR=$COMMON/var/lib/ondemand-nginx/config/puns
PUN_APPS_CONFIG_DIR=$COMMON/var/lib/ondemand-nginx/config/apps/sys
PUN_APPS_ROOT=$COMMON/var/www/ood/apps/sys
PUN_RUN_ROOT=$COMMON/run/ondemand-nginx
PUN_LOG_ROOT=$COMMON/var/log/ondemand-nginx
PUN_TMP_ROOT=$COMMON/var/tmp/ondemand-nginx
# Fixture apps as installed: systest-<kind>, served at /pun/sys/systest-<kind>/.
PUN_APP_PREFIX=systest-
PUN_APP_KINDS=(rack node wsgi)
# The test users, created for the check and removed afterwards: NAME:UID (uid >= 1000).
# shellcheck disable=SC2034  # used by the checks that source this file
PUN_USERS=(alice:1501 bob:1502)

# fixtures_dir [DIR]: DIR, else the fixture apps next to this checks directory (spread's
# copy of the project tree); fails if they are not there.
fixtures_dir() {
    local dir=${1:-$(dirname "$(readlink -f "$0")")/../fixtures/apps}
    [ -f "$dir/rack/config.ru" ] || fail "fixture apps not found in $dir (pass the directory holding rack/, node/ and wsgi/)"
    readlink -f "$dir"
}

# nginx_stage is the component that would do all this in a full build; say visibly that
# it is not used here, and why.
note_nginx_stage() {
    if [ -d "$SNAP_STABLE/opt/ood/nginx_stage" ]; then
        say "NOTE: this build ships nginx_stage; these checks still start nginx by hand with a PUN-shaped config"
    else
        say "SKIP: nginx_stage is absent in this build ($(snap list "$SNAP_NAME" | awk 'NR==2 {print $2}'): no OnDemand); PUNs are started by hand as root with $NGINX -c CONF"
    fi
}

pun_sock() { printf '%s/%s/passenger.sock' "$PUN_RUN_ROOT" "$1"; }
pun_pidfile() { printf '%s/%s/passenger.pid' "$PUN_RUN_ROOT" "$1"; }
pun_conf() { printf '%s/%s.conf' "$PUN_CONFIG_DIR" "$1"; }
pun_master_pid() { cat "$(pun_pidfile "$1")" 2>/dev/null || true; }

# ensure_user NAME UID: a normal user with its own group of the same number.
ensure_user() {
    local name=$1 uid=$2
    if id -u "$name" >/dev/null 2>&1; then
        [ "$(id -u "$name")" = "$uid" ] || fail "user $name exists with uid $(id -u "$name"), want $uid"
        return
    fi
    getent group "$name" >/dev/null || groupadd -g "$uid" "$name"
    useradd -u "$uid" -g "$name" -m -s /bin/bash "$name"
}

remove_user() {
    id -u "$1" >/dev/null 2>&1 || return 0
    pkill -KILL -u "$1" 2>/dev/null || true
    # userdel refuses a user with processes, and killed ones take a moment to go.
    local _
    for _ in $(seq 1 50); do
        pgrep -u "$1" >/dev/null || break
        sleep 0.2
    done
    userdel -r "$1" >/dev/null 2>&1 || userdel "$1" >/dev/null 2>&1 || true
    if getent group "$1" >/dev/null; then groupdel "$1" 2>/dev/null || true; fi
}

# install_apps FIXTURES: copy the fixture apps where OnDemand's system apps live and write
# one nginx app config each (what nginx_stage's app_config_path holds), root-owned.
install_apps() {
    local fixtures=$1 kind name root
    install -d -m 0755 "$PUN_APPS_ROOT" "$PUN_APPS_CONFIG_DIR"
    for kind in "${PUN_APP_KINDS[@]}"; do
        name=$PUN_APP_PREFIX$kind
        root=$PUN_APPS_ROOT/$name
        rm -rf "$root"
        cp -r "$fixtures/$kind" "$root"
        chown -R root:root "$root"
        chmod -R u=rwX,go=rX "$root"
        cat >"$PUN_APPS_CONFIG_DIR/$name.conf" <<EOF
# Fixture app $name (tests/fixtures/apps/$kind), written by the runtime checks.
location /pun/sys/$name {
  alias $root/public;
  passenger_base_uri /pun/sys/$name;
  passenger_app_root $root;
  passenger_document_root $root/public;
  passenger_enabled on;
}
EOF
    done
}

remove_apps() {
    local kind
    for kind in "${PUN_APP_KINDS[@]}"; do
        rm -rf "${PUN_APPS_ROOT:?}/$PUN_APP_PREFIX$kind" "$PUN_APPS_CONFIG_DIR/$PUN_APP_PREFIX$kind.conf"
    done
}

# write_pun USER: the user's directories and PUN config, laid out like nginx_stage.yml says
# (socket dir 0700 owned by the portal user; the user's own tmp dir).
write_pun() {
    local user=$1 group
    group=$(id -gn "$user")
    install -d -m 0755 "$PUN_CONFIG_DIR" "$PUN_RUN_ROOT" "$PUN_LOG_ROOT" "$PUN_TMP_ROOT"
    install -d -m 0700 -o "$PORTAL_USER" -g "$PORTAL_USER" "$PUN_RUN_ROOT/$user"
    install -d -m 0755 "$PUN_LOG_ROOT/$user"
    install -d -m 0700 -o "$user" -g "$group" "$PUN_TMP_ROOT/$user"
    cat >"$(pun_conf "$user")" <<EOF
# PUN-shaped config for $user (what nginx_stage would write), by the runtime checks.
user $user $group;
worker_processes 1;
error_log $PUN_LOG_ROOT/$user/error.log;
pid $(pun_pidfile "$user");

events {
  worker_connections 1024;
}

http {
  passenger_root $SNAP_STABLE/passenger;
  passenger_ruby $SNAP_STABLE/bin/ruby;
  passenger_nodejs $SNAP_STABLE/bin/node;
  passenger_python $SNAP_STABLE/bin/ondemand-python;
  passenger_user_switching off;
  passenger_default_user $user;
  passenger_default_group $group;
  passenger_load_shell_envvars off;
  passenger_instance_registry_dir $PUN_TMP_ROOT/$user;
  passenger_data_buffer_dir $PUN_TMP_ROOT/$user;
  passenger_disable_security_update_check on;
  passenger_disable_anonymous_telemetry on;
  passenger_max_pool_size 6;
  passenger_pool_idle_time 300;

  include $SNAP_STABLE/nginx/conf/mime.types;
  default_type text/plain;
  access_log $PUN_LOG_ROOT/$user/access.log;
  client_body_temp_path $PUN_TMP_ROOT/$user/client_body;
  proxy_temp_path $PUN_TMP_ROOT/$user/proxy_temp;
  fastcgi_temp_path $PUN_TMP_ROOT/$user/fastcgi_temp;
  uwsgi_temp_path $PUN_TMP_ROOT/$user/uwsgi_temp;
  scgi_temp_path $PUN_TMP_ROOT/$user/scgi_temp;
  passenger_temp_path $PUN_TMP_ROOT/$user/passenger_temp;

  server {
    listen unix:$(pun_sock "$user");
    server_name localhost;
    include $PUN_APPS_CONFIG_DIR/$PUN_APP_PREFIX*.conf;
  }
}
EOF
}

# start_pun USER [RUNNER...]: `nginx -t` then `nginx -c CONF` as root (optionally through
# RUNNER, e.g. a systemd-run scope); waits for the pid file and the socket.
start_pun() {
    local user=$1 conf out
    shift
    conf=$(pun_conf "$user")
    out=$("$NGINX" -t -c "$conf" -e "$PUN_LOG_ROOT/$user/error.log" 2>&1) ||
        fail "nginx -t -c $conf: $(oneline "$out")"
    out=$("$@" "$NGINX" -c "$conf" -e "$PUN_LOG_ROOT/$user/error.log" 2>&1) ||
        fail "nginx -c $conf for $user failed: $(oneline "$out")"
    # shellcheck disable=SC2317  # called by wait_for, by name
    pun_up() { [ -S "$(pun_sock "$1")" ] && kill -0 "$(pun_master_pid "$1")"; }
    wait_for 20 "PUN of $user up (master $(pun_master_pid "$user" || true))" pun_up "$user" ||
        fail "PUN of $user: no socket/pid after 20s; error log: $(tail -n 5 "$PUN_LOG_ROOT/$user/error.log" 2>/dev/null | oneline "$(cat)")"
}

# stop_pun USER: `nginx -s stop`, then wait until no process of the user is left.
stop_pun() {
    local user=$1 conf
    conf=$(pun_conf "$user")
    if [ -f "$conf" ] && [ -n "$(pun_master_pid "$user")" ]; then
        "$NGINX" -c "$conf" -e "$PUN_LOG_ROOT/$user/error.log" -s stop >/dev/null 2>&1 || true
    fi
    # shellcheck disable=SC2317  # called by wait_for, by name
    user_gone() { ! pgrep -u "$1" >/dev/null; }
    if id -u "$user" >/dev/null 2>&1 && ! wait_for 20 "processes of $user gone" user_gone "$user"; then
        say "  processes of $user still running after nginx -s stop: $(oneline "$(ps -o pid=,args= -u "$user")")"
        pkill -KILL -u "$user" || true
    fi
    local master
    master=$(pun_master_pid "$user")
    if [ -n "$master" ] && kill -0 "$master" 2>/dev/null; then
        kill -KILL "$master" 2>/dev/null || true
    fi
}

# remove_pun USER: stop it and remove its files.
remove_pun() {
    local user=$1
    stop_pun "$user"
    rm -rf "${PUN_RUN_ROOT:?}/$user" "${PUN_LOG_ROOT:?}/$user" "${PUN_TMP_ROOT:?}/$user" \
        "$(pun_conf "$user")"
}

# pun_end USER...: what the checks that start PUNs by hand leave behind, removed: each
# user's PUN and files, the user, the fixture apps. Safe when nothing was set up: the
# restore command of those checks (check_begin --restore-with pun_end USER...), deferred
# with defer_restore before anything is set up.
pun_end() {
    local user
    for user; do
        remove_pun "$user" >/dev/null
        remove_user "$user"
    done
    remove_apps
}

# as_user USER CMD...: run CMD with USER's uid, gid and groups only (no root capabilities).
as_user() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --inh-caps=-all --bounding-set=-all -- "$@"
}

# pun_get USER PATH [AS]: curl PATH through USER's socket as AS (default: the portal user,
# the only one that may enter the socket directory); prints "CODE BODY".
pun_get() {
    local user=$1 path=$2 as=${3:-$PORTAL_USER}
    as_user "$as" curl -sS --max-time 60 --unix-socket "$(pun_sock "$user")" \
        -w '\n%{http_code}' "http://localhost$path" 2>&1 | awk '{ lines[NR] = $0 } END { printf "%s", lines[NR]; for (i = 1; i < NR; i++) printf " %s", lines[i]; print "" }'
}

# uid of a pid (real uid), or empty if it is gone.
pid_uid() { ps -o ruid= -p "$1" 2>/dev/null | tr -d ' '; }

# Passenger's own pids for USER's PUN, from its instance registry (watchdog and core).
passenger_pids() {
    local file
    for file in "$PUN_TMP_ROOT/$1"/passenger.*/watchdog.pid "$PUN_TMP_ROOT/$1"/passenger.*/core.pid; do
        [ -f "$file" ] && printf '%s ' "$(cat "$file")"
    done
    return 0
}

# pun_tree USER: every process of USER's PUN, one "PID RUID EUID ARGS" line each: the nginx
# master and its descendants, Passenger's watchdog (daemonized, so not under the master)
# and its descendants (core, preloaders, apps).
pun_tree() {
    local roots
    roots="$(pun_master_pid "$1") $(passenger_pids "$1")"
    ps -e -o pid=,ppid=,ruid=,euid=,args= | awk -v roots="$roots" '
        { pid[NR] = $1; ppid[NR] = $2; line[NR] = $1 " " $3 " " $4; args = $0
          sub(/^ *[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +/, "", args); line[NR] = line[NR] " " args }
        END {
            n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1
            do { grew = 0
                 for (i = 1; i <= NR; i++) if (!(pid[i] in keep) && (ppid[i] in keep)) { keep[pid[i]] = 1; grew = 1 }
            } while (grew)
            for (i = 1; i <= NR; i++) if (pid[i] in keep) print line[i]
        }'
}

# pun_tree_owned USER TREE: a problem for each process of TREE (pun_tree's lines) that runs
# as it should not: the nginx master must be root's (it binds the socket and reads the
# config), every other process USER's, real and effective uid.
pun_tree_owned() {
    local user=$1 tree=$2 uid master pid ruid euid args
    uid=$(id -u "$user")
    master=$(pun_master_pid "$user")
    while read -r pid ruid euid args; do
        [ -n "$pid" ] || continue
        if [ "$pid" = "$master" ]; then
            [ "$ruid $euid" = "0 0" ] || problem "$user: nginx master $pid runs as $ruid/$euid, want root (it binds the socket and reads the config)"
        elif [ "$ruid $euid" != "$uid $uid" ]; then
            problem "$user: process $pid ($args) runs as uid $ruid/$euid, want $uid"
        fi
    done <<<"$tree"
}

# no_pun_runs_as_root: a problem naming every PUN process but the nginx masters (a worker,
# Passenger, an app's loader) that runs as root, of any user's PUN.
no_pun_runs_as_root() {
    local strays
    strays=$(ps -e -o pid=,ruid=,euid=,args= | awk '$2 == 0 || $3 == 0' |
        grep -E ' (nginx: worker process|Passenger |/snap/ondemand/[^ ]*/python/bin/python3 [^ ]*wsgi-loader)' || true)
    [ -z "$strays" ] || problem "PUN processes running as root: $(oneline "$strays")"
}

# Sign-in through the front proxy (portal-routes-to-pun.sh, shell-websocket.sh). Such a
# check's restore command is `signin_end USER AUTH_DIR KEY...` (check_begin --restore-with),
# deferred with defer_restore once its preconditions hold and before signin_begin.
# signin_begin USER UID AUTH_DIR PASSWORD [KEY=VALUE...]: a system user with an htpasswd
# entry in AUTH_DIR (readable by the portal user), basic auth on plus any extra snap
# values; returns once Apache asks for a password on a protected URL.
signin_begin() {
    local name=$1 uid=$2 dir=$3 password=$4
    shift 4
    ensure_user "$name" "$uid"
    write_htpasswd "$dir" "$name" "$password"
    snap set "$SNAP_NAME" portal.auth.type=basic "portal.auth.basic.user-file=$dir/htpasswd" "$@" ||
        fail "snap set portal.auth.type=basic portal.auth.basic.user-file=$dir/htpasswd $* was refused"
    local url
    url=http://127.0.0.1:$(portal_port)$(protected_uri)
    wait_for 30 "Apache asks for a password on $url" sh -c \
        "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $url)\" = 401 ]" ||
        fail "Apache does not answer 401 on $url within 30s after portal.auth.type=basic"
}

# signin_end USER AUTH_DIR KEY...: stop the user's PUN, remove the user, AUTH_DIR (or an
# htpasswd file given in its place) and the snap keys (safe to run when nothing was set
# up: --restore).
signin_end() {
    local name=$1 dir=$2
    shift 2
    if [ -x "$NGINX_STAGE" ] && id -u "$name" >/dev/null 2>&1; then
        "$NGINX_STAGE" nginx -u "$name" -s stop >/dev/null 2>&1 || true
    fi
    remove_user "$name"
    rm -rf "$dir" "${PUN_RUN_ROOT:?}/$name" "$(pun_conf "$name")"
    if snap list "$SNAP_NAME" >/dev/null 2>&1; then
        snap unset "$SNAP_NAME" portal.auth.type portal.auth.basic.user-file "$@" || true
    fi
}
