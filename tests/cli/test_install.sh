#!/usr/bin/env bash
# cmake --install: commands, library, header, pkg-config file, man pages;
# a program built against the installed library with pkg-config.
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

test_pkg_config_builds_a_program() {
    expect_ok cmake --install "$BUILD" --prefix "$PWD/p" || return 1
    cat >prog.c <<'C'
#include <stdio.h>
#include <nvsforge/nvsforge.h>
int main(void)
{
    nvsf_error err;
    nvsf_builder *b;
    static uint8_t image[0x3000];
    if (nvsf_builder_new(&b, sizeof image, 2, NULL, &err) ||
        nvsf_builder_namespace(b, "factory", &err) ||
        nvsf_builder_add_uint(b, "serial", NVSF_TYPE_U32, 1234, &err) ||
        nvsf_builder_add_string(b, "model", "X1", 2, &err) ||
        nvsf_builder_finish(b, image, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    nvsf_builder_free(b);
    fwrite(image, 1, sizeof image, stdout);
    return 0;
}
C
    local pc; pc=$(dirname "$(find p -name nvsforge.pc)")
    local flags; flags=$(PKG_CONFIG_PATH=$pc pkg-config --static --cflags --libs nvsforge) || { fail "pkg-config"; return 1; }
    expect_ok "${CC:-cc}" -std=c11 prog.c -o prog $flags || return 1
    ./prog >lib.bin || { fail "the program failed"; return 1; }
    printf 'key,type,encoding,value\nfactory,namespace,,\nserial,data,u32,1234\nmodel,data,string,X1\n' >in.csv
    expect_ok p/bin/nvs_partition_gen generate in.csv cli.bin 0x3000 || return 1
    cmp lib.bin cli.bin || fail "library and command differ"
}

run_tests
