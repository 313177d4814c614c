/* test_results_search.c - the result writer on search stages (docs/results-format.md,
 * "Search stages"), no MPI: plans built by hand the way plan.c and search.c fill them (a
 * Hyperband stage of 6 trials, complete and cut off mid-stage; a sampled stage with repeats),
 * written with results_write_stage and read back with the HDF5 C API, value by value.
 *
 * With AESWEEP_SEARCH_FILES=DIR the files stay in DIR (search_full.h5, search_partial.h5,
 * search_sampled.h5) for tests/test_results_search.py, which reads them with h5py, xarray and
 * ncdump; otherwise they are written to the working directory and removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/halving.h"
#include "aesweep/plan.h"
#include "aesweep/results.h"
#include "aesweep/study.h"
#include "aesweep/train.h"
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A grid stage that spec.c parses today: the test turns its plan into a search plan. hidden
 * has a width list, so that the trials' hidden values need labels. */
static const char *SPEC =
    "study=\"srch\"; seed=5; data={source=\"moons\"; pool=400;};\n"
    "tests=({name=\"a\"; size=50;});\n"
    "stages=({name=\"hb\"; axes={lr=[0.001,0.002];}; fixed={hidden=[20, 10];}; repeats=1;},\n"
    "        {name=\"smp\"; axes={lr=[0.001];}; repeats=2;});\n";

#define NT 6 /* trials of the halving stage */

static char g_dir[1024] = ".";
static int g_keep;

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

/* The metric of trial t at e epochs: any function will do; trial 4 diverges in rung 0. */
static double metric_of(size_t t, long e) { return t == 4 ? NAN : 0.01 + 0.001 * (double)((t * 7) % 5) + 1.0 / e; }

/* Replace a plan's cube with a halving cube (trial, rung, repeat of 1) of NT trials with min 10,
 * max 90, eta 3 (brackets of 3, 2 and 1 trials, rungs 10/30/90, 30/90, 90), and run its rounds
 * as search.c would, up to `rounds` merged rounds (3: all). */
static search_spec_t g_ss = {.has_sample = 1, .sampler = SAMPLE_RANDOM, .has_halving = 1, .min_epochs = 10,
                             .max_epochs = 90, .eta = 3};
static search_spec_t g_ss_sobol = {.has_sample = 1, .sampler = SAMPLE_SOBOL};

