/* data.c - generators, loaders, subsets and scalers (see data.h). */
#include "aesweep/data.h"
#include "aesweep/rng.h"
#include <errno.h>
#include <float.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Widest data accepted: scaler_t holds 4096 columns. */
#define DATA_MAX_COLS 4096

void data_free(dataset_t *ds)
{
    if (!ds) return;
    free(ds->x);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

int data_alloc(dataset_t *ds, size_t n, int d, int with_labels)
{
    memset(ds, 0, sizeof *ds);
    if (d < 1) return -1;
    if (n > SIZE_MAX / sizeof(float) / (size_t)d) return -1; /* n * d * 4 would wrap */
    ds->x = malloc((n ? n : 1) * (size_t)d * sizeof(float));
    if (with_labels) ds->labels = malloc((n ? n : 1) * sizeof(int));
    if (!ds->x || (with_labels && !ds->labels)) {
        data_free(ds);
        return -1;
    }
    ds->n = n;
    ds->d = d;
    return 0;
}

int data_moons(dataset_t *out, size_t n, double noise, uint64_t key)
{
    if (data_alloc(out, n, 2, 1)) return -1;
    size_t n_out = n / 2, n_in = n - n_out;
    double *x = malloc((n ? n : 1) * 2 * sizeof(double));
    int *y = malloc((n ? n : 1) * sizeof(int));
    size_t *perm = malloc((n ? n : 1) * sizeof(size_t));
    if (!x || !y || !perm) {
        free(x), free(y), free(perm);
        data_free(out);
        return -1;
    }
    /* np.linspace(0, pi, k): i * (pi / (k-1)), last point exactly pi. */
    for (size_t i = 0; i < n_out; i++) {
        double t = n_out > 1 ? (i == n_out - 1 ? M_PI : (double)i * (M_PI / (double)(n_out - 1))) : 0.0;
        x[2 * i] = cos(t);
        x[2 * i + 1] = sin(t);
        y[i] = 0;
    }
    for (size_t i = 0; i < n_in; i++) {
        double t = n_in > 1 ? (i == n_in - 1 ? M_PI : (double)i * (M_PI / (double)(n_in - 1))) : 0.0;
        x[2 * (n_out + i)] = 1.0 - cos(t);
        x[2 * (n_out + i) + 1] = 1.0 - sin(t) - 0.5;
        y[n_out + i] = 1;
    }
    rng_t r = rng_stream(rng_derive_str(key, "moons.shuffle"));
    rng_permutation(&r, n, perm);
    rng_t g = rng_stream(rng_derive_str(key, "moons.noise"));
    for (size_t i = 0; i < n; i++) {
        size_t p = perm[i];
        double a = x[2 * p], b = x[2 * p + 1];
        if (noise > 0) {
            a += noise * rng_normal(&g);
            b += noise * rng_normal(&g);
        }
        out->x[2 * i] = (float)a;
        out->x[2 * i + 1] = (float)b;
        out->labels[i] = y[p];
    }
    free(x), free(y), free(perm);
    return 0;
}

/* ---- CSV ---------------------------------------------------------------- */

typedef struct {
    float *v;
    size_t n, cap;
} fvec_t;

static int fvec_push(fvec_t *a, float x)
{
    if (a->n == a->cap) {
        size_t c = a->cap ? 2 * a->cap : 1024;
        float *p = realloc(a->v, c * sizeof(float));
        if (!p) return -1;
        a->v = p;
        a->cap = c;
    }
    a->v[a->n++] = x;
    return 0;
}

/* Messages are one line: a path or a field may hold control characters. */
static void one_line(char *err)
{
    for (unsigned char *c = (unsigned char *)err; *c; c++)
        if (*c < 32 || *c == 127) *c = '?';
}

static int load_csv(dataset_t *out, const char *path, int header, int label_col, char *err);
static int load_h5(dataset_t *out, const char *spec, char *err);

int data_load_csv(dataset_t *out, const char *path, int header, int label_col, char *err)
{
    err[0] = 0;
    int rc = load_csv(out, path, header, label_col, err);
    if (rc) {
        if (!err[0]) snprintf(err, DATA_ERR_LEN, "%s: cannot load", path);
        one_line(err);
    }
    return rc;
}

int data_load_h5(dataset_t *out, const char *spec, char *err)
{
    err[0] = 0;
    int rc = load_h5(out, spec, err);
    if (rc) {
        if (!err[0]) snprintf(err, DATA_ERR_LEN, "%s: cannot load", spec);
        one_line(err);
    }
    return rc;
}

/* Parse one data line of a CSV file into vals; its column count, or -1
 * with err set (an empty field, not a number, not finite, out of the float
 * range, too many columns, out of memory). */
static int csv_fields(char *line, const char *path, size_t lineno, fvec_t *vals, char *err)
{
    int col = 0;
    char *s = line;
    for (;;) {
        char *end;
        while (*s == ' ' || *s == '\t') s++;
        errno = 0;
        double v = strtod(s, &end);
        char *q = end;
        while (*q == ' ' || *q == '\t') q++;
        if (end == s && (*s == ',' || *s == 0)) {
            snprintf(err, DATA_ERR_LEN,
                     "%s:%zu: column %d is empty (a doubled or trailing comma?); every field must hold a number",
                     path, lineno, col + 1);
            return -1;
        }
        if (end == s || (*q != ',' && *q != 0)) {
            char field[48];
            size_t k = strcspn(s, ",");
            snprintf(field, sizeof field, "%.*s", (int)(k < 40 ? k : 40), s);
            for (char *c = field; *c; c++) /* one printable line */
                if ((unsigned char)*c < 32 || (unsigned char)*c == 127) *c = '?';
            snprintf(err, DATA_ERR_LEN, "%s:%zu: column %d: '%s' is not a number; every field must be numeric%s",
                     path, lineno, col + 1, field,
                     lineno == 1 ? " (set header = true if line 1 holds column names)" : "");
            return -1;
        }
        if (!isfinite(v)) {
            snprintf(err, DATA_ERR_LEN, "%s:%zu: column %d: value %.*s is not finite; remove or impute NaN/inf rows",
                     path, lineno, col + 1, (int)(end - s > 40 ? 40 : end - s), s);
            return -1;
        }
        if (fabs(v) > FLT_MAX) {
            snprintf(err, DATA_ERR_LEN,
                     "%s:%zu: column %d: value %.*s is outside the float range (|x| <= 3.4e38); rescale the column",
                     path, lineno, col + 1, (int)(end - s > 40 ? 40 : end - s), s);
            return -1;
        }
        if (fvec_push(vals, (float)v)) {
            snprintf(err, DATA_ERR_LEN, "%s: out of memory while reading (line %zu)", path, lineno);
            return -1;
        }
        col++;
        if (col > DATA_MAX_COLS + 1) {
            snprintf(err, DATA_ERR_LEN, "%s:%zu: more than %d columns; at most %d features (plus a label) are supported",
                     path, lineno, DATA_MAX_COLS + 1, DATA_MAX_COLS);
            return -1;
        }
        if (*q == 0) return col;
        s = q + 1;
    }
}

/* The parsed rows [rows][ncols] as a dataset: features, and the label
 * column (label_col, -2 = the last, -1 = none) as integer labels. */
static int csv_dataset(dataset_t *out, const fvec_t *vals, size_t rows, int ncols, int label_col, int header,
                       const char *path, char *err)
{
    if (label_col == -2) label_col = ncols - 1;
    if (label_col >= ncols || (label_col >= 0 && ncols < 2)) {
        snprintf(err, DATA_ERR_LEN, "%s: label column %d does not exist (the file has %d columns)", path,
                 label_col + 1, ncols);
        return -1;
    }
    int d = label_col >= 0 ? ncols - 1 : ncols;
    if (d > DATA_MAX_COLS) {
        snprintf(err, DATA_ERR_LEN, "%s: %d feature columns; at most %d are supported", path, d, DATA_MAX_COLS);
        return -1;
    }
    if (data_alloc(out, rows, d, label_col >= 0)) {
        snprintf(err, DATA_ERR_LEN, "%s: out of memory for %zu rows of %d features", path, rows, d);
        return -1;
    }
    for (size_t i = 0; i < rows; i++) {
        int k = 0;
        for (int c = 0; c < ncols; c++) {
            float v = vals->v[i * ncols + c];
            if (c != label_col) {
                out->x[i * d + k++] = v;
                continue;
            }
            if (v != floorf(v) || v < -2147483520.0f || v > 2147483520.0f) {
                snprintf(err, DATA_ERR_LEN, "%s: row %zu: label %g is not an integer; check data.label_column (%s)", path,
                         i + 1 + (header ? 1 : 0), v, label_col == ncols - 1 ? "the last column" : "a 0-based column");
                data_free(out);
                return -1;
            }
            out->labels[i] = (int)v;
        }
    }
    return 0;
}

/* Read the next whole line into *line (grown for long lines); its length
 * without the line end, or -1 at the end of the file, -2 out of memory. */
static long csv_getline(gzFile f, char **line, size_t *cap)
{
    if (!gzgets(f, *line, (int)*cap)) return -1;
    size_t len = strlen(*line);
    while (len == *cap - 1 && (*line)[len - 1] != '\n') { /* grow for long lines */
        char *p = realloc(*line, *cap * 2);
        if (!p) return -2;
        *line = p;
        if (!gzgets(f, *line + len, (int)(*cap * 2 - len))) break;
        *cap *= 2;
        len = strlen(*line);
    }
    return (long)len;
}

static int load_csv(dataset_t *out, const char *path, int header, int label_col, char *err)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(err, DATA_ERR_LEN, "%s: is a directory, not a data file; set the path to a .csv or .csv.gz file", path);
        return -1;
    }
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, DATA_ERR_LEN, "%s: cannot open (%s); check the path", path,
                 errno ? strerror(errno) : "out of memory");
        return -1;
    }
    fvec_t vals = {0};
    size_t cap_line = 1 << 16;
    char *line = malloc(cap_line);
    int ncols = -1, rc = -1;
    size_t lineno = 0, rows = 0;
    long got = line ? 0 : -2;
    while (got >= 0 && (got = csv_getline(f, &line, &cap_line)) >= 0) {
        size_t len = (size_t)got;
        lineno++;
        if (lineno == 1 && !strncmp(line, "\xEF\xBB\xBF", 3)) { /* UTF-8 byte-order mark (Excel's "CSV UTF-8") */
            memmove(line, line + 3, len - 2);
            len -= 3;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if ((lineno == 1 && header) || len == 0) continue; /* blank lines are allowed (e.g. a trailing newline) */
        int col = csv_fields(line, path, lineno, &vals, err);
        if (col < 0) goto done;
        if (ncols < 0) ncols = col;
        else if (col != ncols) {
            snprintf(err, DATA_ERR_LEN, "%s:%zu: %d columns where earlier rows have %d; every row needs the same count",
                     path, lineno, col, ncols);
            goto done;
        }
        rows++;
    }
    if (got == -2) {
        snprintf(err, DATA_ERR_LEN, "%s: out of memory while reading (line %zu)", path, lineno + 1);
        goto done;
    }
    int zerr = Z_OK;
    const char *zmsg = gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        size_t pl = strlen(path); /* zlib prefixes its message with the path */
        if (zmsg && !strncmp(zmsg, path, pl) && !strncmp(zmsg + pl, ": ", 2)) zmsg += pl + 2;
        snprintf(err, DATA_ERR_LEN, "%s: read error after line %zu (%s); the file is truncated or corrupt, re-create it",
                 path, lineno, zerr == Z_ERRNO ? strerror(errno) : zmsg ? zmsg : "zlib error");
        goto done;
    }
    if (rows == 0) {
        snprintf(err, DATA_ERR_LEN, "%s: no data rows; the file is empty or only a header", path);
        goto done;
    }
    rc = csv_dataset(out, &vals, rows, ncols, label_col, header, path, err);
