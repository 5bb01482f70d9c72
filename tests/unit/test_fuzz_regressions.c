/*
 * One test per finding of the fuzzers in fuzz/ (their inputs are kept in
 * fuzz/regressions/<harness>/ and replayed by every fuzz/run.sh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "nvsforge/nvsforge.h"

/* fuzz_partition_csv, null-error-changes-the-code: nvsforge.h lets err be
 * NULL, but a row's error then came back as NVSF_E_USAGE (adding the
 * "source:line" prefix needs the code kept in err) instead of its own. */
static void test_rows_null_error_keeps_the_code(void **state)
{
    (void)state;
    static const char csv[] = "key,type,encoding,value\n"
                              "ns,namespace,,\n"
                              "k,data,u8,300\n";
    for (int with_err = 0; with_err < 2; with_err++) {
        nvsf_builder *b = NULL;
        nvsf_rows *rows = NULL;
        nvsf_error err;
        assert_int_equal(nvsf_builder_new(&b, 0x3000, 2, NULL, NULL), 0);
        assert_int_equal(nvsf_rows_new(&rows, b, NULL, NULL, NULL), 0);
        assert_int_equal(nvsf_rows_add_csv(rows, "in.csv", csv, strlen(csv),
                                           with_err ? &err : NULL),
                         NVSF_E_RANGE);
        nvsf_row row = {.key = "k2", .type = "data", .encoding = "hex2bin",
                        .value = "abc", .value_len = 3, .line = 7};
        assert_int_equal(nvsf_rows_add(rows, "in.csv", &row,
                                       with_err ? &err : NULL),
                         NVSF_E_INPUT);
        nvsf_rows_free(rows);
        nvsf_builder_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_null_error_keeps_the_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
