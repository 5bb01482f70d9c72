#!/usr/bin/env bash
# What is particular to Windows, through the .exe under Wine
# (scripts/test-windows.sh runs it with BIN = wrappers that start Wine and
# LINUX_BIN = the Linux build, for byte comparisons): Ctrl-C, '\' in paths,
# drive-letter paths, UTF-8 names, CRLF inputs, the same bytes as Linux.
. "$(dirname "$0")/../cli/testlib.sh"
LINUX_BIN=${LINUX_BIN:?set LINUX_BIN to the programs folder of the Linux build}

# Ctrl-C (Wine turns SIGINT into CTRL_C_EVENT for the console handler):
# the batch stops, exits 130 and leaves nothing.
test_ctrl_c_leaves_nothing() {
    make_job 2000
    mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --quiet --outdir out --keygen 2>err.txt &
    local pid=$! n=0
    while [[ $(find out/bin -name '*.bin' 2>/dev/null | wc -l) -lt 100 ]] && ((n++ < 600)); do sleep 0.05; done
    kill -INT "$pid"
    wait "$pid"
    local rc=$?
    [[ $rc == 130 ]] || fail "exit code $rc after Ctrl-C, expected 130" || return 1
    out=$(tr -d '\r' <err.txt)
    expect_in "interrupted" && expect_in "nothing was left behind" || return 1
    [[ ! -e out ]] || fail "left behind: $(find out | head)" || return 1
    [[ -z $(find . -name '.*nvsforge*') ]] || fail "temporary files left: $(find . -name '.*nvsforge*')"
}

# The same job through the Linux and the Windows build: the same files,
# byte for byte (images, device CSVs, manifest, values_created.csv; not
# run.json, which records times).
test_same_bytes_as_linux() {
    mkdir lin win
    (cd lin && make_job 20 && "$LINUX_BIN/mfg_gen" generate samples/sample_config.csv values.csv Sample 0x6000 --outdir out --quiet) || return 1
    (cd win && make_job 20 && mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --outdir out --quiet) || return 1
    [[ $(find win/out/bin -type f | wc -l) == 20 ]] || fail "images: $(find win/out -type f)" || return 1
    diff -r -x run.json lin win >/dev/null || fail "Linux and Windows outputs differ: $(diff -rq -x run.json lin win | head -3)"
}

# Backslashes and a drive letter (Wine maps Z: to /).
test_backslash_and_drive_paths() {
    make_job 2
    local zdir; zdir="Z:$(printf '%s' "$PWD" | tr / '\\')\\abs"
    expect_ok mfg_gen generate 'samples\sample_config.csv' values.csv Sample 0x6000 --outdir 'out\sub' --quiet || return 1
    [[ -f out/sub/bin/Sample-2.bin && -f out/sub/csv/Sample-2.csv ]] || fail "out\\sub: $(find out)" || return 1
    expect_ok nvs_partition_gen generate sample_singlepage_blob.csv "$zdir\\img.bin" 0x3000 || return 1
    [[ -f abs/img.bin ]] || fail "$zdir\\img.bin not written: $out" || return 1
    "$LINUX_BIN/nvs_partition_gen" generate sample_singlepage_blob.csv lin.bin 0x3000 >/dev/null || return 1
    cmp -s abs/img.bin lin.bin || fail "the image differs from Linux's"
}

# Names outside ASCII, whatever Windows' ANSI code page (wmain + wide calls).
test_utf8_names() {
    make_job 2
    cp values.csv 'wërte-€.csv'
    expect_ok mfg_gen generate samples/sample_config.csv 'wërte-€.csv' Sample 0x6000 --outdir 'Ausgabe-ключ' --keygen --quiet || return 1
    [[ -f Ausgabe-ключ/bin/Sample-2.bin && -f Ausgabe-ключ/keys/keys-Sample-2.bin ]] || fail "UTF-8 folder: $(find . -path './Ausgabe*')" || return 1
    expect_fail nvs_partition_gen generate 'fehlt-ü.csv' x.bin 0x3000 || return 1
    expect_in "fehlt-ü.csv"
}

# CRLF inputs (as Windows editors save them) give the same images as LF.
test_crlf_inputs() {
    make_job 3
    sed 's/$/\r/' samples/sample_config.csv >config-crlf.csv
    sed 's/$/\r/' values.csv >values-crlf.csv
    expect_ok mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --outdir lf --quiet || return 1
    expect_ok mfg_gen generate config-crlf.csv values-crlf.csv Sample 0x6000 --outdir crlf --quiet || return 1
    diff -r lf/bin crlf/bin >/dev/null || fail "CRLF inputs give other images"
}

# A key file is never replaced, on Windows too (MoveFileExW without
# MOVEFILE_REPLACE_EXISTING); the image beside it is.
test_key_file_not_replaced() {
    expect_ok nvs_partition_gen generate-key --keyfile k.bin || return 1
    local before; before=$(sha keys/k.bin)
    expect_fail nvs_partition_gen generate-key --keyfile k.bin || return 1
    expect_in "k.bin"
    [[ $(sha keys/k.bin) == "$before" ]] || fail "the key file changed"
}

run_tests
