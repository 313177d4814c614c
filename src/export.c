/* export.c - `aesweep export RESULT.h5 [--stage S] --csv OUT.csv`: the
 * result cubes as one tidy table, one row per cell x draw x repeat.
 *
 * Columns: stage, cell (row-major index over the stage's axes), every
 * parameter in parameter order (axis, fixed, inherited or default: the
 * value the point trained with), draw, repeat, status (ok, diverged,
 * interrupted, not_run), seconds, then every metric of the study.  Missing
 * values (NaN) are empty fields; integers are written as integers,
 * categories as their names, other numbers with 17 significant digits (they
 * read back to the same double).  analysis.load_runs() returns the same
 * table as a pandas DataFrame (tests/test_tables.py checks they agree).
 * Reads schema versions 1 and 2.
 */
#include "aesweep/results.h"
#include "aesweep/spec.h"
#include "aesweep/status.h"
#include "aesweep/sweep.h"
#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EX_MAX_DIMS 16

typedef struct {
    char name[SPEC_NAME_LEN];
    int param;        /* param id, or -1 for draw / repeat */
    size_t len;
    double *num;      /* numeric values, or NULL */
    char **str;       /* string values (categories), or NULL */
    char labels[4096]; /* hidden width lists: "20;[512, 256]" (the `labels` attribute), or "" */
    char *big_labels;  /* a search stage's hidden along trial: one label per trial, or NULL */
} ex_dim_t;

/* A CSV field: quoted when it holds a comma or a quote (width lists). */
static void put_field(FILE *o, const char *v)
{
    if (!strpbrk(v, ",\"\n")) {
        fprintf(o, ",%s", v);
        return;
    }
    fputs(",\"", o);
    for (; *v; v++) {
        if (*v == '"') fputc('"', o);
        fputc(*v, o);
    }
    fputc('"', o);
}

/* Label i of a ';'-separated list. */
static void nth_label(const char *labels, size_t i, char *out, size_t n)
{
    const char *p = labels;
    for (size_t k = 0; k < i && p; k++) {
        p = strchr(p, ';');
        if (p) p++;
    }
    if (!p) { out[0] = 0; return; }
    size_t len = strcspn(p, ";");
    snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), p);
}

/* The shortest of %.15g, %.16g, %.17g that reads back to v. */
static void fmt_exact(double v, char *out, size_t n)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

static void fmt_value(int q, double v, char *out, size_t n)
{
    if (isnan(v)) out[0] = 0;
    else if (q == P_MMD_KERNEL) snprintf(out, n, "%s", v == 1 ? "imq" : "rbf");
    else if (q == P_ARCH) snprintf(out, n, "%s", v == 1 ? "resnet" : "mlp");
    else if (q == P_ACTIVATION) snprintf(out, n, "%s", v == 2 ? "elu" : v == 1 ? "tanh" : "relu");
    else if (param_is_integer(q)) snprintf(out, n, "%lld", (long long)v);
    else fmt_exact(v, out, n);
}

static void fmt_double(double v, char *out, size_t n)
{
    if (isnan(v)) out[0] = 0;
    else fmt_exact(v, out, n);
}

static herr_t scale_name_cb(hid_t did, unsigned dim, hid_t sid, void *data)
{
    (void)did, (void)dim;
    char full[512];
    if (H5Iget_name(sid, full, sizeof full) <= 0) return -1;
    const char *b = strrchr(full, '/');
    snprintf((char *)data, SPEC_NAME_LEN, "%s", b ? b + 1 : full);
    return 1; /* the first scale is enough */
}

/* HDF5's innermost message after a failed call, for the one-line error. */
static const char *h5why(char *buf, size_t n) { return data_h5_error(buf, n); }

/* The coordinate values of dimension d (numbers, or strings for
 * categories): 0, or -1 with err set. */
