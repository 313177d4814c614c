/* simulate.c - predicted makespan and efficiency of a study at 16..4096 ranks.
 *
 * Uses the real cost model and partitioner (plan_build, plan_task_cost,
 * plan_partition from libaesweep: longest-processing-time-first onto the
 * least-loaded rank, as `aesweep run` schedules), so what it predicts is what
 * a run would do, up to the accuracy of the cost model.  The cost -> seconds
 * factor is calibrated from measured task times: the `seconds` dataset of a
 * result file (each task's time is the largest `seconds` over its epochs
 * slots), factor = sum of seconds / sum of predicted costs.  The same file
 * gives the spread of measured / predicted per task, which bounds how far
 * the prediction can be off.
 *
 * usage: simulate SPEC... [--result RESULT.h5 [--calib-spec SPEC] [--stage NAME]]
 *                 [--factor S] [--random N] [--ranks R1,R2,...]
 *   SPEC       job specs; every stage is simulated (stages after the first
 *              with the first cell's values for inherited parameters, as
 *              `aesweep validate` does)
 *   --result   calibrate from this result file's first stage (or --stage),
 *              written by a run of --calib-spec (default: the first SPEC)
 *   --factor   seconds per cost unit instead (default 1/30e9: 30 GFLOP/s)
 *   --random N also simulate a random grid of about N tasks (moons; random
 *              values on the axes train_size 10 x lr 10 x hidden 10 x layers 5 x
 *              bottleneck 4 = 20,000 cells, epochs 200, repeats to reach N)
 *   --msg-cost S  rank 0's time to receive and journal one result message
 *              (default 14e-6 s: 64 oversubscribed ranks on bench/tiny.cfg,
 *              AESWEEP_RANK0_STATS=1; see bench/README.md)
 * Prints one table per stage: ranks, tasks/rank, makespan (s), ideal (s),
 * efficiency = total / (ranks x makespan), the result messages per second
 * rank 0 must take (one per task) and its busy share receiving them
 * (tasks x msg-cost / makespan): at 1 or more rank 0 is the bottleneck and
 * the stage takes at least tasks x msg-cost.  Not a test; bench/run.sh calls it.
 */
