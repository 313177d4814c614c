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
 *        simulate --hyperband 10000 --policy all
 *        simulate --check SPEC --result RUN.h5 --ranks N
 *   SPEC       job specs; every stage is simulated (stages after the first
 *              with the first cell's values for inherited parameters, as
 *              `aesweep validate` does)
 *   --result   calibrate from this result file's first stage (or --stage),
 *              written by a run of --calib-spec (default: the first SPEC)
 *   --factor   seconds per cost unit instead (default 1/30e9: 30 GFLOP/s)
 *   --random N also simulate a random grid of about N tasks (moons; random
 *              values on the axes train_size 10 x lr 10 x hidden 10 x layers 5 x
 *              bottleneck 4 = 20,000 cells, epochs 200, repeats to reach N)
 *   --msg-cost S  rank 0's CPU time per result message (default 2.6e-6 s)
 *   --result-cost S  and per result in it (default 0.8e-6 s; both measured
 *              with 64 oversubscribed ranks on bench/tiny.cfg,
 *              AESWEEP_RANK0_STATS=1, see bench/README.md)
 *   --batch-seconds T  the workers' batching bound (default: aesweep's,
 *              dispatch_batch_seconds: 50 ms, ranks / 8000 s from 400 ranks, <= 1 s)
 *   --hyperband N  also simulate a Hyperband stage of N sampled moons
 *              configurations (issue 16): random samples (src/sample.c) of
 *              train_size int [1000, 9000], lr log-uniform [0.0005, 0.003],
 *              hidden in {10, 15, 20, 40, 50}, layers int [1, 4], scheduled by
 *              src/halving.c (--hb-min 10 --hb-max 1000 --hb-eta 3
 *              --hb-brackets 0 = all); see hyperband_table below
 *   --policy all  with --hyperband N: those rounds as `aesweep run` runs them
 *              instead (src/search.c's search_round_tasks on a real plan of
 *              the stage, each round LPT-partitioned by plan_partition_subset),
 *              end-aligned, against start-aligned rounds and the dataflow;
 *              ranks 16, 64, 256, 1024, 4096 unless --ranks; see policy_table
 *   --noise S  the end_noisy column's log-sd of a task's time around its
 *              predicted cost (default 0.2: measured/predicted of the long tasks in
 *              real runs on this loaded machine, p10-p90 0.7-1.2 to 0.7-1.6, --check)
 *   --check SPEC --result RUN.h5 --ranks N [--stage NAME]  a real run's
 *              halving stage (aesweep run SPEC at -np N wrote RUN.h5): its
 *              rounds rebuilt from its metrics, the idle share predicted by
 *              the cost model and replayed with its measured task seconds,
 *              against the idle share the run measured; see check_run
 * Prints one table per stage: ranks, tasks/rank, makespan (s), ideal (s),
 * efficiency = total / (ranks x makespan); then rank 0's load: results per
 * second at that makespan and rank 0's busy share with one message per
 * result (as 0.4.0 sent them), and with batching (the bound T, messages per
 * second: at most ranks / T, and the busy share).  At a busy share of 1 or
 * more rank 0 is the bottleneck.  Not a test; bench/run.sh calls it.
 */
#include "aesweep/halving.h"
#include "aesweep/dispatch.h"
#include "aesweep/plan.h"
#include "aesweep/rng.h"
#include "aesweep/sample.h"
#include "aesweep/search.h"
#include "aesweep/spec.h"
#include <hdf5.h>
#include <limits.h>
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

/* Rank 0's CPU cost of gathering: a fixed cost per message and a cost per
 * result in it (AESWEEP_RANK0_STATS=1 on bench/tiny.cfg at 64 ranks, this
 * machine: 3.4 us per message of one result; 54-62 us per message of 65-71
 * results; bench/README.md).  g_batch_s < 0: dispatch_batch_seconds. */
static double g_msg_cost = 2.6e-6, g_result_cost = 0.8e-6, g_batch_s = -1;

