/* results.c - HDF5 writer and reader for result files (docs/results-format.md).
 *
 * Dimension scales (H5DS, the HDF5 high-level library) carry the axes, which
 * is what makes a stage group a netCDF-4 group that xarray/h5netcdf read as
 * labelled arrays.  Strings are variable-length UTF-8 so h5py returns str.
 */
#include "aesweep/results.h"
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
    char final_path[SPEC_PATH_LEN];
    char tmp_path[SPEC_PATH_LEN + 8];
    const study_t *s;
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

static void attr_str(hid_t loc, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &v);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

static void attr_num(hid_t loc, const char *name, hid_t type, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, v);
    H5Aclose(a), H5Sclose(sp);
}

static void attr_i64(hid_t loc, const char *name, long long v) { attr_num(loc, name, H5T_NATIVE_LLONG, &v); }
static void attr_f64(hid_t loc, const char *name, double v) { attr_num(loc, name, H5T_NATIVE_DOUBLE, &v); }

static hid_t write_ds(hid_t loc, const char *name, hid_t mem_type, hid_t file_type, int rank,
                      const hsize_t *dims, const void *data)
{
    hid_t sp = rank > 0 ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0 && data) H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Sclose(sp);
    return d;
}

static int put_ds(hid_t loc, const char *name, hid_t mem_type, hid_t file_type, int rank,
                  const hsize_t *dims, const void *data)
{
    hid_t d = write_ds(loc, name, mem_type, file_type, rank, dims, data);
    if (d < 0) return -1;
    H5Dclose(d);
    return 0;
}

static int put_f32(hid_t loc, const char *name, const float *x, size_t n, int d)
{
    hsize_t dims[2] = {n, (hsize_t)d};
    return put_ds(loc, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, d > 0 ? 2 : 1, dims, x);
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
    static const char *n[] = {"moons", "digits", "csv", "hdf5"};
    return n[s];
}

