#!/bin/sh
# Fails if the shared library exports anything but ringo_* functions.
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}')
[ -n "$syms" ] || { echo "no exported symbols in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^ringo_' || true)
if [ -n "$bad" ]; then
    echo "exported symbols outside the ringo_ namespace:"; printf '%s\n' "$bad"; exit 1
fi
n=$(printf '%s\n' "$syms" | wc -l)
echo "exports: $n symbols, all ringo_*"
for want in ringo_run ringo_spawn ringo_await ringo_cancel ringo_sleep; do
    printf '%s\n' "$syms" | grep -qx "$want" || { echo "missing export $want"; exit 1; }
done
