#!/usr/bin/env bash
# Set-up shared by the quick-start scripts: install the Debian/Ubuntu
# packages that are missing, then configure and build into build/.
#
#   . scripts/setup.sh            (sourced; sets NVSF_ROOT and NVSF_BUILD)
#
# By itself it installs only what building and running nvsforge needs (a C
# compiler, CMake, pkg-config, OpenSSL's libcrypto and zlib) and builds
# without the tests. scripts/test.sh sets NVSF_EXTRA_PACKAGES (what only
# the tests and the static analysis need) and NVSF_TESTS=ON first.
set -euo pipefail
NVSF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NVSF_BUILD=${NVSF_BUILD:-$NVSF_ROOT/build}

nvsf_packages=(build-essential cmake pkg-config libssl-dev zlib1g-dev)
# Extra packages a caller needs (scripts/test.sh: what the tests need;
# scripts/test-windows.sh: mingw-w64, Wine).
# shellcheck disable=SC2206 # package names, split on white space
nvsf_packages+=(${NVSF_EXTRA_PACKAGES:-})
missing=()
for p in "${nvsf_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo=""
    if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$NVSF_ROOT" -B "$NVSF_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DNVSF_TESTS="${NVSF_TESTS:-OFF}" >/dev/null
cmake --build "$NVSF_BUILD" -j"$(nproc)" >/dev/null
echo "built: $NVSF_BUILD/programs/nvsforge (also nvs_partition_gen, mfg_gen)"