static int read_dim(hid_t g, ex_dim_t *d, const char *stage, char *err)
{
    char why[256];
    hid_t ds = H5Dopen2(g, d->name, H5P_DEFAULT);
    hid_t t = ds < 0 ? -1 : H5Dget_type(ds);
    H5T_class_t cls = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    int rc = cls == H5T_NO_CLASS ? -1 : 0;
    if (!rc && cls == H5T_STRING) {
        d->str = calloc(d->len ? d->len : 1, sizeof(char *));
        hid_t mt = d->str ? H5Tcopy(H5T_C_S1) : -1;
        rc = mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5T_CSET_UTF8) < 0 ||
                     H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->str) < 0
                 ? -1
                 : 0;
        if (mt >= 0) H5Tclose(mt);
    } else if (!rc) {
        d->num = malloc((d->len ? d->len : 1) * sizeof(double));
        rc = !d->num || H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->num) < 0 ? -1 : 0;
        if (!rc && d->param == P_HIDDEN) results_attr_str(ds, "labels", d->labels, sizeof d->labels);
    }
    if (rc)
        snprintf(err, SPEC_ERR_LEN, "stage %s: cannot read the coordinate %s (%s)", stage, d->name,
                 (cls != H5T_NO_CLASS && !d->str && !d->num) ? "out of memory" : h5why(why, sizeof why));
    if (t >= 0) H5Tclose(t);
    if (ds >= 0) H5Dclose(ds);
    return rc;
}

/* Dataset name of g (n values) read as mem: 0 with *out set, 0 with *out
 * NULL when the file has no such dataset (or another shape: an older
 * file), -1 with err set when reading failed. */
static int read_all(hid_t g, const char *name, size_t n, hid_t mem, void **out, const char *stage, char *err)
{
    char why[256];
    *out = NULL;
    htri_t e = H5Lexists(g, name, H5P_DEFAULT);
    if (e == 0) return 0;
    hid_t ds = e < 0 ? -1 : H5Dopen2(g, name, H5P_DEFAULT);
    hid_t sp = ds < 0 ? -1 : H5Dget_space(ds);
    hssize_t np = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    int rc = np < 0 ? -1 : 0;
    if (!rc && (size_t)np == n) {
        void *v = malloc((n ? n : 1) * (mem == H5T_NATIVE_INT8 ? 1 : sizeof(double)));
        if (!v) {
            snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory reading %s (%zu values)", stage, name, n);
            rc = -2;
        } else if (H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
            free(v);
            rc = -1;
        } else
            *out = v;
    }
    if (rc == -1) snprintf(err, SPEC_ERR_LEN, "stage %s: cannot read %s (HDF5: %s)", stage, name, h5why(why, sizeof why));
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return rc ? -1 : 0;
}

/* The values of a stage's parameters that are attributes (not axes, not
 * searched), as text. */
static void fixed_values(hid_t g, char fixed[P_COUNT][256])
{
    for (int q = 0; q < P_COUNT; q++) {
        fixed[q][0] = 0;
        char sv[256], lab[SPEC_NAME_LEN + 16];
        snprintf(lab, sizeof lab, "%s_label", param_names[q]);
        if (q == P_HIDDEN && results_attr_str(g, lab, sv, sizeof sv) == 0) snprintf(fixed[q], 256, "%s", sv);
        else if (results_attr_str(g, param_names[q], sv, sizeof sv) == 0) snprintf(fixed[q], 256, "%s", sv);
        else if (H5Aexists(g, param_names[q]) <= 0 && (q == P_ARCH || q == P_ACTIVATION))
            snprintf(fixed[q], 256, "%s", q == P_ARCH ? "mlp" : "relu"); /* schema 1: a plain ReLU MLP */
        else fmt_value(q, results_attr_f64(g, param_names[q]), fixed[q], 256);
    }
}

/* Value i of dimension / per-trial variable d of parameter q as text. */
static void dim_value(const ex_dim_t *d, int q, size_t i, char *out, size_t n)
{
    if (d->str) snprintf(out, n, "%s", d->str[i] ? d->str[i] : "");
    else if (d->labels[0]) nth_label(d->labels, i, out, n);
    else fmt_value(q, d->num[i], out, n);
}

static void free_dim(ex_dim_t *d)
{
    free(d->num);
    if (d->str) {
        for (size_t k = 0; k < d->len; k++) H5free_memory(d->str[k]);
        free(d->str);
    }
    free(d->big_labels);
}

/* The per-trial coordinate of parameter q of a search stage (a variable
 * `q` along trial), into d: 1 if the stage has one, 0 if not (the value is
 * an attribute), -1 with err when it cannot be read. */
