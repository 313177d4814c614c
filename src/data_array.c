/* data_array.c - binary array files: IDX (the MNIST format) and numpy .npy,
 * gzip-compressed or plain (see data.h).
 *
 * Both formats are a small header that declares an element type and a
 * shape, followed by the elements in C order.  Each is parsed into an
 * arr_hdr_t; one reader then converts the first rows to float (features)
 * or int (labels), and reads on to the end to check that the file holds
 * exactly what its header declares: a truncated file, or one with trailing
 * bytes (a header that does not belong to its data), is refused rather
 * than trained on.  zlib's gz* functions read plain files unchanged, so
 * "gzip or plain" needs no detection of ours.
 *
 * No MPI, no HDF5: like the rest of the numeric core this module only
 * needs libc and zlib.
 */
#include "aesweep/data.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define DATA_MAX_COLS 4096 /* scaler_t's width, as for CSV and HDF5 */
#define ARR_MAX_DIMS 8

enum elem_kind { E_U8, E_I8, E_I16, E_I32, E_I64, E_U16, E_U32, E_U64, E_F32, E_F64 };
static const int elem_size[] = {1, 1, 2, 4, 8, 2, 4, 8, 4, 8};
static const char *const elem_name[] = {"uint8", "int8", "int16", "int32", "int64",
                                        "uint16", "uint32", "uint64", "float32", "float64"};

typedef struct {
    int kind;          /* enum elem_kind */
    int big_endian;    /* IDX: always; npy: '>' */
    int ndims;
    uint64_t dims[ARR_MAX_DIMS];
    uint64_t header_bytes;
    const char *format; /* "IDX" or ".npy", for messages */
} arr_hdr_t;

static void one_line(char *err)
{
    for (unsigned char *c = (unsigned char *)err; *c; c++)
        if (*c < 32 || *c == 127) *c = '?';
}

/* Read exactly n bytes; returns the count read (short at end of file or on
 * an error, told apart by gz_failed). */
static size_t gz_read_n(gzFile f, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int k = gzread(f, (char *)buf + got, chunk);
        if (k <= 0) break;
        got += (size_t)k;
    }
    return got;
}

/* A zlib error (a corrupt gzip stream), as text; NULL when the stream is fine. */
static const char *gz_failed(gzFile f, const char *path)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(f, &zerr);
    if (zerr == Z_OK || zerr == Z_STREAM_END) return NULL;
    if (zerr == Z_ERRNO) return strerror(errno);
    size_t pl = strlen(path); /* zlib prefixes its message with the path */
    if (zmsg && !strncmp(zmsg, path, pl) && !strncmp(zmsg + pl, ": ", 2)) zmsg += pl + 2;
    return zmsg ? zmsg : "zlib error";
}

static void shape_text(char *out, size_t len, const arr_hdr_t *h)
{
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < h->ndims && k < len; i++)
        k += (size_t)snprintf(out + k, len - k, "%s%llu", i ? " x " : "", (unsigned long long)h->dims[i]);
}

static gzFile open_gz(const char *path, const char *what, char *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, DATA_ERR_LEN, "%s: cannot open (%s); check the path of the %s file", path, strerror(errno), what);
        return NULL;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, DATA_ERR_LEN, "%s: is a directory, not a %s file; give the path of the file", path, what);
        return NULL;
    }
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, DATA_ERR_LEN, "%s: cannot open (%s); check the path and its permissions", path, strerror(errno));
        return NULL;
    }
    gzbuffer(f, 1 << 17);
    return f;
}

/* ---- headers ----------------------------------------------------------- */

/* IDX (LeCun et al., the MNIST files): bytes 0 0, a type code, the number
 * of dimensions, then each dimension as a big-endian uint32; elements are
 * big-endian. */
