/* The registry's as-of-time lookup in C: one address at one time, and batches of them.
 *
 * Python cannot answer one address as fast as a bare bit-set probe: the frame of a Python method
 * alone costs what roaring's whole C probe costs. So a `Finder` reads the columns of the
 * compiled indexes (policysim.policies.registry_index.GrantIndex) through the buffer protocol,
 * with no copy, and answers (address, time) -> category code in C. Its bound `contains` is what
 * `RegistryView.contains` is, so a lookup costs one C call and no Python frame.
 *
 * The semantics are those of `GrantIndex.finder` (the pure-Python reference, used when this
 * module was not built): the address space is cut into pieces, each listing the grants that
 * cover it most specific first; the first grant holding at the time, whose category bit is in
 * the mask, answers. Addresses under prefixes changed since the index was built (`stale`) and
 * families without an index go to the registry's exact path, a Python callable.
 *
 * A registry change bumps a counter the Finder reads through a buffer (one int64); when it no
 * longer matches the one the Finder was set up for, the Finder calls `refresh` (which calls
 * `reset` with the new columns) before answering.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define NONE (-1)
#define LAYOUT 3 /* registry_index.LAYOUT: the columns below, as registry_index writes them */
#define NCOLUMNS 4 /* pieces, blocks, windows, codes */

/* bytes per item of each column; IPv4 piece records are 32-bit words, IPv6 ones 64-bit; the
 * windows' 0 stands for either width, 32-bit seconds or floats (see family_columns) */
static const Py_ssize_t ITEMSIZE[2][NCOLUMNS] = {{4, 4, 0, 1}, {8, 4, 0, 1}};
#define WINDOWS 2 /* the column of the windows */
/* registry_index.NEVER and LATEST: 32-bit windows hold 0 for "no start" and NEVER for "no
 * end", and a lookup's time is clamped (see clamped) before they are compared with it */
#define NEVER 4294967295.0
#define LATEST (NEVER - 0.5)

/* One piece of address space is one record of `pieces`: IPv4 (start, first row) as 32-bit
 * words, IPv6 (start's high 64 bits, low 64 bits, first row) as 64-bit ones; its rows end where
 * the next piece's begin. A row is a grant's window in `windows` (start, until), 32-bit
 * seconds or floats, and its category in `codes`. Each lookup touches
 * the block table, one or two piece records and, when the piece has grants, their rows: the
 * fewest cache lines for an index far larger than the caches. */
typedef struct {
    int indexed;               /* 1: the columns below answer; 0: `exact` answers everything */
    Py_buffer views[NCOLUMNS]; /* held while indexed */
    const uint32_t *pieces4; /* IPv4 records */
    const uint64_t *pieces6; /* IPv6 records */
    const int32_t *blocks;
    const double *windows;   /* the windows as floats (NULL when they are seconds) */
    const uint32_t *seconds; /* the windows as 32-bit seconds (NULL when they are floats) */
    const int8_t *codes;
    Py_ssize_t npieces, rows, nblocks;
    int stride; /* words per piece record: 2 (IPv4) or 3 (IPv6) */
    int shift;
    PyObject *stale; /* callable(value) -> bool, or NULL: addresses sent to `exact` */
    PyObject *exact; /* callable(value, ts) -> code */
} Family;

/* ---- the columns --------------------------------------------------------------------------- */

static void family_clear(Family *f) {
    if (f->indexed) {
        for (int i = 0; i < NCOLUMNS; i++) PyBuffer_Release(&f->views[i]);
        f->indexed = 0;
    }
    Py_CLEAR(f->stale);
    Py_CLEAR(f->exact);
}

/* Takes the columns of one index, a tuple (pieces, blocks, windows, codes, shift), checking
 * sizes so that no index read can leave its column. */
