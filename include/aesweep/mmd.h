/* mmd.h - maximum mean discrepancy penalty for MMD-regularised autoencoders.
 *
 * Unbiased estimator (Gretton et al. 2012, eq. 3) between samples X [n][b]
 * and Y [m][b]:
 *   MMD^2 = 1/(n(n-1)) sum_{i!=j} k(x_i,x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i,y_j)
 *         - 2/(nm) sum_{i,j} k(x_i,y_j)
 * with k(x,y) = f(|x-y|^2) summed over a list of scales:
 *   MMD_RBF: f(s) = sum_h exp(-s / (2h)), h = h0, h0/2, ..., (k values)
 *   MMD_IMQ: f(s) = sum_C C / (C + s)
 * Cost O((n+m)^2 b) per evaluation: at n = 10,000 codes this dominates a
 * full-batch step, which is why mini-batch training is offered.
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

/* Scratch floats needed by mmd_loss_grad for n codes of dimension b. */
size_t mmd_scratch_floats(const mmd_cfg_t *c, int n, int b);

/* Unbiased MMD^2 between X [n][b] and Y [m][b] (double accumulation). */
double mmd2(const mmd_cfg_t *c, const float *X, size_t n, const float *Y, size_t m, int b);

/* Draws Z ~ N(0, I) [n][b] from zr into zbuf, returns MMD^2(codes, Z) and
 * writes scale * d MMD^2 / d codes into dcode [n][b]. */
double mmd_loss_grad(const mmd_cfg_t *c, const float *codes, int n, int b, rng_t *zr, float scale,
                     float *dcode, float *zbuf);

#endif