static int idx_header(gzFile f, const char *path, arr_hdr_t *h, char *err)
{
    unsigned char m[4];
    size_t got = gz_read_n(f, m, 4);
    const char *z = gz_failed(f, path);
    if (z) {
        snprintf(err, DATA_ERR_LEN, "%s: read error in the IDX header (%s); the file is truncated or corrupt, re-create or re-download it", path, z);
        return -1;
    }
    if (got < 4) {
        snprintf(err, DATA_ERR_LEN, "%s: %zu bytes, too short for an IDX header (4 bytes of magic number, then the dimensions); the file is truncated or not IDX", path, got);
        return -1;
    }
    int kind = m[2] == 0x08 ? E_U8 : m[2] == 0x09 ? E_I8 : m[2] == 0x0B ? E_I16 : m[2] == 0x0C ? E_I32
             : m[2] == 0x0D ? E_F32 : m[2] == 0x0E ? E_F64 : -1;
    if (m[0] || m[1] || kind < 0 || m[3] < 1 || m[3] > ARR_MAX_DIMS) {
        if (m[0] == 0x93 && m[1] == 'N')
            snprintf(err, DATA_ERR_LEN, "%s: a numpy .npy file, not IDX; use source = \"npy\" (or name it .npy)", path);
        else
            snprintf(err, DATA_ERR_LEN, "%s: not an IDX file: magic number %02x %02x %02x %02x, expected 00 00 <type 08/09/0b/0c/0d/0e> <1..%d dimensions>; check the path and the data source",
                     path, m[0], m[1], m[2], m[3], ARR_MAX_DIMS);
        return -1;
    }
    h->kind = kind;
    h->big_endian = 1;
    h->ndims = m[3];
    h->format = "IDX";
    unsigned char d[4 * ARR_MAX_DIMS];
    got = gz_read_n(f, d, 4u * h->ndims);
    if (got < 4u * h->ndims) {
        snprintf(err, DATA_ERR_LEN, "%s: truncated IDX header: %d dimensions declared, the file ends after %zu of their %d bytes; re-create or re-download it",
                 path, h->ndims, got, 4 * h->ndims);
        return -1;
    }
    for (int i = 0; i < h->ndims; i++)
        h->dims[i] = ((uint64_t)d[4 * i] << 24) | ((uint64_t)d[4 * i + 1] << 16) | ((uint64_t)d[4 * i + 2] << 8) | d[4 * i + 3];
    h->header_bytes = 4 + 4u * (uint64_t)h->ndims;
    return 0;
}

/* The value of 'key' in a .npy header dictionary: a pointer just after
 * "'key':" (spaces skipped), or NULL. */
