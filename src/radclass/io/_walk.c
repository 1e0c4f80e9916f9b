/* radclass.io._walk: the raw element walk of radclass.io.raw_dataset, compiled.
 *
 * The same walk as the pure-Python one in raw_dataset.py (which stays the fallback): tags and lengths over a
 * little-endian DICOM file's bytes, no value decoded. It returns where the wanted elements lie (tag, VR, length,
 * value offset, end), so the caller hands the same bytes to pydicom's converters. Every structural check of the
 * Python walk is made here in the same order; a file the walk does not take raises Refused.
 *
 *   top(data, pos, implicit, keep, groups, stop, is_seq) -> (elements, pos, stopped)
 *   items(data, vpos, length, implicit, is_seq) -> (items, end)
 *
 * data: a buffer (an mmap); keep: sorted native uint32 tags, groups: sorted native uint16 groups, stop: sorted
 * uint32 tags at which top() returns when such an element is kept and not empty (the functional groups, which
 * the caller reads item by item); is_seq(tag, vpos) -> bool: pydicom's rule for an implicit VR element of
 * undefined length (a dictionary lookup, rare, so asked of Python).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define UNDEF 0xFFFFFFFFu
#define ITEM 0xFFFEE000u
#define ITEM_END 0xFFFEE00Du
#define SEQ_END 0xFFFEE0DDu

static PyObject *Refused;
static uint8_t vr_kind[65536];  /* 0: not a VR, 1: short-length VR, 2: 4-byte-length VR */
static PyObject *vr_bytes[65536]; /* interned 2-byte VR objects, for the VRs only */
static const uint16_t VR_SQ = ('S' | ('Q' << 8));
static const uint32_t PIXEL_TAGS[3] = {0x7FE00008u, 0x7FE00009u, 0x7FE00010u};

typedef struct {
    const uint8_t *d;
    Py_ssize_t size;
    int implicit;
    PyObject *is_seq;
} Walk;

static inline uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int refuse(const char *why) {
    PyErr_SetString(Refused, why);
    return -1;
}

/* pydicom's rule for an implicit VR element of undefined length (1: a sequence, 0: not, -1: error). */
static int implicit_is_sequence(Walk *w, uint32_t tag, Py_ssize_t vpos) {
    PyObject *r = PyObject_CallFunction(w->is_seq, "kn", (unsigned long)tag, vpos);
    if (r == NULL) return -1;
    int truth = PyObject_IsTrue(r);
    Py_DECREF(r);
    return truth;
}

/* Push a value on a walk's stack of open sequences and items, moving it to the heap (doubled) when full
   (0, or -1 with MemoryError set). */