results_t *results_open(const char *final_path, const study_t *s, const study_data_t *sd,
                        int nranks, const char *start_time, char *err)
{
    results_t *r = calloc(1, sizeof *r);
    snprintf(r->final_path, sizeof r->final_path, "%s", final_path);
    snprintf(r->tmp_path, sizeof r->tmp_path, "%s.tmp", final_path);
    r->s = s;
    H5E_BEGIN_TRY { r->f = H5Fcreate(r->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT); }
    H5E_END_TRY;
    if (r->f < 0) {
        int e = errno;
        unlink(r->tmp_path); /* H5Fcreate may have left an empty file (disk full) */
        snprintf(err, SPEC_ERR_LEN, "%s: cannot create the result file (%s); free space or choose another output (-o)",
                 r->tmp_path, strerror(e));
        free(r);
        return NULL;
    }
    hid_t f = r->f;
    attr_str(f, "format", "aesweep-results");
    attr_i64(f, "schema_version", AESWEEP_SCHEMA_VERSION);
    attr_str(f, "aesweep_version", AESWEEP_VERSION);
    attr_str(f, "git_commit", AESWEEP_GIT_COMMIT);
    attr_str(f, "study", s->study);
    attr_i64(f, "seed", (long long)s->seed);
    attr_str(f, "spec", s->text ? s->text : "");
    attr_str(f, "spec_path", s->path);
    attr_i64(f, "ranks", nranks);
    attr_str(f, "start_time", start_time);
    attr_str(f, "end_time", "");
    attr_i64(f, "complete", 0);
    char buf[2048];
    join_names(buf, sizeof buf, s->nstages, stage_name_at, s);
    attr_str(f, "stages", buf);
    char names[PLAN_MAX_METRICS][SPEC_NAME_LEN];
    int nm = spec_metric_names(s, names, PLAN_MAX_METRICS);
    buf[0] = 0;
    for (int i = 0; i < nm; i++) {
        strncat(buf, names[i], sizeof buf - strlen(buf) - 2);
        if (i + 1 < nm) strcat(buf, ",");
    }
    attr_str(f, "metrics", buf);
    if (spec_has_mmd(s) && sd->ntests > 0) {
        /* the fixed kernel of the MMD metrics, so that they can be recomputed */
        attr_str(f, "mmd_metric_kernel",
                 "imq, C = 2 dim var x {0.1,0.2,0.5,1,2,5,10}; codes: dim = bottleneck, var = 1 vs a fixed "
                 "N(0,I) sample of 1000 (stream derive(seed,'metric.z')); gen: dim = in_dim, var = "
                 "mmd_metric_data_variance, decoded sample vs the first test set's first 1000 rows");
        attr_f64(f, "mmd_metric_data_variance", task_metric_variance(&sd->tests[0]));
    }

    hid_t g = H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    attr_str(g, "source", src_name(s->source));
    attr_str(g, "path", s->data_path);
    attr_str(g, "scaler", scaler_kind_name(s->scaler));
    attr_i64(g, "in_dim", sd->in_dim);
    attr_f64(g, "noise", s->noise);
    attr_f64(g, "train_fraction", s->train_fraction);
    join_names(buf, sizeof buf, s->ntests, test_name_at, s);
    attr_str(g, "tests", buf);
    if (s->source != SRC_MOONS) {
        uint32_t crc = 0;
        uint64_t size = 0;
        data_crc32_file(s->data_path, &crc, &size);
        attr_i64(g, "file_crc32", crc);
        attr_i64(g, "file_size", (long long)size);
        hsize_t n = sd->file_rows;
        long long *ix = malloc(n * sizeof(long long));
        for (size_t i = 0; i < n; i++) ix[i] = (long long)sd->split[i];
        put_ds(g, "split", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, &n, ix);
        free(ix);
    }
    put_f32(g, "pool", sd->pool.x, sd->pool.n, sd->pool.d);
    if (sd->pool.labels) {
        hsize_t n = sd->pool.n;
        put_ds(g, "pool_labels", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &n, sd->pool.labels);
    }
    for (int t = 0; t < s->ntests; t++) {
        char nm2[SPEC_NAME_LEN + 16];
        snprintf(nm2, sizeof nm2, "test_%s", s->tests[t].name);
        put_f32(g, nm2, sd->tests[t].x, sd->tests[t].n, sd->tests[t].d);
        if (sd->tests[t].labels) {
            hsize_t n = sd->tests[t].n;
            strcat(nm2, "_labels");
            put_ds(g, nm2, H5T_NATIVE_INT, H5T_STD_I32LE, 1, &n, sd->tests[t].labels);
        }
    }
    H5Gclose(g);
    hid_t mg = H5Gcreate2(f, "models", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(mg);
    return r;
}

/* A dimension scale dataset holding the axis values. */
static hid_t make_scale(hid_t g, const char *name, const double *vals, const int *ivals, size_t n)
{
    hsize_t d = n;
    hid_t ds = ivals ? write_ds(g, name, H5T_NATIVE_INT, H5T_STD_I32LE, 1, &d, ivals)
                     : write_ds(g, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &d, vals);
    H5DSset_scale(ds, name);
    return ds;
}

int results_write_stage(results_t *r, const plan_t *p, const double *busy, int nranks,
                        double predicted_makespan, char *err)
{
    const stage_spec_t *st = p->spec;
    hid_t g;
    H5E_BEGIN_TRY { H5Ldelete(r->f, st->name, H5P_DEFAULT); }
    H5E_END_TRY;
    g = H5Gcreate2(r->f, st->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        snprintf(err, SPEC_ERR_LEN, "%s: cannot create group %s", r->tmp_path, st->name);
        return -1;
    }
    hid_t scales[PLAN_MAX_DIMS + 1];
    hsize_t dims[PLAN_MAX_DIMS];
    int naxes = p->ndims - 1 - (st->data_draws > 1);
    for (int d = 0; d < p->ndims; d++) {
        dims[d] = p->dim_len[d];
        if (d < naxes) {
            int ax = 0;
            while (st->axes[ax].param != p->dim_param[d]) ax++;
            scales[d] = make_scale(g, p->dim_names[d], st->axes[ax].values, NULL, p->dim_len[d]);
            if (p->dim_param[d] == P_HIDDEN || p->dim_param[d] == P_ARCH || p->dim_param[d] == P_ACTIVATION) {
                /* width lists are coded -(1 + i); the labels say what each value is:
                 * "[512, 256];800" for hidden, "mlp;resnet" for arch */
                char lab[4096] = "";
                int coded = p->dim_param[d] != P_HIDDEN;
                for (size_t v = 0; v < p->dim_len[d]; v++) {
                    char one[200];
                    coded |= st->axes[ax].values[v] < 0;
                    spec_format_value(p->study, p->dim_param[d], st->axes[ax].values[v], one, sizeof one);
                    snprintf(lab + strlen(lab), sizeof lab - strlen(lab), "%s%s", v ? ";" : "", one);
                }
                if (coded) attr_str(scales[d], "labels", lab);
            }
            if (p->dim_param[d] == P_MMD_KERNEL) {
                /* CF conventions: numeric codes with their meanings */
                int fv[2] = {0, 1};
                hsize_t two = 2;
                hid_t sp = H5Screate_simple(1, &two, NULL);
                hid_t a = H5Acreate2(scales[d], "flag_values", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
                H5Awrite(a, H5T_NATIVE_INT, fv);
                H5Aclose(a), H5Sclose(sp);
                attr_str(scales[d], "flag_meanings", "rbf imq");
            }
        } else {
            int *iv = malloc(p->dim_len[d] * sizeof(int));
            for (size_t i = 0; i < p->dim_len[d]; i++) iv[i] = (int)i;
            scales[d] = make_scale(g, p->dim_names[d], NULL, iv, p->dim_len[d]);
            free(iv);
        }
    }
    hsize_t nr = nranks;
    int *rk = malloc(nranks * sizeof(int));
    for (int i = 0; i < nranks; i++) rk[i] = i;
    hid_t rscale = make_scale(g, "rank", NULL, rk, nranks);
    free(rk);

    /* cube variables */
    for (int m = 0; m <= p->nmetrics + 1; m++) {
        hid_t ds;
        if (m < p->nmetrics)
            ds = write_ds(g, p->metric_names[m], H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, p->ndims, dims,
                          p->metrics + (size_t)m * p->ncube);
        else if (m == p->nmetrics)
            ds = write_ds(g, "status", H5T_NATIVE_INT8, H5T_STD_I8LE, p->ndims, dims, p->status);
        else
            ds = write_ds(g, "seconds", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, p->ndims, dims, p->seconds);
        for (int d = 0; d < p->ndims; d++) H5DSattach_scale(ds, scales[d], d);
        if (m == p->nmetrics) {
            attr_str(ds, "flag_meanings", "ok diverged interrupted not_run");
        }
        H5Dclose(ds);
    }
    /* statistics over draw and repeat */
    size_t nc = p->ncells;
    double *mean = malloc(nc * sizeof(double)), *sd = malloc(nc * sizeof(double)),
           *mn = malloc(nc * sizeof(double));
    int *cnt = malloc(nc * sizeof(int));
    char nm[SPEC_NAME_LEN + 16];
    hsize_t one = 1;
    int sdims = naxes > 0 ? naxes : 0;
    hsize_t *cd = naxes > 0 ? dims : &one;
    for (int m = 0; m < p->nmetrics; m++) {
        plan_stats(p, m, mean, sd, mn, cnt);
        const char *suf[3] = {"_mean", "_std", "_min"};
        double *arr[3] = {mean, sd, mn};
        for (int k = 0; k < 3; k++) {
            snprintf(nm, sizeof nm, "%s%s", p->metric_names[m], suf[k]);
            hid_t ds = write_ds(g, nm, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, sdims ? sdims : 0, cd, arr[k]);
            for (int d = 0; d < sdims; d++) H5DSattach_scale(ds, scales[d], d);
            H5Dclose(ds);
        }
        if (st->data_draws > 1) {
            plan_spread(p, m, sd, mn);
            snprintf(nm, sizeof nm, "%s_init_std", p->metric_names[m]);
            hid_t ds = write_ds(g, nm, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, sdims, cd, sd);
            for (int d = 0; d < sdims; d++) H5DSattach_scale(ds, scales[d], d);
            H5Dclose(ds);
            snprintf(nm, sizeof nm, "%s_data_std", p->metric_names[m]);
            ds = write_ds(g, nm, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, sdims, cd, mn);
            for (int d = 0; d < sdims; d++) H5DSattach_scale(ds, scales[d], d);
            H5Dclose(ds);
        }
    }
    plan_stats(p, p->select_metric, NULL, NULL, NULL, cnt);
    hid_t ds = write_ds(g, "n_ok", H5T_NATIVE_INT, H5T_STD_I32LE, sdims, cd, cnt);
    for (int d = 0; d < sdims; d++) H5DSattach_scale(ds, scales[d], d);
    H5Dclose(ds);
    free(mean), free(sd), free(mn), free(cnt);
    ds = write_ds(g, "rank_busy_seconds", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &nr, busy);
    H5DSattach_scale(ds, rscale, 0);
    H5Dclose(ds);

    /* attributes */
    attr_i64(g, "stage_index", p->stage_index);
    attr_i64(g, "repeats", st->repeats);
    attr_i64(g, "data_draws", st->data_draws);
    attr_i64(g, "reuse_epochs", st->reuse_epochs);
    attr_i64(g, "save_models", st->save_models);
    attr_f64(g, "pool_noise", st->pool_noise);
    attr_i64(g, "complete", p->ndone == p->ntasks);
    attr_i64(g, "tasks_done", (long long)p->ndone);
    attr_i64(g, "tasks_total", (long long)p->ntasks);
    attr_str(g, "select_metric", p->metric_names[p->select_metric]);
    attr_i64(g, "best_cell", p->best_cell);
    attr_f64(g, "best_value", p->best_cell >= 0 ? p->best_value : NAN);
    attr_i64(g, "n_skipped", (long long)p->nskipped);
    double mx = 0, sum = 0;
    for (int i = 0; i < nranks; i++) {
        sum += busy[i];
        if (busy[i] > mx) mx = busy[i];
    }
    attr_f64(g, "balance_efficiency", mx > 0 ? sum / nranks / mx : 1.0);
    attr_f64(g, "predicted_makespan", predicted_makespan);
    attr_str(g, "inherited_from", p->inherited_from);
    static const char *srcn[] = {"default", "fixed", "inherited", "axis"};
    for (int q = 0; q < P_COUNT; q++) {
        snprintf(nm, sizeof nm, "source_%s", param_names[q]);
        attr_str(g, nm, srcn[p->source[q]]);
        if (p->source[q] != VS_AXIS) attr_f64(g, param_names[q], p->base[q]);
        if (p->best_cell >= 0) {
            snprintf(nm, sizeof nm, "best_%s", param_names[q]);
            attr_f64(g, nm, p->best_hp[q]);
        }
        if (q == P_HIDDEN || q == P_ARCH || q == P_ACTIVATION) { /* the value as the spec writes it */
            char val[200];
            if (p->source[q] != VS_AXIS && (q != P_HIDDEN || p->base[q] < 0)) {
                spec_format_value(p->study, q, p->base[q], val, sizeof val);
                snprintf(nm, sizeof nm, "%s_label", param_names[q]);
                attr_str(g, nm, val);
            }
            if (p->best_cell >= 0 && (q != P_HIDDEN || p->best_hp[q] < 0)) {
                spec_format_value(p->study, q, p->best_hp[q], val, sizeof val);
                snprintf(nm, sizeof nm, "best_%s_label", param_names[q]);
                attr_str(g, nm, val);
            }
        }
    }
    for (int d = 0; d < p->ndims; d++) H5Dclose(scales[d]);
    H5Dclose(rscale);
    H5Gclose(g);
    errno = 0;
    if (H5Fflush(r->f, H5F_SCOPE_GLOBAL) < 0) {
        int en = errno;
        char why[256];
        data_h5_error(why, sizeof why);
        snprintf(err, SPEC_ERR_LEN, "%s: cannot write the result file (%s; HDF5: %s); the journal keeps the finished tasks: free space and run with --resume",
                 r->tmp_path, en ? strerror(en) : "I/O error", why);
        return -1;
    }
    return 0;
}

static hid_t open_or_create(hid_t loc, const char *name)
{
    hid_t g;
    H5E_BEGIN_TRY { g = H5Gopen2(loc, name, H5P_DEFAULT); }
    H5E_END_TRY;
    if (g < 0) g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    return g;
}

int results_write_model(results_t *r, const plan_t *p, const char *group, const model_t *m,
                        const scaler_t *sc, const double *hp, long cell, int draw, int repeat,
                        const dataset_t *train, study_data_t *sd, char *err)
{
    hid_t mg = open_or_create(r->f, "models");
    hid_t sg = open_or_create(mg, p->spec->name);
    hid_t g = sg;
    char path[256];
    snprintf(path, sizeof path, "%s", group);
    char *slash = strchr(path, '/');
    hid_t mid = -1;
    if (slash) {
        *slash = 0;
        mid = open_or_create(sg, path);
        g = H5Gcreate2(mid, slash + 1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    } else {
        H5E_BEGIN_TRY { H5Ldelete(sg, group, H5P_DEFAULT); }
        H5E_END_TRY;
        g = H5Gcreate2(sg, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    }
    if (g < 0) {
        snprintf(err, SPEC_ERR_LEN, "%s: cannot create model group %s/%s", r->tmp_path, p->spec->name, group);
        return -1;
    }
    attr_i64(g, "in", m->arch.in);
    attr_i64(g, "hidden", m->arch.hidden);
    attr_i64(g, "layers", m->arch.layers);
    attr_i64(g, "bottleneck", m->arch.bottleneck);
    attr_i64(g, "nlin", m->nlin);
    attr_i64(g, "code_layer", m->code_layer);
    attr_i64(g, "cell", cell);
    attr_i64(g, "draw", draw);
    attr_i64(g, "repeat", repeat);
    attr_str(g, "scaler", scaler_kind_name(sc->kind));
    for (int q = 0; q < P_COUNT; q++) attr_f64(g, param_names[q], hp[q]);
    char nm[64];
    for (int l = 0; l < m->nlin; l++) {
        snprintf(nm, sizeof nm, "W%d", l);
        put_f32(g, nm, m->params + m->w_off[l], m->dims[l + 1], m->dims[l]);
        snprintf(nm, sizeof nm, "b%d", l);
        put_f32(g, nm, m->params + m->b_off[l], m->dims[l + 1], 0);
    }
    hsize_t d = sc->d;
    put_ds(g, "scaler_shift", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &d, sc->shift);
    put_ds(g, "scaler_scale", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &d, sc->scale);
    int b = m->arch.bottleneck, in = m->arch.in;
    model_ws_t *ws = model_ws_create(m, 1024);
    /* codes and reconstructions in data units */
    for (int t = -1; t < sd->ntests; t++) {
        const dataset_t *D = t < 0 ? train : &sd->tests[t];
        if (!D) continue;
        float *X = malloc(D->n * (size_t)in * sizeof(float));
        float *codes = malloc(D->n * (size_t)b * sizeof(float));
        float *rec = malloc(D->n * (size_t)in * sizeof(float));
        memcpy(X, D->x, D->n * (size_t)in * sizeof(float));
        scaler_apply(sc, X, D->n);
        model_apply(m, ws, X, D->n, codes, rec);
        scaler_invert(sc, rec, D->n);
        char base[SPEC_NAME_LEN + 8];
        if (t < 0) snprintf(base, sizeof base, "train");
        else snprintf(base, sizeof base, "test_%s", r->s->tests[t].name);
        if (t < 0) {
            put_f32(g, "train_x", D->x, D->n, in);
            if (D->labels) {
                hsize_t n = D->n;
                put_ds(g, "train_labels", H5T_NATIVE_INT, H5T_STD_I32LE, 1, &n, D->labels);
            }
        }
        snprintf(nm, sizeof nm, "%s_codes", base);
        put_f32(g, nm, codes, D->n, b);
        snprintf(nm, sizeof nm, "%s_recon", base);
        put_f32(g, nm, rec, D->n, in);
        free(X), free(codes), free(rec);
    }
    model_ws_free(ws);
    H5Gclose(g);
    if (mid >= 0) H5Gclose(mid);
    H5Gclose(sg);
    H5Gclose(mg);
    return 0;
}

int results_close(results_t *r, int complete, size_t done, size_t total, char *err)
{
    char now[32];
    results_now_iso(now);
    attr_str(r->f, "end_time", now);
    attr_i64(r->f, "complete", complete);
    attr_i64(r->f, "tasks_done", (long long)done);
    attr_i64(r->f, "tasks_total", (long long)total);
    errno = 0;
    herr_t e = H5Fclose(r->f);
    r->f = -1;
    int rc = 0;
    if (e < 0) {
        int en = errno;
        char why[256];
        data_h5_error(why, sizeof why);
        g_close_failed = 1;
        unlink(r->tmp_path);
        snprintf(err, SPEC_ERR_LEN, "%s: cannot write the result file (%s; HDF5: %s); nothing was renamed and the journal keeps the finished tasks: free space and run with --resume",
                 r->tmp_path, en ? strerror(en) : "I/O error", why);
        rc = -1;
    } else {
        int fd = open(r->tmp_path, O_RDONLY);
        if (fd >= 0) { fsync(fd); close(fd); }
        if (rename(r->tmp_path, r->final_path) != 0) {
            snprintf(err, SPEC_ERR_LEN, "%s: cannot rename to %s (%s)", r->tmp_path, r->final_path, strerror(errno));
            rc = -1;
        }
    }
    free(r);
    return rc;
}

void results_abort(results_t *r)
{
    if (!r) return;
    if (r->f >= 0 && H5Fclose(r->f) < 0) g_close_failed = 1;
    unlink(r->tmp_path);
    free(r);
}

static int read_attr_str(hid_t loc, const char *name, char *out, size_t len)
{
    out[0] = 0;
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t)) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(out, len, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
            H5Tclose(mt);
        }
    }
    H5Tclose(t), H5Aclose(a);
    return rc;
}

static double read_attr_f64(hid_t loc, const char *name)
{
    double v = NAN;
    if (H5Aexists(loc, name) <= 0) return v;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    return v;
}

/* Open a result file read-only.  HDF5 (1.10.7+) locks files with flock():
 * a writer holds an exclusive lock, so a reader must not open a file that
 * another process is writing.  results_probe has checked that nobody holds
 * it for writing; the open itself then needs no lock (which also lets files
 * on file systems without flock be read). */
static hid_t open_ro(const char *path)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, 0, 1);
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

