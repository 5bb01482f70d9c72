/*
 * lib/mfg.c: the manufacturing tool's join of a config CSV and a values CSV,
 * with the reference's rules (ESP-IDF mfg_gen.py): which header columns
 * are keys, which column each key's value comes from, the file id, and the
 * device CSV's bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"
#include "csv.h"
#include "mfg.h"
#include "nvsforge/nvsforge.h"
#include "value.h"

typedef struct join {
    nvsf_mfg *m;
    nvsf_csv_reader *values;
    nvsf_csv_record rec;
    nvsf_error err;
} join;

/* Parse the config and bind the values file's header; returns its code. */
static int join_open(join *j, const char *config, const char *values,
                     const char *fileid)
{
    memset(j, 0, sizeof *j);
    assert_int_equal(nvsf_mfg_new(&j->m, "config.csv", config, strlen(config),
                                  &j->err),
                     0);
    j->values = nvsf_csv_reader_mem("values.csv", values, strlen(values),
                                    NVSF_CSV_SKIP_BLANK);
    assert_non_null(j->values);
    assert_int_equal(nvsf_csv_next(j->values, &j->rec, &j->err), 1);
    return nvsf_mfg_set_header(j->m, "values.csv", &j->rec, fileid, &j->err);
}

static void join_next(join *j, nvsf_mfg_device *dev)
{
    assert_int_equal(nvsf_csv_next(j->values, &j->rec, &j->err), 1);
    assert_int_equal(nvsf_mfg_device_from(j->m, &j->rec, dev, &j->err), 0);
}

static void join_close(join *j)
{
    nvsf_csv_reader_free(j->values);
    nvsf_mfg_free(j->m);
}

static void assert_value(const nvsf_mfg_device *dev, size_t row,
                         const char *key, const char *value)
{
    assert_string_equal(dev->rows[row].key, key);
    assert_int_equal(dev->rows[row].value_len, strlen(value));
    assert_memory_equal(dev->rows[row].value, value, strlen(value));
}

static void test_values_from_their_columns(void **state)
{
    (void)state;
    join j;
    assert_int_equal(join_open(&j, "ns,namespace,\nserial,data,string\nport,data,u8\n",
                               "id,serial,batch,port\n1,A1,B7,5\n", "id"),
                     0);
    nvsf_mfg_device dev;
    join_next(&j, &dev);
    assert_string_equal(dev.id, "1");
    assert_value(&dev, 1, "serial", "A1");
    assert_value(&dev, 2, "port", "5");
    assert_int_equal(dev.nborrowed, 0);
    join_close(&j);
}

/* The reference takes a key's value from the first column, from just after
 * the previous key's, whose name or value is the key's name. */
static void test_value_borrowed_from_a_column_holding_the_name(void **state)
{
    (void)state;
    join j;
    assert_int_equal(join_open(&j, "ns,namespace,\n1,data,u8\nname,data,string\n",
                               "id,1,batch,name\n1,50,name,A\n2,60,x,B\n", "id"),
                     0);
    nvsf_mfg_device dev;
    join_next(&j, &dev);
    assert_value(&dev, 1, "1", "1"); /* the id's value, as the reference */
    assert_value(&dev, 2, "name", "name"); /* batch's value */
    assert_int_equal(dev.nborrowed, 2);
    assert_string_equal(dev.borrowed[0].key, "1");
    assert_string_equal(dev.borrowed[0].column_name, "id");
    assert_int_equal(dev.borrowed[0].column, 0);
    assert_int_equal(dev.borrowed[0].own_column, 1);
    assert_false(dev.borrowed[0].is_fileid);
    assert_string_equal(dev.borrowed[1].key, "name");
    assert_string_equal(dev.borrowed[1].column_name, "batch");

    join_next(&j, &dev); /* id 2: every value from its own column */
    assert_value(&dev, 1, "1", "60");
    assert_value(&dev, 2, "name", "B");
    assert_int_equal(dev.nborrowed, 0);
    join_close(&j);
}