static int push(Py_ssize_t **stack, const Py_ssize_t *local, Py_ssize_t *cap, Py_ssize_t *n, Py_ssize_t value) {
    if (*n == *cap) {
        Py_ssize_t *bigger = PyMem_Malloc(sizeof(Py_ssize_t) * *cap * 2);
        if (bigger == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(bigger, *stack, sizeof(Py_ssize_t) * *cap);
        if (*stack != local) PyMem_Free(*stack);
        *stack = bigger;
        *cap *= 2;
    }
    (*stack)[(*n)++] = value;
    return 0;
}

/* Offset after an undefined-length sequence value starting at pos (raw_dataset._Walker.sequence_end). */
static Py_ssize_t sequence_end(Walk *w, Py_ssize_t pos) {
    const uint8_t *d = w->d;
    Py_ssize_t size = w->size;
    Py_ssize_t cap = 64, n = 0;
    Py_ssize_t local[64];
    Py_ssize_t *stack = local;
    Py_ssize_t result = -1;
    /* -1: in a sequence of undefined length; -2: in an item of undefined length; >= 0: an item ending there */
    stack[n++] = -1;
    while (n) {
        Py_ssize_t top = stack[n - 1];
        if (top == -1) {
            if (pos + 8 > size) { refuse("end of file inside a sequence"); goto done; }
            uint16_t g = u16(d + pos), e = u16(d + pos + 2);
            if (g != 0xFFFE) { refuse("not an item"); goto done; }
            if (e == 0xE0DD) {
                n--;
            } else if (e == 0xE000) {
                uint32_t ilen = u32(d + pos + 4);
                if (push(&stack, local, &cap, &n, ilen == UNDEF ? -2 : pos + 8 + (Py_ssize_t)ilen) < 0) goto done;
            } else {
                refuse("not an item");
                goto done;
            }
            pos += 8;
            continue;
        }
        for (;;) { /* the elements of an item, until its end or a nested undefined-length sequence */
            if (top >= 0 && pos >= top) {
                if (pos != top) { refuse("item length mismatch"); goto done; }
                n--;
                break;
            }
            if (pos + 8 > size) { refuse("end of file inside a sequence"); goto done; }
            uint16_t g = u16(d + pos), e = u16(d + pos + 2), vr = u16(d + pos + 4);
            uint32_t length = u16(d + pos + 6);
            Py_ssize_t vpos;
            int is_sq; /* -1: unknown (implicit VR) */
            if (g == 0xFFFE) {
                if (e == 0xE00D && top == -2) {
                    n--;
                    pos += 8;
                    break;
                }
                refuse("delimiter inside an item");
                goto done;
            }
            if (w->implicit) {
                length = u32(d + pos + 4);
                vpos = pos + 8;
                is_sq = -1;
            } else if (vr_kind[vr] == 2) {
                if (pos + 12 > size) { refuse("short element header"); goto done; }
                length = u32(d + pos + 8);
                vpos = pos + 12;
                is_sq = vr == VR_SQ;
            } else if (vr_kind[vr] == 1) {
                vpos = pos + 8;
                is_sq = 0;
            } else {
                refuse("unknown VR");
                goto done;
            }
            if (length == UNDEF) {
                if (is_sq == -1) {
                    is_sq = implicit_is_sequence(w, (uint32_t)g << 16 | e, vpos);
                    if (is_sq < 0) goto done;
                }
                if (is_sq) {
                    if (push(&stack, local, &cap, &n, -1) < 0) goto done;
                    pos = vpos;
                    break;
                }
                refuse("undefined length value that is not a sequence");
                goto done;
            }
            pos = vpos + length;
            if (pos > size) { refuse("value past the end of the file"); goto done; }
        }
    }
    result = pos;
done:
    if (stack != local) PyMem_Free(stack);
    return result;
}

/* Offset after a value (raw_dataset._Walker.value_end); vr 0 for implicit VR. -1 with an exception set. */
static Py_ssize_t value_end(Walk *w, uint32_t tag, uint16_t vr, uint32_t length, Py_ssize_t vpos) {
    if (length != UNDEF) {
        Py_ssize_t end = vpos + (Py_ssize_t)length;
        if (end > w->size) { refuse("value past the end of the file"); return -1; }
        return end;
    }
    int sq;
    if (vr == 0) {
        sq = implicit_is_sequence(w, tag, vpos);
        if (sq < 0) return -1;
    } else {
        sq = vr == VR_SQ;
    }
    if (sq) return sequence_end(w, vpos);
    refuse("undefined length value that is not a sequence");
    return -1;
}

/* The element header at pos (raw_dataset._Walker.element): 0 at the end of the data, 1 found, -1 error. */
static int element(Walk *w, Py_ssize_t pos, uint32_t *tag, uint16_t *vr, uint32_t *length, Py_ssize_t *vpos) {
    const uint8_t *d = w->d;
    if (pos + 8 > w->size) return 0;
    uint16_t g = u16(d + pos), e = u16(d + pos + 2);
    *tag = (uint32_t)g << 16 | e;
    if (w->implicit || g == 0xFFFE) {
        *vr = 0;
        *length = u32(d + pos + 4);
        *vpos = pos + 8;
        return 1;
    }
    uint16_t v = u16(d + pos + 4);
    if (vr_kind[v] == 2) {
        if (pos + 12 > w->size) return refuse("short element header");
        *vr = v;
        *length = u32(d + pos + 8);
        *vpos = pos + 12;
        return 1;
    }
    if (vr_kind[v] != 1) return refuse("unknown VR");
    *vr = v;
    *length = u16(d + pos + 6);
    *vpos = pos + 8;
    return 1;
}

static int in_sorted32(const uint32_t *a, Py_ssize_t n, uint32_t x) {
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && a[lo] == x;
}

static int in_sorted16(const uint16_t *a, Py_ssize_t n, uint16_t x) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (a[i] == x) return 1;
    return 0;
}

static PyObject *vr_object(uint16_t vr) {
    PyObject *o = vr ? vr_bytes[vr] : Py_None;
    Py_INCREF(o);
    return o;
}

/* (tag, VR or None, length, start or value offset, end) as a new tuple. */
static PyObject *entry(uint32_t tag, uint16_t vr, uint32_t length, Py_ssize_t at, Py_ssize_t end) {
    return Py_BuildValue("(kNknn)", (unsigned long)tag, vr_object(vr), (unsigned long)length, at, end);
}

/* Offset after encapsulated pixel data (raw_dataset._encapsulated_end). */
static Py_ssize_t encapsulated_end(Walk *w, Py_ssize_t pos) {
    for (;;) {
        if (pos + 8 > w->size) { refuse("end of file inside encapsulated pixel data"); return -1; }
        uint16_t g = u16(w->d + pos), e = u16(w->d + pos + 2);
        uint32_t length = u32(w->d + pos + 4);
        if (g == 0xFFFE && e == 0xE0DD) return pos + 8;
        if (!(g == 0xFFFE && e == 0xE000) || length == UNDEF) {
            refuse("not an item in encapsulated pixel data");
            return -1;
        }
        pos += 8 + (Py_ssize_t)length;
    }
}

