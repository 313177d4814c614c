/* bench_train.c - time aesweep's training loop (train_run) on one config.
 *
 * Times only train_run (full batch Adam, the loop a sweep task runs), not data
 * generation, model creation or evaluation, so it is the same span as
 * bench/torch_train.py times in PyTorch.  One process, one thread
 * (OPENBLAS_NUM_THREADS=1 for the BLAS kernel).  For each kernel asked for
 * (fast, dense, tiled, blas, ref; dense is fast without skipping dead
 * units) it prints one JSON line:
 *   {"config": ..., "kernel": k, "isa": ..., "seconds": [..], "median": s,
 *    "cpu_median": c, "gflops": g, "final_mse": l, "maxrss_mb": r,
 *    "dead": f}
 * (dead: the fraction of hidden unit-tiles the last training step of the
 * last run skipped; 0 without the fused step)
 * (cpu_median: process CPU seconds, which tells how much of the wall time a
 * busy machine took away).
 * with gflops = 6 * MACs/row * rows * epochs / median (forward 2 + backward 4
 * flops per multiply-add; the final loss-only forward is not counted): the
 * dense count, so with dead units skipped it is an effective rate.
 *
 * usage: bench_train [--data moons|digits] [--digits PATH] [--train-size N]
 *        [--epochs E] [--lr X] [--hidden H] [--layers L] [--bottleneck B]
 *        [--reps R] [--kernel fast|dense|tiled|blas|ref|fast,dense,...]
 * Not a test; bench/run.sh calls it.
 */
#include "aesweep/data.h"
#include "aesweep/kernel_lanes.h"
#include "aesweep/model.h"
#include "aesweep/rng.h"
#include "aesweep/train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

void openblas_set_num_threads(int);

#include "benchutil.h"

