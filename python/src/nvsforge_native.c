/*
 * nvsforge._native: the CPython extension under the Python package. Every
 * image is made by libnvsforge; this file only moves arguments and results
 * between Python and the library, and turns library errors into
 * nvsforge.Error (its `code` is the NVSF_E_* status). The reference module's
 * names, messages and exceptions live in Python, above it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "commands.h"
#include "error.h"
#include "files.h"
#include "platform.h"
#include "nvsforge/nvsforge.h"

/* None, as a new reference (written out: the static analysers do not read
 * Python.h's Py_RETURN_NONE). */
static PyObject *none(void)
{
    Py_INCREF(Py_None);
    return Py_None;
}

/* nvsforge.Error, which the Python package defines and hands over with
 * set_error_class; RuntimeError until then. */
static PyObject *error_class;

/* Raise nvsforge.Error(code, message) and return NULL. */
static PyObject *raise_error(const nvsf_error *err)
{
    PyObject *e = Py_BuildValue("(is)", err->code, err->message);
    if (e) {
        PyErr_SetObject(error_class ? error_class : PyExc_RuntimeError, e);
        Py_DECREF(e);
    }
    return NULL;
}

static PyObject *py_set_error_class(PyObject *self, PyObject *cls)
{
    (void)self;
    if (!PyExceptionClass_Check(cls))
        return PyErr_Format(PyExc_TypeError, "an exception class is needed");
    Py_INCREF(cls);
    Py_XSETREF(error_class, cls);
    return none();
}

/* Optional 64-byte XTS key argument: None, or exactly 64 bytes. */
static int xts_key_arg(PyObject *obj, Py_buffer *view, const uint8_t **key)
{
    *key = NULL;
    view->obj = NULL;
    if (obj == Py_None)
        return 0;
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len != NVSF_XTS_KEY_SIZE) {
        PyErr_Format(PyExc_ValueError, "an XTS key is %u bytes, not %zd",
                     NVSF_XTS_KEY_SIZE, view->len);
        PyBuffer_Release(view);
        return -1;
    }
    *key = view->buf;
    return 0;
}

static void release(Py_buffer *view)
{
    if (view->obj)
        PyBuffer_Release(view);
}

/* Move a finished image into a bytes object, wiping the C copy. */
static PyObject *image_to_bytes(uint8_t *image, size_t size)
{
    PyObject *out = PyBytes_FromStringAndSize((const char *)image,
                                              (Py_ssize_t)size);
    nvsf_wipe(image, size);
    free(image);
    return out;
}

/* ---- sizes --------------------------------------------------------------- */

static PyObject *py_parse_size(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *text = PyUnicode_AsUTF8(arg);
    if (!text)
        return NULL;
    uint32_t size;
    nvsf_error err = {0};
    if (nvsf_parse_size(text, &size, &err))
        return raise_error(&err);
    return PyLong_FromUnsignedLong(size);
}

/* ---- images from CSV ------------------------------------------------------ */

typedef struct csv_source {
    char *name;    /* for messages */
    uint8_t *text; /* NULL: read the file `name` */
    size_t len;
} csv_source;

/* Build one image from CSV sources, with the GIL released. */
static int build_csv(csv_source *src, Py_ssize_t n, uint32_t size, int version,
                     const uint8_t *key, uint8_t **image, nvsf_error *err)
{
    nvsf_builder *b = NULL;
    nvsf_rows *rows = NULL;
    *image = malloc(size);
    int rc = *image ? 0 : nvsf_fail(err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = nvsf_builder_new(&b, size, version, key, err);
    if (!rc)
        rc = nvsf_rows_new(&rows, b, fs_file_reader, NULL, err);
    for (Py_ssize_t i = 0; !rc && i < n; i++) {
        uint8_t *text = src[i].text;
        size_t len = src[i].len;
        if (!text)
            rc = plat_read_file(src[i].name, &text, &len, err);
        if (!rc)
            rc = nvsf_rows_add_csv(rows, src[i].name, (const char *)text, len,
                                   err);
        if (text != src[i].text) {
            nvsf_wipe(text, len);
            free(text);
        }
    }
    if (!rc)
        rc = nvsf_builder_finish(b, *image, err);
    nvsf_rows_free(rows);
    nvsf_builder_free(b);
    if (rc && *image) {
        free(*image);
        *image = NULL;
    }
    return rc;
}

static void free_sources(csv_source *src, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        free(src[i].name);
        if (src[i].text)
            nvsf_wipe(src[i].text, src[i].len);
        free(src[i].text);
    }
    free(src);
}

/* Copy a Python str into malloc'd UTF-8 (file names use the file-system
 * encoding's error handler, so any name os.listdir gives works). */