static int trial_coord(hid_t g, int q, size_t ntrials, ex_dim_t *d, const char *stage, char *err)
{
    if (H5Lexists(g, param_names[q], H5P_DEFAULT) <= 0) return 0;
    snprintf(d->name, sizeof d->name, "%s", param_names[q]);
    d->param = q;
    d->len = ntrials;
    if (read_dim(g, d, stage, err)) return -1;
    if (q == P_HIDDEN && d->num) {
        /* one label per trial: more than ex_dim_t.labels holds */
        hid_t ds = H5Dopen2(g, d->name, H5P_DEFAULT);
        size_t cap = ntrials * 256 + 1;
        d->big_labels = ds < 0 ? NULL : malloc(cap);
        if (d->big_labels && results_attr_str(ds, "labels", d->big_labels, cap)) d->big_labels[0] = 0;
        if (ds >= 0) H5Dclose(ds);
    }
    return 1;
}

/* The end of every row: draw, repeat, status (its name), seconds and the
 * nm metrics at cube index i, then the newline. */
static void row_tail(FILE *o, size_t draw, size_t rep, int st, double secs, double **mv, int nm, size_t i)
{
    static const char *sn[] = {"ok", "diverged", "interrupted", "not_run"};
    char buf[64];
    fprintf(o, ",%zu,%zu,%s", draw, rep, st >= 0 && st <= 3 ? sn[st] : "not_run");
    fmt_double(secs, buf, sizeof buf);
    fprintf(o, ",%s", buf);
    for (int m = 0; m < nm; m++) {
        fmt_double(mv[m] ? mv[m][i] : NAN, buf, sizeof buf);
        fprintf(o, ",%s", buf);
    }
    fputc('\n', o);
}

/* One row of a search stage: its trial, every parameter (searched ones
 * from the trial's coordinates, the epochs of a halving rung), draw,
 * repeat, status, seconds, metrics at cube index i. */
static void search_row(FILE *o, const char *stage, size_t t, const ex_dim_t *coord, const int *has,
                       char fixed[P_COUNT][256], double epochs, size_t draw, size_t rep, int st, double secs,
                       double **mv, int nm, size_t i)
{
    char buf[256];
    fprintf(o, "%s,%zu", stage, t);
    for (int q = 0; q < P_COUNT; q++) {
        if (q == P_EPOCHS && epochs >= 0) {
            fprintf(o, ",%.0f", epochs);
        } else if (has[q]) {
            if (coord[q].big_labels && coord[q].big_labels[0]) nth_label(coord[q].big_labels, t, buf, sizeof buf);
            else dim_value(&coord[q], q, t, buf, sizeof buf);
            put_field(o, buf);
        } else
            put_field(o, fixed[q]);
    }
    row_tail(o, draw, rep, st, secs, mv, nm, i);
}

/* A search stage (a `trial` dimension; docs/results-format.md "Search
 * stages") as rows, cell = the trial.  With halving: one row per trial and
 * rung of its bracket (epochs = that rung's; not_run where it was not
 * promoted); sampled: one per trial, draw and repeat. */
static int export_search(hid_t g, const char *stage, const hsize_t *dims, int nd, char metrics[][SPEC_NAME_LEN],
                         int nm, FILE *o, char *err)
{
    size_t N = dims[0], ncube = 1;
    for (int i = 0; i < nd; i++) ncube *= dims[i];
    int halving = H5Lexists(g, "rung", H5P_DEFAULT) > 0, rc = 0;
    size_t R = halving ? dims[1] : 1, nrep = halving ? 1 : ncube / (N ? N : 1);
    size_t reps = nd >= 2 ? dims[nd - 1] : 1; /* the repeat dim's length (sampled) */
    ex_dim_t coord[P_COUNT];
    int has[P_COUNT];
    char fixed[P_COUNT][256];
    memset(coord, 0, sizeof coord);
    fixed_values(g, fixed);
    for (int q = 0; q < P_COUNT && !rc; q++) {
        has[q] = trial_coord(g, q, N, &coord[q], stage, err);
        if (has[q] < 0) rc = -2;
    }
    double **mv = calloc(nm ? nm : 1, sizeof(double *)), *secs = NULL, *re = NULL, *tb = NULL;
    int8_t *status = NULL;
    size_t B = 0;
    if (!mv && !rc) snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory", stage), rc = -2;
    if (!rc && halving) {
        hid_t bd = H5Dopen2(g, "bracket", H5P_DEFAULT);
        hid_t sp = bd < 0 ? -1 : H5Dget_space(bd);
        hssize_t nb = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
        if (sp >= 0) H5Sclose(sp);
        if (bd >= 0) H5Dclose(bd);
        B = nb > 0 ? (size_t)nb : 0;
        if (nb < 0 || read_all(g, "rung_epochs", B * R, H5T_NATIVE_DOUBLE, (void **)&re, stage, err) ||
            read_all(g, "trial_bracket", N, H5T_NATIVE_DOUBLE, (void **)&tb, stage, err) || !re || !tb) {
            if (!err[0]) snprintf(err, SPEC_ERR_LEN, "stage %s: no bracket structure (rung_epochs, trial_bracket)", stage);
            rc = -2;
        }
    }
    if (!rc && read_all(g, "status", ncube, H5T_NATIVE_INT8, (void **)&status, stage, err)) rc = -2;
    if (!rc && read_all(g, "seconds", ncube, H5T_NATIVE_DOUBLE, (void **)&secs, stage, err)) rc = -2;
    for (int m = 0; m < nm && !rc; m++)
        if (read_all(g, metrics[m], ncube, H5T_NATIVE_DOUBLE, (void **)&mv[m], stage, err)) rc = -2;
    for (size_t t = 0; t < N && !rc; t++)
        for (size_t k = 0; k < R * nrep; k++) {
            size_t i = t * R * nrep + k;
            double e = -1;
            if (halving) {
                size_t b = (size_t)tb[t];
                e = b < B ? re[b * R + k] : 0;
                if (e <= 0) continue; /* no such rung in its bracket */
            }
            search_row(o, stage, t, coord, has, fixed, e, halving ? 0 : k / reps, halving ? 0 : k % reps,
                       status ? status[i] : 3, secs ? secs[i] : NAN, mv, nm, i);
        }
    for (int m = 0; m < nm && mv; m++) free(mv[m]);
    free(mv), free(status), free(secs), free(re), free(tb);
    for (int q = 0; q < P_COUNT; q++) free_dim(&coord[q]);
    return rc;
}

