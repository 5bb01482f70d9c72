#!/usr/bin/env bash
# Reading what a device holds: images written by ESP-IDF's own library
# (tests/data/device-images), dump/check on power-cut images, get, stats,
# whole-flash dumps through the partition table, standard input, long blobs.
. "$(dirname "$0")/testlib.sh"
DEV=$(cd "$(dirname "$0")/../data/device-images" && pwd)

# bytes LE: 4 bytes of a number, as printf escapes
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
# ptentry TYPE SUBTYPE OFFSET SIZE LABEL: one 32-byte partition table entry
ptentry() {
    printf '\xaa\x50'; printf "$(printf '\\x%02x\\x%02x' "$1" "$2")"
    printf "$(le32 "$3")$(le32 "$4")"
    printf '%s' "$5"; head -c $((16 - ${#5})) /dev/zero; head -c 4 /dev/zero
}
# A 4 MiB flash: partition table at $2 (default 0x8000), NVS image $1 at
# 0x9000, a second NVS partition "more" at 0x20000 (the same image).
make_flash() {
    local table=${2:-$((0x8000))} size
    size=$(stat -c %s "$1")
    head -c $((4 << 20)) /dev/zero | tr '\0' '\377' >flash.bin
    { ptentry 1 2 $((0x9000)) "$size" nvs; ptentry 1 1 $((0xf000)) $((0x1000)) phy_init
      ptentry 0 0 $((0x10000)) $((0x10000)) factory; ptentry 1 2 $((0x20000)) "$size" more
    } | dd of=flash.bin bs=1 seek="$table" conv=notrunc status=none
    dd if="$1" of=flash.bin bs=1 seek=$((0x9000)) conv=notrunc status=none
    dd if="$1" of=flash.bin bs=1 seek=$((0x20000)) conv=notrunc status=none
}

test_check_says_what_it_means() {
    local sound=$CASES/nvs_101_020/expected/out.bin cut=$DEV/cut-000/image.bin rc
    nvsforge check "$sound" >out.txt; rc=$?
    ((rc == 0)) && grep -q ": sound: 8 pages" out.txt || fail "sound: $rc $(<out.txt)" || return 1
    nvsforge check "$cut" >out.txt; rc=$?
    ((rc == 3)) || fail "repairable: exit $rc" || return 1
    grep -q "page 2: repairable: the page is freeing: garbage collection was cut short" out.txt &&
        grep -q ": repairable: 3 problems, the leftovers of an interrupted write" out.txt ||
        fail "$(<out.txt)" || return 1
    # the dump says what the start-up repairs, and lists what it reads after
    nvsforge dump "$cut" >out.txt 2>err.txt || fail "$(<err.txt)" || return 1
    grep -q "^ESP-IDF's start-up" out.txt && grep -q "is repairable (3 problems)" err.txt ||
        fail "$(cat out.txt err.txt)" || return 1
    # a header CRC flipped: damaged (4); a newer format: unusable (5)
    cp "$sound" bad.bin; printf '\x00' | dd of=bad.bin bs=1 seek=30 conv=notrunc status=none
    nvsforge check bad.bin >out.txt; rc=$?
    ((rc == 4)) && grep -q "page 0: damaged: page header CRC mismatch" out.txt || fail "damaged: $rc $(<out.txt)"
}

test_key_listed_twice() {
    local img=$DEV/midcut-021/image.bin line ns key
    line=$(awk -F'\t' 'seen[$1 FS $2]++ {print; exit}' "$DEV/midcut-021/expected.txt")
    IFS=$'\t' read -r ns key _ <<<"$line"
    [[ -n $key ]] || fail "no key listed twice in expected.txt" || return 1
    expect_fail nvsforge get "$img" "$ns" "$key" || return 1
    expect_in "stands twice, as" || return 1
    local want
    for want in $(awk -F'\t' -v n="$ns" -v k="$key" '$1 == n && $2 == k {print $3 "=" $4}' "$DEV/midcut-021/expected.txt"); do
        out=$(nvsforge get --type "${want%%=*}" "$img" "$ns" "$key") || fail "get --type ${want%%=*}" || return 1
        [[ $out == "${want#*=}" ]] || fail "get --type ${want%%=*}: '$out', expected '${want#*=}'" || return 1
    done
    nvsforge dump --format json "$img" 2>/dev/null |
        jq -e --arg k "$key" '[.items[] | select(.key == $k)] | length == 2' >/dev/null ||
        fail "dump does not list '$key' twice"
}

test_get() {
    local img=$CASES/nvs_extras_0/expected/out.bin
    nvsforge dump --format json "$img" >d.json || return 1
    local ns key type
    while IFS=$'\t' read -r ns key type; do
        out=$(nvsforge get "$img" "$ns" "$key") || fail "get $ns $key" || return 1
        case $type in
        string) [[ $out == "$(jq -r --arg k "$key" '.items[] | select(.key == $k) | .value' d.json)" ]] ;;
        blob) [[ $out == "$(jq -r --arg k "$key" '.items[] | select(.key == $k) | .value' d.json | base64 -d | od -An -tx1 -v | tr -d ' \n')" ]] ;;
        *) [[ $out == "$(jq -r --arg k "$key" '.items[] | select(.key == $k) | .value' d.json)" ]] ;;
        esac || fail "get $ns $key ($type): '$out'" || return 1
    done < <(jq -r '.items[] | [.namespace, .key, .type] | @tsv' d.json)
    # --raw: the blob's bytes as they are
    key=$(jq -r '[.items[] | select(.type == "blob")][0].key' d.json)
    ns=$(jq -r '[.items[] | select(.type == "blob")][0].namespace' d.json)
    nvsforge get --raw "$img" "$ns" "$key" >raw.bin || return 1
    cmp -s raw.bin <(jq -r --arg k "$key" '.items[] | select(.key == $k) | .value' d.json | base64 -d) ||
        fail "--raw" || return 1
    # floats: the shortest decimal that reads back the same
    local f=$DEV/floats-000
    while IFS=$'\t' read -r ns key type val; do
        out=$(nvsforge get "$f/image.bin" "$ns" "$key") || return 1
        python3 -c "import struct,sys; t,v,o=sys.argv[1:]; b=int(v.split('/')[1],16)
f=struct.unpack('<f',struct.pack('<I',b))[0] if t=='float' else struct.unpack('<d',struct.pack('<Q',b))[0]
g=float(o); g=struct.unpack('<f',struct.pack('<f',g))[0] if t=='float' else g
sys.exit(0 if f==g else 1)" "$type" "$val" "$out" || fail "get $key ($type $val): '$out'" || return 1
    done < <(grep -P '\t(float|double)\t' "$f/expected.txt")
    expect_fail nvsforge get "$img" nosuchns k || return 1
    expect_in "no namespace 'nosuchns'" || return 1
    ns=$(jq -r '.items[0].namespace' d.json)
    expect_fail nvsforge get "$img" "$ns" nosuchkey || return 1
    expect_in "has no key 'nosuchkey'" || return 1
    expect_fail nvsforge get --type u8 "$img" "$(jq -r '.items[0].namespace' d.json)" "$(jq -r '[.items[] | select(.type == "string")][0].key' d.json)" || return 1
    expect_in "is a string, not a u8"
}