/* A buffer of native unsigned integers of ``itemsize`` bytes (the sorted tag and group arrays). */
static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize) {
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) return -1;
    if (view->len % itemsize != 0) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "A tag array must hold whole %zd-byte entries, not %zd bytes.", itemsize,
                     view->len);
        return -1;
    }
    return 0;
}

static PyObject *walk_top(PyObject *self, PyObject *args) {
    PyObject *data_obj, *keep_obj, *groups_obj, *stop_obj, *is_seq;
    Py_ssize_t pos;
    int implicit;
    if (!PyArg_ParseTuple(args, "OnpOOOO", &data_obj, &pos, &implicit, &keep_obj, &groups_obj, &stop_obj, &is_seq))
        return NULL;
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "The walk cannot start at a negative offset.");
        return NULL;
    }
    Py_buffer data, keep, groups, stop;
    if (PyObject_GetBuffer(data_obj, &data, PyBUF_SIMPLE) < 0) return NULL;
    if (get_buffer(keep_obj, &keep, 4) < 0) { PyBuffer_Release(&data); return NULL; }
    if (get_buffer(groups_obj, &groups, 2) < 0) { PyBuffer_Release(&data); PyBuffer_Release(&keep); return NULL; }
    if (get_buffer(stop_obj, &stop, 4) < 0) {
        PyBuffer_Release(&data); PyBuffer_Release(&keep); PyBuffer_Release(&groups);
        return NULL;
    }
    const uint32_t *keep_tags = keep.buf, *stop_tags = stop.buf;
    const uint16_t *keep_groups = groups.buf;
    Py_ssize_t n_keep = keep.len / 4, n_groups = groups.len / 2, n_stop = stop.len / 4;
    Walk w = {data.buf, data.len, implicit, is_seq};
    const uint8_t *d = w.d;
    PyObject *out = PyList_New(0), *stopped = NULL, *result = NULL;
    if (out == NULL) goto done;
    while (pos + 8 <= w.size) {
        uint16_t g = u16(d + pos), e = u16(d + pos + 2), vr = u16(d + pos + 4);
        uint32_t tag = (uint32_t)g << 16 | e, length = u16(d + pos + 6);
        Py_ssize_t vpos, end;
        if (implicit || g == 0xFFFE) {
            length = u32(d + pos + 4);
            vpos = pos + 8;
        } else if (vr_kind[vr] == 2) {
            if (pos + 12 > w.size) { refuse("short element header"); goto done; }
            length = u32(d + pos + 8);
            vpos = pos + 12;
        } else if (vr_kind[vr] == 1) {
            vpos = pos + 8;
        } else {
            refuse("unknown VR");
            goto done;
        }
        int kept = in_sorted32(keep_tags, n_keep, tag) || in_sorted16(keep_groups, n_groups, g);
        if (!kept && length != UNDEF && g != 0xFFFE) { /* an element nobody reads */
            pos = vpos + (Py_ssize_t)length;
            if (pos > w.size) { refuse("value past the end of the file"); goto done; }
            continue;
        }
        if (implicit || g == 0xFFFE) vr = 0;
        if (tag == ITEM_END) break; /* pydicom ends a top-level dataset here too */
        if (g == 0xFFFE) { refuse("delimiter at top level"); goto done; }
        if (tag == PIXEL_TAGS[0] || tag == PIXEL_TAGS[1] || tag == PIXEL_TAGS[2]) {
            if (length == UNDEF) {
                end = encapsulated_end(&w, vpos);
                if (end < 0) goto done;
            } else {
                end = vpos + (Py_ssize_t)length;
            }
            if (kept) {
                PyObject *t = entry(tag, vr, length, vpos, end);
                if (t == NULL || PyList_Append(out, t) < 0) { Py_XDECREF(t); goto done; }
                Py_DECREF(t);
            }
            pos = end;
            continue;
        }
        if (kept && length && in_sorted32(stop_tags, n_stop, tag)) {
            stopped = entry(tag, vr, length, vpos, pos);
            if (stopped == NULL) goto done;
            break;
        }
        end = value_end(&w, tag, vr, length, vpos);
        if (end < 0) goto done;
        if (kept) {
            PyObject *t = entry(tag, vr, length, vpos, end);
            if (t == NULL || PyList_Append(out, t) < 0) { Py_XDECREF(t); goto done; }
            Py_DECREF(t);
        }
        pos = end;
    }
    result = Py_BuildValue("(OnO)", out, pos, stopped ? stopped : Py_None);
