# shellcheck shell=bash
# The README's quickstart, read for quickstart.sh (and tests/unit/test_readme.py, which runs
# these functions on the committed README.md). Not a check itself (systemtest.check_names()
# takes only *.sh). The quickstart is the fenced block between the markers
#
#     <!-- quickstart begin -->  ...  <!-- quickstart end -->
#
# in README.md's "Using the snap" section: one shell command a line (a trailing backslash
# continues it), blank lines and `#` comments skipped; the prose after the block names the
# URL to open (`http://HOST/...`).

QUICKSTART_BEGIN='<!-- quickstart begin -->'
QUICKSTART_END='<!-- quickstart end -->'

# quickstart_region README: the lines between the markers; fails unless there is exactly one
# begin marker followed by an end marker.
quickstart_region() {
    awk -v b="$QUICKSTART_BEGIN" -v e="$QUICKSTART_END" '
        $0 == b { begins++; inside = 1; next }
        $0 == e { if (inside) ended = 1; inside = 0; next }
        inside { print }
        END { exit !(begins == 1 && ended) }
    ' "$1"
}

# quickstart_commands README: the commands of the block, one a line, continuations joined.
quickstart_commands() {
    local region
    region=$(quickstart_region "$1") || return 1
    awk '
        /^```/ { fences++; next }
        fences != 1 { next }
        {
            line = $0
            if (pending != "") sub(/^[[:space:]]+/, "", line)
            text = pending line
        }
        text ~ /\\[[:space:]]*$/ { sub(/[[:space:]]*\\[[:space:]]*$/, " ", text); pending = text; next }
        { pending = ""; sub(/^[[:space:]]+/, "", text); sub(/[[:space:]]+$/, "", text) }
        text != "" && text !~ /^#/ { print text; found++ }
        END { exit !(fences >= 2 && found > 0 && pending == "") }
    ' <<<"$region"
}

# quickstart_url README: the URL the prose after the block says to open (http://HOST/...).
quickstart_url() {
    local region url
    region=$(quickstart_region "$1") || return 1
    url=$(grep -o 'http://HOST/[^` )]*' <<<"$region" | head -n 1)
    [ -n "$url" ] || return 1
    printf '%s\n' "$url"
}

# The values the commands name, read from the commands themselves (COMMANDS: the output of
# quickstart_commands). Each prints nothing and fails when the block has no such thing.

# quickstart_login_host COMMANDS: the example cluster's login host (clusters.ID.login.host=).
quickstart_login_host() {
    grep -oE 'clusters\.[a-z0-9-]+\.login\.host=[^[:space:]]+' <<<"$1" | head -n 1 | cut -d= -f2 | grep .
}

# quickstart_user_file COMMANDS: the htpasswd file (portal.auth.basic.user-file=).
quickstart_user_file() {
    grep -oE 'portal\.auth\.basic\.user-file=[^[:space:]]+' <<<"$1" | head -n 1 | cut -d= -f2 | grep .
}

# quickstart_account COMMANDS: "USER PASSWORD" of the htpasswd line,
# echo "USER:$(openssl passwd -apr1 'PASSWORD')" | ...
quickstart_account() {
    local line pattern="\"([a-z_][a-z0-9_-]*):\\$\\(openssl passwd -apr1 '([^']+)'\\)\""
    while IFS= read -r line; do
        if [[ $line =~ $pattern ]]; then
            printf '%s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
            return 0
        fi
    done <<<"$1"
    return 1
}

# quickstart_keys COMMANDS: every key the `snap set ondemand` commands set, one a line.
quickstart_keys() {
    local line word found=1
    local -a words
    while IFS= read -r line; do
        read -r -a words <<<"${line#sudo }"
        [ "${words[0]:-} ${words[1]:-} ${words[2]:-}" = "snap set ondemand" ] || continue
        for word in "${words[@]:3}"; do
            [[ $word == *=* ]] || continue
            printf '%s\n' "${word%%=*}"
            found=0
        done
    done <<<"$1"
    return "$found"
}