static const char *npy_value(const char *dict, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(dict, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

/* numpy's format (numpy.lib.format): "\x93NUMPY", major and minor version,
 * the header length (2 bytes little-endian in version 1, 4 in 2 and 3),
 * then a Python dict literal {'descr': '<f4', 'fortran_order': False,
 * 'shape': (n, d), } padded with spaces and a newline.  The fixed part:
 * the header text's length and the bytes before it, or -1. */
static int npy_preamble(gzFile f, const char *path, uint64_t *hlen, size_t *pre, char *err)
{
    unsigned char m[10];
    size_t got = gz_read_n(f, m, 10);
    const char *z = gz_failed(f, path);
    if (z) {
        snprintf(err, DATA_ERR_LEN, "%s: read error in the .npy header (%s); the file is truncated or corrupt, re-create it", path, z);
        return -1;
    }
    if (got < 8 || memcmp(m, "\x93NUMPY", 6) != 0) {
        if (got >= 4 && m[0] == 0 && m[1] == 0)
            snprintf(err, DATA_ERR_LEN, "%s: an IDX file, not .npy; use source = \"idx\"", path);
        else
            snprintf(err, DATA_ERR_LEN, "%s: not a .npy file (it does not start with \\x93NUMPY); write it with numpy.save, or check the path and the data source", path);
        return -1;
    }
    int major = m[6];
    if (major < 1 || major > 3) {
        snprintf(err, DATA_ERR_LEN, "%s: .npy format version %d.%d is not supported (1.0-3.0 are); re-save it with numpy.save", path, m[6], m[7]);
        return -1;
    }
    *pre = 8 + (major == 1 ? 2 : 4);
    if (got < 10) {
        snprintf(err, DATA_ERR_LEN, "%s: truncated .npy header (the file ends after %zu bytes); re-create it", path, got);
        return -1;
    }
    *hlen = (uint64_t)m[8] | (uint64_t)m[9] << 8;
    if (major > 1) {
        unsigned char e[2];
        if (gz_read_n(f, e, 2) < 2) {
            snprintf(err, DATA_ERR_LEN, "%s: truncated .npy header (the file ends after %zu bytes); re-create it", path, got);
            return -1;
        }
        *hlen |= (uint64_t)e[0] << 16 | (uint64_t)e[1] << 24;
    }
    if (*hlen < 10 || *hlen > 65536) {
        snprintf(err, DATA_ERR_LEN, "%s: bad .npy header: its length field says %llu bytes; the file is damaged, re-create it with numpy.save", path, (unsigned long long)*hlen);
        return -1;
    }
    return 0;
}

/* descr: '<f4', '|u1', ... (a structured dtype is a list '[(...'): the
 * element kind and byte order into h, or -1. */
static int npy_descr(const char *d, const char *path, arr_hdr_t *h, char *err)
{
    char q = *d;
    if ((q != '\'' && q != '"') || !strchr(d + 1, q)) {
        snprintf(err, DATA_ERR_LEN, "%s: .npy dtype %.40s is a structured or unknown type; save a plain numeric array (float32, float64 or uint8)", path, d);
        return -1;
    }
    char descr[16];
    size_t dl = (size_t)(strchr(d + 1, q) - (d + 1));
    snprintf(descr, sizeof descr, "%.*s", (int)(dl < 15 ? dl : 15), d + 1);
    char endian = descr[0], code = descr[1];
    int size = atoi(descr + 2);
    h->kind = -1;
    if (strchr("<>|=", endian) && code && descr[2]) {
        if (code == 'f' && size == 4) h->kind = E_F32;
        else if (code == 'f' && size == 8) h->kind = E_F64;
        else if (code == 'u' && size == 1) h->kind = E_U8;
        else if (code == 'i' && size == 1) h->kind = E_I8;
        else if (code == 'i' && size == 2) h->kind = E_I16;
        else if (code == 'i' && size == 4) h->kind = E_I32;
        else if (code == 'i' && size == 8) h->kind = E_I64;
        else if (code == 'u' && size == 2) h->kind = E_U16;
        else if (code == 'u' && size == 4) h->kind = E_U32;
        else if (code == 'u' && size == 8) h->kind = E_U64;
        else if (code == 'b' && size == 1) h->kind = E_U8; /* bool: one byte 0/1 */
    }
    if (h->kind < 0) {
        snprintf(err, DATA_ERR_LEN, "%s: .npy dtype '%s' is not supported; save float32, float64 or uint8 (x.astype('float32'))", path, descr);
        return -1;
    }
    h->big_endian = endian == '>';
    return 0;
}

/* shape: a tuple of sizes "(n, d)" into h->dims, or -1. */
static int npy_shape(const char *sh, const char *path, arr_hdr_t *h, char *err)
{
    if (*sh != '(') {
        snprintf(err, DATA_ERR_LEN, "%s: bad .npy header: shape '%.30s' is not a tuple; re-create it with numpy.save", path, sh);
        return -1;
    }
    h->ndims = 0;
    const char *p = sh + 1;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ')') break;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || errno || *p == '-') {
            snprintf(err, DATA_ERR_LEN, "%s: bad .npy header: shape '%.30s' is not a tuple of sizes; re-create it with numpy.save", path, sh);
            return -1;
        }
        if (h->ndims == ARR_MAX_DIMS) {
            snprintf(err, DATA_ERR_LEN, "%s: .npy array has more than %d dimensions; reshape it to (rows, features)", path, ARR_MAX_DIMS);
            return -1;
        }
        h->dims[h->ndims++] = v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p != ')') {
            snprintf(err, DATA_ERR_LEN, "%s: bad .npy header: shape '%.30s' is not a tuple of sizes; re-create it with numpy.save", path, sh);
            return -1;
        }
    }
    if (h->ndims == 0) {
        snprintf(err, DATA_ERR_LEN, "%s: the .npy array is a scalar (shape ()); save a (rows, features) array", path);
        return -1;
    }
    return 0;
}

