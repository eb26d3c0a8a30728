# Helpers shared by scripts/bench-http.sh and scripts/callgrind.sh (sourced, not run).
# The sourcing script sets SCRIPT (its name, for messages) first.

die() {
    echo "$SCRIPT: $*" >&2
    exit 1
}

# is_int VALUE MIN MAX: VALUE is a whole number within MIN..MAX
is_int() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }

# target_dir MANIFEST: the target directory cargo uses for the project of MANIFEST
target_dir() {
    cargo metadata --no-deps --format-version 1 --manifest-path "$1" |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}

# get_cookie PORT: the session cookie (`name=value`) that a first GET /inc sets; empty if none.
# A cookie set to an empty value is one being cleared (axum_session clears its "store" cookie
# on every response, before or after its session cookie), not the session's.
get_cookie() {
    curl -sS -D - -o /dev/null --max-time 30 "http://127.0.0.1:$1/inc" | tr -d '\r' |
        awk 'tolower($1) == "set-cookie:" { split($2, a, ";"); if (a[1] !~ /=$/) { print a[1]; exit } }'
}

# The bare server sets no cookie: it gets a cookie header of the same size as a session
# server's, so every server parses the same request.
# shellcheck disable=SC2034  # used by the sourcing scripts
BARE_COOKIE="sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

# wait_http PID PORT TRIES PAUSE: waits until GET /read answers on 127.0.0.1:PORT, trying
# TRIES times PAUSE seconds apart; fails as soon as PID has exited, or when the tries run out.
wait_http() {
    local _
    for _ in $(seq 1 "$3"); do
        kill -0 "$1" 2>/dev/null || return 1
        curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$2/read" && return 0
        sleep "$4"
    done
    return 1
}

# build_axum_session: builds the axum_session server of AXUM_SESSION=1 (bench-http.sh) and
# SERVERS=axum_session (callgrind.sh), the standalone project scripts/axum-session (release;
# its own Cargo.lock and target directory), and sets AS_MANIFEST and AS_BIN. Run from the
# repository's root.
build_axum_session() {
    AS_MANIFEST=scripts/axum-session/Cargo.toml
    echo "== building the axum_session server (release, $AS_MANIFEST)"
    cargo build --release --manifest-path "$AS_MANIFEST"
    AS_BIN=$(target_dir "$AS_MANIFEST")/release/bench-axum-session
    [ -x "$AS_BIN" ] || die "$AS_BIN was not built"
}