/* The columns of a grid stage's rows: its dimensions, which parameter is
 * along which (axis_of, -1: fixed, its value in fixed[]), and the draw and
 * repeat dimensions (-1: none); nrep cube points make one cell. */
typedef struct {
    const ex_dim_t *dim;
    int nd;
    const int *axis_of;
    char (*fixed)[256];
    int draw_dim, rep_dim;
    size_t nrep;
} grid_cols_t;

/* One CSV row: cube point idx of a grid stage, its status, seconds and the
 * nm metrics' values there. */
static void grid_row(FILE *o, const char *stage, const grid_cols_t *gc, size_t idx, int s, double sec, double **mv, int nm)
{
    const ex_dim_t *dim = gc->dim;
    char buf[64];
    size_t co[EX_MAX_DIMS], rest = idx;
    for (int i = gc->nd - 1; i >= 0; i--) co[i] = rest % dim[i].len, rest /= dim[i].len;
    fprintf(o, "%s,%zu", stage, idx / gc->nrep);
    for (int q = 0; q < P_COUNT; q++) {
        int a = gc->axis_of[q];
        if (a < 0) put_field(o, gc->fixed[q]);
        else if (dim[a].str) put_field(o, dim[a].str[co[a]] ? dim[a].str[co[a]] : "");
        else if (dim[a].labels[0]) {
            char lab[256];
            nth_label(dim[a].labels, co[a], lab, sizeof lab);
            put_field(o, lab);
        } else {
            fmt_value(q, dim[a].num[co[a]], buf, sizeof buf);
            fprintf(o, ",%s", buf);
        }
    }
    row_tail(o, gc->draw_dim >= 0 ? co[gc->draw_dim] : 0, gc->rep_dim >= 0 ? co[gc->rep_dim] : 0, s, sec, mv, nm, idx);
}