static int npy_header(gzFile f, const char *path, arr_hdr_t *h, char *err)
{
    uint64_t hlen;
    size_t pre;
    if (npy_preamble(f, path, &hlen, &pre, err)) return -1;
    char *dict = malloc(hlen + 1);
    if (!dict) {
        snprintf(err, DATA_ERR_LEN, "%s: out of memory for the .npy header (%llu bytes)", path, (unsigned long long)hlen);
        return -1;
    }
    size_t k = gz_read_n(f, dict, hlen);
    dict[k] = 0;
    int rc = -1;
    if (k < hlen) {
        snprintf(err, DATA_ERR_LEN, "%s: truncated .npy header: %llu bytes declared, the file ends after %zu; re-create it", path, (unsigned long long)hlen, k);
        goto out;
    }
    if (strlen(dict) != k) {
        snprintf(err, DATA_ERR_LEN, "%s: bad .npy header: NUL bytes in the header text; the file is damaged, re-create it with numpy.save", path);
        goto out;
    }
    const char *d = npy_value(dict, "descr"), *fo = npy_value(dict, "fortran_order"), *sh = npy_value(dict, "shape");
    if (dict[0] != '{' || !d || !fo || !sh) {
        size_t e = strlen(dict);
        while (e && (dict[e - 1] == ' ' || dict[e - 1] == '\n')) dict[--e] = 0;
        snprintf(err, DATA_ERR_LEN, "%s: bad .npy header %.80s: no '%s' entry; re-create the file with numpy.save", path, dict,
                 dict[0] != '{' ? "{" : !d ? "descr" : !fo ? "fortran_order" : "shape");
        goto out;
    }
    if (npy_descr(d, path, h, err)) goto out;
    if (!strncmp(fo, "True", 4)) {
        snprintf(err, DATA_ERR_LEN, "%s: the array is stored in Fortran (column-major) order; save numpy.ascontiguousarray(x) instead", path);
        goto out;
    }
    if (strncmp(fo, "False", 5)) {
        snprintf(err, DATA_ERR_LEN, "%s: bad .npy header: fortran_order is '%.10s', not True or False; re-create it with numpy.save", path, fo);
        goto out;
    }
    if (npy_shape(sh, path, h, err)) goto out;
    h->format = ".npy";
    h->header_bytes = pre + hlen; /* the data's offset in the file */
    rc = 0;
out:
    free(dict);
    return rc;
}

/* ---- elements ----------------------------------------------------------- */

static double elem_value(const unsigned char *p, int kind, int big)
{
    unsigned char b[8];
    int s = elem_size[kind];
    /* to the host's order (little-endian x86/ARM: swap big-endian data) */
    int host_big = 0;
    {
        uint16_t t = 1;
        host_big = *(unsigned char *)&t == 0;
    }
    if (big != host_big)
        for (int i = 0; i < s; i++) b[i] = p[s - 1 - i];
    else
        memcpy(b, p, (size_t)s);
    switch (kind) {
    case E_U8: return b[0];
    case E_I8: return (int8_t)b[0];
    case E_I16: { int16_t v; memcpy(&v, b, 2); return v; }
    case E_I32: { int32_t v; memcpy(&v, b, 4); return v; }
    case E_I64: { int64_t v; memcpy(&v, b, 8); return (double)v; }
    case E_U16: { uint16_t v; memcpy(&v, b, 2); return v; }
    case E_U32: { uint32_t v; memcpy(&v, b, 4); return v; }
    case E_U64: { uint64_t v; memcpy(&v, b, 8); return (double)v; }
    case E_F32: { float v; memcpy(&v, b, 4); return v; }
    default: { double v; memcpy(&v, b, 8); return v; }
    }
}

/* Read on to the end of the file: the header must declare exactly the
 * bytes that follow it.  `want` = element bytes declared, `done` = read so far. */
