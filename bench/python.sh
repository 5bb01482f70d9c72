#!/usr/bin/env bash
# The Python package against Espressif's, the way factory tools call it.
#
#   [NVSF_REF_PYTHONPATH=DIR] [NVSF_MFG_GEN_PY=FILE] bench/python.sh [N]
#
# Installs python/ into a virtual environment of Debian's python3
# (build-bench/python-venv), makes N (default 1000) device CSVs of ESP-IDF's
# sample config and measures, per call:
#   1. generate(args) at 0x6000, one CSV per device;
#   2. encrypt(args) with keygen (a new key file per device);
# with our package, and with Espressif's when NVSF_REF_PYTHONPATH names a
# folder it imports from (its esp_idf_nvs_partition_gen and cryptography);
# the two packages' plain images are compared byte for byte. Each figure is
# the best of three runs, set against the I/O floor of a call
# (bench/call_floor.c: read the CSV and the files it names, write the image
# and key file plainly, nothing else), which no implementation goes below.
# With NVSF_MFG_GEN_PY (a copy of ESP-IDF's tools/mass_mfg/mfg_gen.py), it also
# times a whole N-device `mfg_gen.py generate` with each package. What it
# lacks, it skips and says so. Work files go to a temporary folder under
# TMPDIR (TMPDIR=/dev/shm: a tmpfs, as the figures in the README).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-1000}
build=$root/build-bench
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNVSF_TESTS=OFF >/dev/null
cmake --build "$build" --target bench_call_floor >/dev/null
venv=$build/python-venv
python=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ! -x $venv/bin/python ]]; then
    "$python" -m venv --system-site-packages "$venv"