static int family_columns(Family *f, PyObject *columns, int version) {
    const Py_ssize_t *itemsize = ITEMSIZE[version == 6];
    if (!PyTuple_Check(columns) || PyTuple_GET_SIZE(columns) != NCOLUMNS + 1) {
        PyErr_SetString(PyExc_TypeError, "index columns: a tuple of 4 arrays and a shift");
        return -1;
    }
    int taken = 0;
    for (; taken < NCOLUMNS; taken++) {
        Py_buffer *view = &f->views[taken];
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(columns, taken), view, PyBUF_C_CONTIGUOUS) < 0)
            goto fail;
        Py_ssize_t expected = itemsize[taken];
        if (taken == WINDOWS) expected = view->itemsize == 4 ? 4 : 8;
        if (view->itemsize != expected || view->len % expected) {
            taken++;
            PyErr_Format(PyExc_ValueError, "index column %d: items of %zd bytes, not %zd", taken,
                         view->itemsize, expected);
            goto fail;
        }
    }
    long shift = PyLong_AsLong(PyTuple_GET_ITEM(columns, NCOLUMNS));
    if (shift == -1 && PyErr_Occurred()) goto fail;
    Py_ssize_t width = version == 4 ? 32 : 128;
    f->stride = version == 4 ? 2 : 3;
    f->pieces4 = f->views[0].buf;
    f->pieces6 = f->views[0].buf;
    f->blocks = f->views[1].buf;
    int seconds = f->views[WINDOWS].itemsize == 4;
    f->windows = seconds ? NULL : f->views[WINDOWS].buf;
    f->seconds = seconds ? f->views[WINDOWS].buf : NULL;
    f->codes = f->views[3].buf;
    f->npieces = f->views[0].len / (itemsize[0] * f->stride);
    f->rows = f->views[3].len;
    f->nblocks = f->views[1].len / 4;
    f->shift = (int)shift;
    if (f->npieces < 1 || shift < 0 || shift > width ||
        f->views[0].len != itemsize[0] * f->stride * f->npieces ||
        f->views[WINDOWS].len != 2 * f->views[WINDOWS].itemsize * f->rows ||
        (version == 4 && f->nblocks != ((Py_ssize_t)1 << (32 - shift)) + 1) ||
        (version == 6 && f->nblocks < 2)) {
        PyErr_SetString(PyExc_ValueError, "its index columns do not fit together");
        goto fail;
    }
    f->indexed = 1;
    return 0;
fail:
    for (int i = 0; i < taken; i++) PyBuffer_Release(&f->views[i]);
    return -1;
}

/* ---- one address ----------------------------------------------------------------------------- */

/* A lookup's time as 32-bit windows compare it (registry_index.clamped): between "no start"
 * and "no end", infinity itself at "no end" where no window holds; a NaN stays one. */
static inline double clamped(double ts) {
    if (ts > LATEST) return isinf(ts) ? NEVER : LATEST;
    return ts < 0.0 ? 0.0 : ts;
}

/* Whether the window of `row` holds `ts` (clamped first when the windows are seconds). */
static inline int holds(const Family *f, uint64_t row, double ts) {
    if (f->seconds != NULL)
        return (double)f->seconds[2 * row] <= ts && ts < (double)f->seconds[2 * row + 1];
    return f->windows[2 * row] <= ts && ts < f->windows[2 * row + 1];
}

/* The first row of `piece` holding at `ts` with its category in `mask` (its code), or NONE;
 * `bits`, when given, gathers every holding category. */
static inline int scan(const Family *f, Py_ssize_t piece, double ts, uint64_t mask,
                       uint64_t *bits) {
    uint64_t begin, end = (uint64_t)f->rows;
    if (f->stride == 2) {
        const uint32_t *record = f->pieces4 + 2 * piece;
        begin = record[1];
        if (piece + 1 < f->npieces) end = record[3];
    } else {
        const uint64_t *record = f->pieces6 + 3 * piece;
        begin = record[2];
        if (piece + 1 < f->npieces) end = record[5];
    }
    if (end > (uint64_t)f->rows) return NONE;
    if (f->seconds != NULL) ts = clamped(ts);
    int answer = NONE;
    for (uint64_t row = begin; row < end; row++) {
        if (holds(f, row, ts)) {
            int code = f->codes[row];
            if (code < 0 || code > 63) continue;
            if (bits == NULL) {
                if (mask >> code & 1) return code;
            } else {
                *bits |= (uint64_t)1 << code;
                if (answer == NONE) answer = code;
            }
        }
    }
    return answer;
}