static int export_stage(hid_t f, const char *stage, char metrics[][SPEC_NAME_LEN], int nm, FILE *o,
                        char *err)
{
    hid_t g;
    H5E_BEGIN_TRY { g = H5Gopen2(f, stage, H5P_DEFAULT); }
    H5E_END_TRY;
    if (g < 0) return 0; /* a stage not started has no rows */
    hid_t st = H5Dopen2(g, "status", H5P_DEFAULT);
    if (st < 0) {
        H5Gclose(g);
        snprintf(err, SPEC_ERR_LEN, "stage %s has no status dataset", stage);
        return -1;
    }
    hid_t sp = H5Dget_space(st);
    int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    hsize_t dims[EX_MAX_DIMS];
    if (nd < 1 || nd > EX_MAX_DIMS || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        char why[256];
        if (nd < 0) snprintf(err, SPEC_ERR_LEN, "stage %s: cannot read the shape of status (HDF5: %s)", stage, h5why(why, sizeof why));
        else snprintf(err, SPEC_ERR_LEN, "stage %s: status has %d dims", stage, nd);
        if (sp >= 0) H5Sclose(sp);
        H5Dclose(st), H5Gclose(g);
        return -1;
    }
    H5Sclose(sp);
    if (H5Lexists(g, "trial", H5P_DEFAULT) > 0) { /* a search stage */
        H5Dclose(st);
        int rc = export_search(g, stage, dims, nd, metrics, nm, o, err);
        H5Gclose(g);
        return rc;
    }
    ex_dim_t dim[EX_MAX_DIMS];
    memset(dim, 0, sizeof dim);
    size_t ncube = 1, nrep = 1;
    int rc = 0;
    for (int i = 0; i < nd && !rc; i++) {
        dim[i].len = dims[i];
        ncube *= dims[i];
        if (H5DSiterate_scales(st, (unsigned)i, NULL, scale_name_cb, dim[i].name) < 0 || !dim[i].name[0]) {
            snprintf(err, SPEC_ERR_LEN, "stage %s: dimension %d of status has no dimension scale", stage, i);
            rc = -1;
            break;
        }
        dim[i].param = param_lookup(dim[i].name);
        if (dim[i].param < 0) nrep *= dims[i];
        if (read_dim(g, &dim[i], stage, err)) rc = -1;
    }
    H5Dclose(st);
    /* values of the parameters that are not axes */
    char fixed[P_COUNT][256];
    int axis_of[P_COUNT];
    fixed_values(g, fixed);
    for (int q = 0; q < P_COUNT; q++) axis_of[q] = -1;
    int draw_dim = -1, rep_dim = -1;
    for (int i = 0; i < nd; i++) {
        if (dim[i].param >= 0) axis_of[dim[i].param] = i;
        else if (!strcmp(dim[i].name, "draw")) draw_dim = i;
        else if (!strcmp(dim[i].name, "repeat")) rep_dim = i;
    }
    double **mv = calloc(nm ? nm : 1, sizeof(double *));
    int8_t *status = NULL;
    double *secs = NULL;
    if (!mv && !rc) {
        snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory", stage);
        rc = -2;
    }
    /* a failed read (not an absent dataset) is an I/O error: -2, exit 3 */
    if (!rc && read_all(g, "status", ncube, H5T_NATIVE_INT8, (void **)&status, stage, err)) rc = -2;
    if (!rc && read_all(g, "seconds", ncube, H5T_NATIVE_DOUBLE, (void **)&secs, stage, err)) rc = -2;
    for (int m = 0; m < nm && !rc; m++)
        if (read_all(g, metrics[m], ncube, H5T_NATIVE_DOUBLE, (void **)&mv[m], stage, err)) rc = -2;
    const grid_cols_t gc = {dim, nd, axis_of, fixed, draw_dim, rep_dim, nrep};
    for (size_t idx = 0; idx < ncube && !rc; idx++)
        grid_row(o, stage, &gc, idx, status ? status[idx] : 3, secs ? secs[idx] : NAN, mv, nm);
    for (int m = 0; m < nm && mv; m++) free(mv[m]);
    free(mv), free(status), free(secs);
    for (int i = 0; i < nd; i++) free_dim(&dim[i]);
    H5Gclose(g);
    return rc;
}

/* export's command line: RESULT.h5 [--stage S] --csv OUT.csv.  0, or the
 * exit code after one line on stderr. */
static int export_args(int argc, char **argv, const char **path, const char **csv, const char **stage)
{
    *path = *csv = *stage = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--csv") || !strcmp(argv[i], "--stage")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "aesweep: export: %s needs a value (see aesweep --help)\n", argv[i]);
                return AES_EXIT_USAGE;
            }
            if (!strcmp(argv[i], "--csv")) *csv = argv[++i];
            else *stage = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "aesweep: export: unknown option '%s'; export takes RESULT.h5 [--stage S] --csv OUT.csv (see aesweep --help)\n", argv[i]);
            return AES_EXIT_USAGE;
        } else if (*path) {
            fprintf(stderr, "aesweep: export: one result file at a time ('%s' after '%s')\n", argv[i], *path);
            return AES_EXIT_USAGE;
        } else
            *path = argv[i];
    }
    if (!*path || !*csv) {
        fprintf(stderr, "aesweep: export: needs a result file and --csv OUT.csv (or --csv - for stdout), e.g. aesweep export results/quick.h5 --csv quick.csv\n");
        return AES_EXIT_USAGE;
    }
    return 0;
}

