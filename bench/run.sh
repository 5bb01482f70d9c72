#!/usr/bin/env bash
# nvsforge benchmark: our time against the I/O floor.
#
#   bench/run.sh [DEVICES]      (default 5000)
#
# Builds a Release tree in build-bench/, then measures
#   1. one 1 MiB partition of 7000 items, plain and encrypted: the library
#      alone (parse + build + encrypt in memory) and the whole command;
#      then one `set` on that image, library alone and command; then
#      reading it as a device opens it (ESP-IDF's start-up, every item,
#      the checks): the library alone and `nvsforge check`;
#   2. a manufacturing batch of DEVICES devices of ESP-IDF's sample config at
#      0x6000, plain and with --keygen, against the I/O floor: the time to
#      write the very same files from memory (bench/io_floor.c).
# Each figure is the best of several runs. Work files go to a temporary
# folder on the same file system as TMPDIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
devices=${1:-5000}
build=$root/build-bench
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNVSF_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
bin=$build/programs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$root/bench/timing.sh"

echo "nvsforge benchmark ($(nproc) cores, $(uname -m))"
echo

# ---- 1. one 1 MiB partition of 7000 items ----------------------------------
csv=$work/big.csv
{
    echo "key,type,encoding,value"
    echo "bench,namespace,,"
    for ((i = 0; i < 7000; i++)); do
        case $((i % 7)) in
            0|1|2|3) echo "u$i,data,u32,$((i * 7919))" ;;
            4|5) echo "s$i,data,string,device-value-$i" ;;
            6) echo "b$i,data,hex2bin,00112233445566778899aabbccddeeff$(printf '%08x' "$i")" ;;
        esac
    done
} >"$csv"
"$bin/nvs_partition_gen" generate-key --keyfile bench.bin --outdir "$work" >/dev/null
key=$work/keys/bench.bin

read -r lib_plain _ < <("$build/bench/bench_image" "$csv" 0x100000 - 50)
read -r lib_enc _ < <("$build/bench/bench_image" "$csv" 0x100000 "$key" 50)
gen_plain() { "$bin/nvs_partition_gen" generate "$csv" "$work/p$1.bin" 0x100000; }
gen_enc() { "$bin/nvs_partition_gen" encrypt "$csv" "$work/e$1.bin" 0x100000 --inputkey "$key"; }
cmd_plain=$(best_of 10 gen_plain)
cmd_enc=$(best_of 10 gen_enc)
mkdir -p "$work/one"
cp "$work/p0.bin" "$work/one/"
floor_one() { rm -rf "$work/one-copy$1"; "$build/bench/bench_io_floor" "$work/one" "$work/one-copy$1"; }
floor_one_ms=$(best_of 10 floor_one)

printf '%-44s %10s\n' "1 MiB partition, 7000 items" "best (ms)"
printf '%-44s %10s\n' "  library: parse + build" "$lib_plain"
printf '%-44s %10s\n' "  library: parse + build + XTS encrypt" "$lib_enc"
printf '%-44s %10s\n' "  nvs_partition_gen generate" "$cmd_plain"
printf '%-44s %10s\n' "  nvs_partition_gen encrypt --inputkey" "$cmd_enc"
printf '%-44s %10s\n' "  I/O floor: write the 1 MiB file + sync" "$floor_one_ms"
# One change to that image, as a device would make it: the library alone
# (read, check, set one u32, on a fresh copy each run), then the command
# (which also reads the file and replaces it atomically, with fsync).
read -r lib_set _ < <("$build/bench/bench_set" "$work/p0.bin" bench:u0 - 50)
read -r lib_set_enc _ < <("$build/bench/bench_set" "$work/e0.bin" bench:u0 "$key" 50)
set_one() { "$bin/nvsforge" set "$work/p0.bin" "bench:u0=u32:$1"; }
cmd_set=$(best_of 10 set_one)
printf '%-44s %10s\n' "  library: one set (read + check + change)" "$lib_set"
printf '%-44s %10s\n' "  the same, encrypted" "$lib_set_enc"
printf '%-44s %10s\n' "  nvsforge set (with fsync)" "$cmd_set"
# Reading it back as a device does: p0.bin has been changed by the sets
# above, as a device changes its partition (new items, erased old ones).
read -r lib_check _ < <("$build/bench/bench_check" "$work/p0.bin" - 50)
read -r lib_check_enc _ < <("$build/bench/bench_check" "$work/e0.bin" "$key" 50)
check_one() { "$bin/nvsforge" check "$work/p0.bin"; }
cmd_check=$(best_of 10 check_one)
printf '%-44s %10s\n' "  library: open as a device (start-up, check)" "$lib_check"
printf '%-44s %10s\n' "  the same, encrypted" "$lib_check_enc"
printf '%-44s %10s\n' "  nvsforge check" "$cmd_check"
echo

# ---- 2. manufacturing batch -------------------------------------------------
job=$work/job
cp -r "$root/examples/esp-idf" "$job"
values=$job/values.csv
{
    head -n 2 "$job/samples/sample_values_multipage_blob.csv"
    tail -n +3 "$job/samples/sample_values_multipage_blob.csv" | head -n 1 >"$work/row"
    row=$(cat "$work/row")
    rest=${row#*,}
    for ((i = 2; i <= devices; i++)); do echo "$i,$rest"; done
} >"$values"

batch() { # batch MODE RUN
    local out=$work/out-$1-$2
    rm -rf "$out" "$job/values_created.csv"
    (cd "$job" && "$bin/mfg_gen" generate samples/sample_config.csv values.csv Sample 0x6000 \
        --outdir "$out" --quiet $([[ $1 == keygen ]] && echo --keygen))
}
floor() { # floor MODE RUN
    rm -rf "$work/floor-$1-$2"
    "$build/bench/bench_io_floor" "$work/out-$1-0" "$work/floor-$1-$2"
}
printf '%-44s %10s %10s %7s\n' "batch of $devices devices, 0x6000" "nvsforge" "I/O floor" "ratio"
for mode in plain keygen; do
    ours=$(best_of 3 batch "$mode")
    rm -rf "$work/out-$mode-0"; batch "$mode" 0
    fl=$(best_of 3 floor "$mode")
    ratio=$(echo "$ours / $fl" | bc -l)
    printf '%-44s %8s ms %8s ms %6.2fx\n' "  mfg_gen generate ($mode)" "$ours" "$fl" "$ratio"
    rm -rf "$work"/out-"$mode"-* "$work"/floor-"$mode"-*
done
