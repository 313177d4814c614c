/* search_run.c - a live sampled search with Hyperband on aesweep's own engine (issue 16), run
 * from the bench until `aesweep run` knows search stages (docs/search.md).
 *
 * The moons space of bench/search_optuna.py (train_size in {1000, ..., 9000}, lr uniform on
 * [0.0005, 0.003], hidden in {10, 15, 20, 40, 50}, layers in {1, 2, 3, 4}; bottleneck 1; epochs the
 * budget) sampled by src/sample.c (random or Owen-scrambled Sobol), scheduled and promoted by
 * src/halving.c, trained by the study's own tasks through src/dispatch.c's rounds on every rank:
 * a stage of `repeats = N` one-cell tasks whose parameters are overwritten with trial t's sample
 * on every rank (the same pure function everywhere), round k = rung k of every bracket. A promoted
 * trial is trained again from epoch 0 to its next rung: exact (epoch prefixes are), no carried
 * state, up to eta / (eta - 1) times the epochs of continuing. Nothing is journaled or written.
 *
 * Logged like bench/search_optuna.py: every round's end, rank 0 takes the best test MSE (test set
 * "clean", moons noise 0.1, 10,000 points) over the results of the rounds so far, with the wall
 * time since the start and the CPU time of all ranks (getrusage, summed with MPI_Reduce); the time a
 * result is known is taken as its round's end (late, never early). One JSON line per run, the
 * shape search_optuna.py prints, so `search_optuna.py --summarize` takes both.
 *
 *   mpirun -np 2 build-bench/bench/search_run [--sampler random|sobol] [--trials 243] [--seed 1]
 *       [--min-epochs 10] [--max-epochs 1000] [--eta 3] [--brackets 0] [--time-limit S]
 * Not a test.
 */
#include "aesweep/dispatch.h"
#include "aesweep/halving.h"
#include "aesweep/plan.h"
#include "aesweep/sample.h"
#include "aesweep/spec.h"
#include "aesweep/study.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const double THRESHOLDS[2] = {0.0085, 0.0065};

static double cpu_all(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mine = ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec, all = 0;
    MPI_Reduce(&mine, &all, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    return all;
}

static sample_space_t moons_space(int method, long n)
{
    sample_space_t sp = {.method = method, .n = n, .nparams = 4};
    sp.params[0] = (sample_param_t){.param = P_TRAIN_SIZE, .dist = DIST_CHOICE, .nchoices = 5, .choices = {1000, 3000, 5000, 7000, 9000}};
    sp.params[1] = (sample_param_t){.param = P_LR, .dist = DIST_UNIFORM, .lo = 0.0005, .hi = 0.003};
    sp.params[2] = (sample_param_t){.param = P_HIDDEN, .dist = DIST_CHOICE, .nchoices = 5, .choices = {10, 15, 20, 40, 50}};
    sp.params[3] = (sample_param_t){.param = P_LAYERS, .dist = DIST_CHOICE, .nchoices = 4, .choices = {1, 2, 3, 4}};
    return sp;
}

typedef struct {
    const char *sampler;
    long trials, min_e, max_e;
    int eta, brackets;
    unsigned long seed;
    double time_limit;
} opts_t;

static int parse(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){"random", 243, 10, 1000, 3, 0, 1, 1e9};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--sampler")) o->sampler = v;
        else if (!strcmp(k, "--trials")) o->trials = atol(v);
        else if (!strcmp(k, "--min-epochs")) o->min_e = atol(v);
        else if (!strcmp(k, "--max-epochs")) o->max_e = atol(v);
        else if (!strcmp(k, "--eta")) o->eta = atoi(v);
        else if (!strcmp(k, "--brackets")) o->brackets = atoi(v);
        else if (!strcmp(k, "--seed")) o->seed = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--time-limit")) o->time_limit = atof(v);
        else return fprintf(stderr, "search_run: unknown option %s (see bench/search_run.c)\n", k), -1;
    }
    if ((argc - 1) % 2) return fprintf(stderr, "search_run: %s needs a value\n", argv[argc - 1]), -1;
    if (strcmp(o->sampler, "random") && strcmp(o->sampler, "sobol"))
        return fprintf(stderr, "search_run: --sampler random or sobol\n"), -1;
    return 0;
}

