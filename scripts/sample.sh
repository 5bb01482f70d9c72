#!/usr/bin/env bash
# Quick start: install what is missing (only what building and running
# need), build, and run ESP-IDF's sample manufacturing job (3 devices,
# encrypted with a new key each), then show what it made. Output goes to
# sample-out/ (removed and made again).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
out=$NVSF_ROOT/sample-out
rm -rf "$out"
mkdir -p "$out"
cp -r "$NVSF_ROOT/examples/esp-idf/." "$out/job"
cd "$out/job"
set -x
"$NVSF_BUILD/programs/mfg_gen" generate samples/sample_config.csv \
    samples/sample_values_multipage_blob.csv Sample 0x6000 --keygen --outdir "$out"
{ set +x; } 2>/dev/null
echo
echo "== what it made (in $out):"
(cd "$out" && find bin csv keys manifest.csv run.json -type f | sort | xargs ls -l)
echo
echo "== manifest.csv:"
cat "$out/manifest.csv"
echo
echo "== run.json, the record of the run:"
cat "$out/run.json"
echo
echo "== the first image, decrypted and checked:"
"$NVSF_BUILD/programs/nvsforge" check "$out/bin/Sample-1.bin" --inputkey "$out/keys/keys-Sample-1.bin"
