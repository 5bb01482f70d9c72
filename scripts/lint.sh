#!/usr/bin/env bash
# Static analysis: cppcheck and clang-tidy (.clang-tidy) over the library,
# the batch pipeline and the command line; any finding fails. Needs a
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
echo "static analysis: cppcheck and clang-tidy clean (${#sources[@]} files)"
