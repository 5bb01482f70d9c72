#!/usr/bin/env bash
# The README, --help and the man pages say the same: every option a
# command's help lists is in its man page, and the differences from
# Espressif's tools are one section of the README and of the man pages.
. "$(dirname "$0")/testlib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# The long options a help text lists.
options_of() { "$@" -h | grep -o -- '--[a-z][a-z_-]*' | sort -u; }

# man's text of a page, with roff's \- as -.
man_text() { sed 's/\\-/-/g' "$ROOT/man/$1"; }

check_options() { # check_options PAGE COMMAND...
    local page=$1 o missing="" text
    shift
    text=$(man_text "$page")
    for o in $(options_of "$@"); do
        [[ $text == *"$o"* ]] || missing+=" $o"
    done
    [[ -z $missing ]] || fail "$page lacks$missing (listed by $* -h)"
}

test_help_options_are_in_the_man_pages() {
    check_options mfg_gen.1 mfg_gen generate || return 1
    check_options nvs_partition_gen.1 nvs_partition_gen generate || return 1
    check_options nvs_partition_gen.1 nvs_partition_gen encrypt || return 1
    check_options nvs_partition_gen.1 nvs_partition_gen decrypt || return 1
    check_options nvs_partition_gen.1 nvs_partition_gen generate-key
}

test_one_differences_section() {
    [[ $(grep -c "^## Differences from Espressif's tools$" "$ROOT/README.md") == 1 ]] ||
        fail "README: no single 'Differences from Espressif's tools' section" || return 1
    local page
    for page in nvsforge.1 nvs_partition_gen.1 mfg_gen.1; do
        [[ $(grep -c "^.SH DIFFERENCES FROM ESPRESSIF'S TOOLS$" "$ROOT/man/$page") == 1 ]] ||
            fail "$page: no single DIFFERENCES FROM ESPRESSIF'S TOOLS section" || return 1
    done
    # The points the README lists are in the main man page too.
    local point text
    text=$(man_text nvsforge.1 | tr '\n' ' ')
    for point in "never replaced" "one pass" "byte-order mark" "quoted multi-line value" \
                 "file's content" "once per namespace" "exactly the partition size" "--dry-run" \
                 "run.json"; do
        grep -q -- "$point" "$ROOT/README.md" || fail "README lacks '$point'" || return 1
        [[ $text == *"$point"* ]] || fail "nvsforge.1 lacks '$point'" || return 1
    done
}

run_tests