#include "aesweep/plan.h"
#include "aesweep/rng.h"
#include "aesweep/spec.h"
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int DEFAULT_RANKS[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* factor from a result file; 0 on failure. */
static double calibrate(const study_t *s, const char *path, const char *stage_name)
{
    int k = 0;
    if (stage_name)
        for (k = 0; k < s->nstages && strcmp(s->stages[k].name, stage_name); k++) {}
    if (k >= s->nstages) {
        fprintf(stderr, "simulate: no stage %s in the spec\n", stage_name);
        return 0;
    }
    char err[SPEC_ERR_LEN];
    plan_t p;
    if (plan_build(&p, s, k, NULL, NULL, err)) {
        fprintf(stderr, "simulate: %s\n", err);
        return 0;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char dsn[256];
    snprintf(dsn, sizeof dsn, "/%s/seconds", s->stages[k].name);
    hid_t d = f >= 0 ? H5Dopen2(f, dsn, H5P_DEFAULT) : -1;
    if (d < 0) {
        fprintf(stderr, "simulate: %s: no dataset %s\n", path, dsn);
        if (f >= 0) H5Fclose(f);
        plan_free(&p);
        return 0;
    }
    hid_t sp = H5Dget_space(d);
    hssize_t npts = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    if ((size_t)npts != p.ncube) {
        fprintf(stderr, "simulate: %s has %lld points, the spec's stage %zu: not the same study\n", dsn,
                (long long)npts, p.ncube);
        H5Dclose(d), H5Fclose(f), plan_free(&p);
        return 0;
    }
    double *sec = malloc(p.ncube * sizeof(double));
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, sec);
    H5Dclose(d);
    H5Fclose(f);
    double st = 0, ct = 0;
    double *ratio = malloc(p.ntasks * sizeof(double));
    size_t nr = 0;
    for (size_t t = 0; t < p.ntasks; t++) {
        double ts = NAN;
        for (int q = 0; q < p.nslots; q++) {
            double v = sec[p.tasks[t].first_cube + p.slot_offset[q]];
            if (isfinite(v) && !(v <= ts)) ts = v;
        }
        if (!isfinite(ts)) continue;
        st += ts;
        ct += p.tasks[t].cost;
        ratio[nr++] = ts / p.tasks[t].cost;
    }
    double fac = ct > 0 ? st / ct : 0;
    if (nr) {
        qsort(ratio, nr, sizeof(double), cmp_d);
        printf("calibration: %s stage %s, %zu tasks, %.3g s measured: %.4g s per GFLOP of cost "
               "(%.1f GFLOP/s); per-task measured/predicted relative to it: min %.2f median %.2f max %.2f\n",
               path, s->stages[k].name, nr, st, fac * 1e9, 1e-9 / fac, ratio[0] / fac, ratio[nr / 2] / fac,
               ratio[nr - 1] / fac);
    }
    free(ratio);
    free(sec);
    plan_free(&p);
    return fac;
}

static double g_msg_cost = 14e-6;

static void table(const plan_t *p, double fac, const int *ranks, int nranks)
{
    double tot = 0, big = 0;
    for (size_t t = 0; t < p->ntasks; t++) {
        tot += p->tasks[t].cost;
        if (p->tasks[t].cost > big) big = p->tasks[t].cost;
    }
    printf("stage %s: %zu tasks, %.4g s of work in total, largest task %.3g s\n", p->spec->name, p->ntasks,
           tot * fac, big * fac);
    printf("  %6s %10s %12s %12s %10s %12s %11s\n", "ranks", "tasks/rank", "makespan_s", "ideal_s", "efficiency",
           "rank0_msg/s", "rank0_busy");
    int *owner = malloc((p->ntasks ? p->ntasks : 1) * sizeof(int));
    for (int i = 0; i < nranks; i++) {
        int R = ranks[i];
        double *load = malloc((size_t)R * sizeof(double));
        double mk = plan_partition(p, R, owner, load);
        double rate = mk > 0 ? (double)p->ntasks / (mk * fac) : 0;
        printf("  %6d %10.1f %12.4g %12.4g %10.3f %12.4g %11.3f%s\n", R, (double)p->ntasks / R, mk * fac, tot / R * fac,
               mk > 0 ? tot / (R * mk) : 1.0, rate, rate * g_msg_cost,
               rate * g_msg_cost >= 1 ? "  rank 0 bound" : "");
        free(load);
    }
    free(owner);
}

static char *random_spec(long ntasks)
{
    /* 10 x 10 x 10 x 5 x 4 = 20,000 cells; repeats to reach ntasks */
    rng_t r = rng_stream(2024);
    char *t = malloc(16384);
    int n = snprintf(t, 16384,
                     "study = \"random\"; seed = 1; output = \"/dev/null\";\n"
                     "data = { source = \"moons\"; pool = 10000; noise = 0.1; };\n"
                     "tests = ( { name = \"test\"; noise = 0.1; size = 10000; } );\n"
                     "defaults = { epochs = 200; };\nstages = ( { name = \"random\"; axes = {");
    n += snprintf(t + n, 16384 - n, " train_size = [");
    for (int i = 0; i < 10; i++) n += snprintf(t + n, 16384 - n, "%s%d", i ? ", " : "", 200 + 980 * i + (int)rng_below(&r, 980));
    n += snprintf(t + n, 16384 - n, "]; lr = [");
    for (int i = 0; i < 10; i++) n += snprintf(t + n, 16384 - n, "%s%.6g", i ? ", " : "", 1e-4 * (1 + i + rng_uniform_d(&r) * 0.9));
    n += snprintf(t + n, 16384 - n, "]; hidden = [");
    for (int i = 0; i < 10; i++) n += snprintf(t + n, 16384 - n, "%s%d", i ? ", " : "", 3 + 10 * i + (int)rng_below(&r, 10));
    n += snprintf(t + n, 16384 - n, "]; layers = [0, 1, 2, 3, 4]; bottleneck = [1, 2, 3, 4]; };");
    long rep = (ntasks + 19999) / 20000;
    n += snprintf(t + n, 16384 - n, " repeats = %ld; } );\n", rep);
    return t;
}

int main(int argc, char **argv)
{
    const char *specs[16], *result = NULL, *stage = NULL, *calib = NULL;
    int nspecs = 0;
    double fac = 1.0 / 30e9;
    long nrandom = 0;
    int ranks[64], nranks = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--result") && i + 1 < argc) result = argv[++i];
        else if (!strcmp(argv[i], "--stage") && i + 1 < argc) stage = argv[++i];
        else if (!strcmp(argv[i], "--calib-spec") && i + 1 < argc) calib = argv[++i];
        else if (!strcmp(argv[i], "--factor") && i + 1 < argc) fac = atof(argv[++i]);
        else if (!strcmp(argv[i], "--random") && i + 1 < argc) nrandom = atol(argv[++i]);
        else if (!strcmp(argv[i], "--msg-cost") && i + 1 < argc) g_msg_cost = atof(argv[++i]);
        else if (!strcmp(argv[i], "--ranks") && i + 1 < argc) {
            for (char *tok = strtok(argv[++i], ","); tok && nranks < 64; tok = strtok(NULL, ",")) ranks[nranks++] = atoi(tok);
        } else if (argv[i][0] != '-' && nspecs < 16) specs[nspecs++] = argv[i];
        else {
            fprintf(stderr, "simulate: unknown argument %s (see the comment at the top of bench/simulate.c)\n", argv[i]);
            return 2;
        }
    }
    if (!nranks)
        for (size_t i = 0; i < sizeof DEFAULT_RANKS / sizeof DEFAULT_RANKS[0]; i++) ranks[nranks++] = DEFAULT_RANKS[i];
    if (!nspecs && !(nrandom > 0)) {
        fprintf(stderr, "usage: simulate SPEC... [--result RESULT.h5 [--calib-spec SPEC]] [--factor S] [--random N] [--ranks 16,64]\n");
        return 2;
    }
    char err[SPEC_ERR_LEN];
    study_t s;
    if (result) {
        const char *cs = calib ? calib : nspecs ? specs[0] : NULL;
        double f = 0;
        if (cs && !spec_load(&s, cs, NULL, err)) {
            f = calibrate(&s, result, stage);
            spec_free(&s);
        } else if (cs)
            fprintf(stderr, "simulate: %s\n", err);
        if (f > 0) fac = f;
        else fprintf(stderr, "simulate: calibration failed; using %.3g s per cost unit\n", fac);
    }
    for (int q = 0; q < nspecs; q++) {
        if (spec_load(&s, specs[q], NULL, err)) {
            fprintf(stderr, "simulate: %s\n", err);
            return 2;
        }
        printf("== %s\n", specs[q]);
        double prev[P_COUNT];
        for (int k = 0; k < s.nstages; k++) {
            plan_t p;
            if (plan_build(&p, &s, k, k ? prev : NULL, k ? s.stages[k - 1].name : NULL, err)) {
                fprintf(stderr, "simulate: %s\n", err);
                return 2;
            }
            table(&p, fac, ranks, nranks);
            plan_cube_hp(&p, 0, prev);
            plan_free(&p);
        }
        spec_free(&s);
    }
    if (nrandom > 0) {
        char *text = random_spec(nrandom);
        study_t rs;
        if (spec_load(&rs, "(random grid)", text, err)) {
            fprintf(stderr, "simulate: %s\n", err);
            return 3;
        }
        plan_t p;
        if (plan_build(&p, &rs, 0, NULL, NULL, err)) {
            fprintf(stderr, "simulate: %s\n", err);
            return 3;
        }
        printf("== random grid\n");
        table(&p, fac, ranks, nranks);
        plan_free(&p);
        spec_free(&rs);
        free(text);
    }
    return 0;
}
