#!/bin/sh
# Cross-build coro/ and its self-check for aarch64 and run it under
# qemu-aarch64. Usage: scripts/test-aarch64.sh [builddir]
# Needs gcc-aarch64-linux-gnu and qemu-user.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$here/build-aarch64"}
if [ -d "$build" ]; then
    meson setup --reconfigure "$build" "$here" \
        --cross-file "$here/scripts/aarch64-cross.ini" -Dcoro_only=true
else
    meson setup "$build" "$here" \
        --cross-file "$here/scripts/aarch64-cross.ini" -Dcoro_only=true
fi
meson test -C "$build" --print-errorlogs