static void table(const plan_t *p, double fac, const int *ranks, int nranks)
{
    double tot = 0, big = 0;
    for (size_t t = 0; t < p->ntasks; t++) {
        tot += p->tasks[t].cost;
        if (p->tasks[t].cost > big) big = p->tasks[t].cost;
    }
    printf("stage %s: %zu tasks, %.4g s of work in total, largest task %.3g s\n", p->spec->name, p->ntasks,
           tot * fac, big * fac);
    printf("  %6s %10s %12s %12s %10s %12s %10s %8s %12s %10s\n", "ranks", "tasks/rank", "makespan_s", "ideal_s",
           "efficiency", "1/msg msg/s", "busy", "batch_s", "batched/s", "busy");
    int *owner = malloc((p->ntasks ? p->ntasks : 1) * sizeof(int));
    for (int i = 0; i < nranks; i++) {
        int R = ranks[i];
        double *load = malloc((size_t)R * sizeof(double));
        double mk = plan_partition(p, R, owner, load);
        double rate = mk > 0 ? (double)p->ntasks / (mk * fac) : 0; /* results per second */
        double busy1 = rate * (g_msg_cost + g_result_cost);         /* one message per result */
        /* batched: a worker sends a message at most every T seconds and at
         * the end of its list (at least one), each result at once when its
         * tasks take T or longer: R x max(1, makespan / T) messages, at
         * most one per task */
        double T = g_batch_s >= 0 ? g_batch_s : dispatch_batch_seconds(R);
        double span = mk * fac, nmsg = T > 0 ? R * fmax(1.0, span / T) : (double)p->ntasks;
        if (nmsg > (double)p->ntasks) nmsg = (double)p->ntasks;
        double msgs = span > 0 ? nmsg / span : 0;
        double busyb = msgs * g_msg_cost + rate * g_result_cost;
        printf("  %6d %10.1f %12.4g %12.4g %10.3f %12.4g %10.3f %8.3f %12.4g %10.3f%s\n", R, (double)p->ntasks / R,
               mk * fac, tot / R * fac, mk > 0 ? tot / (R * mk) : 1.0, rate, busy1, T, msgs, busyb,
               busyb >= 1 ? "  rank 0 bound" : busy1 >= 1 ? "  rank 0 bound unbatched" : "");
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

/* ---- Hyperband in rounds (issue 16) ----------------------------------------------------------
 * A Hyperband stage is a sequence of rungs; the trials of a rung are one
 * round: rank 0 partitions them by predicted cost (LPT), scatters, gathers,
 * promotes.  A promoted trial continues, so its task in rung i trains
 * e_i - e_{i-1} epochs; its cost is plan_task_cost of its configuration at
 * that many epochs.  Which trials are promoted does not change how many, so
 * the simulation ranks them by a synthetic metric (uniform per trial and
 * rung) through halving_promote.  Three ways to run the rounds:
 *   rung rounds  every (bracket, rung) its own round, one after another;
 *   merged       round k = rung k of every bracket together (brackets are
 *                independent, so they can share a round);
 *   dataflow     no barrier but the one promotion needs: a rung's trials
 *                are ready when its bracket's previous rung has finished,
 *                and an idle rank takes the longest ready task (one
 *                bracket's next rung fills ranks while another's stragglers
 *                finish).
 * utilisation = work / (ranks x makespan); idle share = 1 - utilisation. */
typedef struct {
    int bracket, rung;
    long n;
    double *cost; /* [n] descending */
} hb_rung_t;

typedef struct {
    int nrungs;
    hb_rung_t r[HALVING_MAX_BRACKETS * HALVING_MAX_RUNGS];
    double total;
} hb_study_t;

/* Restore the min-heap of (load, rank) after the root's load grew. */
static void heap_down(double *hl, int *hr, int R)
{
    for (int i = 0;;) {
        int a = 2 * i + 1, b = a + 1, m = i;
        if (a < R && (hl[a] < hl[m] || (hl[a] == hl[m] && hr[a] < hr[m]))) m = a;
        if (b < R && (hl[b] < hl[m] || (hl[b] == hl[m] && hr[b] < hr[m]))) m = b;
        if (m == i) return;
        double tl = hl[i];
        int tr = hr[i];
        hl[i] = hl[m], hr[i] = hr[m], hl[m] = tl, hr[m] = tr;
        i = m;
    }
}

/* LPT of cost[0..n-1] (descending) onto R ranks (least loaded, ties to the
 * lowest rank; a binary heap of (load, rank)).  Returns the makespan. */
static double lpt(const double *cost, long n, int R, double *hl, int *hr)
{
    for (int i = 0; i < R; i++) hl[i] = 0, hr[i] = i;
    double mk = 0;
    for (long t = 0; t < n; t++) {
        hl[0] += cost[t];
        if (hl[0] > mk) mk = hl[0];
        heap_down(hl, hr, R);
    }
    return mk;
}

/* The rungs of N sampled moons trials under schedule h, with their segment costs. */
static int hb_build(hb_study_t *hs, const halving_schedule_t *h, const plan_t *p)
{
    sample_space_t sp = {.method = SAMPLE_RANDOM, .n = h->ntrials, .nparams = 4};
    sp.params[0] = (sample_param_t){.param = P_TRAIN_SIZE, .dist = DIST_INT, .lo = 1000, .hi = 9000};
    sp.params[1] = (sample_param_t){.param = P_LR, .dist = DIST_LOG_UNIFORM, .lo = 0.0005, .hi = 0.003};
    sp.params[2] = (sample_param_t){.param = P_HIDDEN, .dist = DIST_CHOICE, .nchoices = 5, .choices = {10, 15, 20, 40, 50}};
    sp.params[3] = (sample_param_t){.param = P_LAYERS, .dist = DIST_INT, .lo = 1, .hi = 4};
    memset(hs, 0, sizeof *hs);
    long *alive = malloc((size_t)(h->ntrials + 1) * sizeof(long)), *win = malloc((size_t)(h->ntrials + 1) * sizeof(long));
    double *met = malloc((size_t)(h->ntrials + 1) * sizeof(double));
    if (!alive || !win || !met) return free(alive), free(win), free(met), -1;
    for (int b = 0; b < h->nbrackets; b++) {
        const halving_bracket_t *br = &h->b[b];
        long n = br->ntrials;
        for (long i = 0; i < n; i++) alive[i] = br->first_trial + i;
        for (int i = 0; i < br->nrungs && n > 0; i++) {
            hb_rung_t *r = &hs->r[hs->nrungs++];
            r->bracket = b, r->rung = i, r->n = n;
            r->cost = malloc((size_t)n * sizeof(double));
            if (!r->cost) return free(alive), free(win), free(met), -1;
            for (long t = 0; t < n; t++) {
                task_t task = p->tasks[0];
                double v[4];
                sample_draw(&sp, 1, 0, alive[t], v);
                for (int j = 0; j < 4; j++) task.hp[sp.params[j].param] = v[j];
                task.hp[P_EPOCHS] = (double)(br->epochs[i] - (i ? br->epochs[i - 1] : 0));
                r->cost[t] = plan_task_cost(p, &task);
                hs->total += r->cost[t];
                rng_t g = rng_stream(rng_derive(rng_derive(7, (uint64_t)alive[t]), (uint64_t)i));
                met[t] = rng_uniform_d(&g);
            }
            qsort(r->cost, (size_t)n, sizeof(double), cmp_d);
            for (long a = 0, z = n - 1; a < z; a++, z--) { double tmp = r->cost[a]; r->cost[a] = r->cost[z]; r->cost[z] = tmp; }
            long k = halving_promote(met, alive, (size_t)n, h->eta, win);
            if (i + 1 < br->nrungs && k != br->trials[i + 1]) {
                fprintf(stderr, "simulate: bracket %d rung %d promoted %ld, the schedule says %ld\n", b, i, k, br->trials[i + 1]);
                return free(alive), free(win), free(met), -1;
            }
            memcpy(alive, win, (size_t)k * sizeof(long));
            n = k;
        }
    }
    free(alive), free(win), free(met);
    return 0;
}

/* Dataflow: list scheduling with each bracket's rung barrier.  Ranks in a
 * heap by the time they are free; the earliest free rank takes the longest
 * task of any ready rung, or waits for the next rung to become ready. */
static int g_hb_tail = 1;
static int *g_task_rung; /* rung of each task in hand-out order (hb_dataflow) */
/* Per rung, the utilisation of all ranks over the rung's window (first start
 * to last finish): how busy the machine is while that rung runs.  *umin gets
 * the least over rungs of >= 4 trials per rank, *nbig their count. */
static void hb_windows(const hb_study_t *hs, int R, const double *st, const double *fi, long ntask, double *umin, int *nbig)
{
    *umin = INFINITY, *nbig = 0;
    for (int i = 0; i < hs->nrungs; i++) {
        if (hs->r[i].n < 4L * R) continue;
        double a = INFINITY, b = 0, busy = 0;
        for (long t = 0; t < ntask; t++)
            if (g_task_rung[t] == i) a = fmin(a, st[t]), b = fmax(b, fi[t]);
        for (long t = 0; t < ntask; t++) busy += fmax(0, fmin(fi[t], b) - fmax(st[t], a));
        (*nbig)++;
        *umin = fmin(*umin, busy / (R * (b - a)));
    }
}

static double hb_dataflow(const hb_study_t *hs, int R, double *hl, int *hr, double *st, double *fi)
{
    int nr = hs->nrungs;
    long *next = calloc((size_t)nr, sizeof(long));
    double *ready = malloc((size_t)nr * sizeof(double)), *last = calloc((size_t)nr, sizeof(double));
    for (int i = 0; i < nr; i++) ready[i] = hs->r[i].rung == 0 ? 0 : INFINITY;
    /* tail[i]: the bracket's longest chain after rung i (its later rungs' largest tasks) */
    double *tail = calloc((size_t)nr, sizeof(double));
    for (int i = nr - 2; i >= 0; i--)
        if (g_hb_tail && hs->r[i + 1].bracket == hs->r[i].bracket) tail[i] = tail[i + 1] + hs->r[i + 1].cost[0];
    for (int i = 0; i < R; i++) hl[i] = 0, hr[i] = i;
    double mk = 0;
    long ntask = 0;
    for (;;) {
        double t = hl[0];
        int best = -1;
        double wait = INFINITY;
        for (int i = 0; i < nr; i++) {
            if (next[i] >= hs->r[i].n) continue;
            if (ready[i] <= t) {
                if (best < 0 || hs->r[i].cost[next[i]] + tail[i] > hs->r[best].cost[next[best]] + tail[best]) best = i;
            } else if (ready[i] < wait) wait = ready[i];
        }
        if (best < 0 && !isfinite(wait)) break; /* nothing left */
        if (best < 0) hl[0] = wait;
        else {
            double fin = t + hs->r[best].cost[next[best]++];
            st[ntask] = t, fi[ntask] = fin, g_task_rung[ntask++] = best;
            if (fin > last[best]) last[best] = fin;
            if (fin > mk) mk = fin;
            hl[0] = fin;
            /* the rung's last task handed out: its bracket's next rung is ready when all of it is done */
            if (next[best] == hs->r[best].n && best + 1 < nr && hs->r[best + 1].bracket == hs->r[best].bracket)
                ready[best + 1] = last[best];
        }
        heap_down(hl, hr, R);
    }
    free(next), free(ready), free(last), free(tail);
    return mk;
}

/* merged rounds: round k holds rung k of every bracket */
static double hb_merged(const hb_study_t *hs, int R, double *hl, int *hr, double *buf)
{
    double sum = 0;
    for (int k = 0; k < HALVING_MAX_RUNGS; k++) {
        long n = 0;
        for (int i = 0; i < hs->nrungs; i++)
            if (hs->r[i].rung == k) memcpy(buf + n, hs->r[i].cost, (size_t)hs->r[i].n * sizeof(double)), n += hs->r[i].n;
        if (!n) continue;
        qsort(buf, (size_t)n, sizeof(double), cmp_d);
        for (long a = 0, z = n - 1; a < z; a++, z--) { double t = buf[a]; buf[a] = buf[z]; buf[z] = t; }
        sum += lpt(buf, n, R, hl, hr);
    }
    return sum;
}

static void hyperband_table(long N, long mn, long mx, int eta, int nb, double fac, const int *ranks, int nranks)
{
    char err[SPEC_ERR_LEN];
    halving_schedule_t h;
    if (halving_schedule(&h, mn, mx, eta, nb, N, err, sizeof err)) {
        fprintf(stderr, "simulate: hyperband: %s\n", err);
        return;
    }
    const char *text = "study = \"hb\"; seed = 1; output = \"/dev/null\";\n"
                       "data = { source = \"moons\"; pool = 10000; noise = 0.1; };\n"
                       "tests = ( { name = \"clean\"; noise = 0.1; size = 10000; }, { name = \"noisy\"; noise = 0.2; size = 10000; } );\n"
                       "defaults = { hidden = 20; layers = 3; bottleneck = 1; };\n"
                       "stages = ( { name = \"hb\"; curve_points = 0; } );\n";
    study_t s;
    plan_t p;
    hb_study_t hs;
    if (spec_load(&s, "(hyperband)", text, err) || plan_build(&p, &s, 0, NULL, NULL, err)) {
        fprintf(stderr, "simulate: hyperband: %s\n", err);
        return;
    }
    if (hb_build(&hs, &h, &p)) return;
    long maxn = 0, ntasks = 0;
    for (int i = 0; i < hs.nrungs; i++) ntasks += hs.r[i].n, maxn += hs.r[i].n;
    printf("== hyperband: %ld trials, min_epochs %ld, max_epochs %ld, eta %d, %d brackets, %d rungs, %ld tasks, "
           "%.4g s of work (%.4g GFLOP)\n", h.ntrials, mn, mx, eta, h.nbrackets, hs.nrungs, ntasks, hs.total * fac, hs.total * 1e-9);
    for (int b = 0; b < h.nbrackets; b++) {
        printf("  bracket %d (s = %d):", b, h.b[b].s);
        for (int i = 0; i < h.b[b].nrungs; i++) printf(" %ld@%ld", h.b[b].trials[i], h.b[b].epochs[i]);
        printf("  (trials@epochs)\n");
    }
    /* critical path: the longest bracket chain of largest tasks; no schedule is shorter */
    double cp = 0;
    for (int b = 0, i = 0; b < h.nbrackets; b++) {
        double c = 0;
        for (; i < hs.nrungs && hs.r[i].bracket == b; i++) c += hs.r[i].cost[0];
        cp = fmax(cp, c);
    }
    printf("  critical path %.4g s: utilisation at most work / (ranks x critical path)\n", cp * fac);
    printf("  %6s %11s %9s %10s %12s %10s %10s %12s %9s %12s %9s\n", "ranks", "rung0/rank", "rungs>=4", "util_rung",
           "min_rung>=4", "util_merge", "util_flow", "min_flow>=4", "bound", "makespan_s", "idle_flow");
    double *buf = malloc((size_t)maxn * sizeof(double));
    double *st = malloc((size_t)ntasks * sizeof(double)), *fi = malloc((size_t)ntasks * sizeof(double));
    g_task_rung = malloc((size_t)ntasks * sizeof(int));
    for (int q = 0; q < nranks; q++) {
        int R = ranks[q];
        double *hl = malloc((size_t)R * sizeof(double));
        int *hr = malloc((size_t)R * sizeof(int));
        double sum = 0, umin = INFINITY;
        int nbig = 0;
        for (int i = 0; i < hs.nrungs; i++) {
            double mk = lpt(hs.r[i].cost, hs.r[i].n, R, hl, hr), w = 0;
            for (long t = 0; t < hs.r[i].n; t++) w += hs.r[i].cost[t];
            sum += mk;
            if (hs.r[i].n >= 4L * R) nbig++, umin = fmin(umin, w / (R * mk));
        }
        double merged = hb_merged(&hs, R, hl, hr, buf), flow = hb_dataflow(&hs, R, hl, hr, st, fi), wmin;
        int nw;
        hb_windows(&hs, R, st, fi, ntasks, &wmin, &nw);
        char um[16] = "-", wm[16] = "-";
        if (nbig) snprintf(um, sizeof um, "%.3f", umin);
        if (nw) snprintf(wm, sizeof wm, "%.3f", wmin);
        printf("  %6d %11.1f %9d %10.3f %12s %10.3f %10.3f %12s %9.3f %12.4g %9.3f\n", R, (double)hs.r[0].n / R, nbig,
               hs.total / (R * sum), um, hs.total / (R * merged), hs.total / (R * flow), wm, fmin(1, hs.total / (R * cp)),
               flow * fac, 1 - hs.total / (R * flow));
        free(hl), free(hr);
    }
    free(buf), free(st), free(fi), free(g_task_rung);
    for (int i = 0; i < hs.nrungs; i++) free(hs.r[i].cost);
    plan_free(&p);
    spec_free(&s);
}

/* ---- Hyperband rounds as `aesweep run` runs them (issue 16 item 7) -----------------------------
 * The stage is a real plan (plan_build of a spec text with `sample` and
 * `halving`), so the trials, brackets, task ids, costs (plan_task_cost:
 * the segment's epochs x train_size x the network's multiply-adds, plus
 * evaluation) and rounds are the library's:
 *   end-aligned  what src/search.c runs: round k = search_round_tasks(p, k)
 *                (rung k - (nrungs - nrungs_b) of every bracket b), each
 *                round partitioned by plan_partition_subset (LPT, as
 *                dispatch_round's scatter does), a barrier after it;
 *   start-aligned round k = rung k of every bracket (the same tasks, grouped
 *                by their rung), the same LPT and barrier;
 *   dataflow     hb_dataflow above: no barrier but promotion's own.
 * Promotion reads a synthetic select metric (uniform, keyed by (trial,
 * rung)) written into the cube before the rounds are listed; which trials
 * win does not change how many, and every policy runs the same tasks.
 * utilisation = work / (ranks x sum of round makespans), as search.c's idle
 * share (1 - busy / (ranks x sum of round walls)) measures a run. */
typedef struct {
    int nrounds;
    long *first; /* [nrounds + 1]: round k's tasks are ids[first[k] .. first[k + 1] - 1] */
    size_t *ids;
} rounds_list_t;

/* Every round of p's halving stage as search.c lists it (the cube's select
 * metric must be filled for the promotions).  0, or -1. */
static int rounds_list(const plan_t *p, rounds_list_t *rl)
{
    rl->nrounds = search_nrounds(p);
    rl->first = calloc((size_t)rl->nrounds + 1, sizeof(long));
    rl->ids = malloc((p->ntasks + 1) * sizeof(size_t));
    size_t *buf = malloc((p->ntasks + 1) * sizeof(size_t));
    if (!rl->first || !rl->ids || !buf) return free(buf), -1;
    long n = 0;
    for (int k = 0; k < rl->nrounds; k++) {
        long c = search_round_tasks(p, k, buf);
        if (c < 0 || n + c > (long)p->ntasks) return free(buf), -1;
        memcpy(rl->ids + n, buf, (size_t)c * sizeof(size_t));
        n += c;
        rl->first[k + 1] = n;
    }
    free(buf);
    return 0;
}

static void rounds_free(rounds_list_t *rl)
{
    free(rl->first), free(rl->ids);
}

/* The same tasks regrouped start-aligned: round k = the tasks of rung k. */
static int rounds_start_aligned(const plan_t *p, const rounds_list_t *end, rounds_list_t *st)
{
    long n = end->first[end->nrounds];
    st->nrounds = p->nrungs;
    st->first = calloc((size_t)p->nrungs + 1, sizeof(long));
    st->ids = malloc(((size_t)n + 1) * sizeof(size_t));
    if (!st->first || !st->ids) return -1;
    long c = 0;
    for (int k = 0; k < p->nrungs; k++) {
        for (long i = 0; i < n; i++)
            if (p->tasks[end->ids[i]].rung == k) st->ids[c++] = end->ids[i];
        st->first[k + 1] = c;
    }
    return 0;
}

/* Sum over rounds of the LPT makespan at R ranks (cost units); *wmin gets
 * the least utilisation of a round with >= 4 tasks per rank (INFINITY:
 * none), *tmin the fewest tasks per rank of any round. */
static double g_round_util[HALVING_MAX_RUNGS * HALVING_MAX_BRACKETS]; /* per round, of the last call */
static double rounds_makespan(const plan_t *p, const rounds_list_t *rl, int R, double *wmin, double *tmin, char *detail,
                              size_t dlen)
{
    long nmax = 1;
    for (int k = 0; k < rl->nrounds; k++) nmax = rl->first[k + 1] - rl->first[k] > nmax ? rl->first[k + 1] - rl->first[k] : nmax;
    size_t *order = malloc((size_t)nmax * sizeof *order);
    int *owner = malloc((size_t)nmax * sizeof *owner);
    double *load = malloc((size_t)R * sizeof *load), sum = 0;
    *wmin = INFINITY, *tmin = INFINITY;
    for (int k = 0; k < rl->nrounds; k++) {
        long n = rl->first[k + 1] - rl->first[k];
        if (!n) continue;
        double mk = plan_partition_subset(p, rl->ids + rl->first[k], (size_t)n, R, order, owner, load), w = 0;
        for (long i = 0; i < n; i++) w += p->tasks[rl->ids[rl->first[k] + i]].cost;
        sum += mk;
        if (k < HALVING_MAX_RUNGS * HALVING_MAX_BRACKETS) g_round_util[k] = w / (R * mk);
        /* no partition of the round beats its largest task or its mean load */
        double ceil = w / (R * fmax(p->tasks[order[0]].cost, w / R));
        size_t used = detail ? strlen(detail) : 0;
        if (detail && used < dlen)
            snprintf(detail + used, dlen - used, "  %ld: %.1f/R %.3f (<= %.3f)", (long)k, (double)n / R, w / (R * mk), ceil);
        *tmin = fmin(*tmin, (double)n / R);
        if (n >= 4L * R) *wmin = fmin(*wmin, w / (R * mk));
    }
    free(order), free(owner), free(load);
    return sum;
}

/* The same rounds when each task's time is its predicted cost times a
 * lognormal error of log-sd sigma (mean 1, keyed by the task) while the
 * partition still uses the prediction: how much the cost model's error
 * costs.  Returns the utilisation. */
static double g_noise = 0.2;
static double rounds_noisy(const plan_t *p, const rounds_list_t *rl, int R)
{
    long n = rl->first[rl->nrounds];
    size_t *order = malloc(((size_t)n + 1) * sizeof *order);
    int *owner = malloc(((size_t)n + 1) * sizeof *owner);
    double *load = malloc((size_t)R * sizeof *load), *ls = malloc((size_t)R * sizeof *ls), sum = 0, work = 0;
    for (int k = 0; k < rl->nrounds; k++) {
        long m = rl->first[k + 1] - rl->first[k];
        if (!m) continue;
        plan_partition_subset(p, rl->ids + rl->first[k], (size_t)m, R, order, owner, load);
        double mk = 0;
        for (int r = 0; r < R; r++) ls[r] = 0;
        for (long i = 0; i < m; i++) {
            rng_t g = rng_stream(rng_derive(99, (uint64_t)order[i]));
            double t = p->tasks[order[i]].cost * exp(g_noise * rng_normal(&g) - 0.5 * g_noise * g_noise);
            ls[owner[i]] += t, work += t;
        }
        for (int r = 0; r < R; r++) mk = fmax(mk, ls[r]);
        sum += mk;
    }
    free(order), free(owner), free(load), free(ls);
    return sum > 0 ? work / (R * sum) : 1;
}

/* The rungs of each bracket with their segment costs (descending), from the
 * tasks the rounds ran, for hb_dataflow. */
static int rungs_of_rounds(const plan_t *p, const rounds_list_t *rl, hb_study_t *hs)
{
    memset(hs, 0, sizeof *hs);
    long n = rl->first[rl->nrounds];
    for (int b = 0; b < p->sched->nbrackets; b++)
        for (int r = 0; r < p->sched->b[b].nrungs; r++) {
            hb_rung_t *g = &hs->r[hs->nrungs];
            g->bracket = b, g->rung = r;
            g->cost = malloc(((size_t)p->sched->b[b].ntrials + 1) * sizeof(double));
            if (!g->cost) return -1;
            for (long i = 0; i < n; i++) {
                const task_t *t = &p->tasks[rl->ids[i]];
                if (t->rung == r && p->trial_bracket[t->trial] == b) g->cost[g->n++] = t->cost, hs->total += t->cost;
            }
            qsort(g->cost, (size_t)g->n, sizeof(double), cmp_d);
            for (long a = 0, z = g->n - 1; a < z; a++, z--) { double tmp = g->cost[a]; g->cost[a] = g->cost[z]; g->cost[z] = tmp; }
            if (g->n) hs->nrungs++;
            else free(g->cost);
        }
    return 0;
}

/* The synthetic select metric of every (trial, rung): uniform, keyed. */
static void synthetic_metric(plan_t *p)
{
    double *x = p->metrics + (size_t)p->select_metric * p->ncube;
    for (size_t i = 0; i < p->ncube; i++) {
        rng_t g = rng_stream(rng_derive(rng_derive(7, (uint64_t)(i / (size_t)p->nrungs)), (uint64_t)(i % (size_t)p->nrungs)));
        x[i] = rng_uniform_d(&g);
    }
}

static void print_round_sizes(const plan_t *p, const rounds_list_t *rl, const char *name)
{
    printf("  %s rounds (tasks, share of the work):", name);
    double tot = 0;
    for (long i = 0; i < rl->first[rl->nrounds]; i++) tot += p->tasks[rl->ids[i]].cost;
    for (int k = 0; k < rl->nrounds; k++) {
        double w = 0;
        for (long i = rl->first[k]; i < rl->first[k + 1]; i++) w += p->tasks[rl->ids[i]].cost;
        printf(" %ld (%.0f%%)", rl->first[k + 1] - rl->first[k], 100 * w / tot);
    }
    printf("\n");
}

/* One row per rank count: the three policies, the fewest trials per rank of
 * any rung (and of any round), and whether the >= 85% target holds. */
static void policy_rows(const plan_t *p, const rounds_list_t *end, const rounds_list_t *start, hb_study_t *hs,
                        double cp, double fac, const int *ranks, int nranks)
{
    long ntask = end->first[end->nrounds], minrung = LONG_MAX;
    for (int i = 0; i < hs->nrungs; i++) minrung = hs->r[i].n < minrung ? hs->r[i].n : minrung;
    double *st = malloc((size_t)ntask * sizeof(double)), *fi = malloc((size_t)ntask * sizeof(double));
    g_task_rung = malloc((size_t)ntask * sizeof(int));
    char (*lines)[600] = calloc((size_t)nranks, sizeof *lines);
    printf("  %6s %11s %10s %10s %10s %10s %10s %10s %10s %12s %10s %7s %11s  %s\n", "ranks", "rung_min/R", "util_start",
           "round_min/R", "util_end", "round_min/R", "rung>=4/R", "round>=4/R", "end_noisy", "makespan_end", "util_flow", "bound", "idle_end", "target >= 0.85");
    for (int q = 0; q < nranks; q++) {
        int R = ranks[q];
        double ws, ts, we, te, wf;
        int nw;
        char detail[512] = "";
        double ms = rounds_makespan(p, start, R, &ws, &ts, NULL, 0), me = rounds_makespan(p, end, R, &we, &te, detail, sizeof detail);
        snprintf(lines[q], sizeof lines[q], "  %6d%s\n", R, detail);
        /* the rounds that hold a rung of >= 4 trials per rank (end-aligned:
         * bracket b's rung r runs in round r + nrungs - nrungs_b) */
        double wr = INFINITY;
        for (int i = 0; i < hs->nrungs; i++)
            if (hs->r[i].n >= 4L * R)
                wr = fmin(wr, g_round_util[hs->r[i].rung + p->nrungs - p->sched->b[hs->r[i].bracket].nrungs]);
        double *hl = malloc((size_t)R * sizeof(double));
        int *hr = malloc((size_t)R * sizeof(int));
        double mf = hb_dataflow(hs, R, hl, hr, st, fi);
        hb_windows(hs, R, st, fi, ntask, &wf, &nw);
        free(hl), free(hr);
        double ue = hs->total / (R * me), rmin = (double)minrung / R;
        char worst[16] = "-", worstr[16] = "-";
        if (isfinite(we)) snprintf(worst, sizeof worst, "%.3f", we);
        if (isfinite(wr)) snprintf(worstr, sizeof worstr, "%.3f", wr);
        double bound = fmin(1, hs->total / (R * cp));
        const char *verdict = ue >= 0.85 ? (rmin >= 4 ? "met, every rung >= 4/R" : "met")
                              : bound < 0.85 ? "cannot: bound < 0.85" : "MISSED";
        printf("  %6d %11.2f %10.3f %10.2f %10.3f %10.2f %10s %10s %10.3f %12.4g %10.3f %7.3f %11.3f  %s\n", R, rmin,
               hs->total / (R * ms), ts, ue, te, worstr, worst, rounds_noisy(p, end, R), me * fac, hs->total / (R * mf), bound, 1 - ue, verdict);
    }
    printf("  end-aligned, per round k: tasks per rank, utilisation (<= its ceiling: work / (R x max(largest task, work / R)))\n");
    for (int q = 0; q < nranks; q++) fputs(lines[q], stdout);
    free(lines);
    free(st), free(fi), free(g_task_rung);
}

static const char *HB_SPACE = "space = { train_size = { int = [1000, 9000]; }; lr = { log_uniform = [0.0005, 0.003]; }; "
                              "hidden = { choice = (10, 15, 20, 40, 50); }; layers = { int = [1, 4]; }; };";

/* --policy: the Hyperband of N random moons trials (the space of
 * --hyperband) run in rounds the three ways, at each rank count. */
static int policy_table(long N, long mn, long mx, int eta, int nb, double fac, const int *ranks, int nranks)
{
    char text[4096], err[SPEC_ERR_LEN];
    snprintf(text, sizeof text,
             "study = \"hb\"; seed = 1; output = \"/dev/null\";\n"
             "data = { source = \"moons\"; pool = 10000; noise = 0.1; };\n"
             "tests = ( { name = \"clean\"; noise = 0.1; size = 10000; }, { name = \"noisy\"; noise = 0.2; size = 10000; } );\n"
             "defaults = { bottleneck = 1; };\n"
             "stages = ( { name = \"hb\"; curve_points = 0; sample = { sampler = \"random\"; n_trials = %ld; %s };\n"
             "  halving = { min_epochs = %ld; max_epochs = %ld; eta = %d; brackets = %d; }; select = \"test_mse_clean\"; } );\n",
             N, HB_SPACE, mn, mx, eta, nb);
    study_t s;
    plan_t p;
    if (spec_load(&s, "(hyperband rounds)", text, err) || plan_build(&p, &s, 0, NULL, NULL, err)) {
        fprintf(stderr, "simulate: --policy: %s\n", err);
        return 3;
    }
    synthetic_metric(&p);
    rounds_list_t end, start;
    hb_study_t hs;
    if (rounds_list(&p, &end) || rounds_start_aligned(&p, &end, &start) || rungs_of_rounds(&p, &end, &hs)) {
        fprintf(stderr, "simulate: --policy: out of memory\n");
        return 3;
    }
    double cp = 0;
    for (int b = 0, i = 0; b < p.sched->nbrackets; b++) {
        double c = 0;
        for (; i < hs.nrungs && hs.r[i].bracket == b; i++) c += hs.r[i].cost[0];
        cp = fmax(cp, c);
    }
    printf("== hyperband rounds as aesweep runs them: %zu random moons trials, min_epochs %ld, max_epochs %ld, eta %d, "
           "%d brackets, %d rounds, %ld tasks, %.4g s of work (%.4g GFLOP at %.3g s per GFLOP)\n",
           p.ntrials, mn, mx, eta, p.sched->nbrackets, end.nrounds, end.first[end.nrounds], hs.total * fac, hs.total * 1e-9,
           fac * 1e9);
    for (int b = 0; b < p.sched->nbrackets; b++) {
        printf("  bracket %d:", b);
        for (int i = 0; i < hs.nrungs; i++)
            if (hs.r[i].bracket == b) printf(" %ld@%ld", hs.r[i].n, p.sched->b[b].epochs[hs.r[i].rung]);
        printf("  (trials@epochs)\n");
    }
    print_round_sizes(&p, &start, "start-aligned");
    print_round_sizes(&p, &end, "end-aligned  ");
    printf("  critical path %.4g s (a bracket's chain of largest tasks): utilisation at most 'bound'\n", cp * fac);
    printf("  end_noisy: end-aligned with each task's time = its cost x a lognormal error, log-sd %.2f (--noise)\n", g_noise);
    policy_rows(&p, &end, &start, &hs, cp, fac, ranks, nranks);
    for (int i = 0; i < hs.nrungs; i++) free(hs.r[i].cost);
    rounds_free(&end), rounds_free(&start);
    plan_free(&p);
    spec_free(&s);
    return 0;
}

/* Read /<stage>/<name> (n doubles, or ints when ints != NULL); 0 or -1. */
static int read_ds(hid_t f, const char *stage, const char *name, size_t n, double *d, int *ints)
{
    char dsn[256];
    snprintf(dsn, sizeof dsn, "/%s/%s", stage, name);
    hid_t ds = H5Dopen2(f, dsn, H5P_DEFAULT);
    if (ds < 0) return fprintf(stderr, "simulate: --check: no dataset %s\n", dsn), -1;
    hid_t sp = H5Dget_space(ds);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    herr_t e = (size_t)np != n ? -1 : ints ? H5Dread(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ints)
                                           : H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, d);
    H5Dclose(ds);
    if (e < 0) fprintf(stderr, "simulate: --check: %s has %lld points, the spec's plan %zu: not this spec's run\n", dsn, (long long)np, n);
    return e < 0 ? -1 : 0;
}

/* Per round of a run's halving stage, LPT by predicted cost at R ranks:
 * the predicted utilisation (loads in cost units) and the replay with the
 * measured task seconds (same owners, the file's `seconds` as loads). */
static void check_rounds(const plan_t *p, const rounds_list_t *rl, const double *sec, const int *rnd, int R, double idle)
{
    size_t *order = malloc((p->ntasks + 1) * sizeof *order);
    int *owner = malloc((p->ntasks + 1) * sizeof *owner);
    double *load = malloc((size_t)R * sizeof *load), *ls = malloc((size_t)R * sizeof *ls);
    double wc = 0, mc = 0, ws = 0, ms = 0;
    long bad = 0, ran = 0;
    for (size_t i = 0; i < p->ncube; i++) ran += rnd[i] >= 0;
    printf("  %5s %6s %8s %10s %12s %10s\n", "round", "tasks", "tasks/R", "pred_util", "replay_util", "measured_s");
    for (int k = 0; k < rl->nrounds; k++) {
        long n = rl->first[k + 1] - rl->first[k];
        const size_t *ids = rl->ids + rl->first[k];
        if (!n) continue;
        double mk = plan_partition_subset(p, ids, (size_t)n, R, order, owner, load), w = 0, s = 0, m = 0;
        for (int r = 0; r < R; r++) ls[r] = 0;
        for (long i = 0; i < n; i++) {
            w += p->tasks[order[i]].cost;
            s += sec[order[i]];
            ls[owner[i]] += sec[order[i]];
            bad += rnd[ids[i]] != k;
        }
        for (int r = 0; r < R; r++) m = fmax(m, ls[r]);
        wc += w, mc += mk, ws += s, ms += m;
        printf("  %5d %6ld %8.2f %10.3f %12.3f %10.3f\n", k, n, (double)n / R, w / (R * mk), s / (R * m), s);
    }
    printf("  the simulator's rounds (search_round_tasks on the file's metrics): %ld tasks, %ld not in the file's round; "
           "the file ran %ld\n", rl->first[rl->nrounds], bad, ran);
    printf("  idle share at %d ranks: predicted %.3f (cost model), replayed %.3f (measured task seconds, same partition), "
           "measured by the run %.3f\n", R, 1 - wc / (R * mc), 1 - ws / (R * ms), idle);
    free(order), free(owner), free(load), free(ls);
}

/* --check SPEC --result RUN.h5 --ranks N: the rounds the run made (its
 * metrics decide the promotions), predicted against its idle share. */
static int check_run(const char *spec, const char *path, const char *stage_name, const int *ranks, int nranks)
{
    char err[SPEC_ERR_LEN];
    study_t s;
    plan_t p;
    int k = 0;
    if (spec_load(&s, spec, NULL, err)) return fprintf(stderr, "simulate: %s\n", err), 2;
    if (stage_name)
        for (k = 0; k < s.nstages && strcmp(s.stages[k].name, stage_name); k++) {}
    if (k >= s.nstages || plan_build(&p, &s, k, NULL, NULL, err) || !(p.search & PLAN_HALVING)) {
        fprintf(stderr, "simulate: --check: %s\n", k >= s.nstages ? "no such stage" : (p.search & PLAN_HALVING) ? err : "not a halving stage (--stage)");
        return 2;
    }
    const char *sn = s.stages[k].name;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    double *sec = malloc(p.ncube * sizeof(double)), idle = NAN;
    int *rnd = malloc(p.ncube * sizeof(int));
    double *x = p.metrics + (size_t)p.select_metric * p.ncube;
    if (f < 0 || read_ds(f, sn, p.metric_names[p.select_metric], p.ncube, x, NULL) || read_ds(f, sn, "seconds", p.ncube, sec, NULL) ||
        read_ds(f, sn, "round", p.ncube, NULL, rnd)) {
        fprintf(stderr, "simulate: --check: cannot read %s\n", path);
        return 3;
    }
    hid_t a = H5Aopen_by_name(f, sn, "idle_share", H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) H5Aread(a, H5T_NATIVE_DOUBLE, &idle), H5Aclose(a);
    H5Fclose(f);
    rounds_list_t rl;
    if (rounds_list(&p, &rl)) return fprintf(stderr, "simulate: --check: out of memory\n"), 3;
    printf("== check: %s stage %s against its run %s at %d ranks\n", spec, sn, path, ranks[0]);
    check_rounds(&p, &rl, sec, rnd, ranks[0], idle);
    /* how far each task's time is from the cost model (one factor for the run) */
    double *ratio = malloc((p.ntasks + 1) * sizeof(double)), st = 0, ct = 0;
    long nr = 0;
    for (long i = 0; i < rl.first[rl.nrounds]; i++) {
        size_t t = rl.ids[i];
        if (!(sec[t] > 0)) continue;
        st += sec[t], ct += p.tasks[t].cost, ratio[nr++] = sec[t] / p.tasks[t].cost;
    }
    if (nr) {
        qsort(ratio, (size_t)nr, sizeof(double), cmp_d);
        double fac = st / ct;
        printf("  per task measured / predicted (relative to the run's %.3g s per GFLOP): p10 %.2f median %.2f p90 %.2f max %.2f\n",
               fac * 1e9, ratio[nr / 10] / fac, ratio[nr / 2] / fac, ratio[nr * 9 / 10] / fac, ratio[nr - 1] / fac);
    }
    free(ratio);
    rounds_list_t sa;
    if (!rounds_start_aligned(&p, &rl, &sa)) {
        double w = 0, t0, t1;
        for (long i = 0; i < rl.first[rl.nrounds]; i++) w += p.tasks[rl.ids[i]].cost;
        double me = rounds_makespan(&p, &rl, ranks[0], &t0, &t1, NULL, 0), ms = rounds_makespan(&p, &sa, ranks[0], &t0, &t1, NULL, 0);
        printf("  predicted (cost model) idle share end-aligned %.3f, start-aligned %.3f; end-aligned with a lognormal error "
               "of log-sd %.2f per task (--noise) %.3f\n", 1 - w / (ranks[0] * me), 1 - w / (ranks[0] * ms), g_noise,
               1 - rounds_noisy(&p, &rl, ranks[0]));
        rounds_free(&sa);
    }
    (void)nranks;
    rounds_free(&rl);
    free(sec), free(rnd);
    plan_free(&p);
    spec_free(&s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *specs[16], *result = NULL, *stage = NULL, *calib = NULL;
    int nspecs = 0;
    double fac = 1.0 / 30e9;
    long nrandom = 0, nhb = 0, hb_min = 10, hb_max = 1000;
    int hb_eta = 3, hb_nb = 0, policy = 0;
    const char *check = NULL;
    int ranks[64], nranks = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--result") && i + 1 < argc) result = argv[++i];
        else if (!strcmp(argv[i], "--stage") && i + 1 < argc) stage = argv[++i];
        else if (!strcmp(argv[i], "--calib-spec") && i + 1 < argc) calib = argv[++i];
        else if (!strcmp(argv[i], "--factor") && i + 1 < argc) fac = atof(argv[++i]);
        else if (!strcmp(argv[i], "--random") && i + 1 < argc) nrandom = atol(argv[++i]);
        else if (!strcmp(argv[i], "--msg-cost") && i + 1 < argc) g_msg_cost = atof(argv[++i]);
        else if (!strcmp(argv[i], "--result-cost") && i + 1 < argc) g_result_cost = atof(argv[++i]);
        else if (!strcmp(argv[i], "--batch-seconds") && i + 1 < argc) g_batch_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--hyperband") && i + 1 < argc) nhb = atol(argv[++i]);
        else if (!strcmp(argv[i], "--hb-min") && i + 1 < argc) hb_min = atol(argv[++i]);
        else if (!strcmp(argv[i], "--hb-max") && i + 1 < argc) hb_max = atol(argv[++i]);
        else if (!strcmp(argv[i], "--hb-eta") && i + 1 < argc) hb_eta = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hb-brackets") && i + 1 < argc) hb_nb = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hb-longest-first")) g_hb_tail = 0;
        else if (!strcmp(argv[i], "--policy") && i + 1 < argc && !strcmp(argv[i + 1], "all")) policy = 1, i++;
        else if (!strcmp(argv[i], "--check") && i + 1 < argc) check = argv[++i];
        else if (!strcmp(argv[i], "--noise") && i + 1 < argc) g_noise = atof(argv[++i]);
        else if (!strcmp(argv[i], "--ranks") && i + 1 < argc) {
            for (char *tok = strtok(argv[++i], ","); tok && nranks < 64; tok = strtok(NULL, ",")) ranks[nranks++] = atoi(tok);
        } else if (argv[i][0] != '-' && nspecs < 16) specs[nspecs++] = argv[i];
        else {
            fprintf(stderr, "simulate: unknown argument %s (see the comment at the top of bench/simulate.c)\n", argv[i]);
            return 2;
        }
    }
    static const int POLICY_RANKS[] = {16, 64, 256, 1024, 4096};
    if (!nranks && policy)
        for (size_t i = 0; i < sizeof POLICY_RANKS / sizeof POLICY_RANKS[0]; i++) ranks[nranks++] = POLICY_RANKS[i];
    if (!nranks)
        for (size_t i = 0; i < sizeof DEFAULT_RANKS / sizeof DEFAULT_RANKS[0]; i++) ranks[nranks++] = DEFAULT_RANKS[i];
    if (check && (!result || nranks != 1)) {
        fprintf(stderr, "simulate: --check SPEC needs --result RUN.h5 (that spec's run) and --ranks N (its -np)\n");
        return 2;
    }
    if (!nspecs && !(nrandom > 0) && !(nhb > 0) && !check) {
        fprintf(stderr, "usage: simulate SPEC... [--result RESULT.h5 [--calib-spec SPEC]] [--factor S] [--random N] [--hyperband N] [--ranks 16,64] [--msg-cost S] [--result-cost S] [--batch-seconds T] [--hyperband N --policy all] [--check SPEC --result RUN.h5 --ranks N]\n");
        return 2;
    }
    char err[SPEC_ERR_LEN];
    study_t s;
    if (result && !check) {
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
    if (check) return check_run(check, result, stage, ranks, nranks);
    if (nhb > 0 && policy) return policy_table(nhb, hb_min, hb_max, hb_eta, hb_nb, fac, ranks, nranks);
    if (nhb > 0) hyperband_table(nhb, hb_min, hb_max, hb_eta, hb_nb, fac, ranks, nranks);
    return 0;
}
