#!/usr/bin/env bash
# scripts/setup.sh: the quick start installs what building and running
# need, nothing more; scripts/test.sh adds what only the tests need. Run
# against stand-ins for dpkg-query, apt-get and cmake that record what
# they are asked, on a machine where nothing is installed.
. "$(dirname "$0")/testlib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

fake_machine() {
    mkdir -p fake
    printf '#!/bin/sh\nexit 1\n' >fake/dpkg-query
    printf '#!/bin/sh\necho "$@" >>"%s/apt.log"\n' "$PWD" >fake/apt-get
    printf '#!/bin/sh\necho "$@" >>"%s/cmake.log"\n' "$PWD" >fake/cmake
    printf '#!/bin/sh\n"$@"\n' >fake/sudo
    chmod +x fake/*
}

installed() { grep -- '-y' apt.log | tr ' ' '\n' | grep -v '^-' | grep -v '^install$' | sort | tr '\n' ' '; }

test_quick_start_installs_only_what_building_needs() {
    fake_machine
    (PATH=$PWD/fake:$PATH NVSF_BUILD=$PWD/b . "$ROOT/scripts/setup.sh") >/dev/null || { fail "setup.sh failed"; return 1; }
    [[ $(installed) == "build-essential cmake libssl-dev pkg-config zlib1g-dev " ]] || fail "installs: $(installed)" || return 1
    grep -q -- '-DNVSF_TESTS=OFF' cmake.log || fail "the tests are configured: $(cat cmake.log)"
}

test_test_script_adds_the_test_packages() {
    fake_machine
    # The list scripts/test.sh sets, then setup.sh as it sources it.
    eval "$(sed -n '/^NVSF_EXTRA_PACKAGES="/,/"$/p' "$ROOT/scripts/test.sh")"
    [[ -n ${NVSF_EXTRA_PACKAGES:-} ]] || fail "no NVSF_EXTRA_PACKAGES in scripts/test.sh" || return 1
    (PATH=$PWD/fake:$PATH NVSF_BUILD=$PWD/b NVSF_TESTS=ON NVSF_EXTRA_PACKAGES=$NVSF_EXTRA_PACKAGES \
        . "$ROOT/scripts/setup.sh") >/dev/null || { fail "setup.sh failed"; return 1; }
    local got; got=$(installed)
    for p in build-essential libcmocka-dev clang cppcheck clang-tidy jq python3-pytest python3-packaging; do
        [[ " $got" == *" $p "* ]] || fail "$p not installed: $got" || return 1
    done
    grep -q -- '-DNVSF_TESTS=ON' cmake.log || fail "tests not configured: $(cat cmake.log)"
}

run_tests