int main(int argc, char **argv)
{
    const char *data = "moons", *digits = "data/digits.csv.gz", *kernels = "fast";
    int n = 9000, epochs = 1000, hidden = 20, layers = 3, bottleneck = 1, reps = 3;
    double lr = 0.002;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--digits")) digits = v;
        else if (!strcmp(a, "--train-size")) n = atoi(v);
        else if (!strcmp(a, "--epochs")) epochs = atoi(v);
        else if (!strcmp(a, "--lr")) lr = atof(v);
        else if (!strcmp(a, "--hidden")) hidden = atoi(v);
        else if (!strcmp(a, "--layers")) layers = atoi(v);
        else if (!strcmp(a, "--bottleneck")) bottleneck = atoi(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else if (!strcmp(a, "--kernel")) kernels = v;
        else {
            fprintf(stderr, "bench_train: unknown flag %s (see the comment at the top of bench/bench_train.c)\n", a);
            return 2;
        }
    }
    if (n < 1 || epochs < 1 || reps < 1 || reps > 1000) {
        fprintf(stderr, "bench_train: --train-size, --epochs, --reps must be positive\n");
        return 2;
    }
    openblas_set_num_threads(1);
    dataset_t ds;
    char err[DATA_ERR_LEN];
    if (!strcmp(data, "moons")) {
        if (data_moons(&ds, 10000 > (size_t)n ? 10000 : (size_t)n, 0.1, 12345)) return 3;
    } else {
        dataset_t all;
        if (data_load_csv(&all, digits, 0, -2, err)) {
            fprintf(stderr, "bench_train: %s\n", err);
            return 2;
        }
        /* the study's 2/3 split by a seeded permutation */
        size_t *perm = malloc(all.n * sizeof *perm);
        rng_t r = rng_stream(7);
        rng_permutation(&r, all.n, perm);
        size_t ntr = (size_t)llround(all.n * 2.0 / 3.0);
        if (data_take(&ds, &all, perm, ntr)) return 3;
        free(perm);
        data_free(&all);
    }
    if ((size_t)n > ds.n) n = (int)ds.n;
    model_arch_t a = {.in = ds.d, .hidden = hidden, .layers = layers, .bottleneck = bottleneck};
    model_t *m = model_create(&a);
    if (!m) {
        fprintf(stderr, "bench_train: bad architecture\n");
        return 2;
    }
    train_cfg_t cfg = train_cfg_default();
    cfg.epochs = epochs;
    cfg.lr = (float)lr;
    int ck = epochs;
    cfg.checkpoints = &ck;
    cfg.ncheck = 1;
    double flops = 6.0 * model_macs_per_row(&a) * n * (double)epochs;
    char cfgname[160];
    snprintf(cfgname, sizeof cfgname, "%s %d-%dx%d-%d n=%d epochs=%d", data, a.in, hidden, layers, bottleneck, n, epochs);

    char klist[64];
    snprintf(klist, sizeof klist, "%s", kernels);
    for (char *k = strtok(klist, ","); k; k = strtok(NULL, ",")) {
        int kid = !strcmp(k, "blas")    ? MODEL_KERNEL_BLAS
                  : !strcmp(k, "ref")   ? MODEL_KERNEL_REF
                  : !strcmp(k, "tiled") ? MODEL_KERNEL_TILED
                                        : MODEL_KERNEL_FAST;
        /* the kernel is chosen per workspace (model.h); "dense" is the default
         * kernel with the fused step's dead-unit skip off */
        model_opts_t ko = {.kernel = kid, .keep_dead = !strcmp(k, "dense")};
        train_ws_t *tw = train_ws_create(m, (size_t)n, 0, NULL, &ko);
        if (!tw) {
            fprintf(stderr, "bench_train: out of memory\n");
            return 3;
        }
        double *t = malloc((size_t)reps * sizeof(double)), *cpu = malloc((size_t)reps * sizeof(double));
        double final_mse = NAN;
        for (int r = 0; r < reps; r++) {
            model_init(m, 1000 + (uint64_t)r);
            double t0 = now_s(), c0 = cpu_s();
            int nrep = 0;
            train_run(m, tw, ds.x, (size_t)n, &cfg, NULL, NULL, NULL, &nrep);
            t[r] = now_s() - t0;
            cpu[r] = cpu_s() - c0;
            final_mse = model_eval_mse(m, tw->ws, ds.x, (size_t)n); /* the fused step leaves act[] alone */
        }
        double *s = malloc((size_t)reps * sizeof(double));
        memcpy(s, t, (size_t)reps * sizeof(double));
        qsort(s, (size_t)reps, sizeof(double), cmp_d);
        double med = reps % 2 ? s[reps / 2] : 0.5 * (s[reps / 2 - 1] + s[reps / 2]);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("{\"config\": \"%s\", \"kernel\": \"%s\", \"isa\": \"%s\", \"seconds\": [", cfgname,
               strcmp(k, "dense") ? model_kernel_name(kid) : "dense", kid == MODEL_KERNEL_FAST || kid == MODEL_KERNEL_TILED ? model_fast_isa() : "-");
        for (int r = 0; r < reps; r++) printf("%s%.6f", r ? ", " : "", t[r]);
        memcpy(s, cpu, (size_t)reps * sizeof(double));
        qsort(s, (size_t)reps, sizeof(double), cmp_d);
        double cmed = reps % 2 ? s[reps / 2] : 0.5 * (s[reps / 2 - 1] + s[reps / 2]);
        printf("], \"median\": %.6f, \"cpu_median\": %.6f, \"gflops\": %.3f, \"final_mse\": %.9g, \"maxrss_mb\": %.1f, "
               "\"dead\": %.4f}\n",
               med, cmed, flops / med * 1e-9, final_mse, ru.ru_maxrss / 1024.0,
               tw->ws->units ? (double)tw->ws->dead / (double)tw->ws->units : 0.0);
        train_ws_free(tw);
        fflush(stdout);
        free(t);
        free(cpu);
        free(s);
    }
    model_free(m);
    data_free(&ds);
    return 0;
}