static char *path_copy(PyObject *obj)
{
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(obj, &bytes))
        return NULL;
    char *copy = strdup(PyBytes_AS_STRING(bytes));
    Py_DECREF(bytes);
    if (!copy)
        PyErr_NoMemory();
    return copy;
}

static PyObject *run_build(csv_source *src, Py_ssize_t n, unsigned long size,
                           int version, PyObject *key_obj)
{
    Py_buffer key_view;
    const uint8_t *key;
    if (xts_key_arg(key_obj, &key_view, &key) < 0) {
        free_sources(src, n);
        return NULL;
    }
    uint8_t *image = NULL;
    nvsf_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = build_csv(src, n, (uint32_t)size, version, key, &image, &err);
    Py_END_ALLOW_THREADS
    release(&key_view);
    free_sources(src, n);
    if (rc)
        return raise_error(&err);
    return image_to_bytes(image, size);
}

static int check_size_version(unsigned long size, int version)
{
    if (size < NVSF_PAGE_SIZE || size % NVSF_PAGE_SIZE || size > 0x8000000) {
        PyErr_Format(PyExc_ValueError,
                     "size %lu is not a partition size (a multiple of 4096, "
                     "at most 128 MiB)",
                     size);
        return -1;
    }
    if (version != 1 && version != 2) {
        PyErr_Format(PyExc_ValueError, "version must be 1 or 2, not %d",
                     version);
        return -1;
    }
    return 0;
}

/* build_csv_files(paths, size, version, key=None) -> bytes */
static PyObject *py_build_csv_files(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *paths, *key_obj = Py_None;
    unsigned long size;
    int version;
    if (!PyArg_ParseTuple(args, "O!ki|O", &PyList_Type, &paths, &size, &version,
                          &key_obj) ||
        check_size_version(size, version) < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(paths);
    csv_source *src = calloc((size_t)n + 1, sizeof *src);
    if (!src)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(src[i].name = path_copy(PyList_GET_ITEM(paths, i)))) {
            free_sources(src, n);
            return NULL;
        }
    }
    return run_build(src, n, size, version, key_obj);
}

/* build_csv_text(name, csv, size, version, key=None) -> bytes */
static PyObject *py_build_csv_text(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    Py_buffer csv;
    PyObject *key_obj = Py_None;
    unsigned long size;
    int version;
    if (!PyArg_ParseTuple(args, "sy*ki|O", &name, &csv, &size, &version,
                          &key_obj))
        return NULL;
    csv_source *src = calloc(1, sizeof *src);
    if (!src) {
        PyBuffer_Release(&csv);
        return PyErr_NoMemory();
    }
    if (!(src->name = strdup(name)) ||
        !(src->text = malloc((size_t)csv.len + 1))) {
        PyBuffer_Release(&csv);
        free_sources(src, 1);
        return PyErr_NoMemory();
    }
    memcpy(src->text, csv.buf, (size_t)csv.len);
    src->len = (size_t)csv.len;
    PyBuffer_Release(&csv);
    if (check_size_version(size, version) < 0) {
        free_sources(src, 1);
        return NULL;
    }
    return run_build(src, 1, size, version, key_obj);
}

/* ---- the raw builder (nvs_open / write_entry / nvs_close) ---------------- */

typedef struct {
    PyObject_HEAD
    nvsf_builder *b;
    nvsf_rows *rows;
    uint32_t size;
} builder_object;

static void builder_dealloc(builder_object *self)
{
    nvsf_rows_free(self->rows);
    nvsf_builder_free(self->b);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int builder_init(builder_object *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"size", "data_pages", "version", "key", NULL};
    unsigned long size, data_pages;
    int version;
    PyObject *key_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "kki|O", names, &size,
                                     &data_pages, &version, &key_obj) ||
        check_size_version(size, version) < 0)
        return -1;
    if (self->b) {
        PyErr_SetString(PyExc_RuntimeError, "Builder is already initialised");
        return -1;
    }
    Py_buffer key_view;
    const uint8_t *key;
    if (xts_key_arg(key_obj, &key_view, &key) < 0)
        return -1;
    nvsf_error err = {0};
    int rc = nvsf_builder_new_raw(&self->b, (uint32_t)size, (uint32_t)data_pages,
                                  version, key, &err);
    release(&key_view);
    if (!rc)
        rc = nvsf_rows_new(&self->rows, self->b, fs_file_reader, NULL, &err);
    if (rc) {
        raise_error(&err);
        return -1;
    }
    self->size = (uint32_t)size;
    return 0;
}

