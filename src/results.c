/* results.c - HDF5 writer and reader for result files (docs/results-format.md).
 *
 * Dimension scales (H5DS, the HDF5 high-level library) carry the axes, which
 * is what makes a stage group a netCDF-4 group that xarray/h5netcdf read as
 * labelled arrays.  Strings are variable-length UTF-8 so h5py returns str.
 */
#include "aesweep/results.h"
#include "aesweep/halving.h"
#include "aesweep/search.h"
#include "aesweep/search_spec.h"
#include "aesweep/version.h"
#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/file.h>

struct results {
    hid_t f;
    hid_t gcpl; /* groups: link and attribute creation order tracked */
    hid_t dcpl; /* datasets: attribute creation order tracked */
    hid_t vstr; /* variable-length UTF-8 string: every string attribute and string coordinate */
    char final_path[SPEC_PATH_LEN];
    char tmp_path[SPEC_PATH_LEN + 8];
    const study_t *s;
    /* The first failure (what, where, HDF5's message).  Every write checks
     * `failed` first and does nothing once it is set, so that the message
     * names the cause and not the calls that failed because of it; the
     * public functions return -1 with it. */
    int failed;
    char msg[SPEC_ERR_LEN];
};

/* A failed H5Fclose (disk full) leaves a half-destroyed file object behind
 * in HDF5 1.10, and the library's exit handler (H5_term_library) then
 * dereferences it: SIGSEGV at exit.  cli_main therefore calls H5dont_atexit
 * and closes the library itself only when no close failed. */
static int g_close_failed;
int results_close_failed(void) { return g_close_failed; }

void results_now_iso(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- failures ----------------------------------------------------------- */

/* Record the first failure: "<file>.tmp: cannot <what> <object> (HDF5:
 * <innermost message>)".  The object is named by its path in the file
 * (loc's path, then name); an attribute as "attribute A of /path".  Call
 * right after the failing HDF5 call, before any other: HDF5 clears its
 * error stack at the start of every API call. */
static int fail_at(results_t *r, hid_t loc, const char *what, const char *name, int is_attr)
{
    if (r->failed) return -1;
    char why[256], at[256] = "";
    data_h5_error(why, sizeof why);
    if (loc >= 0) {
        H5E_BEGIN_TRY { if (H5Iget_name(loc, at, sizeof at) < 0) at[0] = 0; }
        H5E_END_TRY;
    }
    char obj[600];
    if (is_attr) snprintf(obj, sizeof obj, "attribute %s of %s", name, at[0] ? at : "?");
    else if (name && !at[0]) snprintf(obj, sizeof obj, "%s", name);
    else if (name) snprintf(obj, sizeof obj, "%s%s%s", at, strcmp(at, "/") ? "/" : "", name);
    else snprintf(obj, sizeof obj, "%s", at);
    snprintf(r->msg, sizeof r->msg, "%s: cannot %s%s%s (HDF5: %s)", r->tmp_path, what, obj[0] ? " " : "", obj, why);
    r->failed = 1;
    return -1;
}

static int fail_oom(results_t *r, const char *what, size_t bytes)
{
    if (r->failed) return -1;
    snprintf(r->msg, sizeof r->msg, "%s: out of memory (%zu bytes) for %s", r->tmp_path, bytes, what);
    r->failed = 1;
    return -1;
}

/* The public writers' message: the first failure, that the final path
 * is untouched, and what to do (hint; NULL: the run's journal keeps the
 * finished tasks, so --resume continues). */
#define RESUME_HINT "the journal keeps the finished tasks: fix that (free space?) and run with --resume"
static int report(const results_t *r, char *err, const char *hint)
{
    snprintf(err, SPEC_ERR_LEN, "%s; %s is untouched, %s", r->msg, r->final_path, hint ? hint : RESUME_HINT);
    return -1;
}

/* Close a dataset or group; a failure (a close flushes) is recorded under
 * the object's name, taken before the close (a failed close still releases
 * the identifier). */
static void close_obj(results_t *r, hid_t id, int is_group)
{
    if (id < 0) return;
    char at[256] = "";
    if (!r->failed) {
        H5E_BEGIN_TRY { if (H5Iget_name(id, at, sizeof at) < 0) at[0] = 0; }
        H5E_END_TRY;
    }
    if ((is_group ? H5Gclose(id) : H5Dclose(id)) < 0) fail_at(r, -1, is_group ? "close group" : "close dataset", at, 0);
}

static void close_ds(results_t *r, hid_t id) { close_obj(r, id, 0); }
static void close_g(results_t *r, hid_t id) { close_obj(r, id, 1); }

/* ---- attributes --------------------------------------------------------- */

/* Write attribute name of loc (replaced if present): n values (0: a scalar)
 * of file type ftype from v in memory type mtype. */
static int attr_write(results_t *r, hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                      const void *v)
{
    if (r->failed) return -1;
    htri_t ex = H5Aexists(loc, name);
    if (ex < 0 || (ex > 0 && H5Adelete(loc, name) < 0)) return fail_at(r, loc, "replace", name, 1);
    hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    if (sp < 0) return fail_at(r, loc, "make the dataspace of", name, 1);
    hid_t a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
    if (a < 0) return fail_at(r, loc, "create", name, 1);
    if (H5Awrite(a, mtype, v) < 0) {
        fail_at(r, loc, "write", name, 1);
        H5Aclose(a);
        return -1;
    }
    if (H5Aclose(a) < 0) return fail_at(r, loc, "close", name, 1);
    return 0;
}

static int attr_str(results_t *r, hid_t loc, const char *name, const char *v)
{
    return attr_write(r, loc, name, r->vstr, r->vstr, 0, &v);
}

/* A fixed-length ASCII string (netCDF's NC_CHAR), for the attributes NCO
 * acts on: before 5.1.8 (Debian 12 has 5.1.4) it skips an NC_STRING
 * `coordinates`, and applies CF rules (ncks -v extracts the variables a
 * `coordinates` names) only when `Conventions` is an NC_CHAR. */
static int attr_char(results_t *r, hid_t loc, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0 || H5Tset_size(t, strlen(v) ? strlen(v) : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        if (t >= 0) H5Tclose(t);
        return fail_at(r, loc, "make the string type of", name, 1);
    }
    int rc = attr_write(r, loc, name, t, t, 0, v);
    H5Tclose(t);
    return rc;
}

static int attr_i64(results_t *r, hid_t loc, const char *name, long long v)
{
    return attr_write(r, loc, name, H5T_NATIVE_LLONG, H5T_NATIVE_LLONG, 0, &v);
}

static int attr_f64(results_t *r, hid_t loc, const char *name, double v)
{
    return attr_write(r, loc, name, H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 0, &v);
}

/* ---- parameters: integers as integers, categories as strings ------------ */

/* The name of a categorical parameter's value, or NULL if p is numeric.
 * (mmd_kernel is stored as 0/1 in a cell's double[P_COUNT].) */
static const char *param_category(int p, double v)
{
    static const char *arch[] = {"mlp", "resnet"}, *act[] = {"relu", "tanh", "elu"};
    int i = (int)v;
    if (p == P_MMD_KERNEL) return v == 1 ? "imq" : "rbf";
    if (p == P_ARCH) return i >= 0 && i < 2 ? arch[i] : "?";
    if (p == P_ACTIVATION) return i >= 0 && i < 3 ? act[i] : "?";
    return NULL;
}

/* CF long_name and units of each parameter (as a coordinate or attribute). */
static const char *param_long_name(int p)
{
    switch (p) {
    case P_TRAIN_SIZE: return "training set size (rows of the pool used)";
    case P_EPOCHS: return "optimiser epochs";
    case P_LR: return "Adam learning rate";
    case P_HIDDEN: return "hidden layer width (a negative value -(1 + i) codes width list i: see labels)";
    case P_LAYERS: return "hidden-to-hidden blocks per side";
    case P_BOTTLENECK: return "code size (bottleneck width)";
    case P_BATCH_SIZE: return "mini-batch size (0 = full batch)";
    case P_MMD_LAMBDA: return "weight of the MMD term in the loss";
    case P_MMD_KERNEL: return "kernel of the MMD term";
    case P_MMD_SCALE: return "first scale of the MMD kernel";
    case P_MMD_NSCALES: return "number of MMD kernel scales";
    case P_ARCH: return "network architecture";
    case P_ACTIVATION: return "hidden-layer activation";
    default: return "hyperparameter";
    }
}

static int attr_param(results_t *r, hid_t loc, const char *name, int p, double v)
{
    const char *c = param_category(p, v);
    if (c) return attr_str(r, loc, name, c);
    if (param_is_integer(p)) return attr_i64(r, loc, name, (long long)v);
    return attr_f64(r, loc, name, v);
}

/* ---- datasets and dimensions -------------------------------------------- */

/* Create dataset name in loc (rank 0: a scalar) and write data unless
 * NULL; the open dataset, or -1 (recorded). */
static hid_t write_ds(results_t *r, hid_t loc, const char *name, hid_t mem_type, hid_t file_type,
                      int rank, const hsize_t *dims, const void *data)
{
    if (r->failed) return -1;
    hid_t sp = rank > 0 ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    if (sp < 0) return fail_at(r, loc, "make the dataspace of", name, 0);
    hid_t d = H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, r->dcpl, H5P_DEFAULT);
    H5Sclose(sp);
    if (d < 0) return fail_at(r, loc, "create dataset", name, 0);
    if (data && H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        fail_at(r, loc, "write dataset", name, 0);
        H5Dclose(d);
        return -1;
    }
    return d;
}

