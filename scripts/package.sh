#!/usr/bin/env bash
# Packages: a Debian package (.deb) of the Linux build and a .zip of the
# Windows build, both made by cpack into build-packages/:
#   build-packages/nvsforge_<version>_amd64.deb
#   build-packages/nvsforge-<version>-windows-x86_64.zip
# Installs what is missing first (as scripts/setup.sh does, plus mingw-w64).
#
#   scripts/package.sh
set -euo pipefail
NVSF_EXTRA_PACKAGES="gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 dpkg-dev man-db" \
    . "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
out=$NVSF_ROOT/build-packages
mkdir -p "$out"

# Linux: a Release build installed under /usr (so the library and the
# pkg-config file go to Debian's multiarch folder).
rel=$NVSF_ROOT/build-release
cmake -S "$NVSF_ROOT" -B "$rel" -DCMAKE_BUILD_TYPE=Release -DNVSF_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$rel" -j"$(nproc)" >/dev/null
log=$out/cpack.log
(cd "$rel" && cpack -B "$out" >"$log" 2>&1) || { cat "$log" >&2; exit 1; }

# Windows: the cross-built executables (the same tree test-windows.sh uses).
win=${NVSF_WIN_BUILD:-$NVSF_ROOT/build-windows}
cmake -S "$NVSF_ROOT" -B "$win" -DCMAKE_BUILD_TYPE=Release --no-warn-unused-cli \
      -DCMAKE_TOOLCHAIN_FILE="$NVSF_ROOT/cmake/toolchain-x86_64-w64-mingw32.cmake" >/dev/null
cmake --build "$win" -j"$(nproc)" >/dev/null
(cd "$win" && cpack -B "$out" >"$log" 2>&1) || { cat "$log" >&2; exit 1; }
rm -rf "$out/_CPack_Packages" "$log"

version=$("$rel/programs/nvsforge" --version | cut -d' ' -f2)
deb=$out/nvsforge_${version}_amd64.deb
zip=$out/nvsforge-${version}-windows-x86_64.zip
# What the .zip must hold: the commands, README and (once there) LICENSE.
listing=$(cd "$out" && cmake -E tar tf "$zip")
want=(bin/nvsforge.exe bin/nvs_partition_gen.exe bin/mfg_gen.exe bin/nvs_tool.exe README.md)
[[ -f $NVSF_ROOT/LICENSE ]] && want+=(LICENSE)
for f in "${want[@]}"; do
    grep -qx "nvsforge-${version}-windows-x86_64/$f" <<<"$listing" ||
        { echo "$zip lacks $f" >&2; exit 1; }
done
echo "packages in $out:"
ls -l "$deb" "$zip" | awk '{print "  " $NF " (" $5 " bytes)"}'