/* A Builder made by __new__ alone has no builder behind it. */
static int builder_ready(const builder_object *self)
{
    if (self->b)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "the Builder was not initialised");
    return 0;
}

static PyObject *builder_status(int rc, const nvsf_error *err)
{
    if (rc)
        return raise_error(err);
    return none();
}

/* A builder call that takes a namespace name. */
static PyObject *builder_name_call(builder_object *self, PyObject *arg,
                                   int (*call)(nvsf_builder *, const char *,
                                               nvsf_error *))
{
    if (!builder_ready(self))
        return NULL;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    nvsf_error err = {0};
    return builder_status(call(self->b, name, &err), &err);
}

static PyObject *builder_namespace(builder_object *self, PyObject *arg)
{
    return builder_name_call(self, arg, nvsf_builder_namespace);
}

static PyObject *builder_namespace_new(builder_object *self, PyObject *arg)
{
    return builder_name_call(self, arg, nvsf_builder_namespace_new);
}

static PyObject *builder_select_index(builder_object *self, PyObject *arg)
{
    if (!builder_ready(self))
        return NULL;
    unsigned long index = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred())
        return NULL;
    nvsf_error err = {0};
    return builder_status(
        nvsf_builder_select_namespace_index(self->b, (unsigned)index, &err), &err);
}

/* add_row(key, type, encoding, value: bytes): a partition-CSV row. */
static PyObject *builder_add_row(builder_object *self, PyObject *args)
{
    if (!builder_ready(self))
        return NULL;
    const char *key, *type, *encoding;
    Py_buffer value;
    if (!PyArg_ParseTuple(args, "sssy*", &key, &type, &encoding, &value))
        return NULL;
    nvsf_row row = {.key = key,
                    .type = type,
                    .encoding = encoding,
                    .value = value.buf,
                    .value_len = (size_t)value.len};
    /* A `file` row names a file: the library wants it NUL-terminated. */
    char *text = malloc((size_t)value.len + 1);
    if (!text) {
        PyBuffer_Release(&value);
        return PyErr_NoMemory();
    }
    memcpy(text, value.buf, (size_t)value.len);
    text[value.len] = '\0';
    row.value = text;
    nvsf_error err = {0};
    int rc = nvsf_rows_add(self->rows, "write_entry", &row, &err);
    nvsf_wipe(text, (size_t)value.len);
    free(text);
    PyBuffer_Release(&value);
    return builder_status(rc, &err);
}

/* add_value(key, encoding, value: bytes): NVS.write_entry's value. */
static PyObject *builder_add_value(builder_object *self, PyObject *args)
{
    if (!builder_ready(self))
        return NULL;
    const char *key, *encoding;
    Py_buffer value;
    if (!PyArg_ParseTuple(args, "ssy*", &key, &encoding, &value))
        return NULL;
    nvsf_error err = {0};
    int rc = nvsf_rows_add_value(self->rows, key, encoding, value.buf,
                                 (size_t)value.len, &err);
    PyBuffer_Release(&value);
    return builder_status(rc, &err);
}

/* peek(pages) -> bytes: the first pages as they stand. */
static PyObject *builder_peek(builder_object *self, PyObject *arg)
{
    if (!builder_ready(self))
        return NULL;
    unsigned long pages = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred())
        return NULL;
    size_t len = (size_t)pages * NVSF_PAGE_SIZE;
    uint8_t *image = malloc(len ? len : 1);
    if (!image)
        return PyErr_NoMemory();
    nvsf_error err = {0};
    if (nvsf_builder_peek(self->b, image, len, &err)) {
        free(image);
        return raise_error(&err);
    }
    return image_to_bytes(image, len);
}

static PyObject *builder_finish(builder_object *self, PyObject *unused)
{
    if (!builder_ready(self))
        return NULL;
    (void)unused;
    uint8_t *image = malloc(self->size);
    if (!image)
        return PyErr_NoMemory();
    nvsf_error err = {0};
    if (nvsf_builder_finish(self->b, image, &err)) {
        free(image);
        return raise_error(&err);
    }
    return image_to_bytes(image, self->size);
}

static PyObject *builder_get_index(builder_object *self, void *closure)
{
    if (!builder_ready(self))
        return NULL;
    (void)closure;
    return PyLong_FromUnsignedLong(nvsf_builder_namespace_index(self->b));
}

static PyObject *builder_get_count(builder_object *self, void *closure)
{
    if (!builder_ready(self))
        return NULL;
    (void)closure;
    return PyLong_FromUnsignedLong(nvsf_builder_namespace_count(self->b));
}

static PyObject *builder_get_pages_used(builder_object *self, void *closure)
{
    if (!builder_ready(self))
        return NULL;
    (void)closure;
    return PyLong_FromUnsignedLong(nvsf_builder_pages_used(self->b));
}