/* CF: every variable and coordinate gets a long_name and units ("1" for
 * dimensionless numbers, counts and indices; the moons and digits data are
 * dimensionless, so MSEs are too). */
static int describe(results_t *r, hid_t ds, const char *long_name, const char *units)
{
    attr_str(r, ds, "long_name", long_name);
    if (units) attr_str(r, ds, "units", units);
    return r->failed ? -1 : 0;
}

static hid_t new_group(results_t *r, hid_t loc, const char *name)
{
    if (r->failed) return -1;
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, r->gcpl, H5P_DEFAULT);
    return g < 0 ? fail_at(r, loc, "create group", name, 0) : g;
}

/* Does link name exist in loc?  1, 0, or -1 (recorded). */
static int has_link(results_t *r, hid_t loc, const char *name)
{
    if (r->failed) return -1;
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    return e < 0 ? fail_at(r, loc, "look up", name, 0) : e > 0;
}

static hid_t open_or_create(results_t *r, hid_t loc, const char *name)
{
    int e = has_link(r, loc, name);
    if (e <= 0) return e < 0 ? -1 : new_group(r, loc, name);
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    return g < 0 ? fail_at(r, loc, "open group", name, 0) : g;
}

/* Remove link name from loc if present (a stage or model written again). */
static int remove_link(results_t *r, hid_t loc, const char *name)
{
    int e = has_link(r, loc, name);
    if (e > 0 && H5Ldelete(loc, name, H5P_DEFAULT) < 0) return fail_at(r, loc, "replace", name, 0);
    return e < 0 ? -1 : 0;
}

static int set_scale(results_t *r, hid_t ds, const char *name)
{
    if (r->failed || ds < 0) return -1;
    return H5DSset_scale(ds, name) < 0 ? fail_at(r, ds, "make a dimension scale of", NULL, 0) : 0;
}

static int attach_all(results_t *r, hid_t ds, const hid_t *scales, int n)
{
    for (int d = 0; d < n && !r->failed; d++)
        if (H5DSattach_scale(ds, scales[d], d) < 0) fail_at(r, ds, "attach a dimension scale to", NULL, 0);
    return r->failed ? -1 : 0;
}

/* A netCDF-4 dimension without a coordinate variable (row and feature
 * indices): a dimension scale whose NAME says so, which netCDF-C, h5netcdf
 * and xarray read as a bare dimension.  No data is ever written, so it
 * takes no space.  Opened if it exists (same length). */
#define NC_DIM_ONLY "This is a netCDF dimension but not a netCDF variable."
static hid_t bare_dim(results_t *r, hid_t g, const char *name, size_t n)
{
    int e = has_link(r, g, name);
    if (e < 0) return -1;
    if (e > 0) {
        hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
        return ds < 0 ? fail_at(r, g, "open dataset", name, 0) : ds;
    }
    hsize_t d = n;
    hid_t ds = write_ds(r, g, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 1, &d, NULL);
    char nm[96];
    snprintf(nm, sizeof nm, "%s%10zu", NC_DIM_ONLY, n);
    set_scale(r, ds, nm);
    return ds;
}

/* Write a dataset whose dims are the named bare dimensions (created on
 * first use in group g) and describe it. */
static int put_on_dims(results_t *r, hid_t g, const char *name, hid_t mem_type, hid_t file_type,
                       int rank, const hsize_t *dims, const char *const *dim_names, const void *data,
                       const char *long_name, const char *units)
{
    hid_t ds = write_ds(r, g, name, mem_type, file_type, rank, dims, data);
    for (int i = 0; i < rank && !r->failed; i++) {
        hid_t sc = bare_dim(r, g, dim_names[i], dims[i]);
        if (!r->failed && H5DSattach_scale(ds, sc, i) < 0) fail_at(r, ds, "attach a dimension scale to", NULL, 0);
        close_ds(r, sc);
    }
    describe(r, ds, long_name, units);
    close_ds(r, ds);
    return r->failed ? -1 : 0;
}

static int put_f32_2d(results_t *r, hid_t g, const char *name, const float *x, size_t n, int d,
                      const char *row_dim, const char *col_dim, const char *long_name)
{
    hsize_t dims[2] = {n, (hsize_t)d};
    const char *dn[2] = {row_dim, col_dim};
    return put_on_dims(r, g, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, dims, dn, x, long_name, "1");
}

static void join_names(char *out, size_t len, int n, const char *(*get)(const void *, int), const void *ctx)
{
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        strncat(out, get(ctx, i), len - strlen(out) - 2);
        if (i + 1 < n) strncat(out, ",", len - strlen(out) - 1);
    }
}
static const char *stage_name_at(const void *c, int i) { return ((const study_t *)c)->stages[i].name; }
static const char *test_name_at(const void *c, int i) { return ((const study_t *)c)->tests[i].name; }

static const char *src_name(int s)
{
    return s >= 0 && s < SRC_COUNT ? spec_source_names[s] : "?";
}

/* long_name of a metric (a cube variable). */
static void metric_long_name(const char *m, char *out, size_t n)
{
    if (!strncmp(m, "test_mse_", 9))
        snprintf(out, n, "mean squared reconstruction error on test set %s (data units squared)", m + 9);
    else if (!strcmp(m, "train_mse"))
        snprintf(out, n, "mean squared reconstruction error on the training set (data units squared)");
    else if (!strcmp(m, "code_mmd"))
        snprintf(out, n, "MMD^2 between the first test set's codes and N(0, I) (kernel: root attribute mmd_metric_kernel)");
    else if (!strcmp(m, "code_mean_dist"))
        snprintf(out, n, "norm of the mean of the first test set's codes, |mean(codes)|_2");
    else if (!strcmp(m, "code_cov_dist"))
        snprintf(out, n, "Frobenius distance of the codes' covariance from I, |cov(codes) - I|_F");
    else if (!strcmp(m, "gen_mmd"))
        snprintf(out, n, "MMD^2 between N(0, I) decoded and the first test set (kernel: root attribute mmd_metric_kernel)");
    else
        snprintf(out, n, "%s", m);
}

/* Create "<final>.tmp" with creation order tracked (and indexed, which
 * netCDF-C needs to use it): groups, stages, cells and variables come back
 * in the order written.  The file closes STRONG: H5Fclose also closes any
 * object a failed write left open, so that a failure never leaves the file
 * half-open. */
static int create_file(results_t *r, char *err)
{
    unsigned crt = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = H5Pcreate(H5P_FILE_ACCESS);
    r->gcpl = H5Pcreate(H5P_GROUP_CREATE);
    r->dcpl = H5Pcreate(H5P_DATASET_CREATE);
    r->vstr = H5Tcopy(H5T_C_S1);
    int ok = fcpl >= 0 && fapl >= 0 && r->gcpl >= 0 && r->dcpl >= 0 && r->vstr >= 0 &&
             H5Pset_link_creation_order(fcpl, crt) >= 0 && H5Pset_attr_creation_order(fcpl, crt) >= 0 &&
             H5Pset_link_creation_order(r->gcpl, crt) >= 0 && H5Pset_attr_creation_order(r->gcpl, crt) >= 0 &&
             H5Pset_attr_creation_order(r->dcpl, crt) >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 &&
             H5Tset_size(r->vstr, H5T_VARIABLE) >= 0 && H5Tset_cset(r->vstr, H5T_CSET_UTF8) >= 0;
    if (!ok) {
        char why[256];
        data_h5_error(why, sizeof why);
        snprintf(err, SPEC_ERR_LEN, "%s: cannot set up the result file's properties (HDF5: %s)", r->tmp_path, why);
    } else {
        errno = 0;
        r->f = H5Fcreate(r->tmp_path, H5F_ACC_TRUNC, fcpl, fapl);
        if (r->f < 0) {
            int e = errno;
            char why[256];
            data_h5_error(why, sizeof why);
            unlink(r->tmp_path); /* H5Fcreate may have left an empty file (disk full) */
            snprintf(err, SPEC_ERR_LEN, "%s: cannot create the result file (%s; HDF5: %s); free space or choose another output (-o)",
                     r->tmp_path, e ? strerror(e) : "I/O error", why);
            ok = 0;
        }
    }
    if (fcpl >= 0) H5Pclose(fcpl);
    if (fapl >= 0) H5Pclose(fapl);
    return ok ? 0 : -1;
}

