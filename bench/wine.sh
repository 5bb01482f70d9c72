#!/usr/bin/env bash
# The Windows build under Wine against the Linux build, on the same machine:
#
#   bench/wine.sh [DEVICES]      (default 5000)
#
# Builds both (Release: build-bench/ and build-windows/), then times a
# manufacturing batch of DEVICES devices of ESP-IDF's sample config at
# 0x6000, plain and with --keygen, with each build; Wine's own cost is
# included (one warm wineserver, as a factory PC would not have it: there
# the .exe runs natively). Also the start-up of one process, Wine's floor.
# Each figure is the best of 3. Work files go under TMPDIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
devices=${1:-5000}
lin=$root/build-bench
win=$root/build-windows
cmake -S "$root" -B "$lin" -DCMAKE_BUILD_TYPE=Release -DNVSF_TESTS=OFF >/dev/null
cmake --build "$lin" -j"$(nproc)" >/dev/null
cmake -S "$root" -B "$win" -DCMAKE_BUILD_TYPE=Release --no-warn-unused-cli \
      -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-x86_64-w64-mingw32.cmake" >/dev/null
cmake --build "$win" -j"$(nproc)" >/dev/null
work=$(mktemp -d)
wine_bin=/usr/lib/wine
export WINEPREFIX=$work/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$WINEPREFIX"
"$wine_bin/wineserver" -p
trap '"$wine_bin/wineserver" -k 2>/dev/null || true; rm -rf "$work"' EXIT
"$wine_bin/wine64" wineboot --init </dev/null >/dev/null 2>&1

. "$root/bench/timing.sh"

job=$work/job
cp -r "$root/examples/esp-idf" "$job"
{
    head -n 2 "$job/samples/sample_values_multipage_blob.csv"
    row=$(sed -n 3p "$job/samples/sample_values_multipage_blob.csv")
    for ((i = 2; i <= devices; i++)); do echo "$i,${row#*,}"; done
} >"$job/values.csv"

batch() { # batch BUILD MODE RUN
    local out=$work/out-$1-$2-$3
    rm -rf "$out"
    if [[ $1 == linux ]]; then
        set -- "$lin/programs/mfg_gen" "$2"
    else
        set -- "$wine_bin/wine64" "$win/programs/mfg_gen.exe" "$2"
    fi
    local mode=${*: -1}
    (cd "$job" && "${@:1:$#-1}" generate samples/sample_config.csv values.csv Sample 0x6000 \
        --outdir "$out" --quiet $([[ $mode == keygen ]] && echo --keygen))
    rm -rf "$out"
}
start_linux() { "$lin/programs/nvsforge" --version; }
start_wine() { "$wine_bin/wine64" "$win/programs/nvsforge.exe" --version; }

echo "nvsforge under Wine $("$wine_bin/wine64" --version) vs Linux ($(nproc) cores, TMPDIR=${TMPDIR:-/tmp})"
printf '%-40s %10s %10s %7s\n' "" "Linux" "Wine" "ratio"
l=$(best_of 5 start_linux) w=$(best_of 5 start_wine)
printf '%-40s %7s ms %7s ms\n' "one process: nvsforge --version" "$l" "$w"
for mode in plain keygen; do
    l=$(best_of 3 batch linux "$mode") w=$(best_of 3 batch wine "$mode")
    printf '%-40s %7s ms %7s ms %6.1fx\n' "$devices devices at 0x6000 ($mode)" "$l" "$w" "$(echo "$w / $l" | bc -l)"
done