/* Close the CSV written to tmp and rename it to csv (stdout: flush).  rc is
 * the export's outcome so far (0, or failed: tmp is removed); returns it, or
 * -2 with err set when the write, sync or rename fails. */
static int finish_csv(FILE *o, int to_stdout, const char *tmp, const char *csv, int rc, char *err, size_t errlen)
{
    if (to_stdout) {
        fflush(stdout);
        return rc;
    }
    int bad = ferror(o) | (fflush(o) != 0);
    bad |= fsync(fileno(o)) != 0;
    bad |= fclose(o) != 0;
    if (!rc && bad) {
        snprintf(err, errlen, "%s: write failed (disk full?)", tmp);
        rc = -2;
    }
    if (rc) unlink(tmp);
    else if (rename(tmp, csv) != 0) {
        snprintf(err, errlen, "%s: cannot rename to %s (%s)", tmp, csv, strerror(errno));
        unlink(tmp);
        rc = -2;
    }
    return rc;
}

int export_main(int argc, char **argv)
{
    const char *path, *csv, *stage;
    int arc = export_args(argc, argv, &path, &csv, &stage);
    if (arc) return arc;
    int ours = results_is_ours(path);
    if (ours != 1) {
        fprintf(stderr, "aesweep: export: %s: %s\n", path,
                ours < 0 ? "no such file" : "not an aesweep result file (no format=aesweep-results attribute)");
        return AES_EXIT_USAGE;
    }
    hid_t f = results_open_readonly(path);
    if (f < 0) {
        fprintf(stderr, "aesweep: export: %s: cannot open the result file\n", path);
        return AES_EXIT_USAGE;
    }
    char stages[4096] = "", mlist[4096] = "", err[SPEC_ERR_LEN] = "";
    /* absent: an empty list; present but unreadable: an I/O error */
    if ((H5Aexists(f, "stages") != 0 && results_attr_str(f, "stages", stages, sizeof stages)) ||
        (H5Aexists(f, "metrics") != 0 && results_attr_str(f, "metrics", mlist, sizeof mlist))) {
        char why[256];
        fprintf(stderr, "aesweep: export: %s: cannot read the stages and metrics attributes (HDF5: %s)\n", path,
                h5why(why, sizeof why));
        H5Fclose(f);
        return AES_EXIT_RUNTIME;
    }
    char metrics[64][SPEC_NAME_LEN];
    int nm = 0;
    char *save = NULL;
    for (char *m = strtok_r(mlist, ",", &save); m && nm < 64; m = strtok_r(NULL, ",", &save))
        snprintf(metrics[nm++], SPEC_NAME_LEN, "%s", m);
    if (stage) {
        int found = 0;
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", stages);
        for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) found |= !strcmp(s, stage);
        if (!found) {
            fprintf(stderr, "aesweep: export: %s has no stage '%s'; its stages are %s\n", path, stage, stages);
            H5Fclose(f);
            return AES_EXIT_USAGE;
        }
    }
    /* written beside the target and renamed, so OUT.csv is never half-written */
    char tmp[SPEC_PATH_LEN + 16];
    int to_stdout = !strcmp(csv, "-");
    snprintf(tmp, sizeof tmp, "%s.tmp", csv);
    FILE *o = to_stdout ? stdout : fopen(tmp, "w");
    if (!o) {
        fprintf(stderr, "aesweep: export: %s: cannot create (%s); check that the folder exists and is writable\n", tmp,
                strerror(errno));
        H5Fclose(f);
        return AES_EXIT_RUNTIME;
    }
    fputs("stage,cell", o);
    for (int q = 0; q < P_COUNT; q++) fprintf(o, ",%s", param_names[q]);
    fputs(",draw,repeat,status,seconds", o);
    for (int m = 0; m < nm; m++) fprintf(o, ",%s", metrics[m]);
    fputc('\n', o);
    int rc = 0;
    for (char *s = strtok_r(stages, ",", &save); s && !rc; s = strtok_r(NULL, ",", &save))
        if (!stage || !strcmp(s, stage)) rc = export_stage(f, s, metrics, nm, o, err);
    H5Fclose(f);
    rc = finish_csv(o, to_stdout, tmp, csv, rc, err, sizeof err);
    if (rc) {
        fprintf(stderr, "aesweep: export: %s: %s\n", path, err);
        return rc == -2 ? AES_EXIT_RUNTIME : AES_EXIT_USAGE;
    }
    return 0;
}