/* CF-1.8 global attributes first, then the run's. */
static int root_attrs(results_t *r, const study_data_t *sd, int nranks, const char *start_time)
{
    const study_t *s = r->s;
    hid_t f = r->f;
    char buf[2048];
    attr_char(r, f, "Conventions", "CF-1.8"); /* NC_CHAR: NCO 5.1.4 is CF-aware only then */
    snprintf(buf, sizeof buf, "aesweep study %s: autoencoder hyperparameter sweep", s->study);
    attr_str(r, f, "title", buf);
    snprintf(buf, sizeof buf, "%s: aesweep %s run %s on %d rank(s)", start_time, AESWEEP_VERSION, s->path, nranks);
    attr_str(r, f, "history", buf);
    snprintf(buf, sizeof buf, "aesweep %s (commit %s)", AESWEEP_VERSION, AESWEEP_GIT_COMMIT);
    attr_str(r, f, "source", buf);
    attr_str(r, f, "references", "docs/results-format.md of aesweep");
    attr_str(r, f, "format", "aesweep-results");
    attr_i64(r, f, "schema_version", AESWEEP_SCHEMA_VERSION);
    attr_str(r, f, "aesweep_version", AESWEEP_VERSION);
    attr_str(r, f, "git_commit", AESWEEP_GIT_COMMIT);
    attr_str(r, f, "study", s->study);
    attr_i64(r, f, "seed", (long long)s->seed);
    attr_str(r, f, "spec", s->text ? s->text : "");
    attr_str(r, f, "spec_path", s->path);
    attr_i64(r, f, "ranks", nranks);
    attr_str(r, f, "start_time", start_time);
    attr_str(r, f, "end_time", "");
    attr_i64(r, f, "complete", 0);
    join_names(buf, sizeof buf, s->nstages, stage_name_at, s);
    attr_str(r, f, "stages", buf);
    char names[PLAN_MAX_METRICS][SPEC_NAME_LEN];
    int nm = spec_metric_names(s, names, PLAN_MAX_METRICS);
    buf[0] = 0;
    for (int i = 0; i < nm; i++) {
        strncat(buf, names[i], sizeof buf - strlen(buf) - 2);
        if (i + 1 < nm) strcat(buf, ",");
    }
    attr_str(r, f, "metrics", buf);
    if (spec_has_mmd(s) && sd->ntests > 0) {
        /* the fixed kernel of the MMD metrics, so that they can be recomputed */
        attr_str(r, f, "mmd_metric_kernel",
                 "imq, C = 2 dim var x {0.1,0.2,0.5,1,2,5,10}; codes: dim = bottleneck, var = 1 vs a fixed "
                 "N(0,I) sample of 1000 (stream derive(seed,'metric.z')); gen: dim = in_dim, var = "
                 "mmd_metric_data_variance, decoded sample vs the first test set's first 1000 rows");
        attr_f64(r, f, "mmd_metric_data_variance", task_metric_variance(&sd->tests[0]));
    }
    return r->failed ? -1 : 0;
}

/* A data file's identity (CRC, size) and the seeded split of its rows. */
static int data_split(results_t *r, hid_t g, const study_data_t *sd)
{
    const study_t *s = r->s;
    uint32_t crc = 0;
    uint64_t size = 0;
    if (data_crc32_file(s->data_path, &crc, &size) && !r->failed) {
        snprintf(r->msg, sizeof r->msg, "%s: cannot read the data file %s to record its checksum (%s)", r->tmp_path,
                 s->data_path, strerror(errno));
        r->failed = 1;
        return -1;
    }
    attr_i64(r, g, "file_crc32", crc);
    attr_i64(r, g, "file_size", (long long)size);
    hsize_t n = sd->file_rows;
    long long *ix = malloc((n ? n : 1) * sizeof(long long));
    if (!ix) return fail_oom(r, "the split indices", n * sizeof(long long));
    for (size_t i = 0; i < n; i++) ix[i] = (long long)sd->split[i];
    const char *dn[1] = {"file_row"};
    put_on_dims(r, g, "split", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, &n, dn, ix,
                "seeded permutation of the data file's rows; the first len(pool) are the training split", "1");
    free(ix);
    return r->failed ? -1 : 0;
}

/* /data: where the data came from, the pool and the test sets. */
static int data_group(results_t *r, const study_data_t *sd)
{
    const study_t *s = r->s;
    char buf[2048];
    hid_t g = new_group(r, r->f, "data");
    if (g < 0) return -1;
    attr_str(r, g, "source", src_name(s->source));
    attr_str(r, g, "path", s->data_path);
    attr_str(r, g, "scaler", scaler_kind_name(s->scaler));
    attr_i64(r, g, "in_dim", sd->in_dim);
    attr_f64(r, g, "noise", s->noise);
    attr_f64(r, g, "train_fraction", s->train_fraction);
    join_names(buf, sizeof buf, s->ntests, test_name_at, s);
    attr_str(r, g, "tests", buf);
    if (s->source == SRC_IDX || s->source == SRC_NPY) {
        attr_str(r, g, "labels", s->labels_path);
        attr_str(r, g, "pixels", data_pixels_name(s->pixels));
    }
    if (s->source != SRC_MOONS) data_split(r, g, sd);
    put_f32_2d(r, g, "pool", sd->pool.x, sd->pool.n, sd->pool.d, "pool_row", "feature",
               s->source == SRC_MOONS ? "training pool" : "training split of the data file");
    if (sd->pool.labels) {
        hsize_t n = sd->pool.n;
        const char *dn[1] = {"pool_row"};
        put_on_dims(r, g, "pool_labels", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &n, dn, sd->pool.labels,
                    "class label of each pool row", "1");
    }
    for (int t = 0; t < s->ntests && !r->failed; t++) {
        char nm2[SPEC_NAME_LEN + 16], rows[SPEC_NAME_LEN + 16], ln[SPEC_NAME_LEN + 32];
        snprintf(nm2, sizeof nm2, "test_%s", s->tests[t].name);
        snprintf(rows, sizeof rows, "test_%s_row", s->tests[t].name);
        snprintf(ln, sizeof ln, "test set %s", s->tests[t].name);
        put_f32_2d(r, g, nm2, sd->tests[t].x, sd->tests[t].n, sd->tests[t].d, rows, "feature", ln);
        if (sd->tests[t].labels) {
            hsize_t n = sd->tests[t].n;
            const char *dn[1] = {rows};
            strcat(nm2, "_labels");
            snprintf(ln, sizeof ln, "class label of each row of test set %s", s->tests[t].name);
            put_on_dims(r, g, nm2, H5T_NATIVE_INT, H5T_STD_I32LE, 1, &n, dn, sd->tests[t].labels, ln, "1");
        }
    }
    close_g(r, g);
    return r->failed ? -1 : 0;
}

/* Free r and its property lists (the file is closed). */
static void release(results_t *r)
{
    if (r->gcpl >= 0) H5Pclose(r->gcpl);
    if (r->dcpl >= 0) H5Pclose(r->dcpl);
    if (r->vstr >= 0) H5Tclose(r->vstr);
    free(r);
}

results_t *results_open(const char *final_path, const study_t *s, const study_data_t *sd,
                        int nranks, const char *start_time, char *err)
{
    results_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, SPEC_ERR_LEN, "%s: out of memory opening the result file", final_path);
        return NULL;
    }
    r->f = r->gcpl = r->dcpl = r->vstr = -1;
    snprintf(r->final_path, sizeof r->final_path, "%s", final_path);
    snprintf(r->tmp_path, sizeof r->tmp_path, "%s.tmp", final_path);
    r->s = s;
    if (create_file(r, err)) {
        release(r);
        return NULL;
    }
    if (root_attrs(r, sd, nranks, start_time) == 0 && data_group(r, sd) == 0)
        close_g(r, new_group(r, r->f, "models"));
    if (r->failed) {
        report(r, err, "free space or choose another output (-o)");
        results_abort(r);
        return NULL;
    }
    return r;
}

/* The coordinate variable of cube dimension d: the axis values (integers
 * as int64, categories as strings, others as float64), or draw / repeat
 * indices (int32). */
static hid_t make_axis_scale(results_t *r, hid_t g, const plan_t *p, int d)
{
    const char *name = p->dim_names[d];
    hsize_t n = p->dim_len[d];
    int q = p->dim_param[d];
    hid_t ds = -1;
    if (r->failed) return -1;
    if (q < 0 && !strcmp(name, "trial")) {
        /* search stages: the sample index (a grid with halving: the permuted cell; tpe: proposal order) */
        long long *tv = malloc((n ? n : 1) * sizeof(long long));
        if (!tv) return fail_oom(r, "a coordinate", n * sizeof(long long));
        for (size_t i = 0; i < n; i++) tv[i] = (long long)i;
        ds = write_ds(r, g, name, H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, &n, tv);
        free(tv);
        describe(r, ds, "trial (sample index; its parameters are the variables along trial)", "1");
    } else if (q < 0) {
        int *iv = malloc((n ? n : 1) * sizeof(int));
        if (!iv) return fail_oom(r, "a coordinate", n * sizeof(int));
        for (size_t i = 0; i < n; i++) iv[i] = (int)i;
        ds = write_ds(r, g, name, H5T_NATIVE_INT, H5T_STD_I32LE, 1, &n, iv);
        free(iv);
        describe(r, ds, !strcmp(name, "draw")   ? "data draw (a freshly drawn training set)"
                        : !strcmp(name, "rung") ? "rung of successive halving (its epochs: rung_epochs)"
                                                : "repeat (initialisation) index",
                 "1");
    } else {
        int ax = 0;
        while (p->spec->axes[ax].param != q) ax++;
        const double *v = p->spec->axes[ax].values;
        if (param_category(q, v[0])) {
            const char **sv = calloc(n ? n : 1, sizeof(char *));
            if (!sv) return fail_oom(r, "a coordinate", n * sizeof(char *));
            for (size_t i = 0; i < n; i++) sv[i] = param_category(q, v[i]);
            ds = write_ds(r, g, name, r->vstr, r->vstr, 1, &n, sv);
            free(sv);
        } else if (param_is_integer(q)) {
            long long *iv = malloc((n ? n : 1) * sizeof(long long));
            if (!iv) return fail_oom(r, "a coordinate", n * sizeof(long long));
            for (size_t i = 0; i < n; i++) iv[i] = (long long)v[i];
            ds = write_ds(r, g, name, H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, &n, iv);
            free(iv);
        } else
            ds = write_ds(r, g, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &n, v);
        describe(r, ds, param_long_name(q), param_category(q, v[0]) ? NULL : "1");
        if (q == P_HIDDEN) {
            /* width lists are coded -(1 + i); the labels say what each value
             * is, as the spec writes it: "[512, 256];800" */
            char lab[4096] = "";
            int coded = 0;
            for (size_t i = 0; i < n; i++) {
                char one[200];
                coded |= v[i] < 0;
                spec_format_value(p->study, q, v[i], one, sizeof one);
                snprintf(lab + strlen(lab), sizeof lab - strlen(lab), "%s%s", i ? ";" : "", one);
            }
            if (coded) attr_str(r, ds, "labels", lab);
        }
    }
    set_scale(r, ds, name);
    return ds;
}

