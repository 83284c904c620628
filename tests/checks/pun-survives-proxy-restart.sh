#!/bin/bash
# Check: per-user nginx (PUN) processes survive a restart (and a stop/start) of the front
# proxy, as upstream's KillMode=process intends: the apache app's stop-mode (sigterm)
# makes systemd signal only Apache's main process.
#
# That is only a test if the PUN lives in the Apache service's cgroup, where it lands in
# production (Apache -> mod_ood_proxy -> sudo nginx_stage -> nginx all inherit it); a PUN
# anywhere else survives whatever the unit's KillMode. So the PUN is started by a shell that
# first moves itself into snap.ondemand.apache.service's cgroup in every hierarchy the
# service has one (cgroup.procs), then execs nginx; the check verifies the PUN's processes
# share Apache's cgroups before restarting.
#
# Usage: pun-survives-proxy-restart.sh [FIXTURES_DIR] | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=pun.bash
. "$here/pun.bash"

UNIT=snap.$SNAP_NAME.apache.service
entry=${PUN_USERS[0]}
user=${entry%%:*}

cleanup() {
    pun_end "$user"
    # The check restarts Apache: leave it running whatever happened.
    snap start "$SNAP_NAME.apache" >/dev/null 2>&1 || true
}
check_begin pun-survives-proxy-restart --root --installed --restore-with cleanup -- "$@"
fixtures=$(fixtures_dir "${1:-}")
defer_restore
note_nginx_stage

main_pid() { systemctl show -p MainPID --value "$UNIT"; }
apache_up() { [ "$(systemctl is-active "$UNIT")" = active ] && [ "$(main_pid)" != 0 ]; }
wait_for 30 "$UNIT active" apache_up || fail "$UNIT is not active: $(systemctl is-active "$UNIT")"

kill_mode=$(systemctl show -p KillMode --value "$UNIT")
say "pun-survives-proxy-restart: $UNIT has KillMode=$kill_mode"
[ "$kill_mode" = process ] || problem "$UNIT: KillMode=$kill_mode, want process (snap.yaml apps.apache.stop-mode: sigterm)"

ensure_user "$user" "${entry##*:}"
install_apps "$fixtures"
remove_pun "$user" >/dev/null
write_pun "$user"

apache_main=$(main_pid)
mapfile -t procs_files < <(find /sys/fs/cgroup -path "*/system.slice/$UNIT/cgroup.procs" 2>/dev/null)
[ "${#procs_files[@]}" -gt 0 ] || fail "no cgroup.procs of $UNIT under /sys/fs/cgroup (cgroups of Apache's main process: $(oneline "$(cat "/proc/$apache_main/cgroup")"))"
say "pun-survives-proxy-restart: start $user's PUN inside $UNIT's cgroups (${#procs_files[@]} hierarchies)"
# The helper shell writes its own pid into each cgroup.procs, then becomes nginx.
# shellcheck disable=SC2016  # expanded by the helper shell
start_pun "$user" bash -c 'for f in "${@:2:$1}"; do echo $$ >"$f"; done; shift $(($1 + 1)); exec "$@"' \
    into-cgroup "${#procs_files[@]}" "${procs_files[@]}"

master=$(pun_master_pid "$user")
answer=$(pun_get "$user" "/pun/sys/${PUN_APP_PREFIX}rack/before")
[ "${answer%% *}" = 200 ] || fail "$user's PUN does not answer before the restart: $answer"
tree_before=$(pun_tree "$user")
outside=""
while read -r pid _; do
    [ "$(cat "/proc/$pid/cgroup" 2>/dev/null)" = "$(cat "/proc/$apache_main/cgroup")" ] || outside="$outside $pid"
done <<<"$tree_before"
[ -z "$outside" ] || fail "PUN processes not in $UNIT's cgroups:$outside (the restart would prove nothing)"
say "  master $master and $(($(wc -l <<<"$tree_before") - 1)) other PUN process(es) share the cgroups of Apache's main process $apache_main:"
sed 's/^/    /' "/proc/$master/cgroup" | grep -v ':/$' || true
systemctl status "$UNIT" --no-pager 2>/dev/null | sed -n '/CGroup:/,/^$/p' | sed 's/^/  /' | cut -c1-150

# pun_still_serves WHAT: the same master, every PUN process alive, an app answers 200.
pun_still_serves() {
    local what=$1 now pid missing=""
    now=$(pun_master_pid "$user")
    if ! kill -0 "$master" 2>/dev/null; then
        problem "after $what: $user's nginx master $master is gone (the PUN was killed with the proxy)"
        return
    fi
    [ "$now" = "$master" ] || problem "after $what: pid file says $now, want the unchanged master $master"
    while read -r pid _; do
        kill -0 "$pid" 2>/dev/null || missing="$missing $pid"
    done <<<"$tree_before"
    [ -z "$missing" ] || problem "after $what: PUN processes gone:$missing"
    answer=$(pun_get "$user" "/pun/sys/${PUN_APP_PREFIX}rack/after")
    if [ "${answer%% *}" = 200 ]; then
        say "  after $what: master $master unchanged, all $(wc -l <<<"$tree_before") PUN processes alive, app: $answer"
    else
        problem "after $what: $user's PUN does not answer: $answer"
    fi
}

port=$(awk '/^port:/ {gsub(/["'\'']/, "", $2); print $2; exit}' "$COMMON/etc/ood/config/ood_portal.yml" 2>/dev/null || true)
port=${port:-80}
apache_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/public/need_auth.html")" = 200 ]; }

say "pun-survives-proxy-restart: snap restart $SNAP_NAME.apache"
snap restart "$SNAP_NAME.apache" >/dev/null
restarted() { apache_up && [ "$(main_pid)" != "$apache_main" ]; }
wait_for 30 "$UNIT restarted (main pid $apache_main -> $(main_pid))" restarted ||
    problem "$UNIT did not come back with a new main process (still $(main_pid), $(systemctl is-active "$UNIT"))"
wait_for 30 "Apache answers on port $port" apache_answers || problem "Apache does not answer on port $port after the restart"
pun_still_serves "snap restart"

say "pun-survives-proxy-restart: snap stop, then snap start $SNAP_NAME.apache"
snap stop "$SNAP_NAME.apache" >/dev/null
say "  $UNIT: $(systemctl is-active "$UNIT" || true) (main pid $(main_pid))"
pun_still_serves "snap stop"
snap start "$SNAP_NAME.apache" >/dev/null
wait_for 30 "$UNIT active again" apache_up || problem "$UNIT not active after snap start"
wait_for 30 "Apache answers on port $port" apache_answers || problem "Apache does not answer on port $port after snap start"
pun_still_serves "snap start"

stop_pun "$user"
finish pun-survives-proxy-restart