done:
    free(line);
    free(vals.v);
    gzclose(f);
    return rc;
}

/* ---- HDF5 --------------------------------------------------------------- */

typedef struct {
    char *out;
    size_t n;
} h5err_t;

static herr_t h5_innermost(unsigned n, const H5E_error2_t *e, void *ctx)
{
    h5err_t *c = ctx;
    if (n == 0 && e->desc) snprintf(c->out, c->n, "%s", e->desc);
    return 0;
}

/* HDF5's automatic error printing is off (cli_main): its stack is a dozen
 * lines per failure.  The innermost entry (the first pushed: the walk
 * upward starts there) names the real cause, e.g. "data error detected by
 * Fletcher32 checksum"; call right after the failing HDF5 call. */
const char *data_h5_error(char *out, size_t n)
{
    h5err_t c = {out, n};
    out[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_innermost, &c);
    if (!out[0]) snprintf(out, n, "HDF5 error");
    /* The low-level I/O errors dump their arguments after ": time =",
     * among them the system's "error message = '...'" (errno's text, e.g.
     * "No space left on device"): keep the first part and that text. */
    char *t = strstr(out, ": time =");
    if (t) {
        char sys[128] = "";
        const char *em = strstr(t, "error message = '");
        if (em) {
            em += strlen("error message = '");
            size_t k = strcspn(em, "'");
            snprintf(sys, sizeof sys, "%.*s", (int)(k < sizeof sys - 1 ? k : sizeof sys - 1), em);
        }
        *t = 0;
        if (sys[0] && (size_t)(t - out) + 2 + strlen(sys) < n) snprintf(t, n - (size_t)(t - out), ": %s", sys);
    }
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 32) *p = ' ';
    return out;
}