static void make_halving(plan_t *p, halving_schedule_t *h, int rounds)
{
    char err[256];
    assert_int_equal(halving_schedule(h, 10, 90, 3, 0, NT, err, sizeof err), 0);
    assert_int_equal(h->nbrackets, 3);
    size_t R = 3, nc = NT * R;
    free(p->tasks), free(p->metrics), free(p->status), free(p->seconds), free(p->task_done);
    p->search = PLAN_SAMPLED | PLAN_HALVING;
    p->ncurve = 0; /* no learning curves in these plans */
    p->sspec = &g_ss;
    p->ntrials = NT;
    p->nrungs = (int)R;
    p->ndims = 3;
    const char *dn[3] = {"trial", "rung", "repeat"};
    size_t dl[3] = {NT, R, 1};
    for (int d = 0; d < 3; d++) {
        snprintf(p->dim_names[d], SPEC_NAME_LEN, "%s", dn[d]);
        p->dim_len[d] = dl[d], p->dim_param[d] = -1;
    }
    p->dim_stride[2] = 1, p->dim_stride[1] = 1, p->dim_stride[0] = R;
    p->ncube = p->ncells = p->ntasks = nc;
    p->nrep = 1;
    p->nsearch_params = 2;
    p->search_params[0] = P_LR, p->search_params[1] = P_HIDDEN;
    p->trial_hp = calloc(NT * P_COUNT, sizeof(double));
    p->trial_bracket = calloc(NT, sizeof(int));
    p->task_round = malloc(nc * sizeof(int));
    p->tasks = calloc(nc, sizeof(task_t));
    p->metrics = malloc(nc * p->nmetrics * sizeof(double));
    p->status = malloc(nc);
    p->seconds = malloc(nc * sizeof(double));
    p->task_done = calloc(nc, 1);
    p->sched = malloc(sizeof *h);
    memcpy(p->sched, h, sizeof *h);
    for (size_t i = 0; i < nc * p->nmetrics; i++) p->metrics[i] = NAN;
    for (size_t t = 0; t < NT; t++) {
        memcpy(p->trial_hp + t * P_COUNT, p->base, sizeof p->base);
        p->trial_hp[t * P_COUNT + P_LR] = 0.001 * (double)(t + 1);
        p->trial_hp[t * P_COUNT + P_HIDDEN] = t % 2 ? -1 : 10; /* -1: the width list [20, 10] */
        p->trial_hp[t * P_COUNT + P_EPOCHS] = 90;
        p->trial_bracket[t] = halving_bracket_of(h, (long)t);
    }
    for (size_t i = 0; i < nc; i++) {
        task_t *tk = &p->tasks[i];
        size_t t = i / R;
        int r = (int)(i % R), b = p->trial_bracket[t];
        tk->trial = (long)t, tk->rung = r, tk->first_cube = i;
        tk->absent = r >= h->b[b].nrungs;
        memcpy(tk->hp, p->trial_hp + t * P_COUNT, sizeof tk->hp);
        tk->hp[P_EPOCHS] = tk->absent ? 0 : (double)h->b[b].epochs[r];
        tk->start_epoch = r && !tk->absent ? (int)h->b[b].epochs[r - 1] : 0;
        tk->prev_task = r ? (long)(i - 1) : -1;
        tk->cost = tk->absent ? 0 : 1000.0 * (tk->hp[P_EPOCHS] - tk->start_epoch) * (1 + (t % 2));
        p->status[i] = TRAIN_NOT_RUN;
        p->seconds[i] = NAN;
        p->task_round[i] = -1;
    }
    /* round k = rung k of every bracket that has one; promotion by halving_promote */
    long alive[HALVING_MAX_BRACKETS][NT];
    size_t nalive[HALVING_MAX_BRACKETS];
    for (int b = 0; b < h->nbrackets; b++) {
        nalive[b] = (size_t)h->b[b].ntrials;
        for (size_t j = 0; j < nalive[b]; j++) alive[b][j] = h->b[b].first_trial + (long)j;
    }
    /* end-aligned rounds (search.h): round rd runs rung rd - (3 - nrungs_b) of bracket b */
    for (int rd = 0; rd < rounds; rd++)
        for (int b = 0; b < h->nbrackets; b++) {
            int k = rd - (3 - h->b[b].nrungs);
            if (k < 0) continue;
            double m[NT];
            for (size_t j = 0; j < nalive[b]; j++) {
                size_t i = (size_t)alive[b][j] * R + (size_t)k;
                m[j] = metric_of((size_t)alive[b][j], h->b[b].epochs[k]);
                for (int q = 0; q < p->nmetrics; q++) p->metrics[(size_t)q * nc + i] = m[j] + q;
                p->status[i] = isfinite(m[j]) ? TRAIN_OK : TRAIN_DIVERGED;
                p->seconds[i] = 0.5;
                p->task_done[i] = 1, p->ndone++;
                p->task_round[i] = rd;
            }
            long win[NT];
            long nw = halving_promote(m, alive[b], nalive[b], 3, win);
            memcpy(alive[b], win, (size_t)nw * sizeof(long));
            nalive[b] = (size_t)nw;
        }
    p->search_complete = rounds >= 3;
    p->idle_share = 0.25;
    /* plan_select_best's rule for halving, by hand (this test is about the writer): the lowest
     * select metric among cells at max_epochs, ties to the lower trial; its hp at max_epochs */
    p->best_cell = -1;
    for (size_t i = 0; p->search_complete && i < nc; i++) {
        double v = p->metrics[(size_t)p->select_metric * nc + i];
        if (p->task_done[i] && p->tasks[i].hp[P_EPOCHS] == 90 && isfinite(v) && (p->best_cell < 0 || v < p->best_value))
            p->best_cell = (long)i, p->best_value = v;
    }
    if (p->best_cell >= 0) memcpy(p->best_hp, p->tasks[p->best_cell].hp, sizeof p->best_hp);
}

static study_ctx_t g_ctx;