static int trial_param(results_t *r, hid_t g, const plan_t *p, int q, hid_t tscale);
static void search_coords(const plan_t *p, char *out, size_t n);

/* /<stage>/curves: the learning curves on dims (the cube's dims without
 * the epochs axis, then `epoch`), with their own coordinate variables so
 * that the group opens on its own. */
static int write_curves(results_t *r, hid_t g, const plan_t *p)
{
    hid_t cg = new_group(r, g, "curves");
    if (cg < 0) return -1;
    attr_i64(r, cg, "curve_points", p->spec->curve_points);
    attr_str(r, cg, "description",
             "learning curves: each test set's MSE and train_mse after `epoch` optimiser epochs, as a run "
             "stopped there reports them; NaN after divergence or where a task never ran");
    hid_t scales[PLAN_MAX_DIMS + 1];
    hsize_t dims[PLAN_MAX_DIMS + 1];
    int nd = 0;
    for (int d = 0; d < p->ndims; d++) {
        /* a halving stage's curves are one row per trial: its rungs are
         * segments of one trajectory (plan_store_curve) */
        if (d == p->epoch_dim || ((p->search & PLAN_HALVING) && d > 0)) continue;
        scales[nd] = make_axis_scale(r, cg, p, d);
        dims[nd++] = p->dim_len[d];
    }
    /* a search stage's parameters along trial, again here, so that the
     * group opened on its own (xarray's group=) labels each curve with
     * its configuration (the CF `coordinates` of every curve variable) */
    char coords[P_COUNT * (SPEC_NAME_LEN + 1)] = "";
    if (p->search && nd > 0) {
        for (int i = 0; i < p->nsearch_params && !r->failed; i++)
            trial_param(r, cg, p, p->search_params[i], scales[0]);
        search_coords(p, coords, sizeof coords);
    }
    hsize_t ne = p->ncurve;
    scales[nd] = write_ds(r, cg, "epoch", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &ne, p->curve_epochs);
    describe(r, scales[nd], "optimiser epochs completed", "1");
    set_scale(r, scales[nd], "epoch");
    dims[nd++] = ne;
    char ln[256];
    for (int m = 0; m < p->ncurve_metrics && !r->failed; m++) {
        hid_t ds = write_ds(r, cg, p->metric_names[m], H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, nd, dims,
                            p->curves + (size_t)m * p->ntraj * p->ncurve);
        attach_all(r, ds, scales, nd);
        metric_long_name(p->metric_names[m], ln, sizeof ln);
        describe(r, ds, ln, "1");
        if (coords[0]) attr_char(r, ds, "coordinates", coords);
        close_ds(r, ds);
    }
    for (int d = 0; d < nd; d++) close_ds(r, scales[d]);
    close_g(r, cg);
    return r->failed ? -1 : 0;
}

/* The cube variables on the first nd of the cube's dims (all of them in a
 * grid; a halving stage drops its repeat dim of length 1, which leaves the
 * data as it is): one dataset per metric, then the training status (a CF
 * flag variable) and the seconds.  coords: the CF `coordinates` attribute
 * of each (a search stage's parameters along trial), or NULL. */
static int write_cube(results_t *r, hid_t g, const plan_t *p, const hid_t *scales, const hsize_t *dims, int nd,
                      const char *coords)
{
    char ln[512];
    for (int m = 0; m < p->nmetrics && !r->failed; m++) {
        hid_t ds = write_ds(r, g, p->metric_names[m], H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, nd, dims,
                            p->metrics + (size_t)m * p->ncube);
        metric_long_name(p->metric_names[m], ln, sizeof ln);
        describe(r, ds, ln, "1");
        if (coords) attr_char(r, ds, "coordinates", coords);
        attach_all(r, ds, scales, nd);
        close_ds(r, ds);
    }
    hid_t ds = write_ds(r, g, "status", H5T_NATIVE_INT8, H5T_STD_I8LE, nd, dims, p->status);
    describe(r, ds, "training status of the cube point", "1");
    const int8_t fv[4] = {0, 1, 2, 3};
    attr_write(r, ds, "flag_values", H5T_STD_I8LE, H5T_NATIVE_INT8, 4, fv);
    attr_str(r, ds, "flag_meanings", "ok diverged interrupted not_run");
    attach_all(r, ds, scales, nd);
    close_ds(r, ds);
    ds = write_ds(r, g, "seconds", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, nd, dims, p->seconds);
    describe(r, ds, "wall time of the task when it reached this cube point", "s");
    attach_all(r, ds, scales, nd);
    close_ds(r, ds);
    return r->failed ? -1 : 0;
}

/* One statistic over draw and repeat (dims: the axes only, sdims of them,
 * or one value when the stage has no axes) with its CF cell_methods. */
static void put_stat(results_t *r, hid_t g, const char *name, const double *v, int sdims, const hsize_t *cd,
                     const hid_t *scales, const char *long_name, const char *cell_methods)
{
    hid_t ds = write_ds(r, g, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, sdims, cd, v);
    attach_all(r, ds, scales, sdims);
    describe(r, ds, long_name, "1");
    attr_str(r, ds, "cell_methods", cell_methods);
    close_ds(r, ds);
}

/* Per metric: mean, standard deviation and minimum over draws and repeats
 * (and with draws the two spreads); then n_ok of the selection metric. */
static int write_stats(results_t *r, hid_t g, const plan_t *p, const hid_t *scales, const hsize_t *dims)
{
    const stage_spec_t *st = p->spec;
    int draws = st->data_draws > 1;
    int naxes = p->ndims - 1 - draws;
    const char *over = draws ? "draw: repeat:" : "repeat:", *what = draws ? "draws and repeats" : "repeats";
    size_t nc = p->ncells;
    double *mean = malloc(nc * sizeof(double)), *sd = malloc(nc * sizeof(double)), *mn = malloc(nc * sizeof(double));
    int *cnt = malloc(nc * sizeof(int));
    if (!mean || !sd || !mn || !cnt) {
        free(mean), free(sd), free(mn), free(cnt);
        return fail_oom(r, "the statistics over repeats", nc * (3 * sizeof(double) + sizeof(int)));
    }
    hsize_t one = 1;
    int sdims = naxes > 0 ? naxes : 0;
    const hsize_t *cd = naxes > 0 ? dims : &one;
    char ln[512], cm[128], nm[SPEC_NAME_LEN + 16], base[400];
    for (int m = 0; m < p->nmetrics && !r->failed; m++) {
        metric_long_name(p->metric_names[m], base, sizeof base);
        plan_stats(p, m, mean, sd, mn, cnt);
        const char *suf[3] = {"_mean", "_std", "_min"};
        const char *how[3] = {"mean", "standard_deviation", "minimum"};
        const char *word[3] = {"mean", "standard deviation (ddof 1)", "minimum"};
        const double *arr[3] = {mean, sd, mn};
        for (int k = 0; k < 3; k++) {
            snprintf(nm, sizeof nm, "%s%s", p->metric_names[m], suf[k]);
            snprintf(ln, sizeof ln, "%s over %s of the %s", word[k], what, base);
            snprintf(cm, sizeof cm, "%s %s", over, how[k]);
            put_stat(r, g, nm, arr[k], sdims, cd, scales, ln, cm);
        }
        if (draws) {
            plan_spread(p, m, sd, mn);
            snprintf(nm, sizeof nm, "%s_init_std", p->metric_names[m]);
            snprintf(ln, sizeof ln, "spread from initialisation: sqrt of the mean over draws of the variance over repeats of the %s", base);
            /* sqrt(mean_draws(var_repeats)) is the RMS over draws of the std over repeats */
            put_stat(r, g, nm, sd, sdims, cd, scales, ln, "repeat: standard_deviation draw: root_mean_square");
            snprintf(nm, sizeof nm, "%s_data_std", p->metric_names[m]);
            snprintf(ln, sizeof ln, "spread from data: standard deviation over draws of the mean over repeats of the %s", base);
            put_stat(r, g, nm, mn, sdims, cd, scales, ln, "repeat: mean draw: standard_deviation");
        }
    }
    plan_stats(p, p->select_metric, NULL, NULL, NULL, cnt);
    hid_t ds = write_ds(r, g, "n_ok", H5T_NATIVE_INT, H5T_STD_I32LE, sdims, cd, cnt);
    attach_all(r, ds, scales, sdims);
    snprintf(ln, sizeof ln, "number of finite values of %s over %s", p->metric_names[p->select_metric], what);
    describe(r, ds, ln, "1");
    snprintf(cm, sizeof cm, "%s sum", over);
    attr_str(r, ds, "cell_methods", cm);
    close_ds(r, ds);
    free(mean), free(sd), free(mn), free(cnt);
    return r->failed ? -1 : 0;
}

/* sum(busy) / nranks / max(busy): 1 when every rank trained equally long. */
static double balance(const double *busy, int nranks)
{
    double mx = 0, sum = 0;
    for (int i = 0; i < nranks; i++) {
        sum += busy[i];
        if (busy[i] > mx) mx = busy[i];
    }
    return mx > 0 ? sum / nranks / mx : 1.0;
}

/* Is parameter q one that varies along a search stage's trials? */
static int is_search_param(const plan_t *p, int q)
{
    for (int i = 0; p->search && i < p->nsearch_params; i++)
        if (p->search_params[i] == q) return 1;
    return 0;
}

