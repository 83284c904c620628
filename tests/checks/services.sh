#!/bin/bash
# Check: snapd runs exactly the daemons and timers the snap declares, and Apache is up
# and answering HTTP on the portal port.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
check_begin services --root --installed -- "$@"

SNAP_YAML=$SNAP_MOUNT/meta/snap.yaml
[ -f "$SNAP_YAML" ] || fail "$SNAP_YAML: missing"

say "services: declared in $SNAP_YAML"
mapfile -t declared < <(declared_services "$SNAP_YAML" | LC_ALL=C sort)
[ "${#declared[@]}" -gt 0 ] || fail "$SNAP_YAML declares no daemons: expected at least apache"
printf '  %s\n' "${declared[@]}"

say "services: snap services $SNAP_NAME"
listing=$(snap services "$SNAP_NAME")
printf '%s\n' "$listing" | sed 's/^/  /'
expected=$(printf '%s\n' "${declared[@]}" | awk -v s="$SNAP_NAME" '{print s "." $1}')
actual=$(printf '%s\n' "$listing" | awk 'NR > 1 && NF {print $1}' | LC_ALL=C sort)
missing=$(LC_ALL=C comm -23 <(printf '%s\n' "$expected") <(printf '%s\n' "$actual"))
extra=$(LC_ALL=C comm -13 <(printf '%s\n' "$expected") <(printf '%s\n' "$actual"))
[ -z "$missing" ] || problem "declared but not listed by snap services: $(oneline "$missing")"
[ -z "$extra" ] || problem "listed by snap services but not declared in snap.yaml: $(oneline "$extra")"

# Timers show as "timer-activated" in the Notes column.
for entry in "${declared[@]}"; do
    read -r app kind <<<"$entry"
    line=$(printf '%s\n' "$listing" | awk -v n="$SNAP_NAME.$app" '$1 == n')
    if [ "$kind" = timer ] && [ -n "$line" ] && ! grep -q timer-activated <<<"$line"; then
        problem "$SNAP_NAME.$app: declared with timer: but snap services does not show it timer-activated: $line"
    fi
done

say "services: $SNAP_NAME.apache enabled and active"
apache_line() { snap services "$SNAP_NAME.apache" | awk -v n="$SNAP_NAME.apache" '$1 == n'; }
apache_active() { [ "$(apache_line | awk '{print $2, $3}')" = "enabled active" ]; }
if ! wait_for 30 "$SNAP_NAME.apache enabled and active" apache_active; then
    problem "$SNAP_NAME.apache not enabled+active after 30s: $(apache_line) (journalctl -u snap.$SNAP_NAME.apache)"
    journalctl -u "snap.$SNAP_NAME.apache" --no-pager -n 20 2>&1 | sed 's/^/  journal: /' >&2 || true
fi

# The port the configure hook gave Apache: the snap option, else the port written to
# ood_portal.yml, else upstream's default 80.
port=$(snap_option portal.port)
if [ "$port" = "<unset>" ]; then
    port=$(awk '/^port:/ {gsub(/["'\'']/, "", $2); print $2; exit}' "$COMMON/etc/ood/config/ood_portal.yml" 2>/dev/null || true)
fi
port=${port:-80}
url="http://127.0.0.1:$port/"
say "services: Apache answers on $url"
http_answers() {
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)
    [ -n "$code" ] && [ "$code" != 000 ]
}
if wait_for 30 "HTTP $url answers" http_answers; then
    say "  $url: HTTP $code"
else
    problem "$url: no HTTP answer after 30s ($(curl -sS -o /dev/null --max-time 5 "$url" 2>&1 || true))"
fi

finish services
