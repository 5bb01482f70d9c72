#!/usr/bin/env bash
# nvsforge set, erase and apply: changes land where ESP-IDF puts them, the
# image is replaced atomically (or written to -o), options stand anywhere,
# --dry-run writes nothing, encrypted images stay encrypted with their key,
# and every refusal names what is wrong and leaves the image as it was.
. "$(dirname "$0")/testlib.sh"
DEVICE_IMAGES=$(cd "$(dirname "$0")/../data/device-images" && pwd)

# A generated image: namespace cfg (index 1) with three items on page 0.
make_image() { # make_image FILE SIZE
    printf 'key,type,encoding,value\ncfg,namespace,,\nserial,data,string,SN0001\ncount,data,u32,7\nblob,data,hex2bin,00112233\n' >in.csv
    nvs_partition_gen generate in.csv "$1" "$2" >/dev/null ||
        fail "generate $1"
}

# Nothing of ours left behind in the folder (temporary files).
expect_no_temp() {
    local left
    left=$(find . -name '.*nvsforge-*')
    [[ -z $left ]] || fail "temporary files left: $left"
}

test_set_writes_where_the_device_would() {
    make_image img.bin 0x4000 || return 1
    expect_ok nvsforge set img.bin cfg:count=u32:8 dev:mode=string:fast || return 1
    [[ -z $out ]] || fail "set printed '$out'" || return 1
    expect_ok nvsforge check img.bin || return 1
    expect_in "sound: 4 pages (1 in use), 2 namespaces, 4 items" || return 1
    # Page 0 held entries 0..6 (namespace, serial 2, count, blob chunk 2,
    # index); count went to entry 7 and the old one was erased, the new
    # namespace dev got index 2 at entry 8, its string 9..10.
    expect_ok nvsforge set --dry-run img.bin cfg:count=u32:9 || return 1
    [[ $out == "page 0 entry 11: cfg:count u32 written
page 0 entry 7: cfg:count u32 erased
img.bin: dry run, nothing written" ]] || fail "dry run said: $out" || return 1
    expect_ok nvsforge dump --format csv img.bin || return 1
    [[ $out == *"count,data,u32,8"* && $out == *"dev,namespace,,"* &&
       $out == *"mode,data,string,fast"* ]] || fail "dump: $out" || return 1
    expect_no_temp
}

test_float_double() {
    make_image img.bin 0x4000 || return 1
    expect_ok nvsforge set img.bin cal:gain=float:1.5 cal:offset=double:-0.25 || return 1
    expect_ok nvsforge dump --format csv img.bin || return 1
    [[ $out == *"gain,data,float,1.5"* && $out == *"offset,data,double,-0.25"* ]] ||
        fail "floats: $out" || return 1
    expect_fail nvsforge set img.bin cal:gain=float:nan || return 1
    expect_in "cal:gain"
}

test_same_value_writes_nothing() {
    make_image img.bin 0x4000 || return 1
    local before
    before=$(sha img.bin)
    expect_ok nvsforge set img.bin cfg:serial=string:SN0001 cfg:blob=hex2bin:00112233 || return 1
    [[ $(sha img.bin) == "$before" ]] || fail "an equal value changed the image"
}

test_options_anywhere_and_output() {
    make_image img.bin 0x4000 || return 1
    local before
    before=$(sha img.bin)
    expect_ok nvsforge set img.bin cfg:count=u32:1 -o out.bin || return 1
    [[ $(sha img.bin) == "$before" ]] || fail "-o changed IMAGE" || return 1
    expect_ok nvsforge set -o out.bin img.bin cfg:count=u32:2 || return 1
    expect_ok nvsforge dump --format csv out.bin || return 1
    expect_in "count,data,u32,2" || return 1
    expect_ok nvsforge set img.bin --dry-run cfg:count=u32:3 || return 1
    [[ $(sha img.bin) == "$before" ]] || fail "--dry-run wrote" || return 1
    expect_ok nvsforge erase img.bin cfg:blob || return 1
    expect_no_temp
}

test_erase_key_and_namespace() {
    make_image img.bin 0x4000 || return 1
    expect_ok nvsforge erase img.bin cfg:blob || return 1
    expect_ok nvsforge dump --format csv img.bin || return 1
    [[ $out != *blob* && $out == *serial* ]] || fail "after erase: $out" || return 1
    expect_ok nvsforge erase img.bin cfg: || return 1
    expect_ok nvsforge check img.bin || return 1
    expect_in "1 namespace, 0 items"
    local before
    before=$(sha img.bin)
    expect_fail nvsforge erase img.bin cfg:serial || return 1
    expect_in "nvsforge erase: error: img.bin: cfg:serial: no such key in the image" || return 1
    expect_fail nvsforge erase img.bin nope: || return 1
    expect_in "img.bin: nope: no such namespace in the image" || return 1
    [[ $(sha img.bin) == "$before" ]] || fail "a refused erase wrote"
}

test_apply_csv() {
    make_image img.bin 0x4000 || return 1
    printf 'hello' >greeting.txt
    printf 'key,type,encoding,value\ncfg,namespace,,\ncount,data,u32,9\nblob,erase,,\nnote,file,string,greeting.txt\nnet,namespace,,\nport,data,u16,8080\n' >changes.csv
    expect_ok nvsforge apply img.bin changes.csv || return 1
    expect_ok nvsforge dump --format csv img.bin || return 1
    [[ $out == *"count,data,u32,9"* && $out != *blob* &&
       $out == *"note,data,string,hello"* && $out == *"port,data,u16,8080"* ]] ||
        fail "after apply: $out" || return 1
    printf 'key,type,encoding,value\ncfg,namespace,erase,\n' >wipe.csv
    expect_ok nvsforge apply img.bin wipe.csv || return 1
    expect_ok nvsforge dump --format csv img.bin || return 1
    [[ $out != *count* && $out == *"port,data,u16,8080"* ]] || fail "after wipe: $out"
}

test_refusals_leave_the_image() {
    make_image img.bin 0x4000 || return 1
    local before
    before=$(sha img.bin)
    printf 'key,type,encoding,value\ncfg,namespace,,\ncount,data,u32,10\nbad,data,u8,300\n' >changes.csv
    expect_fail nvsforge apply img.bin changes.csv || return 1
    expect_in "changes.csv:4: cfg:bad:" || return 1
    expect_fail nvsforge set img.bin cfg:a_key_of_16_byte=u8:1 || return 1
    expect_in "key 'a_key_of_16_byte' is 16 bytes long; NVS allows at most 15" || return 1
    head -c 20000 /dev/zero >big.bin
    expect_fail nvsforge set img.bin cfg:big=binary:@big.bin || return 1
    expect_in "cfg:big: the blob is 20000 bytes; a partition of 4 pages holds at most 12000 in one blob" || return 1
    expect_fail nvsforge set img.bin cfg:count=u8 || return 1
    expect_in "'cfg:count=u8': expected NS:KEY=TYPE:VALUE" || return 1
    [[ $(sha img.bin) == "$before" ]] || fail "a refused change wrote" || return 1
    # A flipped bit: not sound, not changed.
    printf '\x00' | dd of=img.bin bs=1 seek=100 conv=notrunc 2>/dev/null
    before=$(sha img.bin)
    expect_fail nvsforge set img.bin cfg:count=u32:1 || return 1
    expect_in "img.bin: the image is damaged (page 0 entry 1: entry header CRC mismatch" || return 1
    [[ $(sha img.bin) == "$before" ]] || fail "an unsound image was changed" || return 1
    # One or two pages: ESP-IDF opens them read-only.
    make_image small.bin 0x2000 || return 1
    expect_fail nvsforge set small.bin cfg:count=u32:1 || return 1
    expect_in "small.bin: a partition of 2 pages: ESP-IDF opens partitions of one or two pages read-only" || return 1
    expect_no_temp
}

test_encrypted_image() {
    make_image plain.bin 0x5000 || return 1
    nvs_partition_gen encrypt in.csv enc.bin 0x5000 --keygen --keyfile k.bin \
        --outdir . >/dev/null || fail "encrypt" || return 1
    expect_ok nvsforge set enc.bin --inputkey keys/k.bin cfg:count=u32:12 \
        cfg:serial=string:SN0002 || return 1
    expect_ok nvsforge check --inputkey keys/k.bin enc.bin || return 1
    expect_in ": sound: " || return 1
    expect_ok nvsforge dump --format csv --inputkey keys/k.bin enc.bin || return 1
    [[ $out == *"count,data,u32,12"* && $out == *"serial,data,string,SN0002"* ]] ||
        fail "encrypted dump: $out" || return 1
    # The same changes on the plain image give the same plain bytes.
    expect_ok nvsforge set plain.bin cfg:count=u32:12 cfg:serial=string:SN0002 || return 1
    expect_ok nvs_partition_gen decrypt enc.bin keys/k.bin dec.bin || return 1
    cmp -s dec.bin plain.bin || fail "decrypted result differs from the plain one" || return 1
    # Another key: refused.
    nvs_partition_gen generate-key --keyfile other.bin --outdir . >/dev/null
    local before
    before=$(sha enc.bin)
    expect_fail nvsforge set enc.bin --inputkey keys/other.bin cfg:count=u32:1 || return 1
    expect_in "enc.bin: the key does not fit this image" || return 1
    [[ $(sha enc.bin) == "$before" ]] || fail "a wrong key changed the image"
}

# A whole-flash dump: a partition table at 0x8000 naming nvs at 0x9000.
test_whole_flash_dump() {
    make_image nvs.bin 0x6000 || return 1
    head -c 65536 /dev/zero | tr '\0' '\377' >flash.bin
    printf 'bootloader' | dd of=flash.bin bs=1 seek=4096 conv=notrunc 2>/dev/null
    { printf '\xaa\x50\x01\x02\x00\x90\x00\x00\x00\x60\x00\x00nvs'
      head -c 13 /dev/zero; head -c 4 /dev/zero; } |
        dd of=flash.bin bs=1 seek=$((0x8000)) conv=notrunc 2>/dev/null
    dd if=nvs.bin of=flash.bin bs=4096 seek=9 conv=notrunc 2>/dev/null
    cp flash.bin before.bin
    expect_ok nvsforge set flash.bin --partition nvs cfg:count=u32:99 || return 1
    cmp -s <(head -c $((0x9000)) flash.bin) <(head -c $((0x9000)) before.bin) &&
        cmp -s <(tail -c +$((0xF000 + 1)) flash.bin) <(tail -c +$((0xF000 + 1)) before.bin) ||
        fail "bytes outside the partition changed" || return 1
    expect_ok nvsforge dump --format csv flash.bin || return 1
    expect_in "count,data,u32,99" || return 1
    expect_ok nvsforge erase flash.bin --offset 0x9000 --size 0x6000 cfg:count || return 1
    expect_ok nvsforge dump --format csv flash.bin || return 1
    [[ $out != *count* ]] || fail "--offset: count still there: $out"
}

# A power cut during garbage collection: the change starts with ESP-IDF's
# start-up repairs, as on the device.
test_repairable_image() {
    cp "$DEVICE_IMAGES/cutgc-000/image.bin" cut.bin || return 1
    expect_ok nvsforge set --dry-run cut.bin x:y=u8:1 || return 1
    expect_in "start-up: the page is freeing: garbage collection was cut short" || return 1
    expect_in "page 2 entry 6: x:y u8 written" || return 1
    expect_ok nvsforge set cut.bin x:y=u8:1 || return 1
    expect_ok nvsforge check cut.bin || return 1
    expect_in ": sound: "
}

test_usage() {
    expect_ok nvsforge set --help || return 1
    expect_in "usage: nvsforge set" || return 1
    expect_ok nvsforge erase -h || return 1
    expect_ok nvsforge apply --help || return 1
    expect_fail nvsforge set img.bin || return 1
    expect_in "the following arguments are required: NS:KEY=TYPE:VALUE" || return 1
    nvsforge erase >/dev/null 2>&1
    [[ $? == 2 ]] || fail "usage error did not exit 2"
}

run_tests
