#!/usr/bin/env bash
# fuzz/run.sh SECONDS [HARNESS...]
#
# Builds every libFuzzer harness (clang, ASan + UBSan + libFuzzer) from the
# library sources into build-fuzz/ (NVSF_FUZZ_OUT overrides), makes the seed
# corpora from the conformance cases, and runs each harness (or the ones
# named) for SECONDS seconds, one after the other. The working corpora stay
# in build-fuzz/corpus/<harness>; the committed regression inputs in
# fuzz/regressions/<harness>/ are replayed first.
#
# NVSF_FUZZ_NOBUILD=1 skips building and seeding (use what build-fuzz/
# holds), so that several harnesses can run side by side:
#     fuzz/run.sh 0              # SECONDS 0: build and seed only
#     NVSF_FUZZ_NOBUILD=1 fuzz/run.sh 3600 fuzz_csv &
#     NVSF_FUZZ_NOBUILD=1 fuzz/run.sh 3600 fuzz_mfg &
#
# Exits non-zero when any harness finds anything (crash, leak, sanitizer
# report, failed check, timeout, out of memory); the input is saved as
# build-fuzz/artifacts/<harness>/crash-* (or leak-*, timeout-*, oom-*).
set -euo pipefail

seconds=${1:?usage: fuzz/run.sh SECONDS [HARNESS...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
out=${NVSF_FUZZ_OUT:-$root/build-fuzz}
cc=${CC_FUZZ:-clang}
all=(fuzz_csv fuzz_values fuzz_partition_csv fuzz_mfg fuzz_image_reader
     fuzz_image_writer)
harnesses=("${@:-${all[@]}}")

# Inputs longer than this are cut: long inputs find little more and run slowly.
declare -A max_len=([fuzz_csv]=4096 [fuzz_values]=1024 [fuzz_partition_csv]=8192
                    [fuzz_mfg]=8192 [fuzz_image_reader]=65536
                    [fuzz_image_writer]=41300)

flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer
       -fsanitize=address,undefined -fno-sanitize-recover=all
       -DNVSF_HAVE_ZLIB=1 -I"$root/include" -I"$root/lib" -I"$root/fuzz")
libsrc=(buf builder change_rows crc crypto_openssl csv error keys mfg nvs_writer
        parttable reader rows startup value)

mkdir -p "$out/obj"
if [ -z "${NVSF_FUZZ_NOBUILD:-}" ]; then
    echo "== building into $out"
    objs=()
    for s in "${libsrc[@]}" ; do
        "$cc" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$root/lib/$s.c" -o "$out/obj/$s.o"
        objs+=("$out/obj/$s.o")
    done
    "$cc" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$root/fuzz/fuzz_common.c" \
        -o "$out/obj/fuzz_common.o"
    objs+=("$out/obj/fuzz_common.o")
    for h in "${all[@]}"; do
        "$cc" "${flags[@]}" -fsanitize=fuzzer "$root/fuzz/$h.c" "${objs[@]}" \
            -lcrypto -lz -o "$out/$h"
    done

    echo "== seeds"
    rm -rf "$out/seeds"
    bash "$root/fuzz/make_seeds.sh" "$out/seeds"
fi

[ "$seconds" != 0 ] || exit 0

status=0
for h in "${harnesses[@]}"; do
    [ -n "${max_len[$h]:-}" ] || { echo "run.sh: no harness $h" >&2; exit 2; }
    corpus=$out/corpus/$h
    artifacts=$out/artifacts/$h
    regressions=$root/fuzz/regressions/$h
    mkdir -p "$corpus" "$artifacts" "$regressions"
    echo "== $h: ${seconds}s"
    log=$out/$h.log
    dict=()
    case $h in
        fuzz_csv|fuzz_partition_csv|fuzz_mfg) dict=(-dict="$root/fuzz/nvsf.dict") ;;
    esac
    if "$out/$h" -max_total_time="$seconds" -max_len="${max_len[$h]}" \
        -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" "$out/seeds/$h" \
        "$regressions" >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    else
        status=1
        echo "!! $h FOUND SOMETHING (log: $log)"
        grep -E 'ERROR|FUZZ CHECK|runtime error|Test unit written' "$log" | head -n 10 || true
    fi
done
exit $status
