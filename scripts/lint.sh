#!/usr/bin/env bash
# Static analysis: cppcheck and clang-tidy (.clang-tidy) over the library,
# the batch pipeline, the command line and the Python extension; any finding fails. Needs a
# configured build folder (default build/) for compile_commands.json.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
cd "$root"
cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
# The Windows-only files (*_cng.c, *_win.c) need Windows' headers: the
# Windows build compiles them with the same warnings, and
# scripts/test-windows.sh runs cppcheck over them.
sources=()
for f in lib/*.c pipeline/*.c programs/*.c; do
    [[ $f == *_cng.c || $f == *_win.c ]] || sources+=("$f")
done
cppcheck --enable=warning,performance,portability --std=c11 --error-exitcode=1 \
    --inline-suppr --quiet -I include -I lib -I pipeline -D_POSIX_C_SOURCE=200809L "${sources[@]}"
printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>/dev/null
# The Python extension is built by setuptools, not CMake: its flags here,
# with Python's own headers as system headers.
ext=python/src/nvsforge_native.c
ext_flags=(-D_POSIX_C_SOURCE=200809L -I include -I lib -I pipeline -I programs)
cppcheck --enable=warning,performance,portability --std=c11 --error-exitcode=1 \
    --inline-suppr --quiet "${ext_flags[@]}" "$ext"
clang-tidy --quiet "$ext" -- -std=c11 "${ext_flags[@]}" \
    -isystem "$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" 2>/dev/null
echo "static analysis: cppcheck and clang-tidy clean ($((${#sources[@]} + 1)) files)"