/* Rank 0: the next round (rung k of every bracket) from the promotions of rung k - 1. */
static size_t next_round(const halving_schedule_t *h, int k, long **alive, long *nalive, const plan_t *p, int mi,
                         size_t *ids, double *ep)
{
    size_t n = 0;
    for (int b = 0; b < h->nbrackets; b++) {
        const halving_bracket_t *br = &h->b[b];
        if (k >= br->nrungs) continue;
        if (k > 0) { /* promote out of rung k - 1 */
            double *m = malloc((size_t)(nalive[b] + 1) * sizeof(double));
            for (long i = 0; i < nalive[b]; i++) m[i] = p->metrics[(size_t)mi * p->ncube + p->tasks[alive[b][i]].first_cube];
            long *win = malloc((size_t)(nalive[b] + 1) * sizeof(long));
            long r = halving_promote(m, alive[b], (size_t)nalive[b], h->eta, win);
            memcpy(alive[b], win, (size_t)(r > 0 ? r : 0) * sizeof(long));
            nalive[b] = r > 0 ? r : 0;
            free(m), free(win);
        }
        for (long i = 0; i < nalive[b]; i++) ids[n] = (size_t)alive[b][i], ep[n++] = (double)br->epochs[k];
    }
    return n;
}

static void run(const opts_t *o, study_ctx_t *c, int rank, double t0)
{
    char err[SPEC_ERR_LEN];
    plan_t p;
    if (plan_build(&p, &c->s, 0, NULL, NULL, err)) {
        if (rank == 0) fprintf(stderr, "search_run: %s\n", err);
        return;
    }
    halving_schedule_t h;
    if (halving_schedule(&h, o->min_e, o->max_e, o->eta, o->brackets, o->trials, err, sizeof err)) {
        if (rank == 0) fprintf(stderr, "search_run: %s\n", err);
        plan_free(&p);
        return;
    }
    sample_space_t sp = moons_space(strcmp(o->sampler, "sobol") ? SAMPLE_RANDOM : SAMPLE_SOBOL, o->trials);
    for (long t = 0; t < o->trials; t++) { /* trial t's configuration, the same on every rank */
        double v[4];
        sample_draw(&sp, c->s.seed, 0, t, v);
        for (int j = 0; j < 4; j++) p.tasks[t].hp[sp.params[j].param] = v[j];
    }
    int mi = 0;
    for (int m = 0; m < p.nmetrics; m++)
        if (!strcmp(p.metric_names[m], "test_mse_clean")) mi = m;
    dispatch_opts_t dopt = {.quiet = 1, .batch_seconds = -1};
    dispatch_t d;
    if (dispatch_open(&d, &p, &c->sd, NULL, &dopt)) {
        fprintf(stderr, "search_run: rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    long *alive[HALVING_MAX_BRACKETS], nalive[HALVING_MAX_BRACKETS];
    for (int b = 0; b < h.nbrackets; b++) {
        nalive[b] = h.b[b].ntrials;
        alive[b] = malloc((size_t)(nalive[b] + 1) * sizeof(long));
        for (long i = 0; i < nalive[b]; i++) alive[b][i] = h.b[b].first_trial + i;
    }
    size_t *ids = malloc((size_t)o->trials * sizeof(size_t));
    double *ep = malloc((size_t)o->trials * sizeof(double));
    double best = INFINITY, cross_w[2] = {-1, -1}, cross_c[2] = {-1, -1}, cpu = 0;
    long segments = 0;
    int k = 0, stopped = 0, rounds = 0;
    for (; k < HALVING_MAX_RUNGS; k++) {
        long n = 0;
        if (rank == 0) n = (long)next_round(&h, k, alive, nalive, &p, mi, ids, ep);
        MPI_Bcast(&n, 1, MPI_LONG, 0, MPI_COMM_WORLD);
        if (n == 0) break;
        MPI_Bcast(ids, (int)n * (int)sizeof(size_t), MPI_BYTE, 0, MPI_COMM_WORLD);
        MPI_Bcast(ep, (int)n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        for (long i = 0; i < n; i++) { /* retrain from epoch 0 to the rung */
            task_t *tk = &p.tasks[ids[i]];
            tk->hp[P_EPOCHS] = ep[i];
            tk->cost = plan_task_cost(&p, tk);
            if (p.task_done[ids[i]]) p.task_done[ids[i]] = 0, p.ndone--;
        }
        int rc = dispatch_round(&d, rank == 0 ? ids : NULL, rank == 0 ? (size_t)n : 0);
        rounds++;
        cpu = cpu_all();
        double wall = MPI_Wtime() - t0;
        segments += n;
        if (rank == 0) {
            for (long i = 0; i < n; i++) {
                double m = p.metrics[(size_t)mi * p.ncube + p.tasks[ids[i]].first_cube];
                if (isfinite(m) && m < best) best = m;
            }
            for (int q = 0; q < 2; q++)
                if (best < THRESHOLDS[q] && cross_w[q] < 0) cross_w[q] = wall, cross_c[q] = cpu;
            fprintf(stderr, "search_run: round %d: %ld trials, best %.6g, %.1f s wall, %.1f s CPU\n", k, n, best, wall, cpu);
        }
        int stop = rc != 0 || wall > o->time_limit;
        MPI_Bcast(&stop, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (stop) {
            stopped = 1;
            break;
        }
    }
    if (rank == 0) {
        int nr;
        MPI_Comm_size(MPI_COMM_WORLD, &nr);
        printf("{\"seed\": %lu, \"procs\": %d, \"engine\": \"aesweep\", \"sampler\": \"%s\", \"seconds\": %.3f, "
               "\"cpu_seconds\": %.3f, \"best_mse\": %.9g, \"trials\": %ld, \"rounds\": %d, \"segments\": %ld, "
               "\"stopped\": %d, \"crossings\": {",
               o->seed, nr, o->sampler, MPI_Wtime() - t0, cpu, best, o->trials, rounds, segments, stopped);
        int first = 1;
        for (int q = 0; q < 2; q++)
            if (cross_w[q] >= 0) {
                printf("%s\"%g\": {\"wall\": %.3f, \"cpu\": %.3f}", first ? "" : ", ", THRESHOLDS[q], cross_w[q], cross_c[q]);
                first = 0;
            }
        printf("}}\n");
        fflush(stdout);
    }
    for (int b = 0; b < h.nbrackets; b++) free(alive[b]);
    free(ids), free(ep);
    dispatch_close(&d);
    plan_free(&p);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    double t0 = MPI_Wtime();
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    opts_t o;
    if (parse(argc, argv, &o) || o.trials < 1 || o.trials > 100000) {
        MPI_Finalize();
        return 2;
    }
    char text[2048], err[SPEC_ERR_LEN];
    snprintf(text, sizeof text,
             "study = \"search\"; seed = %lu; output = \"/dev/null\"; hidden_above_input = true;\n"
             "data = { source = \"moons\"; pool = 10000; noise = 0.1; };\n"
             "tests = ( { name = \"clean\"; noise = 0.1; size = 10000; } );\n"
             "defaults = { bottleneck = 1; epochs = %ld; };\n"
             "stages = ( { name = \"search\"; repeats = %ld; curve_points = 0; } );\n",
             o.seed, o.max_e, o.trials);
    study_ctx_t c;
    memset(&c, 0, sizeof c);
    study_source_t src = {.spec_path = "(search_run)", .text = text, .data_label = ""};
    if (study_open(&c, &src, err)) {
        if (rank == 0) fprintf(stderr, "search_run: %s\n", err);
        study_close(&c);
        MPI_Finalize();
        return 2;
    }
    run(&o, &c, rank, t0);
    study_close(&c);
    MPI_Finalize();
    return 0;
}
