#!/usr/bin/env bash
# Set-up shared by the quick-start scripts: install the Debian/Ubuntu
# packages that are missing, then configure and build into build/.
#
#   . scripts/setup.sh            (sourced; sets NVSF_ROOT and NVSF_BUILD)
set -euo pipefail
NVSF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NVSF_BUILD=${NVSF_BUILD:-$NVSF_ROOT/build}

nvsf_packages=(build-essential cmake pkg-config libssl-dev zlib1g-dev libcmocka-dev
               jq bc time clang llvm libclang-rt-dev cppcheck clang-tidy
               python3-dev python3-venv python3-setuptools python3-wheel python3-pytest
               python3-packaging)
# Extra packages a caller needs (scripts/test-windows.sh: mingw-w64, Wine).
read -r -a nvsf_extra <<<"${NVSF_EXTRA_PACKAGES:-}"
nvsf_packages+=("${nvsf_extra[@]}")
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

cmake -S "$NVSF_ROOT" -B "$NVSF_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$NVSF_BUILD" -j"$(nproc)" >/dev/null
echo "built: $NVSF_BUILD/programs/nvsforge (also nvs_partition_gen, mfg_gen)"