static PyMethodDef builder_methods[] = {
    {"namespace", (PyCFunction)builder_namespace, METH_O,
     "Select a namespace, declaring it when it is new."},
    {"namespace_new", (PyCFunction)builder_namespace_new, METH_O,
     "Declare a namespace with the next index, even if declared before."},
    {"select_index", (PyCFunction)builder_select_index, METH_O,
     "Namespace index (0..255) of the items that follow."},
    {"add_row", (PyCFunction)builder_add_row, METH_VARARGS,
     "Write a partition-CSV row (key, type, encoding, value bytes)."},
    {"add_value", (PyCFunction)builder_add_value, METH_VARARGS,
     "Write one value (key, encoding, value bytes), no Wi-Fi extras."},
    {"peek", (PyCFunction)builder_peek, METH_O,
     "The first pages of the image as they stand."},
    {"finish", (PyCFunction)builder_finish, METH_NOARGS,
     "The finished image (the builder takes no more items)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef builder_getset[] = {
    {"index", (getter)builder_get_index, NULL, "selected namespace index", NULL},
    {"count", (getter)builder_get_count, NULL, "namespaces declared", NULL},
    {"pages_used", (getter)builder_get_pages_used, NULL, "pages holding data",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject builder_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "nvsforge._native.Builder",
    .tp_basicsize = sizeof(builder_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Builder(size, data_pages, version, key=None): a raw image "
              "builder that writes what it is told.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)builder_init,
    .tp_dealloc = (destructor)builder_dealloc,
    .tp_methods = builder_methods,
    .tp_getset = builder_getset,
};

/* ---- keys ------------------------------------------------------------------ */

static PyObject *py_random_bytes(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n < 0 || n > 4096) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "0 to 4096 random bytes at a time");
        return NULL;
    }
    uint8_t buf[4096];
    nvsf_error err = {0};
    if (nvsf_random_bytes(buf, (size_t)n, &err))
        return raise_error(&err);
    PyObject *out = PyBytes_FromStringAndSize((const char *)buf, n);
    nvsf_wipe(buf, sizeof buf);
    return out;
}

static PyObject *py_key_from_hmac(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_buffer hmac;
    if (PyObject_GetBuffer(arg, &hmac, PyBUF_SIMPLE) < 0)
        return NULL;
    if (hmac.len != NVSF_HMAC_KEY_SIZE) {
        PyBuffer_Release(&hmac);
        return PyErr_Format(PyExc_ValueError, "an HMAC key is %u bytes",
                            NVSF_HMAC_KEY_SIZE);
    }
    uint8_t xts[NVSF_XTS_KEY_SIZE];
    nvsf_error err = {0};
    int rc = nvsf_key_from_hmac(hmac.buf, xts, &err);
    PyBuffer_Release(&hmac);
    if (rc)
        return raise_error(&err);
    PyObject *out = PyBytes_FromStringAndSize((const char *)xts, sizeof xts);
    nvsf_wipe(xts, sizeof xts);
    return out;
}

static PyObject *py_key_partition(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_buffer view;
    const uint8_t *xts;
    if (xts_key_arg(arg, &view, &xts) < 0)
        return NULL;
    if (!xts)
        return PyErr_Format(PyExc_ValueError, "a key is needed");
    uint8_t part[NVSF_KEY_PARTITION_SIZE];
    nvsf_key_partition_make(xts, part);
    release(&view);
    PyObject *out = PyBytes_FromStringAndSize((const char *)part, sizeof part);
    nvsf_wipe(part, sizeof part);
    return out;
}

static PyObject *py_key_partition_read(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    uint8_t xts[NVSF_XTS_KEY_SIZE];
    nvsf_error err = {0};
    int rc = nvsf_key_partition_read(data.buf, (size_t)data.len, xts, &err);
    PyBuffer_Release(&data);
    if (rc)
        return raise_error(&err);
    PyObject *out = PyBytes_FromStringAndSize((const char *)xts, sizeof xts);
    nvsf_wipe(xts, sizeof xts);
    return out;
}