/* Open file path and its dataset dname: 0 with *f and *d open, or -1 with
 * err naming what is missing (not HDF5, no such dataset, a group, a
 * dangling soft or external link). */
static int h5_open_dataset(const char *path, const char *dname, hid_t *f, hid_t *d, char *err)
{
    int exists = 0;
    *d = -1;
    H5E_BEGIN_TRY
    {
        *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        /* H5Lexists checks only the last component: walk the path so that
         * a missing group in the middle is a "no dataset", not an error */
        if (*f >= 0 && strcmp(dname, "/") != 0) {
            char part[4096];
            snprintf(part, sizeof part, "%s", dname);
            exists = 1;
            for (char *sl = strchr(part + 1, '/');; sl = strchr(sl + 1, '/')) {
                if (sl) *sl = 0;
                if (H5Lexists(*f, part, H5P_DEFAULT) <= 0) { exists = 0; break; }
                if (!sl) break;
                *sl = '/';
            }
        }
        if (exists) *d = H5Dopen2(*f, dname, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (*f < 0) {
        char why[256];
        data_h5_error(why, sizeof why);
        snprintf(err, DATA_ERR_LEN, "%s: not an HDF5 file (or a damaged one; HDF5: %s); check the path, or use source = \"csv\" for text data",
                 path, why);
        return -1;
    }
    if (*d >= 0) return 0;
    H5L_info_t li;
    htri_t target = -1;
    int lk = -1;
    if (exists) {
        H5E_BEGIN_TRY
        {
            if (H5Lget_info(*f, dname, &li, H5P_DEFAULT) >= 0) lk = li.type;
            target = H5Oexists_by_name(*f, dname, H5P_DEFAULT);
        }
        H5E_END_TRY;
    }
    if (exists && (lk == H5L_TYPE_EXTERNAL || lk == H5L_TYPE_SOFT) && target <= 0) {
        char val[1024] = "", shown[1100] = "?";
        const char *ef = NULL, *eo = NULL;
        unsigned fl;
        if (li.u.val_size < sizeof val && H5Lget_val(*f, dname, val, sizeof val, H5P_DEFAULT) >= 0) {
            if (lk == H5L_TYPE_EXTERNAL && H5Lunpack_elink_val(val, li.u.val_size, &fl, &ef, &eo) >= 0)
                snprintf(shown, sizeof shown, "%s:%s", ef, eo);
            else if (lk == H5L_TYPE_SOFT)
                snprintf(shown, sizeof shown, "%s", val);
        }
        snprintf(err, DATA_ERR_LEN, "%s: '%s' is a dangling %s link to %s (the target does not exist); restore the target or name the dataset itself",
                 path, dname, lk == H5L_TYPE_EXTERNAL ? "external" : "soft", shown);
    } else if (exists) {
        char why[256];
        data_h5_error(why, sizeof why);
        snprintf(err, DATA_ERR_LEN, "%s: '%s' is not a dataset (a group?) or cannot be opened (HDF5: %s); name a dataset, list them with h5ls -r %s",
                 path, dname, why, path);
    } else
        snprintf(err, DATA_ERR_LEN, "%s: no dataset '%s'; list them with h5ls -r %s", path, dname, path);
    return -1;
}

/* Check that dataset d (dataspace sp) is a numeric [rows][features] array
 * that fits, and allocate out for it. */
static int h5_shape(dataset_t *out, hid_t d, hid_t sp, const char *path, const char *dname, char *err)
{
    char why[256];
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank < 0) {
        snprintf(err, DATA_ERR_LEN, "%s:%s: cannot read the dataset's shape (HDF5: %s)", path, dname, data_h5_error(why, sizeof why));
        return -1;
    }
    if (rank != 2) {
        snprintf(err, DATA_ERR_LEN, "%s:%s: dataset has rank %d; a rank-2 [rows][features] array is needed", path, dname, rank);
        return -1;
    }
    hsize_t dims[2];
    hid_t t = H5Sget_simple_extent_dims(sp, dims, NULL) < 0 ? -1 : H5Dget_type(d);
    H5T_class_t cls = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    if (t < 0 || cls == H5T_NO_CLASS) {
        snprintf(err, DATA_ERR_LEN, "%s:%s: cannot read the dataset's shape or type (HDF5: %s)", path, dname, data_h5_error(why, sizeof why));
        if (t >= 0) H5Tclose(t);
        return -1;
    }
    H5Tclose(t);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        snprintf(err, DATA_ERR_LEN, "%s:%s: dataset is not numeric; store floats or integers", path, dname);
        return -1;
    }
    if (dims[0] < 1 || dims[1] < 1 || dims[1] > DATA_MAX_COLS) {
        snprintf(err, DATA_ERR_LEN, "%s:%s: shape %llux%llu; need >= 1 row and 1..%d columns", path,
                 dname, (unsigned long long)dims[0], (unsigned long long)dims[1], DATA_MAX_COLS);
        return -1;
    }
    double need = (double)dims[0] * (double)dims[1] * sizeof(float);
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    if (phys > 0 && need > phys / 2) { /* refuse before allocating: half the node for one copy */
        snprintf(err, DATA_ERR_LEN, "%s:%s: shape %llux%llu needs %.3g GiB as float32, more than half of this node's %.3g GiB; use a smaller dataset or a subset",
                 path, dname, (unsigned long long)dims[0], (unsigned long long)dims[1], need / 1073741824.0, phys / 1073741824.0);
        return -1;
    }
    if (dims[0] > (hsize_t)(SIZE_MAX / sizeof(float) / dims[1]) || data_alloc(out, dims[0], (int)dims[1], 0)) {
        snprintf(err, DATA_ERR_LEN, "%s:%s: shape %llux%llu needs %.3g GiB as float32, more than this process can allocate; use a smaller dataset",
                 path, dname, (unsigned long long)dims[0], (unsigned long long)dims[1], need / 1073741824.0);
        return -1;
    }
    return 0;
}

