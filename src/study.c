/* study.c - open a study once: spec, data, and the checks between them
 * (see study.h).  Under MPI, rank 0 reads the spec file and the others
 * parse the text it broadcasts, so every rank holds the same study.
 *
 * Not here: the output (outdir.c), admission by memory and cost (budget.c).
 */
#include "aesweep/study.h"
#include "aesweep/budget.h"
#include "aesweep/rng.h"
#include "aesweep/sweep.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the data --------------------------------------------------------------- */

/* One data file of the study's source: the data file or a test file, with
 * its labels file (idx/npy) and the first max_rows rows (0 = all). */
static int load_file(const study_t *s, const char *path, const char *labels, size_t max_rows,
                     dataset_t *out, char *err)
{
    if (s->source == SRC_IDX) return data_load_idx(out, path, labels, s->pixels, max_rows, err);
    if (s->source == SRC_NPY) return data_load_npy(out, path, labels, s->pixels, max_rows, err);
    int rc = s->source == SRC_HDF5 ? data_load_h5(out, path, err)
                                   : data_load_csv(out, path, s->header, s->label_column, err);
    if (!rc && max_rows && out->n > max_rows) out->n = max_rows; /* the first rows; the rest stays allocated */
    return rc;
}

/* Generated or loaded data must be finite: training on it gives NaN
 * metrics that look like results. */
static int finite_data(const dataset_t *d)
{
    for (size_t i = 0; i < d->n * (size_t)d->d; i++)
        if (!isfinite(d->x[i])) return 0;
    return 1;
}

int study_data_load(study_data_t *sd, const study_t *s, char *err)
{
    memset(sd, 0, sizeof *sd);
    sd->s = s;
    sd->ntests = s->ntests;
    if (s->source == SRC_MOONS) {
        sd->in_dim = 2;
        if (data_moons(&sd->pool, (size_t)s->pool, s->noise, rng_derive_str(s->seed, "pool"))) goto oom;
        if (!finite_data(&sd->pool)) {
            snprintf(err, DATA_ERR_LEN, "data.noise = %g makes generated points non-finite (beyond the float range); use a smaller noise",
                     s->noise);
            return -1;
        }
        for (int t = 0; t < s->ntests; t++) {
            char tag[96];
            snprintf(tag, sizeof tag, "test:%s", s->tests[t].name);
            if (data_moons(&sd->tests[t], (size_t)s->tests[t].size, s->tests[t].noise,
                           rng_derive_str(s->seed, tag)))
                goto oom;
            /* a test set of +-inf gave NaN metrics in every cell, status ok */
            if (!finite_data(&sd->tests[t])) {
                snprintf(err, DATA_ERR_LEN, "test set %s: noise = %g makes generated points non-finite (beyond the float range); use a smaller noise",
                         s->tests[t].name, s->tests[t].noise);
                return -1;
            }
        }
        return 0;
    }
    dataset_t all;
    /* a train/test pair (train_fraction = 1): the whole data file, in its
     * own order, is the pool (its first data.pool rows when given); every
     * test set is a file of its own */
    int pair = s->train_fraction == 1.0;
    if (load_file(s, s->data_path, s->labels_path, pair && s->pool_given ? (size_t)s->pool : 0, &all, err)) return -1;
    sd->in_dim = all.d;
    sd->file_rows = all.n;
    sd->split = malloc(all.n * sizeof(size_t));
    if (!sd->split) { data_free(&all); goto oom; }
    if (pair) {
        for (size_t i = 0; i < all.n; i++) sd->split[i] = i;
        sd->nsplit_train = all.n;
    } else {
        rng_t r = rng_stream(rng_derive_str(s->seed, "split"));
        rng_permutation(&r, all.n, sd->split);
        /* 1797 rows x 2/3 = 1198 training rows, as the study splits digits */
        sd->nsplit_train = (size_t)llround((double)all.n * s->train_fraction);
    }
    if (pair && s->pool_given && all.n < (size_t)s->pool) {
        snprintf(err, DATA_ERR_LEN, "%s: %zu rows, fewer than data.pool = %ld; lower data.pool", s->data_path, all.n, s->pool);
        data_free(&all);
        return -1;
    }
    if (pair && all.n < 2) {
        snprintf(err, DATA_ERR_LEN, "%s: %zu row; a training file needs >= 2 rows", s->data_path, all.n);
        data_free(&all);
        return -1;
    }
    if (!pair && (sd->nsplit_train < 2 || sd->nsplit_train >= all.n)) {
        snprintf(err, DATA_ERR_LEN, "%s: %zu rows cannot be split with train_fraction %g; need >= 2 rows on each side",
                 s->data_path, all.n, s->train_fraction);
        data_free(&all);
        return -1;
    }
    if (data_take(&sd->pool, &all, sd->split, sd->nsplit_train)) { data_free(&all); goto oom; }
    for (int t = 0; t < s->ntests; t++) {
        if (s->tests[t].path[0]) {
            if (load_file(s, s->tests[t].path, s->tests[t].labels_path, (size_t)s->tests[t].size, &sd->tests[t], err)) {
                data_free(&all);
                return -1;
            }
            if (s->tests[t].size > 0 && sd->tests[t].n < (size_t)s->tests[t].size) {
                snprintf(err, DATA_ERR_LEN, "%s: %zu rows, fewer than tests.size = %ld of test set %s; lower tests.size",
                         s->tests[t].path, sd->tests[t].n, s->tests[t].size, s->tests[t].name);
                data_free(&all);
                return -1;
            }
            if (sd->tests[t].d != all.d) {
                snprintf(err, DATA_ERR_LEN, "%s: %d columns but the training data %s has %d; test sets need the same features",
                         s->tests[t].path, sd->tests[t].d, s->data_path, all.d);
                data_free(&all);
                return -1;
            }
        } else if (data_take(&sd->tests[t], &all, sd->split + sd->nsplit_train, all.n - sd->nsplit_train)) {
            data_free(&all);
            goto oom;
        }
    }
    data_free(&all);
    return 0;
oom:
    snprintf(err, DATA_ERR_LEN, "out of memory while building the data of study %s", s->study);
    return -1;
}