/* After a borrowed value, the next key scans on from that column: the key's
 * own column, passed over, can lend its value too. */
static void test_borrowing_moves_the_scan(void **state)
{
    (void)state;
    join j;
    assert_int_equal(join_open(&j, "ns,namespace,\na,data,string\nb,data,string\n",
                               "m,a,b\na,b,z\n", NULL),
                     0);
    nvsf_mfg_device dev;
    join_next(&j, &dev);
    assert_value(&dev, 1, "a", "a"); /* from m */
    assert_value(&dev, 2, "b", "b"); /* from a's own column */
    assert_int_equal(dev.nborrowed, 2);
    assert_null(dev.id);
    join_close(&j);
}

/* A name twice in the config: when the first key borrows, the scan for
 * the second passes by the first's own column, which has its name. */
static void test_borrowing_with_a_name_twice(void **state)
{
    (void)state;
    join j;
    assert_int_equal(join_open(&j, "n,namespace,\n2,data,string\nm,namespace,\n2,data,string\n",
                               "id,2,2\n1,x,y\n2,p,q\n", NULL),
                     0);
    nvsf_mfg_device dev;
    join_next(&j, &dev);
    assert_value(&dev, 1, "2", "x");
    assert_value(&dev, 3, "2", "y");
    join_next(&j, &dev);
    assert_value(&dev, 1, "2", "2"); /* id's value */
    assert_value(&dev, 3, "2", "p"); /* the first '2' column */
    assert_int_equal(dev.nborrowed, 2);
    assert_int_equal(dev.borrowed[1].column, 1);
    assert_int_equal(dev.borrowed[1].own_column, 2);
    join_close(&j);
}

/* REPEAT values go by name: the first column of the REPEAT key's name,
 * here the earlier namespace's key of the same name. */
static void test_repeat_column_by_name(void **state)
{
    (void)state;
    join j;
    assert_int_equal(join_open(&j, "a,namespace,\nk,data,string\nb,namespace,\nk,data,string,REPEAT\n",
                               "k,k\nx,y\n,\n", NULL),
                     0);
    nvsf_mfg_device dev;
    join_next(&j, &dev);
    join_next(&j, &dev);
    assert_value(&dev, 1, "k", "x"); /* filled in from the first line */
    assert_value(&dev, 3, "k", "");
    assert_int_equal(dev.ncreated, 2);
    assert_string_equal(dev.created[0], "x");
    assert_string_equal(dev.created[1], "");
    join_close(&j);
}

static void test_fileid_borrowed(void **state)
{
    (void)state;
    join j;
    assert_int_equal(join_open(&j, "ns,namespace,\nk,data,u8\n",
                               "batch,k,serial\nserial,5,S1\nB,6,S2\n", "serial"),
                     0);
    nvsf_mfg_device dev;
    join_next(&j, &dev);
    assert_string_equal(dev.id, "serial");
    assert_int_equal(dev.nborrowed, 1);
    assert_true(dev.borrowed[0].is_fileid);
    assert_string_equal(dev.borrowed[0].key, "serial");
    assert_string_equal(dev.borrowed[0].column_name, "batch");
    join_next(&j, &dev);
    assert_string_equal(dev.id, "S2");
    assert_int_equal(dev.nborrowed, 0);
    join_close(&j);
}

/* The header's key-named columns must begin with the config keys in
 * config order; later extra ones are metadata. */