/* image_decrypt(image, key) -> bytes */
static PyObject *py_image_decrypt(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer data;
    PyObject *key_obj;
    if (!PyArg_ParseTuple(args, "y*O", &data, &key_obj))
        return NULL;
    Py_buffer key_view;
    const uint8_t *key;
    if (xts_key_arg(key_obj, &key_view, &key) < 0 || !key) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "a key is needed");
        PyBuffer_Release(&data);
        return NULL;
    }
    size_t size = (size_t)data.len;
    uint8_t *image = malloc(size ? size : 1);
    nvsf_error err = {0};
    int rc = image ? 0 : nvsf_fail(&err, NVSF_E_NOMEM, "out of memory");
    if (!rc)
        rc = nvsf_image_check_key(data.buf, size, key, &err);
    if (!rc) {
        memcpy(image, data.buf, size);
        rc = nvsf_image_decrypt(image, size, key, &err);
    }
    release(&key_view);
    PyBuffer_Release(&data);
    if (rc) {
        free(image);
        return raise_error(&err);
    }
    return image_to_bytes(image, size);
}

/* ---- output files ------------------------------------------------------------ */

/* commit_files([(path, data, is_key), ...]): the pipeline's transaction, as
 * the commands write: each file beside its name first, then all renamed
 * into place or none; keys owner-only and never replacing a file, the
 * others replacing theirs atomically. Each file's data is synced before its
 * rename and a key's folder after it (FS_SYNC_FILES): these calls are the
 * per-device steps of a caller's loop, and without its folder sync a power
 * cut can at worst bring back an image's old version or none, which a
 * rerun remakes. */
static PyObject *py_commit_files(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyList_Check(arg) || PyList_GET_SIZE(arg) > FS_TXN_MAX)
        return PyErr_Format(PyExc_TypeError, "a list of at most %d files is needed",
                            FS_TXN_MAX);
    fs_txn txn = {.sync = FS_SYNC_FILES};
    nvsf_error err = {0};
    int rc = 0;
    for (Py_ssize_t i = 0; !rc && i < PyList_GET_SIZE(arg); i++) {
        PyObject *path_obj, *bytes = NULL;
        Py_buffer data;
        int is_key;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(arg, i), "Oy*p", &path_obj, &data,
                              &is_key)) {
            fs_txn_abort(&txn);
            return NULL;
        }
        if (!PyUnicode_FSConverter(path_obj, &bytes)) {
            PyBuffer_Release(&data);
            fs_txn_abort(&txn);
            return NULL;
        }
        rc = fs_txn_add(&txn, PyBytes_AS_STRING(bytes), data.buf, (size_t)data.len,
                        is_key ? FS_KEY : FS_REMAKEABLE, &err);
        Py_DECREF(bytes);
        PyBuffer_Release(&data);
    }
    if (!rc)
        rc = fs_txn_commit(&txn, &err);
    fs_txn_abort(&txn);
    return rc ? raise_error(&err) : none();
}

/* ---- reading images ------------------------------------------------------- */

static PyObject *item_value(const nvsf_item *it)
{
    switch (it->type) {
    case NVSF_TYPE_U8: case NVSF_TYPE_U16: case NVSF_TYPE_U32:
    case NVSF_TYPE_U64:
        return PyLong_FromUnsignedLongLong(it->value);
    case NVSF_TYPE_I8: case NVSF_TYPE_I16: case NVSF_TYPE_I32:
    case NVSF_TYPE_I64:
        return PyLong_FromLongLong((long long)it->value);
    case NVSF_TYPE_FLOAT: {
        uint32_t bits = (uint32_t)it->value;
        float f;
        memcpy(&f, &bits, sizeof f);
        return PyFloat_FromDouble((double)f);
    }
    case NVSF_TYPE_DOUBLE: {
        double d;
        memcpy(&d, &it->value, sizeof d);
        return PyFloat_FromDouble(d);
    }
    case NVSF_TYPE_STRING: {
        /* Without its NUL; text when it is UTF-8, else the bytes. */
        size_t len = it->len ? it->len - 1 : 0;
        PyObject *s = PyUnicode_DecodeUTF8((const char *)it->data,
                                           (Py_ssize_t)len, "strict");
        if (s)
            return s;
        PyErr_Clear();
        return PyBytes_FromStringAndSize((const char *)it->data,
                                         (Py_ssize_t)len);
    }
    default:
        if (it->data)
            return PyBytes_FromStringAndSize((const char *)it->data,
                                             (Py_ssize_t)it->len);
        return none();
    }
}

static PyObject *item_dict(const nvsf_item *it)
{
    const char *type = it->type == NVSF_TYPE_BLOB_INDEX || it->type == NVSF_TYPE_BLOB
                           ? "blob"
                           : nvsf_item_type_name(it->type);
    PyObject *value = item_value(it);
    if (!value)
        return NULL;
    return Py_BuildValue("{s:z,s:i,s:s,s:s,s:N,s:I,s:I}", "namespace",
                         it->ns_name, "namespace_index", (int)it->ns_index,
                         "key", it->key, "type", type ? type : "unknown",
                         "value", value, "page", it->page, "entry", it->entry);
}