static int check_end(gzFile f, const char *path, const arr_hdr_t *h, uint64_t want, uint64_t done, char *err)
{
    static unsigned char sink[1 << 16];
    while (done < want) {
        uint64_t left = want - done;
        size_t k = gz_read_n(f, sink, left < sizeof sink ? (size_t)left : sizeof sink);
        if (k == 0) break;
        done += k;
    }
    char shape[160];
    shape_text(shape, sizeof shape, h);
    const char *z = gz_failed(f, path);
    if (z) {
        snprintf(err, DATA_ERR_LEN, "%s: read error after %llu bytes (%s); the file is truncated or corrupt, re-create or re-download it",
                 path, (unsigned long long)(h->header_bytes + done), z);
        return -1;
    }
    if (done < want) {
        snprintf(err, DATA_ERR_LEN, "%s: truncated: the %s header declares %s %s (%llu bytes of data) but the file ends after %llu; re-create or re-download it",
                 path, h->format, shape, elem_name[h->kind], (unsigned long long)want, (unsigned long long)done);
        return -1;
    }
    unsigned char extra;
    if (gz_read_n(f, &extra, 1) == 1) {
        snprintf(err, DATA_ERR_LEN, "%s: more data than the %s header declares (%s %s); the header does not match the data, re-create the file",
                 path, h->format, shape, elem_name[h->kind]);
        return -1;
    }
    return 0;
}

static int read_header(gzFile f, const char *path, int npy, arr_hdr_t *h, char *err)
{
    memset(h, 0, sizeof *h);
    return npy ? npy_header(f, path, h, err) : idx_header(f, path, h, err);
}

/* Is the file a .npy (by its magic number, not its name)? 1, 0, or -1 when
 * it cannot be read (the loader then reports why). */
static int sniff_npy(const char *path)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return -1;
    unsigned char m[6];
    size_t k = gz_read_n(f, m, 6);
    gzclose(f);
    return k == 6 && !memcmp(m, "\x93NUMPY", 6);
}