/* Element i of out (a non-finite float) as read again as double: a finite
 * float64 beyond the float range became inf in the conversion. */
static void h5_why_not_finite(const dataset_t *out, hid_t d, hid_t sp, size_t i, const char *path,
                              const char *dname, char *err)
{
    double v = NAN;
    hsize_t at[2] = {i / out->d, i % out->d}, one[2] = {1, 1};
    hid_t ms = H5Screate_simple(2, one, NULL);
    if (ms < 0 || H5Sselect_hyperslab(sp, H5S_SELECT_SET, at, NULL, one, NULL) < 0 ||
        H5Dread(d, H5T_NATIVE_DOUBLE, ms, sp, H5P_DEFAULT, &v) < 0)
        v = NAN; /* then say "not finite": what the float read found */
    if (ms >= 0) H5Sclose(ms);
    if (isfinite(v))
        snprintf(err, DATA_ERR_LEN, "%s:%s: element [%zu][%zu] = %g is outside the float range (|x| <= 3.4e38); rescale the data",
                 path, dname, i / out->d, i % out->d, v);
    else
        snprintf(err, DATA_ERR_LEN, "%s:%s: element [%zu][%zu] is not finite; remove or impute it", path, dname,
                 i / out->d, i % out->d);
}

static int load_h5(dataset_t *out, const char *spec, char *err)
{
    memset(out, 0, sizeof *out);
    const char *colon = strrchr(spec, ':');
    if (!colon || colon[1] != '/') {
        snprintf(err, DATA_ERR_LEN,
                 "%s: an HDF5 source is written FILE.h5:/path/to/dataset (the ':/' is missing)", spec);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)(colon - spec), spec);
    const char *dname = colon + 1;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, DATA_ERR_LEN, "%s: cannot open (%s); check the path", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, DATA_ERR_LEN, "%s: is a directory, not an HDF5 file; set the path to FILE.h5:/dataset", path);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        snprintf(err, DATA_ERR_LEN, "%s: cannot read (%s); check its permissions", path, strerror(errno));
        return -1;
    }
    hid_t f = -1, d = -1, sp = -1;
    int rc = -1;
    if (h5_open_dataset(path, dname, &f, &d, err)) goto done;
    char why[256];
    sp = H5Dget_space(d);
    if (sp < 0) {
        snprintf(err, DATA_ERR_LEN, "%s:%s: cannot read the dataset's shape (HDF5: %s)", path, dname, data_h5_error(why, sizeof why));
        goto done;
    }
    if (h5_shape(out, d, sp, path, dname, err)) goto done;
    herr_t rd;
    H5E_BEGIN_TRY { rd = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->x); }
    H5E_END_TRY;
    if (rd < 0) {
        snprintf(err, DATA_ERR_LEN, "%s:%s: cannot read the dataset (HDF5: %s); the file or a file it refers to is damaged or missing, re-create it",
                 path, dname, data_h5_error(why, sizeof why));
        data_free(out);
        goto done;
    }
    for (size_t i = 0; i < out->n * (size_t)out->d; i++)
        if (!isfinite(out->x[i])) {
            h5_why_not_finite(out, d, sp, i, path, dname, err);
            data_free(out);
            goto done;
        }
    rc = 0;
