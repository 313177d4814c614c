/* options.c - reading the run-time options from the environment (see options.h). */
#include "aesweep/options.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void options_default(options_t *o)
{
    memset(o, 0, sizeof *o);
    o->model.kernel = MODEL_KERNEL_FAST;
    o->mpi_defaults = 1;
}

/* 1 for "1", 0 for "0"; -1 for anything else. */
static int flag01(const char *v)
{
    return !strcmp(v, "1") ? 1 : !strcmp(v, "0") ? 0 : -1;
}

/* A path variable NAME (value v) into dst[OPTIONS_PATH_LEN]; 0, or -1 with one line when too long. */
static int path_var(char *dst, const char *name, const char *v, char *err, size_t len)
{
    if (strlen(v) >= OPTIONS_PATH_LEN)
        return snprintf(err, len, "%s is %zu characters long; use a path below %d", name, strlen(v), OPTIONS_PATH_LEN), -1;
    snprintf(dst, OPTIONS_PATH_LEN, "%s", v);
    return 0;
}

int options_from_env(options_t *o, char *err, size_t len)
{
    options_default(o);
    const char *v;
    if ((v = getenv("AESWEEP_KERNEL")) && *v) {
        int k = model_kernel_parse(v);
        if (k < 0) {
            snprintf(err, len, "AESWEEP_KERNEL=%s is unknown; use fast (the default), tiled, lanes, gemm, blas or ref", v);
            return -1;
        }
        o->model.kernel = k;
    }
    if ((v = getenv("AESWEEP_GEMM")) && *v) {
        if (strcmp(v, "blas") && strcmp(v, "packed")) {
            snprintf(err, len, "AESWEEP_GEMM=%s is unknown; use blas (the default) or packed", v);
            return -1;
        }
        o->model.gemm_packed = !strcmp(v, "packed");
    }
    /* set at all (any value, as before) turns the packed tails off */
    if ((v = getenv("AESWEEP_KF_NOTAIL"))) o->model.no_tail = 1;
    if ((v = getenv("AESWEEP_SKIP_DEAD")) && *v) {
        int f = flag01(v);
        if (f < 0) {
            snprintf(err, len, "AESWEEP_SKIP_DEAD=%s is not valid; use 1 (skip, the default) or 0 (compute dead units)", v);
            return -1;
        }
        o->model.keep_dead = !f;
    }
    if ((v = getenv("AESWEEP_DATA")) && *v && path_var(o->data_dir, "AESWEEP_DATA", v, err, len)) return -1;
    if ((v = getenv("AESWEEP_PROGRESS_SECONDS")) && *v) {
        char *end;
        errno = 0;
        double s = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(s) || s <= 0) {
            snprintf(err, len, "AESWEEP_PROGRESS_SECONDS=%s is not valid; use a number of seconds > 0 (default 10)", v);
            return -1;
        }
        o->progress_seconds = s;
    }
    if ((v = getenv("AESWEEP_RESULT_BATCH_SECONDS")) && *v) {
        char *end;
        errno = 0;
        double s = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(s) || s < 0 || s > 3600) {
            snprintf(err, len, "AESWEEP_RESULT_BATCH_SECONDS=%s is not valid; use seconds from 0 (one message per result) to 3600 (unset: automatic, 0.05 s and more with many ranks)", v);
            return -1;
        }
        o->result_batch_seconds = s;
        o->result_batch_off = s == 0;
    }
    /* set at all: the statistics, as before */
    if (getenv("AESWEEP_RANK0_STATS")) o->rank0_stats = 1;
    if ((v = getenv("AESWEEP_MPI_DEFAULTS")) && !strcmp(v, "0")) o->mpi_defaults = 0;
    if ((v = getenv("AESWEEP_STARTED_FILE")) && *v &&
        path_var(o->started_file, "AESWEEP_STARTED_FILE", v, err, len))
        return -1;
    return 0;
}