/* Predicted cost (FLOP, plan_task_cost's model) of a grid stage's tasks,
 * all of them (a search's share of a grid is then a ratio of these); of a
 * search stage, the tasks it trained (what its trials used). */
static double compute_total(const plan_t *p)
{
    double c = 0;
    for (size_t t = 0; t < p->ntasks; t++)
        if (!p->search || p->task_done[t]) c += p->tasks[t].cost;
    return c;
}

/* The stage's attributes: its settings, progress, best cell, and where
 * each parameter's value came from. */
static int stage_attrs(results_t *r, hid_t g, const plan_t *p, const double *busy, int nranks, double predicted)
{
    const stage_spec_t *st = p->spec;
    char nm[SPEC_NAME_LEN + 16];
    attr_i64(r, g, "stage_index", p->stage_index);
    attr_i64(r, g, "repeats", st->repeats);
    attr_i64(r, g, "data_draws", st->data_draws);
    attr_i64(r, g, "reuse_epochs", st->reuse_epochs);
    attr_i64(r, g, "save_models", st->save_models);
    attr_f64(r, g, "pool_noise", st->pool_noise);
    attr_i64(r, g, "curve_points", st->curve_points);
    attr_i64(r, g, "complete", plan_complete(p));
    attr_i64(r, g, "tasks_done", (long long)p->ndone);
    attr_i64(r, g, "tasks_total", (long long)search_tasks_total(p));
    attr_str(r, g, "select_metric", p->metric_names[p->select_metric]);
    attr_i64(r, g, "best_cell", p->best_cell);
    attr_f64(r, g, "best_value", p->best_cell >= 0 ? p->best_value : NAN);
    attr_i64(r, g, "n_skipped", (long long)p->nskipped);
    attr_f64(r, g, "balance_efficiency", balance(busy, nranks));
    attr_f64(r, g, "predicted_makespan", predicted);
    attr_str(r, g, "predicted_makespan_units", "FLOP");
    attr_str(r, g, "inherited_from", p->inherited_from);
    attr_f64(r, g, "compute_total", compute_total(p));
    static const char *srcn[] = {"default", "fixed", "inherited", "axis"};
    for (int q = 0; q < P_COUNT && !r->failed; q++) {
        /* a search stage's parameters vary along trial: variables, not attributes */
        int varies = p->source[q] == VS_AXIS || is_search_param(p, q);
        snprintf(nm, sizeof nm, "source_%s", param_names[q]);
        /* halving: epochs is the budget, max_epochs here and each rung's in rung_epochs */
        const char *src = is_search_param(p, q) ? "search"
                          : q == P_EPOCHS && (p->search & PLAN_HALVING) ? "halving"
                          : p->source[q] >= 0 && p->source[q] <= VS_AXIS ? srcn[p->source[q]] : "?";
        attr_str(r, g, nm, src);
        if (!varies) attr_param(r, g, param_names[q], q, p->base[q]);
        if (p->best_cell >= 0) {
            snprintf(nm, sizeof nm, "best_%s", param_names[q]);
            attr_param(r, g, nm, q, p->best_hp[q]);
        }
        if (q == P_HIDDEN || q == P_ARCH || q == P_ACTIVATION) { /* the value as the spec writes it */
            char val[200];
            if (!varies && (q != P_HIDDEN || p->base[q] < 0)) {
                spec_format_value(p->study, q, p->base[q], val, sizeof val);
                snprintf(nm, sizeof nm, "%s_label", param_names[q]);
                attr_str(r, g, nm, val);
            }
            if (p->best_cell >= 0 && (q != P_HIDDEN || p->best_hp[q] < 0)) {
                spec_format_value(p->study, q, p->best_hp[q], val, sizeof val);
                snprintf(nm, sizeof nm, "best_%s_label", param_names[q]);
                attr_str(r, g, nm, val);
            }
        }
    }
    return r->failed ? -1 : 0;
}

/* Per-rank figures in a group of their own, so that the stage's variables
 * share the cube's dims (to_dataframe: one row per point). */
static int write_ranks(results_t *r, hid_t g, const double *busy, int nranks)
{
    hid_t rg = new_group(r, g, "ranks");
    hsize_t nr = nranks;
    int *rk = malloc(nranks * sizeof(int));
    if (!rk) {
        close_g(r, rg);
        return fail_oom(r, "the rank indices", nranks * sizeof(int));
    }
    for (int i = 0; i < nranks; i++) rk[i] = i;
    hid_t rscale = write_ds(r, rg, "rank", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &nr, rk);
    free(rk);
    describe(r, rscale, "MPI rank", "1");
    set_scale(r, rscale, "rank");
    hid_t ds = write_ds(r, rg, "busy_seconds", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &nr, busy);
    attach_all(r, ds, &rscale, 1);
    describe(r, ds, "seconds the rank spent training this stage", "s");
    close_ds(r, ds);
    close_ds(r, rscale);
    attr_f64(r, rg, "balance_efficiency", balance(busy, nranks));
    close_g(r, rg);
    return r->failed ? -1 : 0;
}

/* ---- search stages (docs/results-format.md, "Search stages") ------------ */

/* Parameter q of every trial: typed as grid axes are (int64, float64,
 * categories as strings), on dim `trial`; width lists (hidden < 0) coded
 * -(1 + i) with every trial's value as the spec writes it in `labels`. */
static int trial_param(results_t *r, hid_t g, const plan_t *p, int q, hid_t tscale)
{
    hsize_t n = p->ntrials;
    size_t cnt = n ? n : 1;
    const char *name = param_names[q];
    hid_t ds;
    if (param_category(q, 0)) {
        const char **sv = calloc(cnt, sizeof *sv);
        if (!sv) return fail_oom(r, "a trial coordinate", cnt * sizeof *sv);
        for (size_t t = 0; t < n; t++) sv[t] = param_category(q, p->trial_hp[t * P_COUNT + q]);
        ds = write_ds(r, g, name, r->vstr, r->vstr, 1, &n, sv);
        free(sv);
    } else if (param_is_integer(q)) {
        long long *iv = malloc(cnt * sizeof *iv);
        if (!iv) return fail_oom(r, "a trial coordinate", cnt * sizeof *iv);
        for (size_t t = 0; t < n; t++) iv[t] = (long long)p->trial_hp[t * P_COUNT + q];
        ds = write_ds(r, g, name, H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, &n, iv);
        free(iv);
    } else {
        double *dv = malloc(cnt * sizeof *dv);
        if (!dv) return fail_oom(r, "a trial coordinate", cnt * sizeof *dv);
        for (size_t t = 0; t < n; t++) dv[t] = p->trial_hp[t * P_COUNT + q];
        ds = write_ds(r, g, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &n, dv);
        free(dv);
    }
    describe(r, ds, param_long_name(q), param_category(q, 0) ? NULL : "1");
    attach_all(r, ds, &tscale, 1);
    int coded = 0;
    for (size_t t = 0; t < n && q == P_HIDDEN; t++) coded |= p->trial_hp[t * P_COUNT + q] < 0;
    if (coded && !r->failed) {
        /* "[20, 10];15;40": one label per trial, as the spec writes it */
        size_t cap = cnt * 200 + 1, len = 0;
        char *lab = malloc(cap);
        if (!lab) {
            close_ds(r, ds);
            return fail_oom(r, "the labels of hidden", cap);
        }
        lab[0] = 0;
        for (size_t t = 0; t < n; t++) {
            char one[200];
            spec_format_value(p->study, q, p->trial_hp[t * P_COUNT + q], one, sizeof one);
            len += (size_t)snprintf(lab + len, cap - len, "%s%s", t ? ";" : "", one);
        }
        attr_str(r, ds, "labels", lab);
        free(lab);
    }
    close_ds(r, ds);
    return r->failed ? -1 : 0;
}

/* tpe_batch of a TPE stage, 0 otherwise. */
static long tpe_batch(const plan_t *p)
{
    const search_spec_t *ss = p->sspec;
    return ss && ss->has_sample && ss->sampler == SEARCH_TPE && ss->tpe_batch > 0 ? ss->tpe_batch : 0;
}

/* The round in which done task i of a search stage ran: p->task_round
 * (search.c), or where that is not recorded (a plan rebuilt from the
 * journal by `status --snapshot`) the round search.h's rules give
 * (search_task_round: the one statement of them). */
static int task_round_of(const plan_t *p, size_t i)
{
    if (p->task_round && p->task_round[i] >= 0) return p->task_round[i];
    return search_task_round(p, i);
}

/* A search stage's per-trial variable (int32 or float64) on `trial`, or on
 * (trial, rung) when sc[1] >= 0, or an int64 bracket table on (bracket[, rung]). */
static void put_search_var(results_t *r, hid_t g, const char *name, hid_t mem, hid_t file, int rank,
                           const hsize_t *dims, const hid_t *sc, const void *v, const char *long_name)
{
    hid_t ds = write_ds(r, g, name, mem, file, rank, dims, v);
    attach_all(r, ds, sc, rank);
    describe(r, ds, long_name, !strncmp(name, "compute", 7) ? "FLOP" : "1");
    close_ds(r, ds);
}

/* A halving stage's brackets as the file gives them: the schedule's.  With
 * tpe the schedule is one bracket, and search.h runs each batch of
 * tpe_batch trials as one successive-halving bracket over it: the
 * bracket's rung_trials are then the sums over the batches (each batch
 * promotes max(1, floor(m / eta)) of its own m).  Their number; with out,
 * bracket b into *out. */
static void add_batch_rung(const search_slot_t *s, void *ctx)
{
    ((halving_bracket_t *)ctx)->trials[s->rung] += s->trials;
}