fi
rm -rf "$root/python/build" "$root"/python/*.egg-info
"$venv/bin/python" -m pip install --quiet --no-build-isolation --no-index "$root/python"
py=$venv/bin/python
echo "Python package benchmark: $count devices, ESP-IDF's sample config, 0x6000"

# Every run happens in a copy of ESP-IDF's samples (mfg_gen.py writes beside
# its inputs).
samples=$work/esp-idf
cp -r "$root/examples/esp-idf" "$samples"
# Device CSVs as mfg_gen writes them: the sample config, values per device,
# files named relative to the folder the tool runs in.
mkdir -p "$work/csv"
"$py" - "$work" "$count" <<'EOF'
import os, sys
work, count = sys.argv[1], int(sys.argv[2])
t = 'testdata'
for n in range(count):
    with open(os.path.join(work, 'csv', 'dev-%d.csv' % n), 'w') as f:
        f.write('key,type,encoding,value\n'
                'dummyNamespace,namespace,,\n'
                'dummyU8Key,data,u8,%d\n' % (n % 256) +
                'dummyI8Key,data,i8,-128\ndummyU16Key,data,u16,32768\n'
                'dummyU32Key,data,u32,%d\n' % n +
                'dummyI32Key,data,i32,-2147483648\ndummyU64Key,data,u64,1125899905842624\n'
                'dummyI64Key,data,i64,-1125899906742624\n'
                'dummyStringKey,data,string,0A:0B:0C:%02X:%02X:%02X\n'
                % (n >> 16 & 255, n >> 8 & 255, n & 255) +
                'dummyHex2BinKey,data,hex2bin,010203abcdef\ndummyBase64Key,data,base64,MTIzYWJj\n'
                'hexFileKey,file,hex2bin,%s/sample.hex\n' % t +
                'base64FileKey,file,base64,%s/sample.base64\n' % t +
                'stringFileKey,file,string,%s/sample.txt\n' % t +
                'blobFileAKey,file,binary,%s/sample_blob.bin\n' % t +
                'blobFileBKey,file,binary,%s/sample_blob.bin\n' % t +
                'binFileKey,file,binary,%s/sample_singlepage_blob.bin\n' % t)
EOF

ref_ok=""
if [[ -n ${NVSF_REF_PYTHONPATH:-} ]]; then
    if PYTHONPATH=$NVSF_REF_PYTHONPATH "$py" -c \
        'import esp_idf_nvs_partition_gen.nvs_partition_gen as m, sys; sys.exit(hasattr(m, "_native"))'; then
        ref_ok=1
    else
        echo "NVSF_REF_PYTHONPATH=$NVSF_REF_PYTHONPATH: Espressif's package does not import from there; skipping it"
    fi
else
    echo "NVSF_REF_PYTHONPATH not set: Espressif's package is not measured"
fi

ms() { "$py" -c "import sys; print('%.3f' % (float(sys.argv[1]) * 1000))" "$1"; }
ratio() { "$py" -c "import sys; print('%.1f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
csvs=()
for ((n = 0; n < count; n++)); do csvs+=("$work/csv/dev-$n.csv"); done
least() { "$py" -c "import sys; print(min(float(a) for a in sys.argv[1:]))" "$@"; }
calls() { # calls MODE PACKAGE [PYTHONPATH]: seconds per call, the best of 3 runs
    local runs=()
    for _ in 1 2 3; do
        rm -rf "${work:?}/$2/$1"
        runs+=("$(cd "$samples" && PYTHONPATH=${3:-} "$py" "$root/bench/python_bench.py" "$1" "$work" "$count" | cut -d' ' -f2)")
    done
    least "${runs[@]}"
}
floor_calls() { # floor_calls MODE: the I/O floor per call, the best of 3 runs
    local runs=()
    for _ in 1 2 3; do
        rm -rf "$work/floor-$1" && mkdir -p "$work/floor-$1"
        runs+=("$(cd "$samples" && "$build/bench/bench_call_floor" $([[ $1 == encrypt ]] && echo --key) \
            0x6000 "$work/floor-$1" "${csvs[@]}")")
    done
    least "${runs[@]}"
}
for mode in generate encrypt; do
    ours=$(calls "$mode" nvsforge)
    floor=$(floor_calls "$mode")
    line="$mode: nvsforge $(ms "$ours") ms/call, I/O floor $(ms "$floor") ms/call ($(ratio "$ours" "$floor")x)"
    if [[ -n $ref_ok ]]; then
        ref=$(calls "$mode" reference "$NVSF_REF_PYTHONPATH")
        line+=", Espressif's $(ms "$ref") ms/call: nvsforge $(ratio "$ref" "$ours")x faster"
        if [[ $mode == generate ]]; then
            if diff -r "$work/nvsforge/generate/bin" "$work/reference/generate/bin" >/dev/null; then
                line+=" (the same $count images)"
            else
                line+=" (THE IMAGES DIFFER)"
            fi
        fi
    fi
    echo "$line"
done

if [[ -z ${NVSF_MFG_GEN_PY:-} ]]; then
    echo "NVSF_MFG_GEN_PY not set: no mfg_gen.py run"
    exit 0
fi
# A values file of N devices for the sample config.
"$py" - "$work" "$count" "$samples" <<'EOF'
import os, sys
work, count, samples = sys.argv[1], int(sys.argv[2]), sys.argv[3]
src = os.path.join(samples, 'samples', 'sample_values_singlepage_blob.csv')
with open(src) as f:
    header, first = f.readline(), f.readline().rstrip('\n').split(',')
with open(os.path.join(work, 'values.csv'), 'w') as f:
    f.write(header)
    for n in range(1, count + 1):
        f.write(','.join([str(n)] + first[1:]) + '\n')
EOF
mfg_run() { # mfg_run LABEL [PYTHONPATH]
    local out=$work/mfg-$1
    mkdir -p "$out"
    local t0 t1
    t0=$(date +%s.%N)
    if (cd "$samples" && PYTHONPATH=${2:-} "$py" "$NVSF_MFG_GEN_PY" generate \
            samples/sample_config.csv "$work/values.csv" dev 0x6000 --outdir "$out" >"$work/mfg-$1.log" 2>&1); then
        t1=$(date +%s.%N)
        echo "mfg_gen.py, $count devices, $1: $("$py" -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1") s"
    else
        echo "mfg_gen.py with $1 failed (see its output below); skipping it"
        tail -5 "$work/mfg-$1.log"
    fi
}
mfg_run nvsforge
if [[ -n $ref_ok ]]; then mfg_run Espressif\'s "$NVSF_REF_PYTHONPATH"; fi
