# Shared helpers of the command-line tests (sourced).
#   BIN: folder of nvsforge, nvs_partition_gen, mfg_gen (first argument)
# Each test is a function test_*; run_tests runs them all in fresh folders
# and ends with the line "N passed, N failed".
set -uo pipefail
BIN=$(cd "$1" && pwd)
CASES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../conformance/cases" && pwd)
EXAMPLES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples/esp-idf" && pwd)
export PATH="$BIN:$PATH"
failures=()

fail() { echo "    FAIL: $*" >&2; return 1; }

# NVSF_WINE: the commands are the Windows build run under Wine
# (scripts/test-windows.sh). Its messages end their lines with CRLF, as
# Windows' text mode writes them; the checks compare the text without CR.
# What a test cannot see through Wine it says with wine_na, which
# run_tests counts and lists: nothing is skipped silently.
unwine() { [[ -z ${NVSF_WINE:-} ]] || out=${out//$'\r'/}; }
wine_na() { # wine_na REASON: true (and said) when running under Wine
    [[ -n ${NVSF_WINE:-} ]] || return 1
    echo "    not checked under Wine: $*"
    echo "$*" >>"$wine_na_log"
}
# expect_fail CMD... : the command must exit non-zero; its output is in $out.
expect_fail() {
    out=$("$@" 2>&1) && { unwine; fail "succeeded but should fail: $*"; return 1; }
    unwine
    return 0
}
# expect_ok CMD... : the command must succeed; its output is in $out.
expect_ok() {
    out=$("$@" 2>&1) || { unwine; fail "failed: $* -> $out"; return 1; }
    unwine
    return 0
}
expect_in() { [[ $out == *"$1"* ]] || fail "message lacks '$1': $out"; }
expect_no_files() { # expect_no_files DIR: nothing but folders under DIR
    local left
    left=$(find "$1" -type f 2>/dev/null)
    [[ -z $left ]] || fail "files left behind: $left"
}
mode_of() { stat -c %a "$1"; }
# A key file readable by its owner only: mode 600. On Windows that is an
# ACL, which Wine accepts but does not keep (its files get the umask's
# mode): tests/windows/test_platform_win.c checks the ACL nvsforge asks for.
owner_only() {
    wine_na "key files owner-only (Wine keeps no ACL; tests/windows/test_platform_win.c checks the one asked for)" && return 0
    [[ $(mode_of "$1") == 600 ]]
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# A job folder like ESP-IDF's sample, with N devices (ids 1..N).
make_job() { # make_job N
    cp -r "$EXAMPLES/." .
    {
        head -n 2 samples/sample_values_multipage_blob.csv
        local row; row=$(sed -n 3p samples/sample_values_multipage_blob.csv)
        for ((i = 2; i <= $1; i++)); do echo "$i,${row#*,}"; done
    } >values.csv
}
mfg() { mfg_gen generate samples/sample_config.csv values.csv Sample 0x6000 --quiet "$@"; }

wine_na_log=$(mktemp)
trap 'rm -f "$wine_na_log"' EXIT
run_tests() {
    local pass=0 failn=0 t
    for t in $(declare -F | awk '{print $3}' | grep '^test_'); do
        local dir
        dir=$(mktemp -d)
        if (cd "$dir" && umask 022 && "$t"); then
            pass=$((pass + 1)); echo "ok   $t"
        else
            failn=$((failn + 1)); echo "FAIL $t"
        fi
        rm -rf "$dir"
    done
    echo "$pass passed, $failn failed"
    if [[ -s $wine_na_log ]]; then
        echo "not checked under Wine ($(sort -u "$wine_na_log" | wc -l) kinds):"
        sort -u "$wine_na_log" | sed 's/^/  /'
    fi
    ((failn == 0))
}
