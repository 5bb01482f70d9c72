#!/usr/bin/env bash
# The Debian package from scripts/package.sh, as a user meets it: what it
# declares and holds (dpkg-deb -I, -c), then, as root, installed with
# dpkg -i, used (nvsforge --version, man -w, pkg-config, a real image), and
# removed with dpkg -r.
#
#   tests/package/test_deb.sh build-packages/nvsforge_<version>_amd64.deb
set -euo pipefail
deb=${1:?usage: test_deb.sh PACKAGE.deb}
fail() { echo "FAIL: $*" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)

info=$(dpkg-deb -I "$deb")
[[ $(dpkg-deb -f "$deb" Package) == nvsforge ]] || fail "package name: $info"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libssl3 zlib1g; do
    [[ $depends == *"$lib "* ]] || fail "Depends lacks $lib: $depends"
done
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/nvsforge ./usr/bin/nvs_partition_gen ./usr/bin/mfg_gen ./usr/bin/nvs_tool \
         ./usr/include/nvsforge/nvsforge.h ./usr/lib/x86_64-linux-gnu/libnvsforge.a \
         ./usr/lib/x86_64-linux-gnu/pkgconfig/nvsforge.pc ./usr/share/man/man1/nvsforge.1 \
         ./usr/share/man/man1/mfg_gen.1 ./usr/share/man/man1/nvs_partition_gen.1; do
    grep -qx "$f" <<<"$contents" || fail "$deb lacks $f"
done
echo "ok   contents and dependencies ($depends)"

sudo=""
if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
if dpkg-query -W -f='${Status}' nvsforge 2>/dev/null | grep -q "install ok installed"; then
    fail "a nvsforge package is installed already; this test installs and removes its own"
fi
$sudo dpkg -i "$deb" >/dev/null
trap '$sudo dpkg -r nvsforge >/dev/null 2>&1 || true' EXIT
[[ $(/usr/bin/nvsforge --version) == "nvsforge $version" ]] || fail "nvsforge --version: $(/usr/bin/nvsforge --version)"
[[ $(man -w nvsforge) == /usr/share/man/man1/nvsforge.1* ]] || fail "man -w nvsforge: $(man -w nvsforge)"
[[ $(pkg-config --modversion nvsforge) == "$version" ]] || fail "pkg-config: $(pkg-config --modversion nvsforge)"
work=$(mktemp -d)
printf 'key,type,encoding,value\nns,namespace,,\nk,data,u8,1\n' >"$work/in.csv"
(cd "$work" && /usr/bin/nvs_partition_gen generate in.csv out.bin 0x3000 >/dev/null) || fail "nvs_partition_gen"
[[ $(stat -c %s "$work/out.bin") == 12288 ]] || fail "image size"
rm -rf "$work"
echo "ok   dpkg -i; nvsforge --version, man -w nvsforge, pkg-config --modversion nvsforge, nvs_partition_gen"
$sudo dpkg -r nvsforge >/dev/null
trap - EXIT
[[ ! -e /usr/bin/nvsforge && ! -e /usr/share/man/man1/nvsforge.1 ]] || fail "dpkg -r left files"
echo "ok   dpkg -r removes it"