/* The piece holding IPv4 `value`: a bisect among the bounds of its block of the top-bits table. */
static inline Py_ssize_t piece4(const Family *f, uint32_t value) {
    Py_ssize_t block = (Py_ssize_t)((uint64_t)value >> f->shift);
    Py_ssize_t lo = f->blocks[block], hi = (Py_ssize_t)f->blocks[block + 1] + 1;
    if (lo < 0) lo = 0;
    if (hi > f->npieces) hi = f->npieces;
    if (hi - lo <= 64) { /* a few records: read in a row, their loads overlap (a bisect's wait
                          * on each other) */
        while (lo < hi && f->pieces4[2 * lo] <= value) lo++;
        return lo - 1;
    }
    while (lo < hi) { /* bisect_right */
        Py_ssize_t mid = (lo + hi) >> 1;
        if (value < f->pieces4[2 * mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo - 1;
}

static inline Py_ssize_t piece6(const Family *f, uint64_t high, uint64_t low) {
    Py_ssize_t lo = 0, hi = f->npieces;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) >> 1;
        uint64_t bh = f->pieces6[3 * mid], bl = f->pieces6[3 * mid + 1];
        if (high < bh || (high == bh && low < bl)) hi = mid;
        else lo = mid + 1;
    }
    return lo - 1;
}

/* An IPv6 value as two 64-bit halves; -1 with an exception when it is not one. */
static int split128(PyObject *value, uint64_t *high, uint64_t *low) {
    if (!PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "an address value must be an int");
        return -1;
    }
    unsigned char bytes[16];
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t needed = PyLong_AsNativeBytes(
        value, bytes, 16, Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
                              Py_ASNATIVEBYTES_REJECT_NEGATIVE);
    if (needed < 0) return -1;
    if (needed > 16) {
        PyErr_SetString(PyExc_OverflowError, "an IPv6 address value has 128 bits");
        return -1;
    }
#else
    if (_PyLong_AsByteArray((PyLongObject *)value, bytes, 16, 1, 0) < 0) return -1;
#endif
    memcpy(low, bytes, 8);
    memcpy(high, bytes + 8, 8);
    return 0;
}

static PyObject *FOUR; /* the int 4 */

typedef struct {
    PyObject_HEAD
    Family family[2]; /* IPv4, IPv6 */
    uint64_t mask;
    Py_buffer clock; /* one int64: the registry's generation */
    int64_t generation;
    PyObject *refresh;
    PyObject *weakrefs;
} Finder;

/* Calls `exact(value, ts)` and reads its code. */
static int call_exact(PyObject *exact, PyObject *value, PyObject *ts) {
    PyObject *args[2] = {value, ts};
    PyObject *result = PyObject_Vectorcall(exact, args, 2, NULL);
    if (result == NULL) return -2;
    long code = PyLong_AsLong(result);
    Py_DECREF(result);
    if (code == -1 && PyErr_Occurred()) return -2;
    return (int)code;
}

/* The code answering `ip` (a (version, value) tuple) at `ts`; -2 with an exception set. */
static int finder_code(Finder *self, PyObject *ip, PyObject *ts) {
    if (*(const int64_t *)self->clock.buf != self->generation) {
        PyObject *done = PyObject_CallNoArgs(self->refresh);
        if (done == NULL) return -2;
        Py_DECREF(done);
    }
    if (!PyTuple_Check(ip) || PyTuple_GET_SIZE(ip) != 2) {
        PyErr_SetString(PyExc_TypeError, "an address is a (version, value) tuple");
        return -2;
    }
    PyObject *family = PyTuple_GET_ITEM(ip, 0);
    long version = family == FOUR ? 4 : PyLong_AsLong(family); /* small ints are shared */
    if (version == -1 && PyErr_Occurred()) return -2;
    if (version != 4 && version != 6) {
        PyErr_Format(PyExc_ValueError, "IP version %ld: only 4 and 6 exist", version);
        return -2;
    }
    PyObject *value = PyTuple_GET_ITEM(ip, 1);
    Family *f = &self->family[version == 6];
    if (f->stale != NULL) {
        PyObject *hit = PyObject_CallOneArg(f->stale, value);
        if (hit == NULL) return -2;
        int stale = PyObject_IsTrue(hit);
        Py_DECREF(hit);
        if (stale < 0) return -2;
        if (stale) return call_exact(f->exact, value, ts);
    }
    if (!f->indexed) {
        if (f->exact == NULL) return NONE; /* not set up yet */
        return call_exact(f->exact, value, ts);
    }
    double when = PyFloat_CheckExact(ts) ? PyFloat_AS_DOUBLE(ts) : PyFloat_AsDouble(ts);
    if (when == -1.0 && PyErr_Occurred()) return -2;
    Py_ssize_t piece;
    if (version == 4) {
        unsigned long v = PyLong_AsUnsignedLong(value);
        if (v == (unsigned long)-1 && PyErr_Occurred()) return -2;
        if (v > 0xFFFFFFFFUL) {
            PyErr_SetString(PyExc_OverflowError, "an IPv4 address value has 32 bits");
            return -2;
        }
        piece = piece4(f, (uint32_t)v);
    } else {
        uint64_t high, low;
        if (split128(value, &high, &low) < 0) return -2;
        piece = piece6(f, high, low);
    }
    if (piece < 0) return NONE;
    return scan(f, piece, when, self->mask, NULL);
}

