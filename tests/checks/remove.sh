#!/bin/bash
# Check: `snap remove --purge` leaves nothing of the snap behind: no state, no sudoers
# rule, no units, no processes running from the snap.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
check_begin remove --root --installed -- "$@"

# PIDs (with their command line) of processes whose executable or command line is in /snap/ondemand.
snap_processes() {
    local dir pid exe cmd
    for dir in /proc/[0-9]*; do
        pid=${dir#/proc/}
        if [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ]; then continue; fi
        exe=$(readlink "$dir/exe" 2>/dev/null || true)
        cmd=$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null || true)
        case "$exe $cmd" in
        */snap/$SNAP_NAME/*) echo "$pid ${exe:-?}: $cmd" ;;
        esac
    done
}

say "remove: snap remove --purge $SNAP_NAME"
snap remove --purge "$SNAP_NAME" || fail "snap remove --purge $SNAP_NAME failed"

! snap list "$SNAP_NAME" >/dev/null 2>&1 || problem "snap list still shows $SNAP_NAME"
for path in "/var/snap/$SNAP_NAME" "$SUDOERS_FILE" "/snap/$SNAP_NAME"; do
    if [ -e "$path" ] || [ -L "$path" ]; then
        problem "$path still exists after the purge: $(ls -ld "$path")"
    else
        say "  $path: gone"
    fi
done

units=$(systemctl list-units --all --no-legend --plain "snap.$SNAP_NAME.*" 2>/dev/null | awk '{print $1}')
[ -z "$units" ] || problem "systemd units of the snap left: $(oneline "$units")"

left=$(snap_processes)
if [ -n "$left" ]; then
    problem "processes still running from /snap/$SNAP_NAME: ${left//$'\n'/; }"
else
    say "  no process runs from /snap/$SNAP_NAME"
fi

finish remove
