#!/usr/bin/env bash
# The Python package's tests: build and install python/ into a fresh virtual
# environment made from Debian's own interpreter (no package index: the
# build uses Debian's setuptools), then run the pytest suite in it.
#
#   tests/python/run.sh [VENV_DIR]     (default: build/python-venv)
#
# Needs: python3-venv python3-dev python3-setuptools python3-wheel
# python3-pytest strace cmake libssl-dev zlib1g-dev (scripts/setup.sh installs
# them), and the commands built in ${NVSF_BUILD:-build}/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${1:-$root/build/python-venv}
# A known interpreter: Debian's, whatever python3 comes first on PATH.
python=/usr/bin/python3

rm -rf "$venv" "$root/python/build" "$root"/python/*.egg-info
"$python" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --no-build-isolation --no-index "$root/python"
# The built commands, to compare `python -m` with nvs_partition_gen.
export NVSF_BIN=${NVSF_BUILD:-$root/build}/programs
# Run from the tests folder, so that the checkout's python/ is not what
# `import nvsforge` finds: the installed package is under test.
cd "$root/tests/python"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/tests/python"