static PyObject *Finder_contains(Finder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "contains(ip, ts) takes 2 arguments");
        return NULL;
    }
    int code = finder_code(self, args[0], args[1]);
    if (code == -2) return NULL;
    return PyBool_FromLong(code != NONE);
}

static PyObject *Finder_code(Finder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "code(ip, ts) takes 2 arguments");
        return NULL;
    }
    int code = finder_code(self, args[0], args[1]);
    if (code == -2) return NULL;
    return PyLong_FromLong(code);
}

/* reset(generation, mask, four, six): each family a tuple (columns or None, stale or None,
 * exact), as in the module docstring. */
static int family_set(Family *f, PyObject *spec, int version) {
    PyObject *columns, *stale, *exact;
    if (!PyArg_ParseTuple(spec, "OOO", &columns, &stale, &exact)) return -1;
    Family fresh = {0};
    if (columns != Py_None && family_columns(&fresh, columns, version) < 0) return -1;
    if (stale != Py_None) fresh.stale = Py_NewRef(stale);
    fresh.exact = Py_NewRef(exact);
    family_clear(f);
    *f = fresh;
    return 0;
}

static PyObject *Finder_reset(Finder *self, PyObject *args) {
    long long generation;
    PyObject *mask, *four, *six;
    if (!PyArg_ParseTuple(args, "LOO!O!", &generation, &mask, &PyTuple_Type, &four,
                          &PyTuple_Type, &six))
        return NULL;
    unsigned long long bits = PyLong_AsUnsignedLongLongMask(mask);
    if (bits == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (family_set(&self->family[0], four, 4) < 0 || family_set(&self->family[1], six, 6) < 0)
        return NULL;
    self->mask = bits;
    self->generation = generation;
    Py_RETURN_NONE;
}

static PyObject *Finder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *clock, *refresh;
    static char *names[] = {"clock", "refresh", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:Finder", names, &clock, &refresh))
        return NULL;
    Finder *self = (Finder *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    if (PyObject_GetBuffer(clock, &self->clock, PyBUF_C_CONTIGUOUS) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    if (self->clock.len < 8 || self->clock.itemsize != 8) {
        PyBuffer_Release(&self->clock);
        self->clock.obj = NULL;
        Py_DECREF(self);
        PyErr_SetString(PyExc_ValueError, "the clock is one int64");
        return NULL;
    }
    self->generation = *(const int64_t *)self->clock.buf - 1; /* refresh on first use */
    self->refresh = Py_NewRef(refresh);
    return (PyObject *)self;
}

static int Finder_traverse(Finder *self, visitproc visit, void *arg) {
    for (int i = 0; i < 2; i++) {
        Py_VISIT(self->family[i].stale);
        Py_VISIT(self->family[i].exact);
    }
    Py_VISIT(self->refresh);
    return 0;
}

static int Finder_clear(Finder *self) {
    for (int i = 0; i < 2; i++) {
        Py_CLEAR(self->family[i].stale);
        Py_CLEAR(self->family[i].exact);
    }
    Py_CLEAR(self->refresh);
    return 0;
}

static void Finder_dealloc(Finder *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL) PyObject_ClearWeakRefs((PyObject *)self);
    Finder_clear(self);
    for (int i = 0; i < 2; i++) family_clear(&self->family[i]);
    if (self->clock.obj != NULL) PyBuffer_Release(&self->clock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Finder_methods[] = {
    {"contains", (PyCFunction)(void (*)(void))Finder_contains, METH_FASTCALL,
     "contains(ip, ts): whether ip = (version, value) is registered at ts in the mask's"
     " categories."},
    {"code", (PyCFunction)(void (*)(void))Finder_code, METH_FASTCALL,
     "code(ip, ts): the category code answering ip at ts, or -1."},
    {"reset", (PyCFunction)Finder_reset, METH_VARARGS,
     "reset(generation, mask, four, six): answer from these columns, each family a tuple"
     " (index columns or None, stale probe or None, exact callable)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FinderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "policysim.policies._finder.Finder",
    .tp_basicsize = sizeof(Finder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One address at one time against a registry's compiled indexes, in C.",
    .tp_new = Finder_new,
    .tp_dealloc = (destructor)Finder_dealloc,
    .tp_traverse = (traverseproc)Finder_traverse,
    .tp_clear = (inquiry)Finder_clear,
    .tp_weaklistoffset = offsetof(Finder, weakrefs),
    .tp_methods = Finder_methods,
};

/* ---- batches --------------------------------------------------------------------------------- */

/* probe(version, columns, values, ts, codes, bits): for addresses of one family at times ts
 * (float64), writes the answering code (int8, NONE if none) and the mask of holding categories
 * (uint64) into the given output arrays. IPv4 values are uint32; IPv6 ones two uint64 each, the
 * high half first. */
static PyObject *probe(PyObject *module, PyObject *args) {
    int version;
    PyObject *columns, *objects[4];
    if (!PyArg_ParseTuple(args, "iO!OOOO", &version, &PyTuple_Type, &columns, &objects[0],
                          &objects[1], &objects[2], &objects[3]))
        return NULL;
    if (version != 4 && version != 6) {
        PyErr_Format(PyExc_ValueError, "IP version %d: only 4 and 6 exist", version);
        return NULL;
    }
    Family f = {0};
    if (family_columns(&f, columns, version) < 0) return NULL;
    Py_buffer views[4];
    const Py_ssize_t sizes[4] = {version == 4 ? 4 : 8, 8, 1, 8};
    const Py_ssize_t words = version == 4 ? 1 : 2; /* value items per address */
    int taken = 0;
    PyObject *result = NULL;
    for (; taken < 4; taken++) {
        int flags = taken >= 2 ? PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE : PyBUF_C_CONTIGUOUS;
        if (PyObject_GetBuffer(objects[taken], &views[taken], flags) < 0) goto done;
        if (views[taken].itemsize != sizes[taken]) {
            taken++;
            PyErr_SetString(PyExc_ValueError, "probe: uint32 (IPv4) or uint64 (IPv6) values,"
                                              " float64 times, int8 codes, uint64 bits");
            goto done;
        }
    }
    Py_ssize_t n = views[1].len / 8;
    if (views[0].len != n * words * sizes[0] || views[2].len != n || views[3].len / 8 != n) {
        PyErr_SetString(PyExc_ValueError, "probe: columns of different lengths");
        goto done;
    }
    const uint32_t *values4 = views[0].buf;
    const uint64_t *values6 = views[0].buf;
    const double *ts = views[1].buf;
    int8_t *codes = views[2].buf;
    uint64_t *bits = views[3].buf;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t piece = version == 4 ? piece4(&f, values4[i])
                                        : piece6(&f, values6[2 * i], values6[2 * i + 1]);
        uint64_t held = 0;
        codes[i] = (int8_t)(piece < 0 ? NONE : scan(&f, piece, ts[i], 0, &held));
        bits[i] = held;
    }
    Py_END_ALLOW_THREADS;
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < taken; i++) PyBuffer_Release(&views[i]);
    family_clear(&f);
    return result;
}

static PyMethodDef module_methods[] = {
    {"probe", probe, METH_VARARGS,
     "probe(version, columns, values, ts, codes, bits): a batch of addresses of one family at"
     " their times."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_finder",
    "The registry's as-of-time lookup in C (see policysim.policies.registry_index).", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__finder(void) {
    if (PyType_Ready(&FinderType) < 0) return NULL;
    FOUR = PyLong_FromLong(4);
    if (FOUR == NULL) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    /* the column layout this build reads; registry_index ignores a build of another one */
    if (PyModule_AddIntConstant(m, "LAYOUT", LAYOUT) < 0 ||
        PyModule_AddObjectRef(m, "Finder", (PyObject *)&FinderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
