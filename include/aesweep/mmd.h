/* mmd.h - maximum mean discrepancy penalty for MMD-regularised autoencoders.
 *
 * Unbiased estimator (Gretton et al. 2012, eq. 3) between samples X [n][b]
 * and Y [m][b]:
 *   MMD^2 = 1/(n(n-1)) sum_{i!=j} k(x_i,x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i,y_j)
 *         - 2/(nm) sum_{i,j} k(x_i,y_j)
 * with k(x,y) = f(|x-y|^2) summed over a list of scales:
 *   MMD_RBF: f(s) = sum_h exp(-s / (2h)), h = h0, h0/2, ..., (k values)
 *   MMD_IMQ: f(s) = sum_C C / (C + s)
 * Cost O(n^2 b) per step: mmd_loss_grad evaluates ~2 n^2 kernel pairs
 * (XX and ZZ once per unordered pair, XZ all n^2).  Measured on one core at
 * b = 2, rbf with 5 scales / imq with 3: n = 1,000: 1.0 / 0.5 ms;
 * n = 10,000: 0.08 / 0.034 s with AVX-512, 0.14 / 0.07 s with AVX2,
 * 0.35 / 0.16 s for plain x86-64 (SSE2).  The time grows as n^2: mini-
 * batches of a few hundred codes make the term negligible; a full batch of
 * 10,000 codes costs ~0.1 s per Adam step.  See mmd.c for the kernel and
 * its accuracy.
 */
#ifndef AESWEEP_MMD_H
#define AESWEEP_MMD_H
#include "aesweep/rng.h"
#include <stddef.h>

enum mmd_kernel { MMD_RBF = 0, MMD_IMQ = 1 };
#define MMD_MAX_SCALES 16

typedef struct mmd_cfg {
    int kernel;                     /* enum mmd_kernel */
    float lambda;                   /* weight of the MMD term, in [0, 1] */
    int nscales;
    double scales[MMD_MAX_SCALES];  /* h values (RBF) or C values (IMQ) */
} mmd_cfg_t;

/* RBF scales h0, h0/2, ... (k of them); IMQ scales given as a list. */
void mmd_cfg_rbf(mmd_cfg_t *c, float lambda, double h0, int k);
void mmd_cfg_imq(mmd_cfg_t *c, float lambda, const double *C, int n);

/* Floats of scratch for mmd_loss_grad with up to n codes of dimension b:
 * dcode [n][b], then zbuf (Z [n][b] and the kernel's workspace).  Monotone
 * in n, so a buffer sized for n rows serves any batch of nb <= n rows with
 * dcode = buf and zbuf = buf + nb * b. */
size_t mmd_scratch_floats(const mmd_cfg_t *c, int n, int b);

/* Unbiased MMD^2 between X [n][b] and Y [m][b] (double, plain loops; the
 * metrics use it).  NaN if n < 2 or m < 2. */
double mmd2(const mmd_cfg_t *c, const float *X, size_t n, const float *Y, size_t m, int b);

/* Draws Z ~ N(0, I) [n][b] from zr (n*b normals, row-major) into zbuf,
 * returns MMD^2(codes, Z) and writes scale * d MMD^2 / d codes into
 * dcode [n][b].  zbuf must hold mmd_scratch_floats(c, n, b) - n*b floats:
 * Z first, the workspace after it (any alignment).  Never allocates.
 * The result depends on the SIMD width only through FMA contraction.
 * Float kernel values with double sums (see mmd.c); n < 2 gives 0 and a
 * zero gradient.  Any b >= 1. */
double mmd_loss_grad(const mmd_cfg_t *c, const float *codes, int n, int b, rng_t *zr, float scale,
                     float *dcode, float *zbuf);

/* The same for a given Z: zbuf holds Z [n][b] on entry, the workspace
 * after it, as above.  mmd_loss_grad = n*b draws into zbuf, then this. */
double mmd_loss_grad_z(const mmd_cfg_t *c, const float *codes, int n, int b, float *zbuf,
                       float scale, float *dcode);

/* Reference for the tests: the same MMD^2 and scale * gradient for a given
 * Z [n][b], in double with plain loops (O(n^2 b) with a large constant). */
double mmd_loss_grad_ref(const mmd_cfg_t *c, const float *codes, int n, int b, const float *Z,
                         float scale, float *dcode);

#endif