done:
    Py_XDECREF(out);
    Py_XDECREF(stopped);
    PyBuffer_Release(&data);
    PyBuffer_Release(&keep);
    PyBuffer_Release(&groups);
    PyBuffer_Release(&stop);
    return result;
}

static PyObject *walk_items(PyObject *self, PyObject *args) {
    PyObject *data_obj, *is_seq;
    Py_ssize_t vpos;
    unsigned long length_arg;
    int implicit;
    if (!PyArg_ParseTuple(args, "OnkpO", &data_obj, &vpos, &length_arg, &implicit, &is_seq)) return NULL;
    if (vpos < 0) {
        PyErr_SetString(PyExc_ValueError, "A sequence value cannot start at a negative offset.");
        return NULL;
    }
    Py_buffer data;
    if (PyObject_GetBuffer(data_obj, &data, PyBUF_SIMPLE) < 0) return NULL;
    Walk w = {data.buf, data.len, implicit, is_seq};
    uint32_t length = (uint32_t)length_arg;
    int bounded = length != UNDEF;
    Py_ssize_t end = vpos + (Py_ssize_t)length, pos = vpos;
    PyObject *out = PyList_New(0), *elements = NULL, *result = NULL;
    if (out == NULL) goto done;
    while (!bounded || pos < end) {
        uint32_t tag, ilen;
        uint16_t vr;
        Py_ssize_t ipos;
        int found = element(&w, pos, &tag, &vr, &ilen, &ipos);
        if (found < 0) goto done;
        if (!found || tag != ITEM) {
            if (found && tag == SEQ_END && !bounded) {
                result = Py_BuildValue("(On)", out, ipos);
                goto done;
            }
            refuse("not an item");
            goto done;
        }
        int item_bounded = ilen != UNDEF;
        Py_ssize_t iend = ipos + (Py_ssize_t)ilen;
        pos = ipos;
        elements = PyList_New(0);
        if (elements == NULL) goto done;
        int delimited = 0;
        while (!item_bounded || pos < iend) {
            uint32_t etag, elen;
            uint16_t evr;
            Py_ssize_t epos;
            found = element(&w, pos, &etag, &evr, &elen, &epos);
            if (found < 0) goto done;
            if (!found) { refuse("end of file inside an item"); goto done; }
            if (etag == ITEM_END && !item_bounded) {
                pos = epos;
                delimited = 1;
                break;
            }
            if (etag >> 16 == 0xFFFE) { refuse("delimiter inside an item"); goto done; }
            Py_ssize_t next = value_end(&w, etag, evr, elen, epos);
            if (next < 0) goto done;
            PyObject *t = entry(etag, evr, elen, pos, next);
            if (t == NULL || PyList_Append(elements, t) < 0) { Py_XDECREF(t); goto done; }
            Py_DECREF(t);
            pos = next;
        }
        if (!delimited && pos != iend) { refuse("item length mismatch"); goto done; }
        if (PyList_Append(out, elements) < 0) goto done;
        Py_CLEAR(elements);
    }
    if (pos != end) { refuse("sequence length mismatch"); goto done; }
    result = Py_BuildValue("(On)", out, pos);
done:
    Py_XDECREF(out);
    Py_XDECREF(elements);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"top", walk_top, METH_VARARGS,
     "top(data, pos, implicit, keep, groups, stop, is_seq) -> (elements, pos, stopped): the kept top-level "
     "elements from pos on as (tag, VR, length, value offset, end)."},
    {"items", walk_items, METH_VARARGS,
     "items(data, vpos, length, implicit, is_seq) -> (items, end): the elements of each item of a sequence "
     "value as (tag, VR, length, start, end)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_walk",
                                    "The raw element walk of radclass.io.raw_dataset, compiled.", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__walk(void) {
    static const char *vrs[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT",
                                "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
                                "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV", NULL};
    static const char *long_vrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV",
                                     NULL};
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    for (int i = 0; vrs[i]; i++) {
        uint16_t code = (uint16_t)((uint8_t)vrs[i][0] | ((uint8_t)vrs[i][1] << 8));
        vr_kind[code] = 1;
        vr_bytes[code] = PyBytes_FromStringAndSize(vrs[i], 2);
        if (vr_bytes[code] == NULL) return NULL;
    }
    for (int i = 0; long_vrs[i]; i++) vr_kind[(uint8_t)long_vrs[i][0] | ((uint8_t)long_vrs[i][1] << 8)] = 2;
    Refused = PyErr_NewException("radclass.io._walk.Refused", PyExc_ValueError, NULL);
    if (Refused == NULL || PyModule_AddObjectRef(m, "Refused", Refused) < 0) return NULL;
    return m;
}