void results_set_inputs(results_t *r, const char *inputs)
{
    attr_str(r->f, "inputs", inputs ? inputs : "");
}

static char *read_attr_dup(hid_t f, const char *name)
{
    char *out = NULL;
    if (H5Aexists(f, name) > 0) {
        hid_t a = H5Aopen(f, name, H5P_DEFAULT);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5T_CSET_UTF8);
        char *s = NULL;
        if (H5Aread(a, mt, &s) >= 0 && s) {
            out = strdup(s);
            H5free_memory(s);
        }
        H5Tclose(mt), H5Aclose(a);
    }
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
        snprintf(err, SPEC_ERR_LEN, "%s: cannot open the result file", path);
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
                if (strcmp(src, "axis") && strcmp(src, "inherited")) continue;
                snprintf(nm, sizeof nm, "best_%s", param_names[q]);
                double bv = read_attr_f64(g, nm);
                char lab[200];
                snprintf(nm, sizeof nm, "best_%s_label", param_names[q]);
                if ((q == P_HIDDEN || q == P_ARCH || q == P_ACTIVATION) && H5Aexists(g, nm) > 0 &&
                    !read_attr_str(g, nm, lab, sizeof lab))
                    printf(" %s=%s%s", param_names[q], lab, strcmp(src, "inherited") ? "" : "*");
                else if (q == P_MMD_KERNEL)
                    printf(" %s=%s%s", param_names[q], bv == 1 ? "imq" : "rbf", strcmp(src, "inherited") ? "" : "*");
                else
                    printf(" %s=%g%s", param_names[q], bv, strcmp(src, "inherited") ? "" : "*");
            }
        }
        if (from[0]) printf("  (* inherited from %s)", from);
        double sk = read_attr_f64(g, "n_skipped");
        if (sk > 0) printf("  [%.0f cells skipped: diverged or missing]", sk);
        printf("\n");
        H5Gclose(g);
    }
    H5Fclose(f);
    return 0;
}
