#!/usr/bin/env bash
# nvs_partition_gen: file rules, refusals, keys, round trips.
. "$(dirname "$0")/testlib.sh"

small_csv() {
    printf 'key,type,encoding,value\nns,namespace,,\nport,data,u8,5\nname,data,string,hello\n' >in.csv
}

test_output_replaced_atomically() {
    small_csv
    expect_ok nvs_partition_gen generate in.csv out.bin 0x3000 || return 1
    local inode; inode=$(stat -c %i out.bin)
    cp out.bin old.bin
    exec 3<out.bin # a reader of the old image keeps seeing it whole
    printf 'key,type,encoding,value\nns,namespace,,\nport,data,u8,6\n' >in.csv
    expect_ok nvs_partition_gen generate in.csv out.bin 0x3000 || return 1
    expect_ok nvs_partition_gen generate in.csv fresh.bin 0x3000 || return 1
    cmp -s out.bin fresh.bin || fail "out.bin is not the new image" || return 1
    [[ $(stat -c %i out.bin) != "$inode" ]] || fail "out.bin was rewritten in place, not renamed" || return 1
    cmp -s old.bin /dev/fd/3 || fail "a reader of the old file saw it change" || return 1
    exec 3<&-
    [[ $(mode_of out.bin) == 644 ]] || fail "mode $(mode_of out.bin)" || return 1
    [[ -z $(find . -name '.*nvsforge*') ]] || fail "temporary files left"
}

test_decrypt_output_replaced() {
    small_csv
    expect_ok nvs_partition_gen encrypt in.csv enc.bin 0x3000 --keygen --keyfile k.bin || return 1
    echo old >dec.bin
    expect_ok nvs_partition_gen decrypt enc.bin keys/k.bin dec.bin || return 1
    expect_ok nvs_partition_gen generate in.csv plain.bin 0x3000 || return 1
    cmp -s dec.bin plain.bin || fail "dec.bin was not replaced by the decrypted image"
}

test_existing_key_file_refused_before_anything_is_written() {
    small_csv
    expect_ok nvs_partition_gen encrypt in.csv enc.bin 0x3000 --keygen --keyfile k.bin || return 1
    local key image; key=$(sha keys/k.bin) image=$(sha enc.bin)
    expect_fail nvs_partition_gen encrypt in.csv enc.bin 0x3000 --keygen --keyfile k.bin || return 1
    expect_in "key file 'keys/k.bin' already exists" && expect_in "choose another name with --keyfile" || return 1
    [[ $(sha keys/k.bin) == "$key" && $(sha enc.bin) == "$image" ]] || fail "key or image changed" || return 1
    expect_fail nvs_partition_gen encrypt in.csv other.bin 0x3000 --keygen --keyfile k.bin || return 1
    [[ ! -e other.bin ]] || fail "image written though its key was refused" || return 1
    expect_ok nvs_partition_gen generate-key --keyfile h.bin --key_protect_hmac --kp_hmac_keygen --kp_hmac_keyfile hm.bin || return 1
    local hmac; hmac=$(sha keys/hm.bin)
    expect_fail nvs_partition_gen generate-key --keyfile h2.bin --key_protect_hmac --kp_hmac_keygen --kp_hmac_keyfile hm.bin || return 1
    expect_in "key file 'keys/hm.bin' already exists" && expect_in "--kp_hmac_keyfile" || return 1
    [[ $(sha keys/hm.bin) == "$hmac" && ! -e keys/h2.bin ]] || fail "HMAC key replaced or a key written"
}

test_bad_size_leaves_nothing() {
    small_csv
    for size in abc 0x2800 0 -4096 0x10000000; do
        expect_fail nvs_partition_gen generate in.csv out.bin "$size" || return 1
        [[ ! -e out.bin ]] || fail "out.bin exists after size $size" || return 1
    done
    [[ $(find . -type f) == "./in.csv" ]] || fail "files left: $(find . -type f)"
}

