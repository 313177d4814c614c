/* sgemm_peak.c - the single-core OpenBLAS sgemm rate on large square matrices.
 *
 * The reference "peak" of the benchmark: C = A B (row-major float32, n x n,
 * n = 2048 by default), run OPENBLAS_NUM_THREADS=1.  Prints the best and the
 * median GFLOP/s over several calls (2 n^3 flops per call) as
 *   sgemm n=<n> core=<OpenBLAS core> best=<GF/s> median=<GF/s>
 * Not a test; bench/run.sh calls it.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

char *openblas_get_corename(void);
void openblas_set_num_threads(int);

#include "benchutil.h"

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
    free(A), free(B), free(C), free(g), free(gc);
    return 0;
}