/* read_image(data, key=None) -> (version, items, problems) */
static PyObject *py_read_image(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer data;
    PyObject *key_obj = Py_None;
    if (!PyArg_ParseTuple(args, "y*|O", &data, &key_obj))
        return NULL;
    Py_buffer key_view;
    const uint8_t *key;
    if (xts_key_arg(key_obj, &key_view, &key) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    nvsf_image *img = NULL;
    nvsf_error err = {0};
    int rc = nvsf_image_read(data.buf, (size_t)data.len, key, &img, &err);
    release(&key_view);
    PyBuffer_Release(&data);
    if (rc)
        return raise_error(&err);
    PyObject *items = PyList_New((Py_ssize_t)img->item_count);
    PyObject *problems = PyList_New((Py_ssize_t)img->problem_count);
    PyObject *result = NULL;
    if (!items || !problems)
        goto done;
    for (size_t i = 0; i < img->item_count; i++) {
        PyObject *d = item_dict(&img->items[i]);
        if (!d)
            goto done;
        PyList_SET_ITEM(items, (Py_ssize_t)i, d);
    }
    for (size_t i = 0; i < img->problem_count; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(img->problems[i].message,
                                           (Py_ssize_t)strlen(img->problems[i].message),
                                           "replace");
        if (!s)
            goto done;
        PyList_SET_ITEM(problems, (Py_ssize_t)i, s);
    }
    result = Py_BuildValue("(iOO)", img->version, items, problems);
done:
    Py_XDECREF(items);
    Py_XDECREF(problems);
    nvsf_image_free(img);
    return result;
}

/* ---- changing an image as the device would --------------------------------- */

/* apply_changes(image, name, csv, key=None) -> (changed image, log): the
 * partition CSV's rows applied to a copy of the image, as ESP-IDF's library
 * would write them (nvsf_image_apply_csv). */
static PyObject *py_apply_changes(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer data, csv;
    const char *name;
    PyObject *key_obj = Py_None;
    if (!PyArg_ParseTuple(args, "y*sy*|O", &data, &name, &csv, &key_obj))
        return NULL;
    PyObject *result = NULL;
    Py_buffer key_view;
    const uint8_t *key;
    if (xts_key_arg(key_obj, &key_view, &key) < 0)
        goto done;
    size_t size = (size_t)data.len;
    uint8_t *image = malloc(size ? size : 1);
    if (!image) {
        PyErr_NoMemory();
        release(&key_view);
        goto done;
    }
    memcpy(image, data.buf, size);
    nvsf_edit *ed = NULL;
    nvsf_error err = {0};
    int rc = nvsf_edit_open(&ed, image, size, key, &err);
    if (!rc)
        rc = nvsf_image_apply_csv(ed, name, csv.buf, (size_t)csv.len, fs_file_reader,
                                  NULL, &err);
    release(&key_view);
    if (rc) {
        raise_error(&err);
    } else {
        const char *log = nvsf_edit_log(ed);
        result = Py_BuildValue("(y#s)", (const char *)image, (Py_ssize_t)size, log);
    }
    nvsf_edit_close(ed);
    nvsf_wipe(image, size);
    free(image);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&csv);
    return result;
}

/* ---- the manufacturing batch ----------------------------------------------- */

/* Python's side of the batch's callbacks. They run with the GIL released
 * around the batch, maybe on a worker thread: each takes the GIL itself. */
typedef struct batch_bridge {
    PyObject *progress; /* callable or None */
    PyObject *warnings; /* list of str */
    int failed;         /* the callback raised (Ctrl-C included): */
    PyObject *exc_type, *exc_value, *exc_tb; /* kept for the caller's thread */
} batch_bridge;

static int bridge_progress(void *ctx, enum batch_phase phase, size_t done,
                           size_t total, int final)
{
    batch_bridge *br = ctx;
    PyGILState_STATE gil = PyGILState_Ensure();
    /* Ctrl-C stops the batch, which removes its files. */
    int failed = br->failed || PyErr_CheckSignals() < 0;
    if (!failed && br->progress != Py_None) {
        PyObject *r = PyObject_CallFunction(
            br->progress, "snnO", phase == BATCH_CHECKING ? "checking" : "writing",
            (Py_ssize_t)done, (Py_ssize_t)total, final ? Py_True : Py_False);
        failed = !r;
        Py_XDECREF(r);
    }
    if (failed && !br->failed) {
        /* This may be a worker thread: the exception goes to the caller. */
        PyErr_Fetch(&br->exc_type, &br->exc_value, &br->exc_tb);
        br->failed = 1;
    }
    int stop = br->failed;
    PyGILState_Release(gil);
    return stop;
}