static int setup(void **st)
{
    (void)st;
    const char *d = getenv("AESWEEP_SEARCH_FILES");
    if (d && *d) snprintf(g_dir, sizeof g_dir, "%s", d), g_keep = 1;
    char err[SPEC_ERR_LEN];
    study_source_t src = {.spec_path = "srch.cfg", .text = SPEC, .data_label = ""};
    if (study_open(&g_ctx, &src, err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    study_close(&g_ctx);
    return 0;
}

/* Write stage k's plan (after fix(p)) into file name; returns the plan. */
static void write_one(const char *name, plan_t *p)
{
    char path[1100], err[SPEC_ERR_LEN];
    path_of(path, sizeof path, name);
    results_t *r = results_open(path, &g_ctx.s, &g_ctx.sd, 2, "2026-01-01T00:00:00Z", err);
    assert_non_null(r);
    double busy[2] = {1.0, 0.5};
    if (results_write_stage(r, p, busy, 2, 1e6, err)) fail_msg("%s", err);
    assert_int_equal(results_close(r, 1, p->ndone, p->ntasks, err), 0);
}

static hid_t open_stage(const char *name, const char *stage, hid_t *f)
{
    char path[1100];
    path_of(path, sizeof path, name);
    *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(*f >= 0);
    hid_t g = H5Gopen2(*f, stage, H5P_DEFAULT);
    assert_true(g >= 0);
    return g;
}

/* Dataset name of g as doubles (n values, checked) into a new array. */
static double *read_f64(hid_t g, const char *name, size_t n)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t sp = H5Dget_space(d);
    assert_int_equal((size_t)H5Sget_simple_extent_npoints(sp), n);
    double *v = malloc(n * sizeof(double));
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(sp), H5Dclose(d);
    return v;
}

static int ndims_of(hid_t g, const char *name)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(sp);
    H5Sclose(sp), H5Dclose(d);
    return nd;
}

static void check_halving(const char *name, const plan_t *p)
{
    hid_t f, g = open_stage(name, "hb", &f);
    size_t N = NT, R = 3, nc = N * R;
    const halving_schedule_t *h = p->sched;
    assert_int_equal(ndims_of(g, "test_mse_a"), 2);
    double *m = read_f64(g, "test_mse_a", nc), *comp = read_f64(g, "compute", nc), *rnd = read_f64(g, "round", nc);
    double *stop = read_f64(g, "stop_rung", N), *used = read_f64(g, "compute_used", N);
    double *tb = read_f64(g, "trial_bracket", N), *lr = read_f64(g, "lr", N), *st = read_f64(g, "status", nc);
    double total = 0;
    for (size_t t = 0; t < N; t++) {
        double u = 0;
        int last = -1;
        for (size_t k = 0; k < R; k++) {
            size_t i = t * R + k;
            double want = p->metrics[i];
            assert_true((isnan(want) && isnan(m[i])) || want == m[i]);
            assert_true(st[i] == p->status[i]);
            assert_true(comp[i] == (p->task_done[i] ? p->tasks[i].cost : 0));
            /* without task_round (a plan rebuilt from the journal), the rule: rung k + 3 - nrungs_b */
            int rule = (int)k + 3 - h->b[p->trial_bracket[t]].nrungs;
            assert_true(rnd[i] == (p->task_done[i] ? (p->task_round ? p->task_round[i] : rule) : -1));
            if (p->task_done[i]) last = (int)k, u += p->tasks[i].cost;
        }
        assert_true(stop[t] == last);
        assert_true(used[t] == u);
        assert_true(tb[t] == p->trial_bracket[t]);
        assert_true(lr[t] == p->trial_hp[t * P_COUNT + P_LR]);
        total += u;
    }
    double *re = read_f64(g, "rung_epochs", 3 * R), *rt = read_f64(g, "rung_trials", 3 * R);
    double *bf = read_f64(g, "bracket_first_trial", 3), *bn = read_f64(g, "bracket_trials", 3);
    for (int b = 0; b < 3; b++) {
        assert_true(bf[b] == h->b[b].first_trial && bn[b] == h->b[b].ntrials);
        for (size_t k = 0; k < R; k++) {
            long e = (int)k < h->b[b].nrungs ? h->b[b].epochs[k] : 0;
            long n = (int)k < h->b[b].nrungs ? h->b[b].trials[k] : 0;
            assert_true(re[b * R + k] == e && rt[b * R + k] == n);
        }
    }
    assert_true(re[0] == 10 && re[1] == 30 && re[2] == 90 && re[3] == 30 && re[5] == 0 && re[6] == 90);
    char s[256];
    assert_int_equal(results_attr_str(g, "sampler", s, sizeof s), 0);
    assert_string_equal(s, "random");
    assert_int_equal(results_attr_str(g, "search_params", s, sizeof s), 0);
    assert_string_equal(s, "lr,hidden");
    assert_int_equal(results_attr_str(g, "source_lr", s, sizeof s), 0);
    assert_string_equal(s, "search");
    assert_true(H5Aexists(g, "lr") == 0); /* varies: a variable, not an attribute */
    hid_t hd = H5Dopen2(g, "hidden", H5P_DEFAULT);
    assert_int_equal(results_attr_str(hd, "labels", s, sizeof s), 0);
    assert_string_equal(s, "10;[20, 10];10;[20, 10];10;[20, 10]");
    H5Dclose(hd);
    assert_true(results_attr_f64(g, "n_trials") == N && results_attr_f64(g, "eta") == 3);
    assert_true(results_attr_f64(g, "min_epochs") == 10 && results_attr_f64(g, "max_epochs") == 90);
    assert_true(results_attr_f64(g, "brackets") == 3 && results_attr_f64(g, "s_max") == 2);
    assert_true(results_attr_f64(g, "compute_total") == total);
    assert_true(results_attr_f64(g, "idle_share") == 0.25);
    assert_true(results_attr_f64(g, "complete") == p->search_complete);
    long bt = p->best_cell < 0 ? -1 : p->best_cell / (long)R;
    assert_true(results_attr_f64(g, "best_trial") == bt);
    if (bt >= 0) {
        /* what a later stage inherits: the best trial's parameters at max_epochs */
        assert_true(results_attr_f64(g, "best_lr") == p->trial_hp[bt * P_COUNT + P_LR]);
        assert_true(results_attr_f64(g, "best_epochs") == 90);
        assert_true(results_attr_f64(g, "best_value") == m[p->best_cell]);
    }
    free(m), free(comp), free(rnd), free(stop), free(used), free(tb), free(lr), free(st);
    free(re), free(rt), free(bf), free(bn);
    H5Gclose(g), H5Fclose(f);
}

