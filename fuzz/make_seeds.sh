#!/usr/bin/env bash
# fuzz/make_seeds.sh OUTDIR: the seed corpora, one folder per harness, made
# from the conformance cases (tests/conformance/cases) and a few hand-written
# values. Only what the harness's input convention needs (see each
# fuzz_*.c): a setup byte, NUL-separated parts.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cases=$root/tests/conformance/cases
out=${1:?usage: make_seeds.sh OUTDIR}
mkdir -p "$out"/{fuzz_csv,fuzz_values,fuzz_partition_csv,fuzz_mfg,fuzz_image_reader,fuzz_image_writer}

# The setup byte of fuzz_common.h (fuzz_setup_from) for a case's argv:
# bit 0 version 1, bits 1-2 size (0x3000 or larger: 0, 0x1000: 1,
# 0x2000: 2), bit 3 encrypt, bit 4 (fuzz_mfg) --fileid.
setup_byte() {
    local json=$1 b=0 version size
    version=$( { grep -A1 -- '"--version"' "$json" || true; } | tail -n 1 | tr -dc '0-9')
    if [ "$version" = 1 ]; then b=$((b | 1)); fi
    size=$( { grep -o '"0x[0-9a-fA-F]*"' "$json" || true; } | head -n 1 | tr -d '"')
    case "$size" in
        0x1000) b=$((b | 2)) ;;
        0x2000) b=$((b | 4)) ;;
    esac
    if grep -q '"encrypt"' "$json"; then b=$((b | 8)); fi
    if grep -q '"--fileid"' "$json"; then b=$((b | 16)); fi
    printf "\\x$(printf %02x "$b")"
}

# The files `file` rows may name: the case's data files, NUL-separated.
file_area() {
    local dir=$1 first=1 f
    for f in "$dir"/*.dat "$dir"/*.txt "$dir"/*.hex "$dir"/*.b64 "$dir"/f*.bin; do
        [ -f "$f" ] || continue
        [ $first = 1 ] || printf '\0'
        first=0
        cat "$f"
    done
}

for dir in "$cases"/*/; do
    name=$(basename "$dir")
    json=$dir/case.json
    # fuzz_csv: every CSV as it is.
    find "$dir" -name '*.csv' -type f | while read -r f; do
        rel=${f#"$dir"}
        cp "$f" "$out/fuzz_csv/${name}_${rel//\//_}"
    done
    # fuzz_partition_csv: setup byte, the CSV, NUL, the file area.
    for f in "$dir"in.csv "$dir"a.csv "$dir"b.csv; do
        [ -f "$f" ] || continue
        { setup_byte "$json"; cat "$f"; printf '\0'; file_area "$dir"; } \
            >"$out/fuzz_partition_csv/${name}_$(basename "$f")"
    done
    # fuzz_mfg: setup byte, config.csv, NUL, values.csv, NUL, the file area.
    if [ -f "$dir/config.csv" ] && [ -f "$dir/values.csv" ]; then
        { setup_byte "$json"; cat "$dir/config.csv"; printf '\0'
          cat "$dir/values.csv"; printf '\0'; file_area "$dir"; } \
            >"$out/fuzz_mfg/$name"
    fi
    # fuzz_image_reader: the expected images (not the key files).
    if [ -d "$dir/expected" ]; then
        find "$dir/expected" -name '*.bin' -type f -not -path '*/keys/*' |
            while read -r f; do
                rel=${f#"$dir"expected/}
                cp "$f" "$out/fuzz_image_reader/${name}_${rel//\//_}"
                # fuzz_image_writer: plain images of 3 to 10 pages, with
                # changes (setup byte: pages - 3).
                pages=$(( $(stat -c %s "$f") / 4096 ))
                if ((pages >= 3 && pages <= 10)); then
                    { printf "\\x$(printf %02x $((pages - 3)))"; cat "$f"
                      printf '\x00\x01\x02\x07\x03\x00\x05\x20\x04\x01\x03\x90'
                      printf '\x05\x00\x05\x00\x01\x02\x0f\x01\x06\x01\x00\x00'
                    } >"$out/fuzz_image_writer/${name}_${rel//\//_}"
                fi
            done
    fi
done

# fuzz_values: the decoders' inputs, each file one text.
i=0
while IFS= read -r line; do
    printf '%b' "$line" >"$out/fuzz_values/hand_$i"
    i=$((i + 1))
done <<'EOF'
0
-128
 +255\t
1_000_000
18446744073709551615
-9223372036854775808
170141183460469231731687303715884105728
deadBEEF
 00ff \n
aGVsbG8gd29ybGQ=
aGk=\n
 Zm9v YmFy\r\n
blob_fill(16;0xff)
BLOB_SZ_FILL(508000;0x0)
hex2bin
0x3000
 4096 
0X8000000
\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80
\xed\xa0\x80
\xf4\x90\x80\x80
EOF