static size_t stage_brackets(const plan_t *p, size_t b, halving_bracket_t *out)
{
    const halving_schedule_t *h = p->sched;
    long batch = tpe_batch(p);
    if (out) *out = h->b[b];
    if (out && batch) {
        for (int k = 0; k < out->nrungs; k++) out->trials[k] = 0;
        search_schedule_walk(p, add_batch_rung, out);
    }
    return (size_t)h->nbrackets;
}

/* The bracket structure of a halving stage: rung_epochs and rung_trials
 * [bracket][rung], bracket_first_trial and bracket_trials [bracket]. */
static int write_brackets(results_t *r, hid_t g, const plan_t *p, hid_t rscale)
{
    size_t B = stage_brackets(p, 0, NULL), R = (size_t)p->nrungs;
    long long *e = calloc(B * R + 1, sizeof *e), *n = calloc(B * R + 1, sizeof *n);
    long long *first = calloc(B + 1, sizeof *first), *cnt = calloc(B + 1, sizeof *cnt);
    int *bi = calloc(B + 1, sizeof *bi);
    if (!e || !n || !first || !cnt || !bi) {
        free(e), free(n), free(first), free(cnt), free(bi);
        return fail_oom(r, "the bracket structure", (B * R * 2 + B * 3) * sizeof(long long));
    }
    for (size_t b = 0; b < B; b++) {
        halving_bracket_t hb;
        stage_brackets(p, b, &hb);
        bi[b] = (int)b;
        first[b] = hb.first_trial;
        cnt[b] = hb.ntrials;
        for (size_t k = 0; k < R && (int)k < hb.nrungs; k++) {
            e[b * R + k] = hb.epochs[k];
            n[b * R + k] = hb.trials[k];
        }
    }
    hsize_t dims[2] = {B, R};
    hid_t sc[2] = {write_ds(r, g, "bracket", H5T_NATIVE_INT, H5T_STD_I32LE, 1, dims, bi), rscale};
    describe(r, sc[0], "Hyperband bracket (it makes s_max - bracket promotions)", "1");
    set_scale(r, sc[0], "bracket");
    put_search_var(r, g, "rung_epochs", H5T_NATIVE_LLONG, H5T_STD_I64LE, 2, dims, sc, e,
                   "epochs trained by the end of the rung (0: the bracket has fewer rungs)");
    put_search_var(r, g, "rung_trials", H5T_NATIVE_LLONG, H5T_STD_I64LE, 2, dims, sc, n,
                   "trials scheduled into the rung (an upper bound: diverged trials are not promoted)");
    put_search_var(r, g, "bracket_first_trial", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, dims, sc, first,
                   "first trial of the bracket (its trials are contiguous)");
    put_search_var(r, g, "bracket_trials", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, dims, sc, cnt,
                   "trials of the bracket");
    close_ds(r, sc[0]);
    free(e), free(n), free(first), free(cnt), free(bi);
    return r->failed ? -1 : 0;
}

/* Per trial and rung of a halving stage (task id = trial x nrungs + rung):
 * what each trained (compute: its segment's predicted cost, 0 where not
 * trained), the round that ran it, where it stopped, its bracket. */
static int write_halving(results_t *r, hid_t g, const plan_t *p, const hid_t *sc)
{
    size_t N = p->ntrials, R = (size_t)p->nrungs;
    int *stop = malloc((N + 1) * sizeof(int)), *rnd = malloc((N * R + 1) * sizeof(int));
    int *tb = malloc((N + 1) * sizeof(int));
    double *comp = malloc((N * R + 1) * sizeof(double)), *used = malloc((N + 1) * sizeof(double));
    if (!stop || !rnd || !tb || !comp || !used) {
        free(stop), free(rnd), free(tb), free(comp), free(used);
        return fail_oom(r, "the rungs of the trials", N * R * (sizeof(int) + sizeof(double)));
    }
    for (size_t t = 0; t < N; t++) {
        stop[t] = -1;
        used[t] = 0;
        tb[t] = p->trial_bracket[t];
        for (size_t k = 0; k < R; k++) {
            size_t i = t * R + k;
            int done = p->task_done[i] != 0;
            comp[i] = done ? p->tasks[i].cost : 0;
            rnd[i] = done ? task_round_of(p, i) : -1;
            used[t] += comp[i];
            if (done) stop[t] = (int)k;
        }
    }
    hsize_t dims[2] = {N, R};
    put_search_var(r, g, "stop_rung", H5T_NATIVE_INT, H5T_STD_I32LE, 1, dims, sc, stop,
                   "last rung the trial trained (-1: none yet); its metric there is its result");
    put_search_var(r, g, "trial_bracket", H5T_NATIVE_INT, H5T_STD_I32LE, 1, dims, sc, tb, "bracket of the trial");
    put_search_var(r, g, "compute", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, dims, sc, comp,
                   "predicted cost of the segment the trial trained in the rung (0: not trained)");
    put_search_var(r, g, "compute_used", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dims, sc, used,
                   "predicted cost of everything the trial trained");
    put_search_var(r, g, "round", H5T_NATIVE_INT, H5T_STD_I32LE, 2, dims, sc, rnd,
                   "round in which the segment ran, in the order the study ran them (-1: not trained)");
    free(stop), free(rnd), free(tb), free(comp), free(used);
    return write_brackets(r, g, p, sc[1]);
}

/* Per trial of a sampled stage without halving (tasks: trial x draw x
 * repeat): the compute its tasks used and the round of its last one. */
static int write_sampled(results_t *r, hid_t g, const plan_t *p, hid_t tscale)
{
    size_t N = p->ntrials;
    int *rnd = malloc((N + 1) * sizeof(int));
    double *used = calloc(N + 1, sizeof(double));
    if (!rnd || !used) {
        free(rnd), free(used);
        return fail_oom(r, "the trials' compute", N * (sizeof(int) + sizeof(double)));
    }
    for (size_t t = 0; t < N; t++) rnd[t] = -1;
    for (size_t i = 0; i < p->ntasks; i++) {
        long t = p->tasks[i].trial;
        if (!p->task_done[i] || t < 0 || (size_t)t >= N) continue;
        used[t] += p->tasks[i].cost;
        int k = task_round_of(p, i);
        if (k > rnd[t]) rnd[t] = k;
    }
    hsize_t n = N;
    put_search_var(r, g, "compute_used", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &n, &tscale, used,
                   "predicted cost of the trial's tasks that ran (every draw and repeat)");
    put_search_var(r, g, "round", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &n, &tscale, rnd,
                   "round in which the trial's last task ran (-1: none ran)");
    free(rnd), free(used);
    return r->failed ? -1 : 0;
}

/* The search's settings and results as attributes (best_<param> come with
 * the grid stages' attributes, so that `inherit` reads a search stage as
 * it reads a grid). */
static int search_attrs(results_t *r, hid_t g, const plan_t *p)
{
    const search_spec_t *ss = p->sspec;
    char names[P_COUNT * (SPEC_NAME_LEN + 1)] = "";
    for (int i = 0; i < p->nsearch_params; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "",
                 param_names[p->search_params[i]]);
    const char *sampler = !ss || !ss->has_sample        ? "grid"
                          : ss->sampler == SEARCH_TPE ? "tpe"
                          : ss->sampler >= 0 && ss->sampler < SAMPLE_METHOD_COUNT ? sample_method_names[ss->sampler]
                                                                                 : "?";
    attr_str(r, g, "sampler", sampler);
    attr_i64(r, g, "n_trials", (long long)p->ntrials);
    attr_str(r, g, "search_params", names);
    if (ss && ss->has_sample && ss->sampler == SEARCH_TPE) {
        attr_i64(r, g, "tpe_batch", ss->tpe_batch);
        attr_i64(r, g, "tpe_startup", ss->tpe_startup);
    }
    if ((p->search & PLAN_HALVING) && p->sched) {
        attr_i64(r, g, "min_epochs", p->sched->min_epochs);
        attr_i64(r, g, "max_epochs", p->sched->max_epochs);
        attr_i64(r, g, "eta", p->sched->eta);
        if (p->sspec) attr_str(r, g, "align", p->sspec->flow ? "flow" : p->sspec->align_start ? "start" : "end");
        if (p->sspec) attr_str(r, g, "promote", p->sspec->asha ? "asha" : "rung");
        attr_i64(r, g, "brackets", (long long)stage_brackets(p, 0, NULL));
        attr_i64(r, g, "s_max", p->sched->s_max);
    }
    attr_str(r, g, "compute_units", "FLOP");
    attr_f64(r, g, "idle_share", p->idle_share);
    if (p->search & PLAN_HALVING) attr_f64(r, g, "state_peak_bytes", p->state_peak_bytes);
    long best = p->best_cell < 0 ? -1 : (p->search & PLAN_HALVING) ? p->best_cell / p->nrungs : p->best_cell;
    attr_i64(r, g, "best_trial", best);
    return r->failed ? -1 : 0;
}

/* A search stage's own variables: the parameters along trial, then the
 * rungs and brackets (halving) or the trials' compute (sampled). */
static int write_search(results_t *r, hid_t g, const plan_t *p, const hid_t *scales)
{
    for (int i = 0; i < p->nsearch_params && !r->failed; i++) trial_param(r, g, p, p->search_params[i], scales[0]);
    if (r->failed) return -1;
    if (p->search & PLAN_HALVING) write_halving(r, g, p, scales);
    else write_sampled(r, g, p, scales[0]);
    if (!r->failed) search_attrs(r, g, p);
    return r->failed ? -1 : 0;
}

/* The CF `coordinates` of a search stage's cube variables: its parameters. */
static void search_coords(const plan_t *p, char *out, size_t n)
{
    out[0] = 0;
    for (int i = 0; i < p->nsearch_params; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? " " : "", param_names[p->search_params[i]]);
}