static void test_halving_complete(void **st)
{
    (void)st;
    char err[SPEC_ERR_LEN];
    plan_t p;
    halving_schedule_t h;
    assert_int_equal(plan_build(&p, &g_ctx.s, 0, NULL, NULL, err), 0);
    make_halving(&p, &h, 3);
    /* bracket 0 (trials 0-2): 3, 1, 1 trials over 10/30/90 epochs: the best by the metric at 10
     * epochs goes on, trial 4 (bracket 1) diverges at its first rung and stops there */
    assert_true(p.best_cell >= 0);
    write_one("search_full.h5", &p);
    check_halving("search_full.h5", &p);
    hid_t f, g = open_stage("search_full.h5", "hb", &f);
    double *stop = read_f64(g, "stop_rung", NT);
    assert_true(stop[4] == 0); /* diverged: never promoted */
    assert_true(stop[5] == 0); /* bracket 2: one rung */
    free(stop);
    H5Gclose(g), H5Fclose(f);
    plan_free(&p);
    if (!g_keep) {
        char path[1100];
        path_of(path, sizeof path, "search_full.h5");
        unlink(path);
    }
}

static void test_halving_partial(void **st)
{
    (void)st;
    char err[SPEC_ERR_LEN];
    plan_t p;
    halving_schedule_t h;
    assert_int_equal(plan_build(&p, &g_ctx.s, 0, NULL, NULL, err), 0);
    make_halving(&p, &h, 2); /* cut off after two of the three rounds */
    free(p.task_round);
    p.task_round = NULL; /* as status --snapshot has it */
    assert_true(p.best_cell < 0 && !p.search_complete);
    write_one("search_partial.h5", &p);
    check_halving("search_partial.h5", &p);
    plan_free(&p);
    if (!g_keep) {
        char path[1100];
        path_of(path, sizeof path, "search_partial.h5");
        unlink(path);
    }
}

