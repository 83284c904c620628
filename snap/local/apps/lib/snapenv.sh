# shellcheck shell=sh
# Sourced by the wrappers: locate the snap from the script's own path, so the wrappers also
# work under sudo (which passes no SNAP_* variables) and from an unpacked snap in tests.
SNAP="${SNAP:-$(dirname "$(dirname "$(readlink -f "$0")")")}"
SNAP_NAME="${SNAP_NAME:-ondemand}"
SNAP_COMMON="${SNAP_COMMON:-/var/snap/$SNAP_NAME/common}"
export SNAP SNAP_NAME SNAP_COMMON
# The snap's own programs first; the host's after them (classic confinement).
PATH="$SNAP/bin:$SNAP/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH
