/* bench_wide.c - aesweep on wide layers (issue 17 item 3), end to end and per
 * step, the span bench/torch_wide.py times in PyTorch.
 *
 * One config per run: load the first --rows images of an MNIST-format IDX
 * file (gzip; pixels / 255) and the --test-rows first of a test file (or,
 * with --synthetic, uniform [0, 1) data of the same shape from a seeded
 * stream), build the network, train --epochs epochs of Adam (lr 1e-3) in
 * mini-batches of --batch rows (0: full batch) with train_run, then
 * evaluate the test MSE.  One process, one thread.  Prints one JSON line:
 *   {"config", "kernel", "gemm", "load_s", "train_s", "train_cpu_s",
 *    "eval_s", "total_s", "steps", "step_ms", "gflops", "final_mse",
 *    "test_mse", "maxrss_mb", "data_mb", "ws_mb", "params_mb", "flops",
 *    "gflops_cpu", "fma_peak", "fma_peak_after"}
 * flops: the exact count of train_s (forward, dW, dA but the first
 * layer's, and the training-MSE forward); gflops_cpu = flops / train_cpu_s;
 * fma_peak(_after): the core's FMA peak by thread CPU time, measured just
 * before (after) training, so the step's share of the peak is read from one
 * process on a shared machine.
 * gflops = 6 x MACs/row x rows x epochs / train_s (forward 2, backward 4
 * flops per multiply-add); step_ms = train_s / steps.  maxrss_mb is the peak
 * resident set of the whole process (data, model, workspaces, libraries).
 *
 * usage: bench_wide --hidden 800 [--layers 1] [--bottleneck 32]
 *        [--arch mlp|resnet] [--batch 256] [--epochs 1] [--rows 40000]
 *        [--test-rows 10000] [--data train-images-idx3-ubyte.gz]
 *        [--test t10k-images-idx3-ubyte.gz] [--synthetic] [--label NAME]
 * The kernel options are read from the environment as aesweep reads them
 * (AESWEEP_KERNEL, AESWEEP_GEMM: options.h).
 * Not a test; bench/run.sh calls it.
 */
#include "aesweep/kernel_gemm.h"
#include "aesweep/model.h"
#include "aesweep/options.h"
#include "aesweep/rng.h"
#include "aesweep/train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

void openblas_set_num_threads(int);

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* First n images of an IDX3 file (gzip or plain), flattened, / 255. */
static float *load_idx(const char *path, size_t n, int *d)
{
    gzFile f = gzopen(path, "rb");
    if (!f) { fprintf(stderr, "bench_wide: cannot open %s\n", path); exit(3); }
    unsigned char h[16];
    if (gzread(f, h, 16) != 16 || h[2] != 8 || h[3] != 3) { fprintf(stderr, "bench_wide: %s: not IDX3 ubyte\n", path); exit(2); }
    size_t cnt = (size_t)h[4] << 24 | h[5] << 16 | h[6] << 8 | h[7];
    *d = (h[8] << 24 | h[9] << 16 | h[10] << 8 | h[11]) * (h[12] << 24 | h[13] << 16 | h[14] << 8 | h[15]);
    if (n > cnt) n = cnt;
    unsigned char *raw = malloc(n * *d);
    float *X = malloc(n * *d * sizeof(float));
    if (!raw || !X || gzread(f, raw, (unsigned)(n * *d)) != (int)(n * *d)) { fprintf(stderr, "bench_wide: %s: short read\n", path); exit(2); }
    for (size_t i = 0; i < n * *d; i++) X[i] = raw[i] / 255.0f;
    free(raw);
    gzclose(f);
    return X;
}

/* The core's FMA instruction peak right now, by this thread's CPU time: 12
 * independent chains of vector FMAs on registers at the widest vector width
 * (as sgemm_peak.c), best of 10 runs of ~20 ms.  On a shared machine the
 * core's FMA units may be shared too, so this is measured in the same
 * process as the training it normalises. */
#if defined(__AVX512F__)
#include <immintrin.h>
static double thread_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double fma_peak(void)
{
    double best = 0;
    for (int r = 0; r < 10; r++) {
        __m512 a[12];
        for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps(1.0f + 1e-3f * i);
        const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
        const long it = 400000;
        double t0 = thread_cpu();
        for (long k = 0; k < it; k++)
            for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
        double t = thread_cpu() - t0;
        float s = 0;
        for (int i = 0; i < 12; i++) s += _mm512_reduce_add_ps(a[i]);
        if (s == 12345.0f) puts(""); /* keep the chains */
        if (t > 0 && it * 12 * 32.0 / t * 1e-9 > best) best = it * 12 * 32.0 / t * 1e-9;
    }
    return best;
}
#else
static double fma_peak(void) { return 0; }
#endif

/* Floating-point operations of one training pass over `rows` rows (forward,
 * dW and dA of every layer but the first, 2 flops a multiply-add), exactly
 * (the "gflops" field keeps the 6 x MACs convention of the table). */
static double train_flops(const model_t *m, double rows)
{
    double f = 0;
    for (int l = 0; l < m->nlin; l++) f += (double)m->dims[l] * m->dims[l + 1] * (l ? 3 : 2);
    return 2.0 * f * rows;
}

static float *synth(size_t n, int d, uint64_t key)
{
    rng_t r = rng_stream(key);
    float *X = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < n * d; i++) X[i] = rng_uniform_f(&r);
    return X;
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1);
    const char *data = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    const char *test = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *label = "", *archs = "mlp", *hidden = "800";
    int layers = 1, bottleneck = 32, batch = 256, epochs = 1, synthetic = 0;
    size_t rows = 40000, trows = 10000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--synthetic")) { synthetic = 1; continue; }
        if (!strcmp(a, "--hidden")) hidden = v;
        else if (!strcmp(a, "--layers")) layers = atoi(v);
        else if (!strcmp(a, "--bottleneck")) bottleneck = atoi(v);
        else if (!strcmp(a, "--arch")) archs = v;
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--epochs")) epochs = atoi(v);
        else if (!strcmp(a, "--rows")) rows = (size_t)atol(v);
        else if (!strcmp(a, "--test-rows")) trows = (size_t)atol(v);
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--test")) test = v;
        else if (!strcmp(a, "--label")) label = v;
        else { fprintf(stderr, "bench_wide: unknown flag %s\n", a); return 2; }
        i++;
    }
    options_t opt;
    char err[512];
    if (options_from_env(&opt, err, sizeof err)) {
        fprintf(stderr, "bench_wide: %s\n", err);
        return 2;
    }
    double t0 = wall();
    int d = 784;
    float *X = synthetic ? synth(rows, d, 1) : load_idx(data, rows, &d);
    float *T = synthetic ? synth(trows, d, 2) : load_idx(test, trows, &d);
    double t_load = wall() - t0;

    model_arch_t a = {.in = d, .layers = layers, .bottleneck = bottleneck,
                      .kind = strcmp(archs, "resnet") ? MODEL_MLP : MODEL_RESNET};
    for (const char *p = hidden; *p && a.nwidths < MODEL_MAX_WIDTHS; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
        a.widths[a.nwidths++] = atoi(p);
    a.hidden = a.widths[0];
    model_t *m = model_create(&a);
    if (!m) { fprintf(stderr, "bench_wide: bad architecture\n"); return 2; }
    model_init(m, 7);
    train_ws_t *tw = train_ws_create(m, rows, batch, NULL, &opt.model);
    model_ws_t *ews = model_ws_create(m, 1024 < trows ? 1024 : (int)trows, &opt.model);
    if (!tw || !ews) { fprintf(stderr, "bench_wide: out of memory\n"); return 3; }
    train_cfg_t cfg = train_cfg_default();
    cfg.epochs = epochs;
    cfg.lr = 1e-3f;
    cfg.batch_size = batch;
    cfg.shuffle_key = 3;
    int ck = epochs;
    cfg.checkpoints = &ck;
    cfg.ncheck = 1;
    /* train_run evaluates the training MSE at the checkpoint; in mini-batch
     * mode that is a forward pass over all rows, counted in train_s as the
     * study's tasks count it */
    double peak0 = fma_peak();
    double c0 = cpu(), t1 = wall();
    int nrep = 0;
    int st = train_run(m, tw, X, rows, &cfg, NULL, NULL, NULL, &nrep);
    double t_train = wall() - t1, c_train = cpu() - c0;
    double peak1 = fma_peak();
    /* the steps' flops plus the training-MSE forward over all rows at the checkpoint */
    double flops = train_flops(m, (double)rows) * epochs + 2.0 * model_macs_per_row(&a) * (double)rows;
    double t2 = wall();
    double tmse = model_eval_mse(m, ews, T, trows);
    double t_eval = wall() - t2;
    double fmse = model_eval_mse(m, ews, X, rows < 2000 ? rows : 2000);
    long steps = batch > 0 && (size_t)batch < rows ? (long)epochs * (long)((rows + batch - 1) / batch) : epochs;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char desc[160];
    model_arch_describe(&a, desc, sizeof desc);
    double macs = model_macs_per_row(&a);
    printf("{\"config\": \"%s%s%s\", \"arch\": \"%s\", \"batch\": %d, \"epochs\": %d, \"rows\": %zu, \"kernel\": \"%s\", "
           "\"gemm\": \"%s\", \"status\": %d, \"load_s\": %.4f, \"train_s\": %.4f, \"train_cpu_s\": %.4f, "
           "\"eval_s\": %.4f, \"total_s\": %.4f, \"steps\": %ld, \"step_ms\": %.4f, \"gflops\": %.2f, "
           "\"final_mse\": %.6g, \"test_mse\": %.6g, \"maxrss_mb\": %.1f, \"data_mb\": %.1f, "
           "\"params_mb\": %.1f, \"ws_mb\": %.1f, \"flops\": %.4g, \"gflops_cpu\": %.2f, "
           "\"fma_peak\": %.1f, \"fma_peak_after\": %.1f}\n",
           label, *label ? " " : "", desc, desc, batch, epochs, rows, model_kernel_name(opt.model.kernel),
           model_ws_kernel_name(tw->ws), st, t_load, t_train, c_train, t_eval, t_load + t_train + t_eval, steps,
           1e3 * t_train / (double)steps, 6.0 * macs * (double)rows * epochs / t_train * 1e-9, fmse, tmse,
           ru.ru_maxrss / 1024.0, (double)(rows + trows) * d * 4 / 1048576.0,
           4.0 * 4 * (double)m->nparams / 1048576.0,
           model_ws_bytes(&a, batch > 0 && (size_t)batch < rows ? batch : (double)rows, &opt.model) / 1048576.0,
           flops, flops / c_train * 1e-9, peak0, peak1);
    model_ws_free(ews);
    train_ws_free(tw);
    model_free(m);
    free(X);
    free(T);
    return 0;
}
