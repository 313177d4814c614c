/* sgemm_peak.c - the single-core OpenBLAS sgemm rate on large square matrices.
 *
 * The reference "peak" of the benchmark: C = A B (row-major float32, n x n,
 * n = 2048 by default), run OPENBLAS_NUM_THREADS=1.  Prints the best and the
 * median GFLOP/s over several calls (2 n^3 flops per call) as
 *   sgemm n=<n> core=<OpenBLAS core> best=<GF/s> median=<GF/s> ...
 * and, for context, the core's FMA instruction peak: 12 independent chains
 * of vector FMAs on registers at the build's widest vector width (AVX-512:
 * 16 floats, AVX2: 8, else 4), best of 5 runs, as
 *   fma isa=<avx512|avx2|generic> peak=<GF/s>
 * OpenBLAS 0.3.21 uses its Haswell (AVX2) kernel on Zen 4/5, so on such a
 * core the FMA peak is about twice the sgemm peak.
 * Not a test; bench/run.sh calls it.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

char *openblas_get_corename(void);
void openblas_set_num_threads(int);

#include "benchutil.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#define FMA_ISA "avx512"
typedef __m512 fv;
#define FV_LANES 16
static inline fv fv_set(float x) { return _mm512_set1_ps(x); }
static inline fv fv_fma(fv a, fv b, fv c) { return _mm512_fmadd_ps(a, b, c); }
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FMA_ISA "avx2"
typedef __m256 fv;
#define FV_LANES 8
static inline fv fv_set(float x) { return _mm256_set1_ps(x); }
static inline fv fv_fma(fv a, fv b, fv c) { return _mm256_fmadd_ps(a, b, c); }
#else
#define FMA_ISA "generic"
typedef float fv __attribute__((vector_size(16)));
#define FV_LANES 4
static inline fv fv_set(float x) { return (fv){x, x, x, x}; }
static inline fv fv_fma(fv a, fv b, fv c) { return a * b + c; }
#endif

/* GFLOP/s of 12 independent FMA chains (enough to cover latency x pipes). */
static double fma_peak(void)
{
    const long iters = 20000000;
    double best = 0;
    for (int r = 0; r < 5; r++) {
        fv acc[12], x = fv_set(0.999f), y = fv_set(1e-4f);
        for (int i = 0; i < 12; i++) acc[i] = fv_set((float)i);
        double t0 = now_s();
        for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
            for (int i = 0; i < 12; i++) acc[i] = fv_fma(acc[i], x, y);
            __asm__ volatile("" ::: "memory");
        }
        double dt = now_s() - t0;
        float sink[FV_LANES];
        fv s = acc[0];
        for (int i = 1; i < 12; i++) s = s + acc[i];
        __builtin_memcpy(sink, &s, sizeof sink);
        if (sink[0] == 12345.0f) puts("");
        double g = 2.0 * FV_LANES * 12.0 * iters / dt * 1e-9;
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2048;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (n < 64 || reps < 1 || reps > 100) {
        fprintf(stderr, "usage: sgemm_peak [n >= 64] [reps 1..100]\n");
        return 2;
    }
    openblas_set_num_threads(1);
    size_t nn = (size_t)n * n;
    float *A = malloc(nn * sizeof(float)), *B = malloc(nn * sizeof(float)), *C = malloc(nn * sizeof(float));
    if (!A || !B || !C) return 3;
    for (size_t i = 0; i < nn; i++) {
        A[i] = (float)((i * 7 % 13) - 6) / 7.0f;
        B[i] = (float)((i * 5 % 11) - 5) / 5.0f;
        C[i] = 0.0f;
    }
    /* warm-up (packing buffers, page faults) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
    double *g = malloc((size_t)reps * sizeof(double)), *gc = malloc((size_t)reps * sizeof(double));
    for (int r = 0; r < reps; r++) {
        double t0 = now_s(), c0 = cpu_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
        double dt = now_s() - t0, dc = cpu_s() - c0;
        g[r] = 2.0 * (double)n * n * n / dt * 1e-9;
        gc[r] = 2.0 * (double)n * n * n / dc * 1e-9;
    }
    qsort(g, (size_t)reps, sizeof(double), cmp_d);
    qsort(gc, (size_t)reps, sizeof(double), cmp_d);
    printf("sgemm n=%d core=%s best=%.2f median=%.2f cpu_best=%.2f cpu_median=%.2f\n", n, openblas_get_corename(),
           g[reps - 1], g[reps / 2], gc[reps - 1], gc[reps / 2]);
    printf("fma isa=%s peak=%.2f\n", FMA_ISA, fma_peak());
    free(A), free(B), free(C), free(g), free(gc);
    return 0;
}