static void test_header_binding(void **state)
{
    (void)state;
    static const char config[] = "ns,namespace,\na,data,u8\nb,data,u8\n";
    join j;
    assert_int_equal(join_open(&j, config, "a,a,b\n1,2,3\n", NULL), NVSF_E_INPUT);
    assert_string_equal(j.err.message,
                        "config.csv:3: key 'b' is out of order in the header "
                        "of values.csv (column 2 is 'a'): the values file must "
                        "name the config keys in config order");
    join_close(&j);

    assert_int_equal(join_open(&j, config, "b,a,b\n1,2,3\n", NULL), NVSF_E_INPUT);
    assert_string_equal(j.err.message,
                        "config.csv:2: key 'a' is out of order in the header "
                        "of values.csv (column 1 is 'b'): the values file must "
                        "name the config keys in config order");
    join_close(&j);

    assert_int_equal(join_open(&j, config, "id,a\n1,2\n", NULL), NVSF_E_INPUT);
    assert_string_equal(j.err.message,
                        "config.csv:3: key 'b' is not found in the header of "
                        "values.csv: the values file must have a column for "
                        "every config key");
    join_close(&j);

    nvsf_mfg_device dev;
    assert_int_equal(join_open(&j, config, "a,b,a\n1,2,3\n", NULL), 0);
    join_next(&j, &dev);
    assert_value(&dev, 1, "a", "1");
    assert_value(&dev, 2, "b", "2");
    join_close(&j);

    /* The same key in two namespaces: two columns, in order. */
    assert_int_equal(join_open(&j, "n1,namespace,\nk,data,u8\nn2,namespace,\nk,data,u8\n",
                               "k,k\n1,2\n", NULL),
                     0);
    join_next(&j, &dev);
    assert_value(&dev, 1, "k", "1");
    assert_value(&dev, 3, "k", "2");
    join_close(&j);
}

/* The device CSV copies a namespace line's third cell, as the reference. */
static void test_device_csv_bytes(void **state)
{
    (void)state;
    join j;
    assert_int_equal(join_open(&j, "ns,namespace,foo\nk,data,string\n",
                               "k\n\"a,\"\"b\"\n", NULL),
                     0);
    nvsf_mfg_device dev;
    join_next(&j, &dev);
    nvsf_buf out = {0};
    assert_int_equal(nvsf_mfg_write_device_csv(j.m, &dev, &out), 0);
    static const char want[] = "key,type,encoding,value\r\n"
                               "ns,namespace,foo,\r\n"
                               "k,data,string,\"a,\"\"b\"\r\n";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    nvsf_buf_free(&out);
    join_close(&j);
}

/* An error message cut to its buffer ends on a whole UTF-8 character,
 * wherever the cut falls (one extra ASCII byte moves it by one). */
static void test_long_message_stays_utf8(void **state)
{
    (void)state;
    for (int shift = 0; shift < 2; shift++) {
        char values[2048] = "id,k\n";
        if (shift)
            strcat(values, "a");
        for (int i = 0; i < 700; i++)
            strcat(values, "\xc3\xa9"); /* é */
        strcat(values, "/,1\n");
        join j;
        assert_int_equal(join_open(&j, "ns,namespace,\nk,data,u8\n", values, "id"), 0);
        assert_int_equal(nvsf_csv_next(j.values, &j.rec, &j.err), 1);
        nvsf_mfg_device dev;
        assert_int_equal(nvsf_mfg_device_from(j.m, &j.rec, &dev, &j.err),
                         NVSF_E_INPUT);
        size_t n = strlen(j.err.message);
        assert_true(n > NVSF_ERROR_MAX - 8);
        assert_true(nvsf_utf8_valid((const uint8_t *)j.err.message, n));
        join_close(&j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_from_their_columns),
        cmocka_unit_test(test_value_borrowed_from_a_column_holding_the_name),
        cmocka_unit_test(test_borrowing_moves_the_scan),
        cmocka_unit_test(test_borrowing_with_a_name_twice),
        cmocka_unit_test(test_repeat_column_by_name),
        cmocka_unit_test(test_fileid_borrowed),
        cmocka_unit_test(test_header_binding),
        cmocka_unit_test(test_device_csv_bytes),
        cmocka_unit_test(test_long_message_stays_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