void study_data_free(study_data_t *sd)
{
    if (!sd) return;
    data_free(&sd->pool);
    for (int t = 0; t < sd->ntests; t++) data_free(&sd->tests[t]);
    data_free(&sd->alt_pool);
    free(sd->split);
    memset(sd, 0, sizeof *sd);
}

/* ---- opening ---------------------------------------------------------------- */

/* The data half of an open: generated data must fit the memory limit,
 * then the data is built and (optionally) checked against the spec. */
static int open_data(study_ctx_t *c, const study_source_t *src, int check_data, char *err)
{
    if (src->mem_limit > 0 && budget_check_data(&c->s, src->mem_limit, src->spec_path, err)) return -1;
    char e[SPEC_ERR_LEN];
    if (study_data_load(&c->sd, &c->s, e)) {
        if (src->data_label && !*src->data_label) snprintf(err, SPEC_ERR_LEN, "%s", e);
        else if (src->data_label) snprintf(err, SPEC_ERR_LEN, "%s: %s", src->data_label, e);
        else snprintf(err, SPEC_ERR_LEN, "%s: data: %s", src->spec_path, e);
        return -1;
    }
    c->s.in_dim = c->sd.in_dim;
    if (src->kernel) c->sd.kernel = *src->kernel;
    if (check_data && spec_check_data(&c->s, c->sd.in_dim, c->sd.pool.n, err)) return -1;
    return 0;
}

int study_open(study_ctx_t *c, const study_source_t *src, char *err)
{
    memset(c, 0, sizeof *c);
    err[0] = 0;
    if (spec_load(&c->s, src->spec_path, src->text, err)) return -1;
    return open_data(c, src, src->check_data, err);
}

/* The worst rc of all ranks, on every rank. */
int study_agree(int rc)
{
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

/* Rank 0's text to every rank (the others receive a fresh copy).  A rank
 * that cannot allocate it cannot join the broadcast and the others would
 * wait for it forever: it stops the job (exit 3), as the style guide asks
 * of a failure under MPI that cannot be agreed on. */
static void bcast_text(char **text, int rank)
{
    long n = rank == 0 ? (long)strlen(*text) : 0;
    MPI_Bcast(&n, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (rank != 0 && !(*text = calloc(n + 1, 1))) {
        fprintf(stderr, "aesweep: rank %d: out of memory receiving the spec (%ld bytes)\n", rank, n);
        MPI_Abort(MPI_COMM_WORLD, AES_EXIT_RUNTIME);
    }
    MPI_Bcast(*text, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
}

int study_open_all(study_ctx_t *c, const study_source_t *src, int rank, char *err)
{
    memset(c, 0, sizeof *c);
    err[0] = 0;
    int rc = rank == 0 && spec_load(&c->s, src->spec_path, NULL, err);
    if (study_agree(rc)) return -1;
    char *text = rank == 0 ? c->s.text : NULL; /* rank 0 sends its own copy */
    bcast_text(&text, rank);
    if (rank != 0) {
        rc = spec_load(&c->s, src->spec_path, text, err) != 0;
        free(text);
    }
    if (!rc && open_data(c, src, rank == 0, err)) rc = 1;
    return study_agree(rc) ? -1 : 0;
}

void study_close(study_ctx_t *c)
{
    if (!c) return;
    study_data_free(&c->sd);
    spec_free(&c->s);
}
