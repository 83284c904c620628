#!/bin/bash
# Check: the front proxy's process model: one Apache master running as root (the unit's
# main process: it binds the ports and reads the root-only config), and every worker
# process it forks running as the portal user (snap_daemon), all from the snap.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
check_begin portal-processes --root --installed -- "$@"

portal_uid=$(id -u "$PORTAL_USER") || fail "no user $PORTAL_USER (snapd creates it from system-usernames)"
apache_up() { [ "$(systemctl is-active "$APACHE_UNIT")" = active ] && apache_answers; }
wait_for 30 "$APACHE_UNIT active and answering" apache_up || fail "$APACHE_UNIT is not serving"
# Workers are forked right after start; give them a moment after a restart by another check.
workers_up() { [ "$(ps -o pid= --ppid "$(systemctl show -p MainPID --value "$APACHE_UNIT")" | wc -l)" -ge 1 ]; }
wait_for 10 "Apache workers forked" workers_up || true

main=$(systemctl show -p MainPID --value "$APACHE_UNIT")
say "portal-processes: $APACHE_UNIT main pid $main; ps -C apache2:"
listing=$(ps -o pid=,ppid=,ruid=,euid=,user:16=,args= -C apache2 || true)
[ -n "$listing" ] || fail "no apache2 process (ps -C apache2)"
printf '%s\n' "$listing" | cut -c1-160 | sed 's/^/  /'

masters=0
workers=0
while read -r pid ppid ruid euid user args; do
    case "$args" in
    "$SNAP_MOUNT"/* | /snap/"$SNAP_NAME"/*) ;;
    # A worker of the generation before a graceful reload that has exited and waits to be
    # reaped by the main process: it runs nothing any more.
    "[apache2] <defunct>") say "  $pid: an exited worker of the previous generation (defunct); skipped"; continue ;;
    *) problem "apache2 process $pid does not run from the snap: $args" ;;
    esac
    if [ "$pid" = "$main" ]; then
        masters=$((masters + 1))
        [ "$ruid $euid" = "0 0" ] || problem "master $pid runs as $user ($ruid/$euid), want root"
    elif [ "$ppid" = "$main" ]; then
        workers=$((workers + 1))
        [ "$ruid $euid" = "$portal_uid $portal_uid" ] ||
            problem "worker $pid runs as $user ($ruid/$euid), want $PORTAL_USER ($portal_uid)"
    else
        problem "apache2 process $pid ($user) is neither the unit's main process $main nor its child (ppid $ppid)"
    fi
done <<<"$listing"
[ "$masters" = 1 ] || problem "the unit's main process $main is not an apache2 process"
[ "$workers" -ge 1 ] || problem "no worker processes under the master $main"
say "  master $main: root; $workers worker(s): $PORTAL_USER ($portal_uid)"

# Every listening socket of the unit belongs to the master (root binds port $(portal_port)).
port=$(portal_port)
owners=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | tr '\n' ' ')
say "  port $port: listening sockets held by pid(s) $owners"
grep -qw "$main" <<<"$owners" || problem "port $port is not held by the Apache master $main (holders: ${owners:-none})"

finish portal-processes