int results_write_stage(results_t *r, const plan_t *p, const double *busy, int nranks,
                        double predicted_makespan, char *err)
{
    hid_t scales[PLAN_MAX_DIMS + 1];
    hsize_t dims[PLAN_MAX_DIMS];
    int nd = 0;
    /* a halving cube is (trial, rung, repeat of 1): its variables are [trial][rung] */
    int halving = (p->search & PLAN_HALVING) != 0, nout = halving ? 2 : p->ndims;
    char coords[P_COUNT * (SPEC_NAME_LEN + 1)];
    search_coords(p, coords, sizeof coords);
    hid_t g = remove_link(r, r->f, p->spec->name) ? -1 : new_group(r, r->f, p->spec->name);
    for (; nd < nout && !r->failed; nd++) {
        dims[nd] = p->dim_len[nd];
        scales[nd] = make_axis_scale(r, g, p, nd);
    }
    if (!r->failed) write_cube(r, g, p, scales, dims, nout, p->search ? coords : NULL);
    if (!r->failed && !halving) write_stats(r, g, p, scales, dims);
    if (!r->failed) stage_attrs(r, g, p, busy, nranks, predicted_makespan);
    if (!r->failed && p->search) write_search(r, g, p, scales);
    for (int d = 0; d < nd; d++) close_ds(r, scales[d]);
    if (!r->failed) write_ranks(r, g, busy, nranks);
    if (!r->failed && p->ncurve > 0) write_curves(r, g, p);
    close_g(r, g);
    /* on disk now: what the journal holds is then in the file too */
    if (!r->failed && H5Fflush(r->f, H5F_SCOPE_GLOBAL) < 0) fail_at(r, -1, "flush the file", NULL, 0);
    return r->failed ? report(r, err, NULL) : 0;
}

/* The dimension of a model's layer boundary l (0 .. nlin): the input and
 * output are `feature`, the code layer's output `code`, others `units<l>`. */
static void layer_dim(const model_t *m, int l, char *out, size_t n)
{
    if (l == 0 || l == m->nlin) snprintf(out, n, "feature");
    else if (l == m->code_layer + 1) snprintf(out, n, "code");
    else snprintf(out, n, "units%d", l);
}

/* A model's shape, place in the cube, weights, biases and scaler. */
static int model_weights(results_t *r, hid_t g, const results_model_t *mod)
{
    const model_t *m = mod->m;
    const scaler_t *sc = mod->sc;
    attr_i64(r, g, "in", m->arch.in);
    attr_i64(r, g, "hidden", m->arch.hidden);
    attr_i64(r, g, "layers", m->arch.layers);
    attr_i64(r, g, "bottleneck", m->arch.bottleneck);
    attr_i64(r, g, "nlin", m->nlin);
    attr_i64(r, g, "code_layer", m->code_layer);
    attr_i64(r, g, "cell", mod->cell);
    attr_i64(r, g, "draw", mod->draw);
    attr_i64(r, g, "repeat", mod->repeat);
    attr_str(r, g, "scaler", scaler_kind_name(sc->kind));
    for (int q = 0; q < P_COUNT; q++) attr_param(r, g, param_names[q], q, mod->hp[q]);
    char nm[64], ln[160];
    for (int l = 0; l < m->nlin && !r->failed; l++) {
        char d0[32], d1[32];
        layer_dim(m, l, d0, sizeof d0);
        layer_dim(m, l + 1, d1, sizeof d1);
        hsize_t wd[2] = {(hsize_t)m->dims[l + 1], (hsize_t)m->dims[l]};
        const char *wn[2] = {d1, d0};
        snprintf(nm, sizeof nm, "W%d", l);
        snprintf(ln, sizeof ln, "weights of linear layer %d (nn.Linear layout: y = x W^T + b)", l);
        put_on_dims(r, g, nm, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, wd, wn, m->params + m->w_off[l], ln, "1");
        snprintf(nm, sizeof nm, "b%d", l);
        snprintf(ln, sizeof ln, "bias of linear layer %d", l);
        put_on_dims(r, g, nm, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 1, wd, wn, m->params + m->b_off[l], ln, "1");
    }
    hsize_t d = sc->d;
    const char *fd[1] = {"feature"};
    put_on_dims(r, g, "scaler_shift", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &d, fd, sc->shift,
                "scaler shift: x_model = (x - shift) / scale", "1");
    put_on_dims(r, g, "scaler_scale", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &d, fd, sc->scale,
                "scaler scale: x_model = (x - shift) / scale", "1");
    return r->failed ? -1 : 0;
}

/* Codes and reconstructions in data units, as saved.c computed them
 * (model_data = "weights": none; analysis/ recomputes them). */
static int model_outputs(results_t *r, hid_t g, const results_model_t *mod)
{
    int b = mod->m->arch.bottleneck, in = mod->m->arch.in;
    char nm[64], ln[160];
    if (mod->weights_only) attr_str(r, g, "model_data", "weights");
    for (int i = 0; i < mod->nout && !r->failed; i++) {
        const results_model_output_t *o = &mod->out[i];
        const dataset_t *D = o->data;
        char rows[SPEC_NAME_LEN + 16];
        snprintf(rows, sizeof rows, "%s_row", o->base);
        if (!strcmp(o->base, "train")) {
            put_f32_2d(r, g, "train_x", D->x, D->n, in, rows, "feature", "the model's own training set (data units)");
            if (D->labels) {
                hsize_t n = D->n;
                const char *dn[1] = {rows};
                put_on_dims(r, g, "train_labels", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &n, dn, D->labels,
                            "class label of each training row", "1");
            }
        }
        snprintf(nm, sizeof nm, "%s_codes", o->base);
        snprintf(ln, sizeof ln, "codes of %s", o->what);
        put_f32_2d(r, g, nm, o->codes, D->n, b, rows, "code", ln);
        snprintf(nm, sizeof nm, "%s_recon", o->base);
        snprintf(ln, sizeof ln, "reconstruction of %s (data units)", o->what);
        put_f32_2d(r, g, nm, o->recon, D->n, in, rows, "feature", ln);
    }
    return r->failed ? -1 : 0;
}

int results_write_model(results_t *r, const plan_t *p, const char *group, const results_model_t *mod, char *err)
{
    hid_t mg = open_or_create(r, r->f, "models");
    hid_t sg = open_or_create(r, mg, p->spec->name);
    hid_t mid = -1, g = -1;
    char path[256];
    snprintf(path, sizeof path, "%s", group);
    char *slash = strchr(path, '/');
    if (slash) { /* cells/<index> */
        *slash = 0;
        mid = open_or_create(r, sg, path);
        g = new_group(r, mid, slash + 1);
    } else if (remove_link(r, sg, group) == 0) /* best: replaced */
        g = new_group(r, sg, group);
    if (!r->failed && model_weights(r, g, mod) == 0) model_outputs(r, g, mod);
    if (!r->failed && mod->hp[P_HIDDEN] < 0) { /* a width list: its code -(1 + i) says nothing alone */
        char val[200];
        spec_format_value(p->study, P_HIDDEN, mod->hp[P_HIDDEN], val, sizeof val);
        attr_str(r, g, "hidden_label", val);
    }
    close_g(r, g);
    close_g(r, mid);
    close_g(r, sg);
    close_g(r, mg);
    return r->failed ? report(r, err, NULL) : 0;
}

/* A failure here is kept and returned by the next writer call. */
void results_set_inputs(results_t *r, const char *inputs)
{
    attr_str(r, r->f, "inputs", inputs ? inputs : "");
}

/* Flush the closed file's bytes to disk before it takes the final name:
 * a crash after the rename must not leave a short file there. */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int results_close(results_t *r, int complete, size_t done, size_t total, char *err)
{
    char now[32];
    results_now_iso(now);
    attr_str(r, r->f, "end_time", now);
    attr_i64(r, r->f, "complete", complete);
    attr_i64(r, r->f, "tasks_done", (long long)done);
    attr_i64(r, r->f, "tasks_total", (long long)total);
    if (r->failed) {
        report(r, err, NULL);
        results_abort(r);
        return -1;
    }
    errno = 0;
    herr_t e = H5Fclose(r->f);
    r->f = -1;
    int rc = 0;
    if (e < 0) {
        int en = errno;
        char why[256];
        data_h5_error(why, sizeof why);
        g_close_failed = 1;
        snprintf(err, SPEC_ERR_LEN, "%s: cannot write the result file (%s; HDF5: %s); nothing was renamed to %s and " RESUME_HINT,
                 r->tmp_path, en ? strerror(en) : "I/O error", why, r->final_path);
        rc = -1;
    } else if (sync_path(r->tmp_path) != 0) {
        snprintf(err, SPEC_ERR_LEN, "%s: cannot sync the result file to disk (%s); nothing was renamed to %s and " RESUME_HINT,
                 r->tmp_path, strerror(errno), r->final_path);
        rc = -1;
    } else if (rename(r->tmp_path, r->final_path) != 0) {
        snprintf(err, SPEC_ERR_LEN, "%s: cannot rename to %s (%s); " RESUME_HINT, r->tmp_path, r->final_path,
                 strerror(errno));
        rc = -1;
    }
    if (rc) unlink(r->tmp_path);
    release(r);
    return rc;
}

void results_abort(results_t *r)
{
    if (!r) return;
    if (r->f >= 0 && H5Fclose(r->f) < 0) g_close_failed = 1;
    unlink(r->tmp_path);
    release(r);
}