test_numbers_read_as_the_reference_reads_them() {
    # Size with int(text, 0), --version with int(text): their other forms.
    small_csv
    expect_ok nvs_partition_gen generate in.csv ref.bin 0x3000 --version 2 || return 1
    local size version
    for size in 12288 0x3_000 12_288 0o30000 0b11000000000000 +0x3000; do
        for version in 2 02 ' 2 ' +2; do
            expect_ok nvs_partition_gen generate in.csv o.bin "$size" --version "$version" || return 1
            cmp -s o.bin ref.bin || fail "size '$size' --version '$version': another image" || return 1
        done
    done
    for version in 3 0 -2 2_ '' x; do
        expect_fail nvs_partition_gen generate in.csv o.bin 0x3000 --version "$version" || return 1
        expect_in "argument --version: invalid choice: '$version' (choose from 1, 2)" || return 1
    done
    printf 'ns,namespace,\nport,data,u8\n' >config.csv
    printf 'id,port\n1,5\n' >values.csv
    expect_ok mfg_gen generate config.csv values.csv P 0x3_000 --version ' 1' --outdir out || return 1
    expect_fail mfg_gen generate config.csv values.csv P 0x3000 --version 3 --outdir o2 || return 1
    expect_in "--version must be 1 or 2, not '3'"
}

test_error_names_file_line_key() {
    printf 'key,type,encoding,value\nns,namespace,,\n# comment\nok,data,u8,1\nport,data,u16,70000\n' >in.csv
    expect_fail nvs_partition_gen generate in.csv out.bin 0x3000 || return 1
    expect_in "in.csv:5:" && expect_in "'port'" && expect_in "u16" || return 1
    [[ ! -e out.bin ]] || fail "out.bin written"
}

test_second_file_line_numbers() {
    small_csv
    printf 'key,type,encoding,value\nx,data,i8,-1\nbad,file,binary,missing.bin\n' >b.csv
    expect_fail nvs_partition_gen generate in.csv b.csv out.bin 0x3000 || return 1
    expect_in "b.csv:3:" && expect_in "'bad'" && expect_in "missing.bin" || return 1
    [[ ! -e out.bin ]] || fail "out.bin written"
}

test_only_bin_extension() {
    small_csv
    expect_fail nvs_partition_gen generate in.csv out.img 0x3000 || return 1
    expect_in ".bin" || return 1
    [[ ! -e out.img ]] || fail "out.img written"
}

test_image_is_partition_size() {
    small_csv
    for size in 0x1000 0x2000 0x3000 0x5000; do
        expect_ok nvs_partition_gen generate in.csv "o$size.bin" "$size" || return 1
        [[ $(stat -c %s "o$size.bin") == $((size)) ]] || fail "o$size.bin is not $size bytes" || return 1
    done
}

test_read_only_note() {
    small_csv
    expect_ok nvs_partition_gen generate in.csv ro.bin 0x2000 || return 1
    expect_in "readonly"
}

test_generate_key_mode_and_no_overwrite() {
    expect_ok nvs_partition_gen generate-key --keyfile k.bin || return 1
    owner_only keys/k.bin || fail "key mode $(mode_of keys/k.bin)" || return 1
    [[ $(stat -c %s keys/k.bin) == 4096 ]] || fail "key file size" || return 1
    local before; before=$(sha keys/k.bin)
    expect_fail nvs_partition_gen generate-key --keyfile k.bin || return 1
    expect_in "already exists" || return 1
    [[ $(sha keys/k.bin) == "$before" ]] || fail "key file replaced"
}

test_generated_keys_differ() {
    expect_ok nvs_partition_gen generate-key --keyfile a.bin || return 1
    expect_ok nvs_partition_gen generate-key --keyfile b --outdir . || return 1
    [[ -e keys/b.bin ]] || fail "no .bin added" || return 1
    [[ $(sha keys/a.bin) != $(sha keys/b.bin) ]] || fail "two new keys are equal"
}

test_default_key_name_is_timestamped() {
    expect_ok nvs_partition_gen generate-key || return 1
    local f; f=$(ls keys)
    [[ $f =~ ^keys-[0-9]{2}-[0-9]{2}_[0-9]{2}-[0-9]{2}\.bin$ ]] || fail "key name $f"
}

