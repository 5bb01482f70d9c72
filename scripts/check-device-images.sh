#!/usr/bin/env bash
# Optional: run the device-image test (tests/unit/test_device_images.c) over
# a whole folder of device images laid out as tests/data/device-images is
# (image.bin, key.bin for encrypted ones, expected.txt), such as the larger
# set the project's subset was taken from. Not part of the test suite.
#   scripts/check-device-images.sh FOLDER [BUILD]
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 FOLDER [BUILD]" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
folder=$(cd "$1" && pwd)
build=${2:-$root/build}
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target test_device_images >/dev/null
cd "$root/tests/unit"
"$build/tests/test_device_images" "$folder"
