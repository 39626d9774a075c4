#!/usr/bin/env bash
# Builds and runs every test: plain (gcc), sanitized (ASan+UBSan, TSan),
# clang, and the context switch on aarch64 under qemu-user. The gcc suite runs
# three times: on the default backend, on epoll (RINGO_BACKEND=epoll), and
# under a seccomp filter that refuses io_uring as Docker's default profile
# does, where ringo must pick epoll by itself; ASan and TSan run on both
# backends. Does its own set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_packages build-essential meson ninja-build pkg-config clang liburing-dev libssl-dev openssl \
    libcriterion-dev libbenchmark-dev g++ gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
    qemu-user valgrind curl wrk nginx

B=${RINGO_BUILD_DIR:-build}
mkdir -p "$B"
passed=0 failed=0
phase() {   # phase NAME DIR [meson setup args...]
    local name=$1 dir=$2; shift 2
    echo "== $name"
    local how=; [ -d "$dir" ] && how=--reconfigure
    if ! meson setup $how "$dir" "$@" > "$dir.setup.log" 2>&1; then
        echo "configure failed: $name"; tail -20 "$dir.setup.log"; failed=$((failed+1)); return
    fi
    if ! meson compile -C "$dir" > "$dir.build.log" 2>&1; then
        echo "build failed: $name"; tail -40 "$dir.build.log"; failed=$((failed+1)); return
    fi
    if meson test -C "$dir" --print-errorlogs --num-processes 1 "${TEST_ARGS[@]}"; then
        passed=$((passed+1))
    else
        failed=$((failed+1))
    fi
}
# again NAME DIR [meson test args...]: the suite of an already built DIR,
# under whatever the caller exports (RINGO_BACKEND...).
again() {
    local name=$1 dir=$2; shift 2
    echo "== $name"
    [ -f "$dir/build.ninja" ] || { echo "not built: $name"; failed=$((failed+1)); return; }
    if meson test -C "$dir" --print-errorlogs --num-processes 1 "$@"; then
        passed=$((passed+1))
    else
        failed=$((failed+1))
    fi
}
TEST_ARGS=()
phase "gcc, debugoptimized" "$B/gcc"
RINGO_BACKEND=epoll RINGO_EXPECT_BACKEND=epoll again "gcc, epoll backend" "$B/gcc"
# tests/no_uring's filter is inherited by every test program and everything
# it starts (the example servers and their clients).
RINGO_EXPECT_BACKEND=epoll again "gcc, io_uring refused by seccomp (Docker's default profile)" \
    "$B/gcc" --wrapper "$(realpath "$B")/gcc/tests/no_uring"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
phase "gcc, AddressSanitizer + UndefinedBehaviorSanitizer" "$B/asan" -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=disabled
RINGO_BACKEND=epoll again "gcc, AddressSanitizer + UndefinedBehaviorSanitizer, epoll backend" "$B/asan"
unset ASAN_OPTIONS UBSAN_OPTIONS
# The TSan build runs only tests/tsan/ (Criterion's runner crashes under it).
# TSan's fixed shadow layout needs ASLR off on kernels with many mmap random
# bits; setarch -R turns it off for each test program.
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
TEST_ARGS=(--wrapper "setarch $(uname -m) -R")
phase "gcc, ThreadSanitizer" "$B/tsan" -Db_sanitize=thread -Db_lundef=false -Dbenchmarks=disabled -Dexamples=false
RINGO_BACKEND=epoll again "gcc, ThreadSanitizer, epoll backend" "$B/tsan" "${TEST_ARGS[@]}"
TEST_ARGS=()
unset TSAN_OPTIONS
CC=clang CXX=clang++ phase "clang, debugoptimized" "$B/clang"
echo "== aarch64 context switch under qemu-user"
if scripts/test-aarch64.sh "$B/aarch64"; then passed=$((passed+1)); else failed=$((failed+1)); fi

echo "phases: $passed passed, $failed failed"
[ "$failed" = 0 ]
