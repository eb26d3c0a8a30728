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
get_cookie() {
    curl -sS -D - -o /dev/null --max-time 30 "http://127.0.0.1:$1/inc" | tr -d '\r' |
        awk 'tolower($1) == "set-cookie:" { split($2, a, ";"); print a[1]; exit }'
}