/* A sampled stage without halving: 3 trials x 2 repeats, dims (trial, repeat). */
static void test_sampled(void **st)
{
    (void)st;
    char err[SPEC_ERR_LEN];
    plan_t p;
    assert_int_equal(plan_build(&p, &g_ctx.s, 1, NULL, NULL, err), 0);
    size_t N = 3, nc = N * 2;
    free(p.tasks), free(p.metrics), free(p.status), free(p.seconds), free(p.task_done);
    p.search = PLAN_SAMPLED, p.ntrials = N, p.ndims = 2, p.nrungs = 1, p.ncurve = 0;
    p.sspec = &g_ss_sobol;
    snprintf(p.dim_names[0], SPEC_NAME_LEN, "trial");
    p.dim_len[0] = N, p.dim_len[1] = 2, p.dim_param[0] = -1, p.dim_stride[0] = 2, p.dim_stride[1] = 1;
    p.ncube = p.ntasks = nc, p.ncells = N, p.nrep = 2;
    p.nsearch_params = 2, p.search_params[0] = P_ACTIVATION, p.search_params[1] = P_TRAIN_SIZE;
    p.source[P_LR] = VS_FIXED; /* the grid's axis is a fixed value in this stage */
    p.trial_hp = calloc(N * P_COUNT, sizeof(double));
    p.tasks = calloc(nc, sizeof(task_t));
    p.metrics = malloc(nc * p.nmetrics * sizeof(double));
    p.status = malloc(nc), p.seconds = malloc(nc * sizeof(double)), p.task_done = calloc(nc, 1);
    p.task_round = malloc(nc * sizeof(int));
    for (size_t t = 0; t < N; t++) {
        memcpy(p.trial_hp + t * P_COUNT, p.base, sizeof p.base);
        p.trial_hp[t * P_COUNT + P_ACTIVATION] = (double)t; /* relu, tanh, elu */
        p.trial_hp[t * P_COUNT + P_TRAIN_SIZE] = 100.0 * (double)(t + 1);
    }
    for (size_t i = 0; i < nc; i++) {
        p.tasks[i].trial = (long)(i / 2), p.tasks[i].repeat = (int)(i % 2), p.tasks[i].first_cube = i;
        p.tasks[i].cost = 10.0 * (double)(i + 1);
        int done = i != 5; /* the last repeat of trial 2 never ran */
        p.task_done[i] = (uint8_t)done, p.ndone += done;
        p.task_round[i] = done ? (int)(i / 4) : -1;
        p.status[i] = done ? TRAIN_OK : TRAIN_NOT_RUN;
        p.seconds[i] = done ? 1.0 : NAN;
        for (int q = 0; q < p.nmetrics; q++) p.metrics[(size_t)q * nc + i] = done ? 0.1 * (double)(i + 1) : NAN;
    }
    write_one("search_sampled.h5", &p);
    hid_t f, g = open_stage("search_sampled.h5", "smp", &f);
    assert_int_equal(ndims_of(g, "test_mse_a"), 2);
    double *used = read_f64(g, "compute_used", N), *rnd = read_f64(g, "round", N);
    double *mean = read_f64(g, "test_mse_a_mean", N), *ts = read_f64(g, "train_size", N);
    assert_true(used[0] == 30 && used[1] == 70 && used[2] == 50);
    assert_true(rnd[0] == 0 && rnd[1] == 0 && rnd[2] == 1);
    assert_true(fabs(mean[0] - 0.15) < 1e-15 && fabs(mean[2] - 0.5) < 1e-15);
    assert_true(ts[1] == 200);
    char s[64];
    hid_t d = H5Dopen2(g, "activation", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    assert_int_equal(H5Tget_class(t), H5T_STRING);
    H5Tclose(t), H5Dclose(d);
    assert_int_equal(results_attr_str(g, "search_params", s, sizeof s), 0);
    assert_string_equal(s, "activation,train_size");
    assert_int_equal(results_attr_str(g, "sampler", s, sizeof s), 0);
    assert_string_equal(s, "sobol");
    assert_true(H5Lexists(g, "stop_rung", H5P_DEFAULT) == 0 && H5Lexists(g, "rung", H5P_DEFAULT) == 0);
    assert_true(results_attr_f64(g, "compute_total") == 150);
    free(used), free(rnd), free(mean), free(ts);
    H5Gclose(g), H5Fclose(f);
    plan_free(&p);
    if (!g_keep) {
        char path[1100];
        path_of(path, sizeof path, "search_sampled.h5");
        unlink(path);
    }
}

/* A grid stage gains compute_total: the predicted cost of all its tasks. */
static void test_grid_compute_total(void **st)
{
    (void)st;
    char err[SPEC_ERR_LEN];
    plan_t p;
    assert_int_equal(plan_build(&p, &g_ctx.s, 0, NULL, NULL, err), 0);
    double want = 0;
    for (size_t t = 0; t < p.ntasks; t++) want += p.tasks[t].cost;
    assert_true(want > 0);
    write_one("search_grid.h5", &p);
    hid_t f, g = open_stage("search_grid.h5", "hb", &f);
    assert_true(results_attr_f64(g, "compute_total") == want);
    char s[64];
    assert_int_equal(results_attr_str(g, "source_lr", s, sizeof s), 0);
    assert_string_equal(s, "axis");
    assert_true(H5Lexists(g, "trial", H5P_DEFAULT) == 0);
    H5Gclose(g), H5Fclose(f);
    plan_free(&p);
    char path[1100];
    path_of(path, sizeof path, "search_grid.h5");
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_halving_complete),
        cmocka_unit_test(test_halving_partial),
        cmocka_unit_test(test_sampled),
        cmocka_unit_test(test_grid_compute_total),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
