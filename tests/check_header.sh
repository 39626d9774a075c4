#!/bin/sh
# The public header must compile on its own, with nothing included before it.
set -eu
hdr=$1; cc=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '#include "%s"\nint main(void) { return 0; }\n' "$hdr" > "$tmp/a.c"
"$cc" -std=c11 -Wall -Wextra -Werror -pedantic -c "$tmp/a.c" -o "$tmp/a.o"
if command -v c++ >/dev/null 2>&1; then
    cp "$tmp/a.c" "$tmp/a.cc"
    c++ -Wall -Wextra -Werror -c "$tmp/a.cc" -o "$tmp/b.o"
fi
echo "ringo.h compiles alone"