test_stats() {
    expect_ok nvsforge stats "$CASES/nvs_101_020/expected/out.bin" || return 1
    expect_in "8 pages of 126 entries, sound" || return 1
    local used
    used=$(nvsforge dump --format json "$CASES/nvs_101_020/expected/out.bin" | jq '[.pages[].entries.written] | add')
    expect_in "nvs_get_stats: used_entries $used, free_entries $((1008 - used)), available_entries $((882 - used)), total_entries 1008" || return 1
    expect_ok nvsforge stats "$DEV/cut-000/image.bin" || return 1
    expect_in "3 pages of 126 entries, repairable" || return 1
    expect_in "pages: 1 active, 1 full, 0 freeing, 1 empty, 0 corrupt"
}

test_whole_flash() {
    local img=$CASES/nvs_101_020/expected/out.bin
    make_flash "$img"
    nvsforge dump --format csv "$img" >want.csv 2>/dev/null || return 1
    nvsforge dump --format csv flash.bin >got.csv 2>/dev/null || fail "dump flash.bin" || return 1
    cmp -s want.csv got.csv || fail "the flash's nvs partition dumps otherwise" || return 1
    nvsforge dump --format csv --partition nvs flash.bin >got.csv 2>/dev/null &&
        cmp -s want.csv got.csv || fail "--partition nvs" || return 1
    nvsforge dump --format csv --partition more flash.bin >got.csv 2>/dev/null &&
        cmp -s want.csv got.csv || fail "--partition more" || return 1
    nvsforge dump --format csv --offset 0x9000 --size 0x8000 flash.bin >got.csv 2>/dev/null &&
        cmp -s want.csv got.csv || fail "--offset --size" || return 1
    nvsforge check - <flash.bin >/dev/null || fail "check - (standard input)" || return 1
    expect_fail nvsforge check --partition nvs_keys flash.bin || return 1
    expect_in "has no partition labelled 'nvs_keys' (it has: nvs, phy_init, factory, more)" || return 1
    make_flash "$img" $((0x30000))
    nvsforge dump --format csv --table-offset 0x30000 flash.bin >got.csv 2>/dev/null &&
        cmp -s want.csv got.csv || fail "--table-offset" || return 1
    expect_fail nvsforge check --partition nvs flash.bin || return 1
    expect_in "no partition table at 0x8000" || return 1
    expect_fail nvsforge check --offset 0x3ff000 --size 0x2000 flash.bin || return 1
    expect_in "run past its end" || return 1
    expect_fail nvsforge check --offset 0x9000 flash.bin || return 1
    expect_in "--offset and --size go together"
}