done:
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    return rc;
}

/* ---- subsets, checksums ------------------------------------------------- */

int data_take(dataset_t *out, const dataset_t *in, const size_t *idx, size_t k)
{
    if (data_alloc(out, k, in->d, in->labels != NULL)) return -1;
    for (size_t i = 0; i < k; i++) {
        memcpy(out->x + i * in->d, in->x + idx[i] * in->d, in->d * sizeof(float));
        if (in->labels) out->labels[i] = in->labels[idx[i]];
    }
    return 0;
}

int data_head(dataset_t *out, const dataset_t *in, size_t k)
{
    if (k > in->n) return -1;
    if (data_alloc(out, k, in->d, in->labels != NULL)) return -1;
    memcpy(out->x, in->x, k * in->d * sizeof(float));
    if (in->labels) memcpy(out->labels, in->labels, k * sizeof(int));
    return 0;
}

int data_crc32_file(const char *path, uint32_t *crc, uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char buf[1 << 15];
    uLong c = crc32(0L, Z_NULL, 0);
    uint64_t sz = 0;
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) {
        c = crc32(c, buf, (uInt)k);
        sz += k;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) return -1; /* a read error: no checksum rather than a wrong one */
    *crc = (uint32_t)c;
    *size = sz;
    return 0;
}