test_encrypt_decrypt_round_trip() {
    small_csv
    expect_ok nvs_partition_gen generate in.csv plain.bin 0x4000 || return 1
    expect_ok nvs_partition_gen encrypt in.csv enc.bin 0x4000 --keygen --keyfile k.bin || return 1
    owner_only keys/k.bin || fail "key mode" || return 1
    cmp -s plain.bin enc.bin && { fail "encrypted image equals the plain one"; return 1; }
    expect_ok nvs_partition_gen decrypt enc.bin keys/k.bin dec.bin || return 1
    cmp plain.bin dec.bin || fail "decrypt(encrypt(x)) != x"
    expect_ok nvs_partition_gen encrypt in.csv enc2.bin 0x4000 --inputkey keys/k.bin || return 1
    cmp enc.bin enc2.bin || fail "--inputkey with the same key gives another image"
}

test_failed_encrypt_leaves_no_key() {
    printf 'key,type,encoding,value\nns,namespace,,\nk,data,u8,300\n' >in.csv
    expect_fail nvs_partition_gen encrypt in.csv enc.bin 0x3000 --keygen --keyfile k.bin || return 1
    [[ $(find . -type f) == "./in.csv" ]] || fail "files left: $(find . -type f)"
}

test_corrupt_input_key_refused() {
    small_csv
    expect_ok nvs_partition_gen generate-key --keyfile k.bin || return 1
    cp keys/k.bin bad.bin && chmod u+w bad.bin
    printf '\x00' | dd of=bad.bin bs=1 seek=65 conv=notrunc status=none
    expect_fail nvs_partition_gen encrypt in.csv enc.bin 0x3000 --inputkey bad.bin || return 1
    expect_in "CRC" || return 1
    [[ ! -e enc.bin ]] || fail "image written with a corrupt key"
}

test_hmac_keygen() {
    small_csv
    expect_ok nvs_partition_gen encrypt in.csv enc.bin 0x3000 --keygen --keyfile k.bin \
        --key_protect_hmac --kp_hmac_keygen || return 1
    [[ $(stat -c %s keys/hmac-k.bin) == 32 ]] && owner_only keys/hmac-k.bin || fail "hmac key file" || return 1
    expect_ok nvs_partition_gen generate-key --key_protect_hmac --kp_hmac_inputkey keys/hmac-k.bin \
        --keyfile again.bin || return 1
    cmp keys/k.bin keys/again.bin || fail "key not derived from the HMAC key"
}

test_hmac_options_need_protect_flag() {
    small_csv
    head -c 32 /dev/urandom >h.bin
    expect_fail nvs_partition_gen encrypt in.csv enc.bin 0x3000 --keygen --kp_hmac_inputkey h.bin || return 1
    expect_in "--key_protect_hmac" || return 1
    head -c 31 /dev/urandom >short.bin
    expect_fail nvs_partition_gen encrypt in.csv enc.bin 0x3000 --keygen --key_protect_hmac \
        --kp_hmac_inputkey short.bin || return 1
    expect_in "32" || return 1
    [[ -z $(find . -type f ! -name '*.csv' ! -name h.bin ! -name short.bin) ]] || fail "files written"
}

test_umask_respected() {
    wine_na "the umask (Windows has none: new files take the folder's ACL)" && return 0
    small_csv
    (umask 027 && nvs_partition_gen generate in.csv out.bin 0x3000 >/dev/null) || return 1
    [[ $(mode_of out.bin) == 640 ]] || fail "image mode $(mode_of out.bin) with umask 027"
}

test_nvsforge_partition_is_the_same_command() {
    small_csv
    expect_ok nvsforge partition generate in.csv a.bin 0x3000 || return 1
    expect_ok nvs_partition_gen generate in.csv b.bin 0x3000 || return 1
    cmp a.bin b.bin || fail "nvsforge partition differs"
}

test_usage_errors() {
    expect_fail nvs_partition_gen generate in.csv || return 1
    expect_in "required" || return 1
    expect_fail nvs_partition_gen frobnicate || return 1
    expect_in "invalid choice" || return 1
    expect_fail nvs_partition_gen generate in.csv o.bin 0x3000 --version 3 || return 1
    expect_in "invalid choice"
}