static void bridge_warning(void *ctx, const char *message)
{
    batch_bridge *br = ctx;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *m = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message),
                                       "replace");
    if (!m || PyList_Append(br->warnings, m) < 0) {
        /* A warning lost for lack of memory is not worth a batch. */
        PyErr_Clear();
    }
    Py_XDECREF(m);
    PyGILState_Release(gil);
}

/* An optional str keyword argument as UTF-8 file-system text (malloc'd). */
static int opt_path(PyObject *obj, char **out)
{
    *out = NULL;
    if (obj == Py_None)
        return 0;
    *out = path_copy(obj);
    return *out ? 0 : -1;
}

/* mfg_generate(conf, values, prefix, size, outdir, version, fileid,
 *              counter_start, counter_digits, shard_k, shard_n, jobs,
 *              keygen, inputkey, key_protect_hmac, kp_hmac_keygen,
 *              kp_hmac_keyfile, kp_hmac_inputkey, progress, command_line)
 *   -> (devices_total, devices_made, manifest_path, warnings)
 * command_line: a list of text, what run.json records as the run's command.
 * counter_start < 0: no counter. The Python layer checks and documents
 * the arguments. */
static PyObject *py_mfg_generate(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *conf, *values, *prefix, *outdir, *fileid, *inputkey, *hmac_file,
        *hmac_input, *progress, *command_line;
    unsigned long size;
    long long counter_start;
    int version, counter_digits, jobs, keygen, protect, hmac_keygen;
    unsigned long shard_k, shard_n;
    if (!PyArg_ParseTuple(args, "OOOkOiOLikkipOppOOOO!", &conf, &values, &prefix,
                          &size, &outdir, &version, &fileid, &counter_start,
                          &counter_digits, &shard_k, &shard_n, &jobs, &keygen,
                          &inputkey, &protect, &hmac_keygen, &hmac_file,
                          &hmac_input, &progress, &PyList_Type, &command_line))
        return NULL;
    Py_ssize_t nline = PyList_GET_SIZE(command_line);
    const char **line = PyMem_Calloc((size_t)nline + 1, sizeof *line);
    if (!line)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < nline; i++) {
        PyObject *word = PyList_GET_ITEM(command_line, i);
        if (!PyUnicode_Check(word)) {
            PyMem_Free(line);
            return PyErr_Format(PyExc_TypeError, "command_line must be a list of text");
        }
        /* UTF-8 kept by the list's own strings, alive for this call. */
        if (!(line[i] = PyUnicode_AsUTF8(word))) {
            PyMem_Free(line);
            return NULL;
        }
    }
    char *text[8] = {0};
    PyObject *objs[8] = {conf, values, prefix, outdir, fileid, inputkey,
                         hmac_file, hmac_input};
    PyObject *result = NULL;
    for (int i = 0; i < 8; i++)
        if (opt_path(objs[i], &text[i]) < 0)
            goto done;
    batch_options o;
    memset(&o, 0, sizeof o);
    o.conf = text[0];
    o.values = text[1];
    o.prefix = text[2];
    o.size = (uint32_t)size;
    o.version = version;
    o.fileid = text[4];
    o.use_counter = counter_start >= 0;
    o.counter_start = counter_start;
    o.counter_digits = counter_digits;
    o.shard_k = shard_k;
    o.shard_n = shard_n;
    o.jobs = jobs;
    o.outdir = text[3];
    o.keys.keygen = keygen;
    o.keys.inputkey = text[5];
    o.keys.key_protect_hmac = protect;
    o.keys.kp_hmac_keygen = hmac_keygen;
    o.keys.kp_hmac_keyfile = text[6];
    o.keys.kp_hmac_inputkey = text[7];
    o.command_line = line;
    o.command_line_len = (size_t)nline;
    batch_bridge br = {.progress = progress, .warnings = PyList_New(0)};
    if (!br.warnings)
        goto done;
    batch_callbacks cb = {.ctx = &br, .progress = bridge_progress,
                          .warning = bridge_warning};
    batch_result res = {0};
    nvsf_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = batch_run(&o, &cb, &res, &err);
    Py_END_ALLOW_THREADS
    if (br.failed)
        PyErr_Restore(br.exc_type, br.exc_value, br.exc_tb);
    else if (rc)
        raise_error(&err);
    else
        result = Py_BuildValue("(nnsO)", (Py_ssize_t)res.devices_total,
                               (Py_ssize_t)res.devices_made,
                               res.manifest_path ? res.manifest_path : "",
                               br.warnings);
    batch_result_free(&res);
    Py_DECREF(br.warnings);
