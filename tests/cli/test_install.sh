#!/usr/bin/env bash
# cmake --install: commands, libraries, header, pkg-config file, CMake
# package, man pages; the README's example built against the installed
# library with pkg-config (shared and static) and with find_package.
. "$(dirname "$0")/testlib.sh"
BUILD=$(cd "$BIN/.." && pwd)

test_install_tree() {
    expect_ok cmake --install "$BUILD" --prefix "$PWD/p" || return 1
    for f in bin/nvsforge bin/nvs_partition_gen bin/mfg_gen include/nvsforge/nvsforge.h \
             share/man/man1/nvsforge.1 share/man/man1/nvs_partition_gen.1 share/man/man1/mfg_gen.1; do
        [[ -e p/$f ]] || fail "not installed: $f" || return 1
    done
    [[ -n $(find p -name 'libnvsforge.*') && -n $(find p -name nvsforge.pc) ]] || fail "library or nvsforge.pc missing" || return 1
    printf 'key,type,encoding,value\nns,namespace,,\nk,data,u8,1\n' >in.csv
    expect_ok p/bin/nvs_partition_gen generate in.csv a.bin 0x3000 || return 1
    expect_ok p/bin/mfg_gen --help || return 1
    expect_in "generate-key"
}

test_shared_library_exports_only_the_api() {
    expect_ok cmake --install "$BUILD" --prefix "$PWD/p" || return 1
    local so; so=$(find p -name 'libnvsforge.so.0' | head -1)
    [[ -n $so && -e $(dirname "$so")/libnvsforge.a && -e $(dirname "$so")/cmake/nvsforge/nvsforgeConfig.cmake ]] ||
        fail "libnvsforge.so.0, libnvsforge.a or the CMake package missing: $(find p -path '*lib*' -type f)" || return 1
    [[ $(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }') == libnvsforge.so.0 ]] || fail "SONAME" || return 1
    local exported; exported=$(nm -D --defined-only "$so" | awk '{ sub(/@.*/, "", $3); print $3 }')
    local others; others=$(grep -v '^nvsf_' <<<"$exported" | grep -v '^NVSFORGE_0$')
    [[ -z $others ]] || fail "exported besides nvsf_: $others" || return 1
    grep -qx nvsf_builder_new <<<"$exported" || fail "nvsf_builder_new not exported" || return 1
    ! grep -qx nvsf_csv_next <<<"$exported" || fail "an internal function is exported" || return 1
    [[ -z $(find p/bin -name '*.py') ]] || fail "*.py installed: $(find p/bin -name '*.py')"
}

# The README's C example, as the README shows it.
README=$(cd "$(dirname "$0")/../.." && pwd)/README.md
readme_example() {
    awk '/^## The library/ { on = 1 } on && /^```c$/ { c = 1; next } c && /^```$/ { exit } c { print }' "$README"
}

expected_image() {
    printf 'key,type,encoding,value\nfactory,namespace,,\nserial,data,u32,1234\nmodel,data,string,X1\n' >in.csv
    p/bin/nvs_partition_gen generate in.csv cli.bin 0x3000 >/dev/null
}

test_readme_example_with_pkg_config() {
    expect_ok cmake --install "$BUILD" --prefix "$PWD/p" || return 1
    readme_example >ex.c
    grep -q 'int main' ex.c || fail "no example found in the README" || return 1
    expected_image || return 1
    local pc; pc=$(dirname "$(find p -name nvsforge.pc)")
    # Shared, the README's command as written.
    expect_ok "${CC:-cc}" ex.c -o ex-shared $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs nvsforge) || return 1
    local libdir; libdir=$(dirname "$(find p -name libnvsforge.so.0)")
    [[ $(LD_LIBRARY_PATH=$libdir ldd ex-shared) == *"libnvsforge.so.0 => $libdir/libnvsforge.so.0"* ]] ||
        fail "not linked to libnvsforge.so.0: $(LD_LIBRARY_PATH=$libdir ldd ex-shared)" || return 1
    LD_LIBRARY_PATH=$libdir ./ex-shared >shared.bin || fail "ex-shared failed" || return 1
    cmp shared.bin cli.bin || fail "shared: library and command differ" || return 1
    # Static, as the README says.
    expect_ok "${CC:-cc}" ex.c -o ex-static $(PKG_CONFIG_PATH=$pc pkg-config --static --cflags --libs nvsforge | sed 's/-lnvsforge/-l:libnvsforge.a/') || return 1
    ! ldd ex-static | grep -q libnvsforge || fail "ex-static needs the shared library" || return 1
    ./ex-static >static.bin || fail "ex-static failed" || return 1
    cmp static.bin cli.bin || fail "static: library and command differ"
}

test_readme_example_with_cmake_package() {
    expect_ok cmake --install "$BUILD" --prefix "$PWD/p" || return 1
    mkdir app && readme_example >app/ex.c && expected_image || return 1
    for kind in nvsforge nvsforge_static; do
        cat >app/CMakeLists.txt <<CMAKE
cmake_minimum_required(VERSION 3.19)
project(ex C)
find_package(nvsforge 0.2 CONFIG REQUIRED)
add_executable(ex ex.c)
target_link_libraries(ex PRIVATE nvsforge::$kind)
CMAKE
        rm -rf app/build
        expect_ok cmake -S app -B app/build -DCMAKE_PREFIX_PATH="$PWD/p" -DCMAKE_C_COMPILER="${CC:-cc}" || return 1
        expect_ok cmake --build app/build || return 1
        app/build/ex >$kind.bin || fail "$kind: the program failed" || return 1
        cmp $kind.bin cli.bin || fail "$kind: library and command differ" || return 1
    done
}

run_tests