/* A string attribute into out, variable-length or fixed (NC_CHAR, as
 * Conventions and coordinates are written): 0, or -1 (absent, not a
 * string, or unreadable: HDF5's stack says which). */
static int read_attr_str(hid_t loc, const char *name, char *out, size_t len)
{
    out[0] = 0;
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = a < 0 ? -1 : H5Aget_type(a);
    int rc = -1;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5T_cset_t cs = H5Tget_cset(t);
        if (mt >= 0 && cs >= 0 && H5Tset_size(mt, H5T_VARIABLE) >= 0 && H5Tset_cset(mt, cs) >= 0 &&
            H5Aread(a, mt, &s) >= 0 && s) {
            snprintf(out, len, "%s", s);
            H5free_memory(s);
            rc = 0;
        }
        if (mt >= 0) H5Tclose(mt);
    } else if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0) {
        size_t n = H5Tget_size(t);
        char *buf = n ? calloc(n + 1, 1) : NULL;
        hid_t mt = buf ? H5Tcopy(t) : -1;
        if (mt >= 0 && H5Aread(a, mt, buf) >= 0) {
            snprintf(out, len, "%s", buf); /* buf[n] = 0 ends a string that fills it */
            rc = 0;
        }
        if (mt >= 0) H5Tclose(mt);
        free(buf);
    }
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

/* A numeric attribute, or NaN (absent or unreadable). */
static double read_attr_f64(hid_t loc, const char *name)
{
    double v = NAN;
    if (H5Aexists(loc, name) <= 0) return v;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return v;
    if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) v = NAN;
    H5Aclose(a);
    return v;
}

int results_attr_str(long long loc, const char *name, char *out, size_t len) { return read_attr_str(loc, name, out, len); }
double results_attr_f64(long long loc, const char *name) { return read_attr_f64(loc, name); }

/* A parameter attribute as text: a string (v2 categories) as it is, a
 * number with the fewest digits that round-trip; schema 1 stored mmd_kernel as 0/1. */
void results_param_attr(long long loc, const char *name, int q, char *out, size_t n)
{
    out[0] = 0;
    char lab[SPEC_NAME_LEN + 16];
    snprintf(lab, sizeof lab, "%s_label", name);
    /* width lists (hidden < 0) carry the value as the spec writes it */
    if (H5Aexists(loc, lab) > 0 && read_attr_str(loc, lab, out, n) == 0) return;
    if (H5Aexists(loc, name) <= 0) return;
    if (read_attr_str(loc, name, out, n) == 0) return;
    double v = read_attr_f64(loc, name);
    const char *c = param_category(q, v);
    if (c) {
        snprintf(out, n, "%s", c);
        return;
    }
    /* the fewest digits that read back as the same double (a sampled lr
     * has all 17; %g's six made `aesweep train --lr` of the printed value
     * another trial): 0.002 stays "0.002" */
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v) break;
    }
}

/* Open a result file read-only.  HDF5 (1.10.7+) locks files with flock():
 * a writer holds an exclusive lock, so a reader must not open a file that
 * another process is writing.  results_probe has checked that nobody holds
 * it for writing; the open itself then needs no lock (which also lets files
 * on file systems without flock be read). */
static hid_t open_ro(const char *path)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_file_locking(fapl, 0, 1) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        return -1;
    }
    hid_t f;
    H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY, fapl); }
    H5E_END_TRY;
    H5Pclose(fapl);
    return f;
}

/* Does another process hold path open for writing (an exclusive flock, as
 * HDF5 takes for a file it writes)? */
static int write_locked(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

long long results_open_readonly(const char *path) { return open_ro(path); }

int results_probe(const char *path)
{
    if (access(path, F_OK) != 0) return -1;
    if (write_locked(path)) return 2;
    hid_t f = open_ro(path);
    if (f < 0) return 0;
    char fmt[64];
    int ok = read_attr_str(f, "format", fmt, sizeof fmt) == 0 && !strcmp(fmt, "aesweep-results");
    H5Fclose(f);
    return ok;
}

int results_is_ours(const char *path)
{
    int p = results_probe(path);
    return p == 2 ? 0 : p;
}

/* A string attribute as a new string (caller frees), or NULL (absent,
 * unreadable, out of memory). */
static char *read_attr_dup(hid_t f, const char *name)
{
    char *out = NULL;
    if (H5Aexists(f, name) <= 0) return NULL;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t mt = a < 0 ? -1 : H5Tcopy(H5T_C_S1);
    char *s = NULL;
    if (mt >= 0 && H5Tset_size(mt, H5T_VARIABLE) >= 0 && H5Tset_cset(mt, H5T_CSET_UTF8) >= 0 &&
        H5Aread(a, mt, &s) >= 0 && s) {
        out = strdup(s);
        H5free_memory(s);
    }
    if (mt >= 0) H5Tclose(mt);
    if (a >= 0) H5Aclose(a);
    return out;
}

int results_read_state(const char *path, char **spec_text, char **inputs, int *complete)
{
    *spec_text = NULL;
    if (inputs) *inputs = NULL;
    if (results_probe(path) != 1) return -1;
    hid_t f = open_ro(path);
    if (f < 0) return -1;
    *complete = read_attr_f64(f, "complete") == 1;
    *spec_text = read_attr_dup(f, "spec");
    if (inputs) *inputs = read_attr_dup(f, "inputs");
    H5Fclose(f);
    return *spec_text ? 0 : -1;
}

int results_info(const char *path, char *err)
{
    int pr = results_probe(path);
    if (pr == -1) {
        snprintf(err, SPEC_ERR_LEN, "%s: cannot open (%s); check the path", path, strerror(errno));
        return -1;
    }
    if (pr == 2) {
        snprintf(err, SPEC_ERR_LEN, "%s: another process holds this file open for writing (HDF5 file lock); wait for it to close the file, or read a copy", path);
        return -1;
    }
    if (pr != 1) {
        snprintf(err, SPEC_ERR_LEN, "%s: not an aesweep result file (no format=aesweep-results attribute)", path);
        return -1;
    }
    hid_t f = open_ro(path);
    if (f < 0) {
        char why[256];
        snprintf(err, SPEC_ERR_LEN, "%s: cannot open the result file (HDF5: %s)", path, data_h5_error(why, sizeof why));
        return -1;
    }
    char s[256], stages[2048], t0[64], t1[64], ver[64], commit[64];
    read_attr_str(f, "study", s, sizeof s);
    read_attr_str(f, "stages", stages, sizeof stages);
    read_attr_str(f, "start_time", t0, sizeof t0);
    read_attr_str(f, "end_time", t1, sizeof t1);
    read_attr_str(f, "aesweep_version", ver, sizeof ver);
    read_attr_str(f, "git_commit", commit, sizeof commit);
    double complete = read_attr_f64(f, "complete"), done = read_attr_f64(f, "tasks_done"),
           total = read_attr_f64(f, "tasks_total"), ranks = read_attr_f64(f, "ranks");
    printf("study %s  (aesweep %s, commit %s)\n", s, ver, commit);
    printf("ranks %.0f, %s .. %s, %s: %.0f of %.0f tasks\n", ranks, t0, t1,
           complete == 1 ? "complete" : "INCOMPLETE", done, total);
    char *save = NULL;
    for (char *name = strtok_r(stages, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
            printf("  %-14s not started\n", name);
            continue;
        }
        hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
        if (g < 0) {
            char why[256];
            snprintf(err, SPEC_ERR_LEN, "%s: cannot open stage %s (HDF5: %s)", path, name, data_h5_error(why, sizeof why));
            H5Fclose(f);
            return -1;
        }
        char sel[64], from[64];
        read_attr_str(g, "select_metric", sel, sizeof sel);
        read_attr_str(g, "inherited_from", from, sizeof from);
        printf("  %-14s %4.0f/%-5.0f tasks  balance %.3f  best %s = %.6g", name,
               read_attr_f64(g, "tasks_done"), read_attr_f64(g, "tasks_total"),
               read_attr_f64(g, "balance_efficiency"), sel, read_attr_f64(g, "best_value"));
        if (read_attr_f64(g, "best_cell") >= 0) {
            printf(" at");
            for (int q = 0; q < P_COUNT; q++) {
                char nm[80], src[32];
                snprintf(nm, sizeof nm, "source_%s", param_names[q]);
                read_attr_str(g, nm, src, sizeof src);
                if (strcmp(src, "axis") && strcmp(src, "inherited") && strcmp(src, "search")) continue;
                snprintf(nm, sizeof nm, "best_%s", param_names[q]);
                char bv[200];
                results_param_attr(g, nm, q, bv, sizeof bv);
                printf(" %s=%s%s", param_names[q], bv, strcmp(src, "inherited") ? "" : "*");
            }
        }
        int inh = 0; /* plan.c names the stage before even when nothing is inherited */
        for (int q = 0; q < P_COUNT && from[0]; q++) {
            char nm[80], src[32];
            snprintf(nm, sizeof nm, "source_%s", param_names[q]);
            inh |= read_attr_str(g, nm, src, sizeof src) == 0 && !strcmp(src, "inherited");
        }
        if (inh) printf("  (* inherited from %s)", from);
        double sk = read_attr_f64(g, "n_skipped");
        char smp[32];
        if (read_attr_str(g, "sampler", smp, sizeof smp) == 0) /* a search stage: its trials, not cells */
            printf("  [search: %s, %.0f trials, best trial %.0f]", smp, read_attr_f64(g, "n_trials"),
                   read_attr_f64(g, "best_trial"));
        else if (sk > 0) printf("  [%.0f cells skipped: diverged or missing]", sk);
        printf("\n");
        H5Gclose(g);
    }
    H5Fclose(f);
    return 0;
}