done:
    for (int i = 0; i < 8; i++)
        free(text[i]);
    PyMem_Free(line);
    return result;
}

/* ---- the command line ------------------------------------------------------ */

/* partition_main(argv) -> exit code: `nvs_partition_gen` itself, argv[0]
 * being its name. Output goes to the process's stdout and stderr. */
static PyObject *py_partition_main(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyList_Check(arg))
        return PyErr_Format(PyExc_TypeError, "argv must be a list");
    Py_ssize_t argc = PyList_GET_SIZE(arg);
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    if (!argv)
        return PyErr_NoMemory();
    int ok = 1;
    for (Py_ssize_t i = 0; ok && i < argc; i++)
        ok = (argv[i] = path_copy(PyList_GET_ITEM(arg, i))) != NULL;
    int rc = 0;
    if (ok) {
        /* The command's own signal handling (Ctrl-C removes its temporary
         * files) while it runs; Python's again afterwards, for a caller of
         * main() that goes on. */
        static const int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGXFSZ};
        struct sigaction saved[sizeof signals / sizeof signals[0]];
        for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
            sigaction(signals[i], NULL, &saved[i]);
        plat_interrupt_install();
        Py_BEGIN_ALLOW_THREADS
        rc = cmd_partition("nvs_partition_gen", (int)argc, argv);
        fflush(stdout);
        fflush(stderr);
        Py_END_ALLOW_THREADS
        for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
            sigaction(signals[i], &saved[i], NULL);
    }
    for (Py_ssize_t i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    return ok ? PyLong_FromLong(rc) : NULL;
}

static PyMethodDef native_methods[] = {
    {"set_error_class", py_set_error_class, METH_O,
     "set_error_class(cls): the exception raised as cls(code, message)."},
    {"parse_size", py_parse_size, METH_O,
     "parse_size(text) -> bytes, as the commands read a partition size."},
    {"build_csv_files", py_build_csv_files, METH_VARARGS,
     "build_csv_files(paths, size, version, key=None) -> image bytes."},
    {"build_csv_text", py_build_csv_text, METH_VARARGS,
     "build_csv_text(name, csv_bytes, size, version, key=None) -> image bytes."},
    {"random_bytes", py_random_bytes, METH_O,
     "random_bytes(n) -> n bytes from the operating system's CSPRNG."},
    {"key_from_hmac", py_key_from_hmac, METH_O,
     "key_from_hmac(hmac32) -> the 64-byte XTS key ESP-IDF derives."},
    {"key_partition", py_key_partition, METH_O,
     "key_partition(xts64) -> the 4096-byte key partition image."},
    {"key_partition_read", py_key_partition_read, METH_O,
     "key_partition_read(data) -> the XTS key of a key file's bytes."},
    {"image_decrypt", py_image_decrypt, METH_VARARGS,
     "image_decrypt(image, xts64) -> the decrypted image; a key that does "
     "not fit the image is refused (E_KEY)."},
    {"commit_files", py_commit_files, METH_O,
     "commit_files([(path, data, is_key), ...]): all written, or none."},
    {"read_image", py_read_image, METH_VARARGS,
     "read_image(data, key=None) -> (version, items, problems)."},
    {"apply_changes", py_apply_changes, METH_VARARGS,
     "apply_changes(image, name, csv, key=None) -> (image, log)."},
    {"mfg_generate", py_mfg_generate, METH_VARARGS,
     "The manufacturing batch of mfg_gen generate (see nvsforge.mfg_generate)."},
    {"partition_main", py_partition_main, METH_O,
     "partition_main(argv) -> exit code of the nvs_partition_gen command."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "nvsforge._native",
    "libnvsforge for Python: images, keys and the nvs_partition_gen command.",
    -1, native_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void)
{
    if (PyType_Ready(&builder_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (!m)
        return NULL;
    Py_INCREF(&builder_type);
    if (PyModule_AddObject(m, "Builder", (PyObject *)&builder_type) < 0 ||
        PyModule_AddStringConstant(m, "VERSION", NVSF_VERSION_STRING) < 0 ||
        PyModule_AddIntConstant(m, "E_INPUT", NVSF_E_INPUT) < 0 ||
        PyModule_AddIntConstant(m, "E_RANGE", NVSF_E_RANGE) < 0 ||
        PyModule_AddIntConstant(m, "E_FULL", NVSF_E_FULL) < 0 ||
        PyModule_AddIntConstant(m, "E_IO", NVSF_E_IO) < 0 ||
        PyModule_AddIntConstant(m, "E_FORMAT", NVSF_E_FORMAT) < 0 ||
        PyModule_AddIntConstant(m, "E_KEY", NVSF_E_KEY) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
