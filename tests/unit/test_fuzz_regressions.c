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

#include "csv.h"
#include "mfg.h"
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

/* The same for a device line whose --fileid value cannot name a file: it
 * came back as NVSF_E_USAGE without an nvsf_error. */
static void test_mfg_null_error_keeps_the_code(void **state)
{
    (void)state;
    static const char config[] = "ns,namespace,\nid,data,string\n";
    static const char values[] = "id\n..\n";
    nvsf_mfg *m = NULL;
    assert_int_equal(nvsf_mfg_new(&m, "config.csv", config, strlen(config),
                                  NULL),
                     0);
    nvsf_csv_reader *r =
        nvsf_csv_reader_mem("values.csv", values, strlen(values), 0);
    assert_non_null(r);
    nvsf_csv_record rec;
    assert_int_equal(nvsf_csv_next(r, &rec, NULL), 1);
    assert_int_equal(nvsf_mfg_set_header(m, "values.csv", &rec, "id", NULL), 0);
    assert_int_equal(nvsf_csv_next(r, &rec, NULL), 1);
    nvsf_mfg_device dev;
    assert_int_equal(nvsf_mfg_device_from(m, &rec, &dev, NULL), NVSF_E_INPUT);
    nvsf_csv_reader_free(r);
    nvsf_mfg_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_null_error_keeps_the_code),
        cmocka_unit_test(test_mfg_null_error_keeps_the_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
