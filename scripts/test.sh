#!/usr/bin/env bash
# Quick start for developers: install what is missing, build, and run every
# test: the unit and conformance tests, the command-line tests, static
# analysis, the Python package (tests/python), and the same suite again
# under AddressSanitizer and UndefinedBehaviorSanitizer (leaks fail it).
set -euo pipefail
# What only the tests need, on top of what building needs (setup.sh):
# cmocka, the tools the command-line tests call, clang and its sanitizer
# runtimes, the static analysers, and Python's for the package's tests
# (with strace, which shows them what reaches the disk).
NVSF_EXTRA_PACKAGES="libcmocka-dev jq bc time clang llvm libclang-rt-dev cppcheck clang-tidy
    python3-dev python3-venv python3-setuptools python3-wheel python3-pytest python3-packaging strace"
NVSF_TESTS=ON
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ctest --test-dir "$NVSF_BUILD" -j"$(nproc)" --output-on-failure
"$NVSF_ROOT/scripts/lint.sh" "$NVSF_BUILD"
"$NVSF_ROOT/tests/python/run.sh"

san=$NVSF_ROOT/build-sanitize
cmake -S "$NVSF_ROOT" -B "$san" -DCMAKE_BUILD_TYPE=Debug -DNVSF_SANITIZE=ON \
      -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build "$san" -j"$(nproc)" >/dev/null
NVSF_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$san" -j"$(nproc)" --output-on-failure
