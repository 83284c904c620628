#!/bin/bash
# Check: clusters.<id>.title and clusters.<id>.login.host write clusters.d/<id>.yml (the
# snap's marker first, v2.metadata.title, v2.login.host), without restarting Apache. A
# file the admin wrote by hand under clusters.d blocks a cluster of the same id and is
# never touched. Unknown keys are refused with a hint; a bad host name, a title with a line
# break, an unknown scheduler and a cluster with neither login host nor scheduler are
# refused naming each key, changing nothing. Unsetting the title brings back the id as
# title; unsetting the cluster removes its file.
#
# Usage: configure-clusters.sh | --restore
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=portal.bash
. "$here/portal.bash"
# shellcheck source-path=SCRIPTDIR source=configure.bash
. "$here/configure.bash"
ID=check-a
OTHER=check-b
HANDMADE=check-handmade
EXTRA_PATHS=("$CLUSTERS_D/$HANDMADE.yml")
configure_begin configure-clusters "clusters.$ID" "clusters.$OTHER" "clusters.$HANDMADE" -- "$@"

FILE=$CLUSTERS_D/$ID.yml
TITLE="Check cluster A"
LOGIN=login.check-a.example.test
[ ! -e "$FILE" ] || fail "precondition: $FILE exists"
[ ! -e "$CLUSTERS_D/$HANDMADE.yml" ] || fail "precondition: $CLUSTERS_D/$HANDMADE.yml exists; run configure-clusters.sh --restore"

step "allowed: a login-only cluster"
pid=$(apache_pid) reloads=$(reload_count)
set_ok "clusters.$ID.title=$TITLE" "clusters.$ID.login.host=LOGIN.Check-A.example.test"
expect_path f root:root 0644 "$FILE"
expect_yaml "$FILE" "v2.metadata.title=\"$TITLE\"" "v2.login.host=\"$LOGIN\"" v2.job=absent
head -n1 "$FILE" | grep -q '^# Managed by the ondemand snap' || problem "$FILE: does not start with the snap's marker"
expect_reload no "$pid" "$reloads"
apache_active

step "refused: unknown keys under clusters.$ID."
refused "clusters.$ID.login.hostname=$LOGIN"
says "clusters.$ID.login.hostname: unknown key; did you mean clusters.$ID.login.host?"
refused "clusters.$ID.login=$LOGIN"
says "clusters.$ID.login: is a group of settings, not a value; set one of clusters.$ID.login.host"

step "invalid: bad values, and a cluster that could do nothing"
refused "clusters.$ID.login.host=login_node.check-a.example.test" "clusters.$ID.title=A"$'\nv2:' \
    "clusters.$ID.job.adapter=pbs" "clusters.$OTHER.title=B"
says "clusters.$ID.login.host: \"login_node.check-a.example.test\" is not a host name; use letters, digits, '-' and '.'" \
    "clusters.$ID.title: \"A\\nv2:\" contains a line break" \
    "clusters.$ID.job.adapter: \"pbs\" is not one of: slurm, pbspro, torque, lsf, sge" \
    "clusters.$OTHER: needs clusters.$OTHER.login.host or clusters.$OTHER.job.adapter"
refused "clusters.$ID.login.host=login.check-a.example.test."
says "clusters.$ID.login.host: \"login.check-a.example.test.\" is not a host name"
[ ! -e "$CLUSTERS_D/$OTHER.yml" ] || problem "$CLUSTERS_D/$OTHER.yml exists after a refused snap set"

step "refused: a cluster id taken by a file written by hand"
printf 'v2:\n  metadata:\n    title: "Written by hand"\n  login:\n    host: "hand.example.test"\n' >"$CLUSTERS_D/$HANDMADE.yml"
handmade_sum=$(sha256sum "$CLUSTERS_D/$HANDMADE.yml")
refused "clusters.$HANDMADE.login.host=$LOGIN"
says "clusters.$HANDMADE: $CLUSTERS_D/$HANDMADE.yml exists and was not written by the snap"

step "unset: the title, then the whole cluster"
unset_ok "clusters.$ID.title"
expect_yaml "$FILE" "v2.metadata.title=\"$ID\"" "v2.login.host=\"$LOGIN\""
unset_ok "clusters.$ID"
if [ -e "$FILE" ]; then
    problem "$FILE still exists after snap unset clusters.$ID"
else
    say "    $FILE: removed"
fi
[ "$(sha256sum "$CLUSTERS_D/$HANDMADE.yml" 2>&1)" = "$handmade_sum" ] ||
    problem "$CLUSTERS_D/$HANDMADE.yml (written by hand) changed or vanished"
expect_reload no "$pid" "$reloads"
apache_active

finish configure-clusters