/* ---- scalers ------------------------------------------------------------ */

int scaler_kind_parse(const char *s)
{
    if (!strcmp(s, "none")) return SCALER_NONE;
    if (!strcmp(s, "standard")) return SCALER_STANDARD;
    if (!strcmp(s, "minmax")) return SCALER_MINMAX;
    return -1;
}

const char *scaler_kind_name(int k)
{
    return k == SCALER_STANDARD ? "standard" : k == SCALER_MINMAX ? "minmax" : "none";
}

void scaler_fit(scaler_t *s, int kind, const dataset_t *t)
{
    s->kind = kind;
    s->d = t->d;
    for (int j = 0; j < t->d; j++) {
        double lo = INFINITY, hi = -INFINITY, mean = 0, m2 = 0;
        for (size_t i = 0; i < t->n; i++) { /* Welford: stable mean and variance */
            double v = t->x[i * t->d + j];
            double dl = v - mean;
            mean += dl / (double)(i + 1);
            m2 += dl * (v - mean);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        double sd = t->n ? sqrt(m2 / (double)t->n) : 0; /* population sd, as sklearn */
        if (kind == SCALER_STANDARD) {
            s->shift[j] = mean;
            s->scale[j] = sd > 0 ? sd : 1.0; /* constant column: leave unscaled, as sklearn */
        } else if (kind == SCALER_MINMAX) {
            s->shift[j] = lo;
            s->scale[j] = hi > lo ? hi - lo : 1.0;
        } else {
            s->shift[j] = 0;
            s->scale[j] = 1;
        }
    }
}

void scaler_apply(const scaler_t *s, float *x, size_t n)
{
    if (s->kind == SCALER_NONE) return;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < s->d; j++)
            x[i * s->d + j] = (float)(((double)x[i * s->d + j] - s->shift[j]) / s->scale[j]);
}

void scaler_invert(const scaler_t *s, float *x, size_t n)
{
    if (s->kind == SCALER_NONE) return;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < s->d; j++)
            x[i * s->d + j] = (float)((double)x[i * s->d + j] * s->scale[j] + s->shift[j]);
}
