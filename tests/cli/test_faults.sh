#!/usr/bin/env bash
# Faults: signals, write errors, full disks, unreadable inputs, folders
# without permission. Each must end non-zero with a clear message and
# leave no image, key, CSV or temporary file; a rerun then completes.
. "$(dirname "$0")/testlib.sh"

# Nothing but folders under DIR and no leftovers beside the inputs.
expect_clean() {
    expect_no_files "$1" || return 1
    [[ ! -e values_created.csv ]] || fail "values_created.csv left" || return 1
    [[ -z $(find . -name '.*nvsforge*' -o -name '*.journal') ]] || fail "temporary files left: $(find . -name '.*nvsforge*' -o -name '*.journal')"
}

# Run as an unprivileged user when we are root (permissions bind then).
as_user() {
    if [[ $(id -u) == 0 ]]; then
        setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"
    else
        "$@"
    fi
}

signal_midway() { # signal_midway SIG
    make_job 3000
    mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --quiet --outdir out --keygen &
    local pid=$! n=0
    # Wait until devices are being committed, then interrupt.
    while [[ $(find out/bin -name '*.bin' 2>/dev/null | wc -l) -lt 200 ]] && ((n++ < 600)); do sleep 0.05; done
    kill -"$1" "$pid"
    wait "$pid"
    local rc=$?
    [[ $rc == 130 ]] || fail "exit code $rc after SIG$1, expected 130" || return 1
    expect_clean out || return 1
    [[ ! -e out ]] || fail "the folders the run made are left: $(find out)" || return 1
    expect_ok mfg --outdir out --keygen || return 1
    [[ $(wc -l <out/manifest.csv) == 3001 ]] || fail "the rerun did not complete the batch"
}

test_sigint_during_batch() { signal_midway INT; }
test_sigterm_during_batch() { signal_midway TERM; }

test_killed_run_says_how_to_go_on() {
    make_job 3000
    mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --quiet --outdir out &
    local pid=$! n=0
    while [[ $(find out/bin -name '*.bin' 2>/dev/null | wc -l) -lt 300 ]] && ((n++ < 600)); do sleep 0.05; done
    kill -KILL "$pid"
    wait "$pid"
    expect_fail mfg --outdir out || return 1
    expect_in "killed" && expect_in "xargs -0 rm -f" || return 1
    # Follow the instructions, then the batch completes.
    xargs -0 rm -f <out/.manifest.csv.journal && rm out/.manifest.csv.journal
    find out . -name '.*.nvsforge-*' -delete
    [[ -z $(find out -type f) ]] || fail "the journal missed files: $(find out -type f | head -3)" || return 1
    expect_ok mfg --outdir out || return 1
    [[ $(wc -l <out/manifest.csv) == 3001 ]] || fail "rerun incomplete"
}

test_file_size_limit_midway() {
    make_job 2000
    # values_created.csv and the manifest outgrow 64 KiB midway.
    (ulimit -f 64 && mfg --outdir out) >err.txt 2>&1
    local rc=$?
    out=$(cat err.txt)
    [[ $rc == 1 ]] || fail "exit code $rc" || return 1
    expect_in "File too large" && expect_in "nothing was left behind" || return 1
    expect_clean out || return 1
    expect_ok mfg --outdir out || return 1
    [[ $(wc -l <out/manifest.csv) == 2001 ]] || fail "rerun incomplete"
}

test_file_size_limit_single_image() {
    printf 'key,type,encoding,value\nns,namespace,,\nk,data,u8,1\n' >in.csv
    (ulimit -f 8 && nvs_partition_gen generate in.csv out.bin 0x4000) >err.txt 2>&1 && { fail "succeeded"; return 1; }
    out=$(cat err.txt)
    expect_in "out.bin" || return 1
    [[ $(find . -type f ! -name in.csv ! -name err.txt) == "" ]] || fail "left: $(find . -type f)"
}

test_full_disk_midway() {
    [[ $(id -u) == 0 ]] || { echo "    skipped: needs root for a small tmpfs"; return 0; }
    make_job 400
    mkdir small
    # A private mount namespace with a 4 MiB tmpfs: the batch needs ~10 MiB.
    unshare -m bash -c "mount -t tmpfs -o size=4m tmpfs small && \
        mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --quiet --outdir small/out; \
        echo \$? >rc.txt; find small -type f > left.txt; find small -name '.*' >>left.txt" >err.txt 2>&1 ||
        { echo "    skipped: cannot mount tmpfs here"; return 0; }
    out=$(cat err.txt)
    [[ $(cat rc.txt) == 1 ]] || fail "exit code $(cat rc.txt)" || return 1
    expect_in "No space left" || return 1
    [[ ! -s left.txt ]] || fail "left on the full disk: $(cat left.txt)" || return 1
    [[ ! -e values_created.csv ]] || fail "values_created.csv left"
}

test_unreadable_input_file() {
    make_job 5
    chmod 000 testdata/sample_multipage_blob.bin
    chmod 777 . && chmod -R a+rwX out 2>/dev/null
    out=$(as_user mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --quiet --outdir out 2>&1) &&
        { fail "succeeded"; return 1; }
    expect_in "sample_multipage_blob.bin" && expect_in "Permission denied" && expect_in "values.csv:2:" || return 1
    expect_clean out 2>/dev/null || [[ ! -e out ]]
}

test_unreadable_values_file() {
    make_job 5
    chmod 000 values.csv
    chmod 777 .
    out=$(as_user mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --quiet --outdir out 2>&1) &&
        { fail "succeeded"; return 1; }
    expect_in "values.csv" && expect_in "Permission denied" || return 1
    [[ ! -e out ]] || expect_no_files out
}

test_output_folder_without_permission() {
    make_job 5
    mkdir -p out && chmod 555 out && chmod 777 .
    out=$(as_user mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --quiet --outdir out 2>&1) &&
        { fail "succeeded"; return 1; }
    expect_in "out" && expect_in "Permission denied" || return 1
    expect_clean out
}

test_image_folder_without_permission() {
    printf 'key,type,encoding,value\nns,namespace,,\nk,data,u8,1\n' >in.csv
    mkdir ro && chmod 555 ro && chmod 777 .
    out=$(as_user nvs_partition_gen generate in.csv ro/out.bin 0x3000 2>&1) && { fail "succeeded"; return 1; }
    expect_in "ro/out.bin" && expect_in "Permission denied" || return 1
    [[ -z $(find ro -mindepth 1) ]] || fail "left in ro: $(find ro)"
}

run_tests