test_every_problem_of_every_csv_in_one_pass() {
    printf 'key,type,encoding,value\nns,namespace,,\na,data,u8,300\nb,file,binary,missing.bin\nok,data,u8,1\nd,data,i8,-200\n' >a.csv
    printf 'key,type,encoding,value\nns,namespace,,\ne,data,hex2bin,abc\n' >b.csv
    expect_fail nvs_partition_gen generate a.csv b.csv out.bin 0x3000 || return 1
    local want="nvs_partition_gen generate: error: a.csv:3: key 'a': value 300 is out of range for u8 (0..255)
nvs_partition_gen generate: error: a.csv:4: key 'b': cannot open 'missing.bin': No such file or directory
nvs_partition_gen generate: error: a.csv:6: key 'd': value -200 is out of range for i8 (-128..127)
nvs_partition_gen generate: error: b.csv:3: key 'e': "
    [[ $out == "$want"* && $(wc -l <<<"$out") == 4 ]] || fail "got: $out" || return 1
    [[ ! -e out.bin ]] || fail "out.bin written"
}

test_dry_run_writes_nothing() {
    small_csv
    expect_ok nvs_partition_gen encrypt in.csv out.bin 0x3000 --keygen --keyfile k.bin --key_protect_hmac --kp_hmac_keygen --dry-run --outdir o || return 1
    [[ $out == "        4096  o/keys/k.bin
          32  o/keys/hmac-k.bin
       12288  o/out.bin
dry run: 3 files, 16416 bytes in all; nothing was written" ]] || fail "plan: $out" || return 1
    [[ ! -e o ]] || fail "a dry run wrote: $(find o)" || return 1
    expect_ok nvsforge partition generate in.csv out.bin 0x3000 --dry-run || return 1
    [[ $(tail -n 1 <<<"$out") == "dry run: 1 file, 12288 bytes in all; nothing was written" && ! -e out.bin ]] || fail "generate: $out" || return 1
    printf 'bad,data,u8,256\n' >>in.csv
    expect_fail nvs_partition_gen generate in.csv out.bin 0x3000 --dry-run || return 1
    expect_in "in.csv:5: key 'bad'" || return 1
    [[ $out != *"dry run:"* ]] || fail "a plan for a refused input"
}

test_no_python_names() {
    # A binary under a .py name only misleads (python3 nvs_partition_gen.py
    # fails on it); the Python package gives the Python names.
    ln -s "$BIN/nvsforge" nvs_partition_gen.py
    expect_ok ./nvs_partition_gen.py --version || return 1
    [[ $out == "nvsforge "* ]] || fail "a .py name still selects a tool: $out"
}

test_comment_line_is_a_comment_before_csv() {
    printf 'key,type,encoding,value\nns,namespace,,\n#todo,"check later\na,data,u8,1\n# b,"x\r\nb,data,u8,2\n' >c.csv
    printf 'key,type,encoding,value\nns,namespace,,\na,data,u8,1\nb,data,u8,2\n' >plain.csv
    expect_ok nvs_partition_gen generate c.csv c.bin 0x3000 || return 1
    expect_ok nvs_partition_gen generate plain.csv plain.bin 0x3000 || return 1
    cmp -s c.bin plain.bin || fail "rows after a comment with a quote were lost: $(nvsforge dump c.bin)"
}

test_header_naming_a_column_twice_refused() {
    printf 'key,type,encoding,value,value\nns,namespace,,,\na,data,u8,1,2\n' >d.csv
    expect_fail nvs_partition_gen generate d.csv d.bin 0x3000 || return 1
    [[ $out == "nvs_partition_gen generate: error: d.csv:1: the header names the column 'value' twice (columns 4 and 5): name each column once" ]] ||
        fail "message: $out" || return 1
    [[ ! -e d.bin ]] || fail "d.bin written"
}

test_echoed_values_escaped_one_line_each() {
    printf 'key,type,encoding,value\nns,namespace,,\na,data,u8,"3\n00"\nb,data,u8,\xef\xbb\xbf7\nc,data,string,ok\nd,data,i8,\x01\x7f\n' >e.csv
    expect_fail nvs_partition_gen generate e.csv e.bin 0x3000 || return 1
    [[ $out == "nvs_partition_gen generate: error: e.csv:3: key 'a': '3\n00' is not a decimal integer (u8)
nvs_partition_gen generate: error: e.csv:5: key 'b': '\ufeff7' is not a decimal integer (u8)
nvs_partition_gen generate: error: e.csv:7: key 'd': '\x01\x7f' is not a decimal integer (i8)" ]] || fail "got: $out"
}

run_tests
