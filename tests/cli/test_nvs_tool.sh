#!/usr/bin/env bash
# nvs_tool (and nvsforge inspect): ESP-IDF's nvs_tool.py's command line; its
# JSON byte for byte as nvs_tool.py writes it (tests/data/nvs_tool); the
# text views on images nvs_tool.py stops on; the integrity check.
. "$(dirname "$0")/testlib.sh"
DATA=$(cd "$(dirname "$0")/../data" && pwd)

test_json_as_nvs_tool_py_writes_it() {
    local spec name file
    for spec in nvs_101_002:$CASES/nvs_101_002/expected/out.bin \
                nvs_extras_0:$CASES/nvs_extras_0/expected/out.bin \
                cut-012-cut1:$DATA/device-images/cut-012-cut1/image.bin \
                exotic-000:$DATA/device-images/exotic-000/image.bin; do
        name=${spec%%:*} file=${spec#*:}
        nvs_tool -f json "$file" >got.json || fail "nvs_tool $name" || return 1
        cmp -s got.json <(gzip -dc "$DATA/nvs_tool/$name.json.gz") ||
            fail "$name: JSON differs from nvs_tool.py's" || return 1
        nvsforge inspect --format=json "$file" | cmp -s - got.json ||
            fail "$name: nvsforge inspect differs" || return 1
        nvs_tool -fjson "$file" | cmp -s - got.json || fail "-fjson" || return 1
    done
}

test_text_as_nvs_tool_py_writes_it() {
    local spec name file view
    for spec in nvs_extras_0:$CASES/nvs_extras_0/expected/out.bin \
                cut-000:$DATA/device-images/cut-000/image.bin; do
        name=${spec%%:*} file=${spec#*:}
        for view in all minimal storage_info; do
            nvs_tool --color never -d $view "$file" >got.txt || return 1
            cmp -s got.txt <(gzip -dc "$DATA/nvs_tool/$name.$view.txt.gz") ||
                fail "$name -d $view differs from nvs_tool.py's" || return 1
        done
    done
}

test_text_views() {
    # exotic-000 holds strings that are not UTF-8: nvs_tool.py stops there
    local f=$DATA/device-images/exotic-000/image.bin d
    for d in all written minimal namespaces blobs storage_info none; do
        nvs_tool -d "$d" --color never "$f" >out.txt 2>err.txt ||
            fail "-d $d: $(<err.txt)" || return 1
    done
    nvs_tool -d namespaces "$f" >out.txt || return 1
    [[ $(<out.txt) == $'Index: Namespace\n 001: Ggl5vnyW0D\n 002: ioGk0PFRzaSC1gz' ]] ||
        fail "namespaces: $(<out.txt)" || return 1
    nvs_tool -d minimal "$f" >out.txt || return 1
    grep -q '^ ioGk0PFRzaSC1gz:v.0mr = p-(pWVg,0Az4bV' out.txt && grep -q 'O\\x97KGFm' out.txt ||
        fail "minimal: $(head -5 out.txt)" || return 1
    nvs_tool "$f" >out.txt || return 1
    grep -q '^Page no. 39, Status: Active, Version: 2, CRC32: 7674e489, Page address: 0x1000$' out.txt &&
        grep -q '^ 000. Written, Namespace Index: 000, Type: uint8_t   , Span: 001, Chunk Index: 255, CRC32:  a8301cf | Ggl5vnyW0D: 1$' out.txt ||
        fail "all: $(head -8 out.txt)" || return 1
    nvs_tool -d storage_info "$f" >out.txt || return 1
    grep -q '^    Total pages:     3$' out.txt || fail "storage_info" || return 1
    nvs_tool --color always -d namespaces "$f" | grep -q $'\033\\[36mGgl5vnyW0D\033\\[0m' ||
        fail "--color always" || return 1
}

test_integrity_check() {
    expect_ok nvs_tool -i -d none "$DATA/device-images/cut-000/image.bin" || return 1
    expect_in "Page 2: repairable: the page is freeing" || return 1
    expect_in "Integrity check: repairable (3 problems" || return 1
}

test_refusals() {
    head -c 5000 "$CASES/nvs_101_002/expected/out.bin" >short.bin
    expect_fail nvs_tool short.bin || return 1
    expect_in "5000 bytes is not a whole number of 4096-byte pages" || return 1
    expect_fail nvs_tool -d everything short.bin || return 1
    expect_in "argument -d/--dump: invalid choice" || return 1
    expect_ok nvs_tool --help || return 1
    expect_in "usage: nvs_tool [-h] [-i] [-d type]"
}

run_tests