/* Labels: a 1-d array of integers (IDX idx1-ubyte, or a 1-d integer .npy). */
static int load_labels(const char *path, size_t max_rows, int **out, size_t *n_out, size_t *n_file, char *err)
{
    *out = NULL;
    gzFile f = open_gz(path, "labels", err);
    if (!f) return -1;
    arr_hdr_t h;
    int rc = -1;
    int *lab = NULL;
    unsigned char *buf = NULL;
    int npy = sniff_npy(path) == 1;
    if (read_header(f, path, npy, &h, err)) goto out;
    if (h.ndims != 1) {
        char shape[160];
        shape_text(shape, sizeof shape, &h);
        snprintf(err, DATA_ERR_LEN, "%s: a labels file holds one integer per row (1-d), this one is %s (an images file?); give the labels file",
                 path, shape);
        goto out;
    }
    if (h.kind == E_F32 || h.kind == E_F64) {
        snprintf(err, DATA_ERR_LEN, "%s: labels are %s; a labels file holds integers (save y.astype('int64') or an idx1-ubyte file)", path, elem_name[h.kind]);
        goto out;
    }
    size_t n = (size_t)h.dims[0], keep = max_rows && max_rows < n ? max_rows : n;
    int es = elem_size[h.kind];
    /* read in chunks into a growing array (a header may declare more than the file holds) */
    size_t cap = 0, got = 0, chunk = 65536;
    buf = malloc(chunk * (size_t)es);
    if (!buf) {
        snprintf(err, DATA_ERR_LEN, "%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < keep;) {
        size_t k = keep - i < chunk ? keep - i : chunk;
        size_t g = gz_read_n(f, buf, k * (size_t)es);
        got += g;
        if (g < k * (size_t)es) break; /* check_end reports it */
        if (i + k > cap) {
            size_t c = cap * 2 > i + k ? (cap * 2 > keep ? keep : cap * 2) : i + k;
            int *l = realloc(lab, c * sizeof(int));
            if (!l) {
                snprintf(err, DATA_ERR_LEN, "%s: out of memory for %zu labels", path, c);
                goto out;
            }
            lab = l;
            cap = c;
        }
        for (size_t j = 0; j < k; j++) {
            double v = elem_value(buf + j * (size_t)es, h.kind, h.big_endian);
            if (v < INT_MIN || v > INT_MAX) {
                snprintf(err, DATA_ERR_LEN, "%s: label %zu is %.17g, outside the int range; labels are class numbers", path, i + j, v);
                goto out;
            }
            lab[i + j] = (int)v;
        }
        i += k;
    }
    if (check_end(f, path, &h, (uint64_t)n * (uint64_t)es, got, err)) goto out;
    if (!lab && !(lab = malloc(sizeof(int)))) { /* no labels: an empty (but valid) array */
        snprintf(err, DATA_ERR_LEN, "%s: out of memory", path);
        goto out;
    }
    *out = lab;
    lab = NULL;
    *n_out = keep;
    *n_file = n;
    rc = 0;
out:
    free(lab);
    free(buf);
    gzclose(f);
    return rc;
}

/* The features per row of an array with header h (the product of its
 * dimensions after the first), checked: at least 2-d, at least one row,
 * 1..DATA_MAX_COLS features, and pixels = "unit" only for uint8.  0, or -1
 * with one line in err. */
static int array_cols(const char *path, int npy, const arr_hdr_t *h, int pixels, uint64_t *cols, char *err)
{
    char shape[160];
    shape_text(shape, sizeof shape, h);
    if (h->ndims < 2) {
        snprintf(err, DATA_ERR_LEN, "%s: the array is 1-d (%s values: a labels file?); features need (rows, features) or images (rows, height, width)%s",
                 path, shape, npy ? "" : "; give it as labels");
        return -1;
    }
    uint64_t d = 1;
    for (int i = 1; i < h->ndims; i++) {
        d *= h->dims[i];
        if (d > DATA_MAX_COLS) break;
    }
    if (h->dims[0] < 1 || d < 1 || d > DATA_MAX_COLS) {
        snprintf(err, DATA_ERR_LEN, "%s: shape %s; need >= 1 row and 1..%d features per row (the product of the dimensions after the first)",
                 path, shape, DATA_MAX_COLS);
        return -1;
    }
    if (pixels == DATA_PIXELS_UNIT && h->kind != E_U8) {
        snprintf(err, DATA_ERR_LEN, "%s: pixels = \"unit\" divides uint8 pixels by 255, but this file holds %s; drop the pixels setting (values are kept) or use scaler = \"minmax\"",
                 path, elem_name[h->kind]);
        return -1;
    }
    *cols = d;
    return 0;
}

/* count elements of the file's type at buf into dst as float; `first` is
 * the index of buf's first element in the array (rows of d), for the
 * message.  uint8 divided by 255 when scale; other types must be finite and
 * within float range.  0, or -1 with one line in err. */
static int convert_elems(float *dst, const unsigned char *buf, size_t count, const arr_hdr_t *h, int scale,
                         size_t first, size_t d, const char *path, char *err)
{
    int es = elem_size[h->kind];
    for (size_t i = 0; i < count; i++) {
        if (h->kind == E_U8) {
            /* the float32 quotient, as numpy's x.astype(float32) / 255 */
            dst[i] = scale ? (float)buf[i] / 255.0f : (float)buf[i];
            continue;
        }
        double x = elem_value(buf + i * (size_t)es, h->kind, h->big_endian);
        size_t e = first + i;
        if (!isfinite(x)) {
            snprintf(err, DATA_ERR_LEN, "%s: element [%zu][%zu] is not finite (%g); remove or impute it", path, e / d, e % d, x);
            return -1;
        }
        if (fabs(x) > 3.4028234663852886e38) {
            snprintf(err, DATA_ERR_LEN, "%s: element [%zu][%zu] = %g is outside the float range; rescale the data", path,
                     e / d, e % d, x);
            return -1;
        }
        dst[i] = (float)x;
    }
    return 0;
}

/* Features: rows x (product of the other dimensions), as float. */
static int load_array(dataset_t *out, const char *path, int npy, const char *labels_path, int pixels,
                      size_t max_rows, char *err)
{
    memset(out, 0, sizeof *out);
    gzFile f = open_gz(path, npy ? ".npy" : "IDX", err);
    if (!f) return -1;
    arr_hdr_t h;
    int rc = -1;
    unsigned char *buf = NULL;
    uint64_t d;
    if (read_header(f, path, npy, &h, err) || array_cols(path, npy, &h, pixels, &d, err)) goto out;
    int scale = h.kind == E_U8 && pixels != DATA_PIXELS_RAW; /* default for uint8: [0, 1] */
    size_t n = (size_t)h.dims[0], keep = max_rows && max_rows < n ? max_rows : n;
    double need = (double)keep * (double)d * sizeof(float);
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    if (phys > 0 && need > phys / 2) { /* refuse before allocating: half the node for one copy */
        snprintf(err, DATA_ERR_LEN, "%s: %zu rows of %llu features need %.3g GiB as float32, more than half of this node's %.3g GiB; use fewer rows (data.pool)",
                 path, keep, (unsigned long long)d, need / 1073741824.0, phys / 1073741824.0);
        goto out;
    }
    /* The rows are stored as they arrive, the array growing by doubling:
     * a header may declare far more rows than the file holds (a truncated
     * or forged file), which must not cost that memory before the end of
     * the data shows it (found by fuzz_array). */
    size_t cap_rows = keep < 4096 ? keep : 4096;
    if (data_alloc(out, cap_rows, (int)d, 0)) {
        snprintf(err, DATA_ERR_LEN, "%s: out of memory for %zu rows of %llu features", path, cap_rows, (unsigned long long)d);
        goto out;
    }
    out->n = keep;
    int es = elem_size[h.kind];
    size_t row_bytes = (size_t)d * (size_t)es, chunk_rows = (1u << 20) / row_bytes + 1;
    buf = malloc(chunk_rows * row_bytes);
    if (!buf) {
        snprintf(err, DATA_ERR_LEN, "%s: out of memory", path);
        goto out;
    }
    uint64_t done = 0;
    for (size_t r = 0; r < keep;) {
        size_t k = keep - r < chunk_rows ? keep - r : chunk_rows;
        size_t got = gz_read_n(f, buf, k * row_bytes);
        done += got;
        if (got < k * row_bytes) break; /* check_end reports it */
        if (r + k > cap_rows) {
            size_t c = cap_rows * 2 > keep ? keep : cap_rows * 2;
            if (c < r + k) c = r + k;
            float *x = realloc(out->x, c * (size_t)d * sizeof(float));
            if (!x) {
                snprintf(err, DATA_ERR_LEN, "%s: out of memory for %zu rows of %llu features", path, c, (unsigned long long)d);
                goto out;
            }
            out->x = x;
            cap_rows = c;
        }
        if (convert_elems(out->x + r * (size_t)d, buf, k * (size_t)d, &h, scale, r * (size_t)d, (size_t)d, path, err)) goto out;
        r += k;
    }
    if (check_end(f, path, &h, (uint64_t)n * d * (uint64_t)es, done, err)) goto out;
    if (labels_path && labels_path[0]) {
        size_t nl, nfile;
        if (load_labels(labels_path, keep, &out->labels, &nl, &nfile, err)) goto out;
        if (nfile != n) {
            snprintf(err, DATA_ERR_LEN, "%s: %zu labels but %s has %zu rows; give the labels file that belongs to these images",
                     labels_path, nfile, path, n);
            goto out;
        }
    }
    rc = 0;
out:
    if (rc) data_free(out);
    free(buf);
    gzclose(f);
    return rc;
}

int data_load_idx(dataset_t *out, const char *path, const char *labels_path, int pixels, size_t max_rows, char *err)
{
    err[0] = 0;
    int rc = load_array(out, path, 0, labels_path, pixels, max_rows, err);
    if (rc) {
        if (!err[0]) snprintf(err, DATA_ERR_LEN, "%s: cannot load", path);
        one_line(err);
    }
    return rc;
}

int data_load_npy(dataset_t *out, const char *path, const char *labels_path, int pixels, size_t max_rows, char *err)
{
    err[0] = 0;
    int rc = load_array(out, path, 1, labels_path, pixels, max_rows, err);
    if (rc) {
        if (!err[0]) snprintf(err, DATA_ERR_LEN, "%s: cannot load", path);
        one_line(err);
    }
    return rc;
}

int data_pixels_parse(const char *s)
{
    if (!strcmp(s, "unit")) return DATA_PIXELS_UNIT;
    if (!strcmp(s, "raw")) return DATA_PIXELS_RAW;
    return -1;
}

const char *data_pixels_name(int p)
{
    return p == DATA_PIXELS_UNIT ? "unit" : p == DATA_PIXELS_RAW ? "raw" : "auto";
}
