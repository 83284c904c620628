#!/bin/bash
# Check: a per-user nginx (PUN) started as root with the snap's nginx + Passenger serves a
# Rack, a Node.js and a WSGI app, and everything but the nginx master runs as that user:
# nginx workers, Passenger's watchdog and core, every app process. Two users side by side;
# neither can reach the other's socket; both PUNs stop cleanly.
#
# Usage: pun-privileges.sh [FIXTURES_DIR]   (default: ../fixtures/apps next to this script)
#        pun-privileges.sh --restore        (stop the PUNs, remove users, apps and files)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=pun.bash
. "$here/pun.bash"
check_begin pun-privileges --root --installed --restore-with pun_end "${PUN_USERS[@]%%:*}" -- "$@"
fixtures=$(fixtures_dir "${1:-}")
defer_restore

note_nginx_stage

say "pun-privileges: users, fixture apps and PUN configs"
users=()
declare -A uid_of
for entry in "${PUN_USERS[@]}"; do
    user=${entry%%:*}
    ensure_user "$user" "${entry##*:}"
    uid_of[$user]=$(id -u "$user")
    users+=("$user")
    say "  $user: $(id "$user")"
done
install_apps "$fixtures"
for user in "${users[@]}"; do
    remove_pun "$user" >/dev/null # leftovers of an interrupted run
    write_pun "$user"
    say "  $(pun_conf "$user")"
done

say "pun-privileges: start the PUNs as root"
for user in "${users[@]}"; do
    start_pun "$user"
done

say "pun-privileges: socket directories belong to $PORTAL_USER (0700)"
for user in "${users[@]}"; do
    expect_path d "$PORTAL_USER:$PORTAL_USER" 0700 "$PUN_RUN_ROOT/$user"
done

say "pun-privileges: every app answers 200 through the socket, to $PORTAL_USER, as its user"
declare -A app_pids
for user in "${users[@]}"; do
    for kind in "${PUN_APP_KINDS[@]}"; do
        path=/pun/sys/$PUN_APP_PREFIX$kind/hello
        started=$(date +%s.%N)
        answer=$(pun_get "$user" "$path")
        took=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        code=${answer%% *}
        body=${answer#* }
        if [ "$code" != 200 ]; then
            problem "$user $path: HTTP $code, want 200: $(oneline "$body") (error log: $(oneline "$(tail -n 5 "$PUN_LOG_ROOT/$user/error.log" 2>/dev/null)"))"
            continue
        fi
        say "  $user $path: 200 in ${took}s: $body"
        [[ "$body" == "$kind "* ]] || problem "$user $path: answered by something else: $body"
        want="uid=${uid_of[$user]} euid=${uid_of[$user]} gid=$(id -g "$user")"
        [[ "$body" == *"$want "* ]] || problem "$user $path: app runs as '$(grep -o 'uid=[0-9]* euid=[0-9]* gid=[0-9]*' <<<"$body")', want '$want'"
        pid=$(grep -o ' pid=[0-9]*' <<<"$body" | cut -d= -f2)
        app_pids[$user]="${app_pids[$user]:-} $pid"
    done
done

say "pun-privileges: processes (ps): only the nginx master is root; all else is the PUN's user"
for user in "${users[@]}"; do
    uid=${uid_of[$user]}
    tree=$(pun_tree "$user")
    printf '%s\n' "$tree" | sed "s/^/  $user: /"
    pun_tree_owned "$user" "$tree"
    workers=$(grep -c ' nginx: worker process' <<<"$tree" || true)
    [ "$workers" -ge 1 ] || problem "$user: no nginx worker process in the PUN's process tree"
    grep -q ' Passenger core$' <<<"$tree" || problem "$user: no Passenger core in the PUN's process tree"
    grep -q ' Passenger watchdog$' <<<"$tree" || problem "$user: no Passenger watchdog in the PUN's process tree"
    for pid in ${app_pids[$user]:-}; do
        owner=$(pid_uid "$pid")
        if [ -z "$owner" ]; then
            problem "$user: app process $pid (from the app's answer) is not running"
        elif [ "$owner" != "$uid" ]; then
            problem "$user: app process $pid runs as uid $owner, want $uid"
        elif ! awk -v p="$pid" '$1 == p { found = 1 } END { exit !found }' <<<"$tree"; then
            problem "$user: app process $pid runs as $user but outside its PUN's process tree"
        fi
    done
    say "  $user: master root, $workers worker(s), Passenger watchdog+core, apps${app_pids[$user]:-} as uid $uid"
done
# Nothing of any PUN runs as root apart from the masters, nor as the other test user.
no_pun_runs_as_root

say "pun-privileges: a user cannot reach another user's socket"
for user in "${users[@]}"; do
    for other in "${users[@]}"; do
        [ "$user" != "$other" ] || continue
        out=$(as_user "$user" curl -sS -v --max-time 5 --unix-socket "$(pun_sock "$other")" \
            "http://localhost/pun/sys/${PUN_APP_PREFIX}rack/" 2>&1) && rc=0 || rc=$?
        if [ "$rc" = 0 ]; then
            problem "$user reached $other's PUN through $(pun_sock "$other"): $(oneline "$(tail -n 1 <<<"$out")")"
        elif grep -q 'Permission denied' <<<"$out"; then
            say "  $user -> $other's socket: refused (curl exit $rc, Permission denied)"
        else
            problem "$user -> $other's socket: curl failed (exit $rc) but not with Permission denied: $(oneline "$out")"
        fi
    done
done

say "pun-privileges: stop the PUNs (nginx -s stop)"
for user in "${users[@]}"; do
    master=$(pun_master_pid "$user")
    "$NGINX" -c "$(pun_conf "$user")" -e "$PUN_LOG_ROOT/$user/error.log" -s stop ||
        problem "$user: nginx -s stop failed"
    user_gone() { ! pgrep -u "$1" >/dev/null && ! kill -0 "$2" 2>/dev/null; }
    if wait_for 20 "$user: master $master and every process of $user gone" user_gone "$user" "$master"; then
        [ ! -S "$(pun_sock "$user")" ] || problem "$user: socket $(pun_sock "$user") left behind after stop"
    else
        problem "$user: still running 20s after nginx -s stop: $(oneline "$(pun_tree "$user")")"
    fi
done

finish pun-privileges