test_long_blobs_shortened() {
    local img=$CASES/nvs_101_010/expected/out.bin
    nvsforge dump "$img" >short.txt 2>/dev/null || return 1
    nvsforge dump --full "$img" >full.txt 2>/dev/null || return 1
    grep -q "more bytes (--full shows them)" short.txt || fail "no shortened blob" || return 1
    ! grep -q "more bytes" full.txt || fail "--full shortened a blob" || return 1
    (($(wc -l <full.txt) > $(wc -l <short.txt))) || fail "--full shows no more"
}

test_float_double_generated() {
    # the encodings float and double (nvsforge's own) in both generators
    printf 'key,type,encoding,value\ncal,namespace,,\ng,data,float,1.25\nd,data,double,-2e-300\ni,data,float,-inf\n' >p.csv
    nvs_partition_gen generate p.csv p.bin 0x3000 >/dev/null || fail "generate" || return 1
    [[ $(nvsforge get p.bin cal g) == 1.25 && $(nvsforge get p.bin cal d) == -2e-300 &&
       $(nvsforge get p.bin cal i) == -inf ]] || fail "values read back" || return 1
    nvsforge dump --format json p.bin | jq -e '[.items[].bits] == ["0x3fa00000", "0x81b56e1fc2f8f359", "0xff800000"]' >/dev/null ||
        fail "bits: $(nvsforge dump --format json p.bin | jq -c '[.items[].bits]')" || return 1
    printf 'key,type,encoding,value\ncal,namespace,,\nn,data,float,nan\n' >nan.csv
    expect_fail nvs_partition_gen generate nan.csv nan.bin 0x3000 || return 1
    expect_in "NaN is not a value NVS stores" || return 1
    [[ ! -e nan.bin ]] || fail "nan.bin written" || return 1
    printf 'cal,namespace,\ngain,data,float\noff,data,double\n' >cfg.csv
    printf 'id,gain,off\n1,0.5,1e10\n' >vals.csv
    mfg_gen generate cfg.csv vals.csv dev 0x3000 --outdir out >/dev/null || fail "mfg_gen" || return 1
    [[ $(nvsforge get out/bin/dev-1.bin cal gain) == 0.5 &&
       $(nvsforge get out/bin/dev-1.bin cal off) == 1e+10 ]] || fail "mfg values"
}

test_json_bytes_of_strings_not_utf8() {
    # bytes_base64: the string's bytes without its terminating NUL, as
    # expected.txt's hex
    local d=$DEV/exotic-000 key want
    IFS=$'\t' read -r _ key _ want < <(grep -m1 '"hex:' "$d/expected.txt")
    want=${want#\"hex:}; want=${want%\"}
    nvsforge dump --format json "$d/image.bin" 2>/dev/null |
        jq -r --arg k "$key" '.items[] | select(.key == $k) | .bytes_base64' |
        base64 -d | od -An -tx1 -v | tr -d ' \n' >got.hex
    [[ $(<got.hex) == "$want" ]] || fail "bytes_base64 of '$key': $(head -c 80 got.hex)..."
}

test_help() {
    local c
    for c in get stats; do
        expect_ok nvsforge $c --help || return 1
        expect_in "usage: nvsforge $c" || return 1
    done
    expect_fail nvsforge get x.bin ns || return 1
    expect_in "the following arguments are required: key"
}

run_tests
