/* mmd.c - unbiased MMD^2 and its gradient with respect to the first sample.
 *
 * With k(x,y) = f(s), s = |x-y|^2, dk/dx = 2 f'(s) (x - y), so for
 * MMD^2(X, Z) with n = m, cxx = 1/(n(n-1)), cxy = 1/n^2:
 *   d MMD^2 / d x_i = 4 cxx sum_{j!=i} f'(s_ij)(x_i - x_j)
 *                   - 4 cxy sum_j     f'(t_ij)(x_i - z_j).
 *
 * Two implementations:
 *
 * mmd_loss_grad_ref (and mmd2): plain C in double, one exp or division per
 *   pair and scale, every ordered pair of the XX term visited.  The
 *   reference the tests hold the fast path to.
 *
 * mmd_loss_grad: the training kernel, ~2 n^2 pair evaluations per call:
 *   - XX once per unordered pair (i < j): the pair's term is added to x_i's
 *     gradient and subtracted from x_j's (n^2/2 pairs); XZ for all n^2
 *     pairs (only x gets a gradient); ZZ once per unordered pair, value only.
 *   - The samples are transposed to [b][npad] (npad = n rounded up to 32)
 *     so the inner loop over j is a loop of explicit float vectors (GCC /
 *     Clang vector extensions, the target's width: AVX-512, AVX or SSE),
 *     32 columns per step.  The code dimension is the scalar loop inside;
 *     b = 1..4 get compile-time copies, any b works.
 *   - Kernel values in float; each row's sums are reduced lane-wise in
 *     float and then added in double; x_j's mirrored gradient is collected
 *     in float for at most MMD_FLUSH rows, then added into a double sum.
 *     Per-pair constants (4 cxx, 4 cxy) are applied in double at the end, so
 *     the float terms stay well inside the normal range.
 *   - RBF with halving scales (what mmd_cfg_rbf makes): h_{i+1} = h_i / 2
 *     gives exp(-s/(2h_{i+1})) = exp(-s/(2h_i))^2, so one exp per pair plus
 *     k-1 squarings (a fresh exp every RBF_CHAIN = 6 scales for k > 6).
 *     The exp is a Cody-Waite reduction and the Cephes expf polynomial in
 *     plain float arithmetic (IEEE, no -ffast-math; measured <= 2 ulp); a
 *     squaring doubles the relative error, so each term is within ~4e-6 of
 *     double.  Other scale lists take one exp per pair and scale.
 *   - Each exponential term is max(e - 2^-60, 0) (absolute error <= 8.7e-19
 *     per term): squaring tiny terms would otherwise make subnormals, which
 *     are slow (measured: the whole call 1.4x slower without this).
 *   - IMQ: r = C/(C+s), f = sum r, f' = -sum r^2 / C: one division per
 *     pair and scale.
 *   - Non-finite codes return a NaN loss and gradient (the trainer's
 *     divergence check) without running the kernels.
 *   - Lanes are reduced in column order whatever the vector width, so
 *     AVX-512 and AVX2 builds give bit-identical results (checked); only
 *     FMA contraction (e.g. a plain x86-64 build) changes the last bits.
 *   Measured (one core, AMD EPYC with AVX-512, b = 2): n = 10,000 codes,
 *   rbf k = 5: 0.08 s per call, imq 3 scales: 0.034 s (the double loops
 *   this replaces: 5.0 s and 1.15 s).
 */
#include "aesweep/mmd.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

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

/* ---- vector types and layout ---------------------------------------------- */

/* VW: lanes of the target's float vector.  The inner loops always take
 * STEP = 32 columns at a time, as NV = STEP/VW vectors, and every lane
 * accumulator is reduced in the order of its column offset, so the results
 * do not depend on VW (only on whether a*b+c becomes an FMA). */
#if defined(__AVX512F__)
#define VW 16
#elif defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif
#define STEP 32
#define NV (STEP / VW)
#define MMD_FLUSH 64 /* rows of mirrored XX gradient collected in float */
typedef float vf __attribute__((vector_size(VW * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VW * sizeof(int32_t))));

static size_t pad_v(size_t n) { return (n + STEP - 1) / STEP * STEP; }

/* Workspace behind Z in zbuf (floats), every region 64-byte aligned:
 *   xt, zt   [b][npad]  the samples transposed (padding lanes 0)
 *   gt       [b][npad]  mirrored XX gradient, float, flushed every MMD_FLUSH rows
 *   gacc     [b][STEP]  per-dimension lane accumulators (generic b)
 *   gd       [n][b]     double gradient sum (2 floats per element) */
static size_t ws_floats(int n, int b)
{
    size_t np = pad_v((size_t)n);
    return 16 /* alignment */ + 3 * (size_t)b * np + (size_t)b * STEP + 2 * (size_t)n * b;
}

size_t mmd_scratch_floats(const mmd_cfg_t *c, int n, int b)
{
    (void)c;
    if (n < 0) n = 0;
    return 2 * (size_t)n * b + ws_floats(n, b); /* dcode, Z, workspace */
}

/* ---- double reference ----------------------------------------------------- */

/* f(s) and f'(s) summed over the scales, one exp / division per scale. */
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

double mmd_loss_grad_ref(const mmd_cfg_t *c, const float *X, int n, int b, const float *Z,
                         float scale, float *dcode)
{
    size_t nb = (size_t)n * b;
    if (n < 2) {
        memset(dcode, 0, nb * sizeof(float));
        return 0.0;
    }
    double *g = malloc((size_t)b * sizeof *g); /* reference code: allocates */
    if (!g) return NAN;
    double cxx = 1.0 / ((double)n * (n - 1)), cxy = 1.0 / ((double)n * n);
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        const float *xi = X + (size_t)i * b;
        for (int k = 0; k < b; k++) g[k] = 0;
        for (int j = 0; j < n; j++) {
            double df;
            if (j != i) {
                const float *xj = X + (size_t)j * b;
                double f = kern(c, sqdist(xi, xj, b), &df);
                if (j > i) sxx += f;
                for (int k = 0; k < b; k++) g[k] += 4.0 * cxx * df * ((double)xi[k] - xj[k]);
            }
            const float *zj = Z + (size_t)j * b;
            sxy += kern(c, sqdist(xi, zj, b), &df);
            for (int k = 0; k < b; k++) g[k] -= 4.0 * cxy * df * ((double)xi[k] - zj[k]);
        }
        for (int k = 0; k < b; k++) dcode[(size_t)i * b + k] = (float)(scale * g[k]);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) syy += kern(c, sqdist(Z + (size_t)i * b, Z + (size_t)j * b, b), NULL);
    free(g);
    return 2.0 * sxx * cxx + 2.0 * syy * cxx - 2.0 * sxy * cxy;
}

/* ---- vector kernels ------------------------------------------------------- */

enum { K_RBF_HALF = 0, K_RBF = 1, K_IMQ = 2 };

typedef struct {
    int kind, ns;
    float a[MMD_MAX_SCALES];  /* RBF: 1/(2h_i); IMQ: C_i */
    float ia[MMD_MAX_SCALES]; /* IMQ: 1/C_i */
} kpar_t;

static kpar_t kpar_make(const mmd_cfg_t *c)
{
    kpar_t p;
    memset(&p, 0, sizeof p);
    p.ns = c->nscales;
    if (c->kernel == MMD_IMQ) {
        p.kind = K_IMQ;
        for (int i = 0; i < p.ns; i++) {
            p.a[i] = (float)c->scales[i];
            p.ia[i] = (float)(1.0 / c->scales[i]);
        }
    } else {
        p.kind = K_RBF_HALF;
        for (int i = 0; i < p.ns; i++) {
            p.a[i] = (float)(1.0 / (2.0 * c->scales[i]));
            if (i && c->scales[i] * 2.0 != c->scales[i - 1]) p.kind = K_RBF;
        }
    }
    return p;
}

static inline vf vsplat(float x) { return (vf){0} + x; }
static inline vf vand(vf x, vi m) { return (vf)((vi)x & m); }

/* Lane-wise min, max and a*b+c: one instruction each where the target
 * has it.  min/max take x86 semantics (the second operand if either is
 * NaN); the codes are checked for NaN before the kernels run, and for
 * finite input every variant gives the same values. */
#if defined(__AVX512F__)
static inline vf vmin(vf x, vf c) { return (vf)_mm512_min_ps((__m512)x, (__m512)c); }
static inline vf vmax(vf x, vf c) { return (vf)_mm512_max_ps((__m512)x, (__m512)c); }
static inline vf vfma(vf a, vf b, vf c) { return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
#elif defined(__AVX__)
static inline vf vmin(vf x, vf c) { return (vf)_mm256_min_ps((__m256)x, (__m256)c); }
static inline vf vmax(vf x, vf c) { return (vf)_mm256_max_ps((__m256)x, (__m256)c); }
#if defined(__FMA__)
static inline vf vfma(vf a, vf b, vf c) { return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c); }
#else
static inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
#endif
#else
static inline vf vmin(vf x, vf c)
{
    vi m = x < c;
    return (vf)(((vi)x & m) | ((vi)c & ~m));
}
static inline vf vmax(vf x, vf c)
{
    vi m = x > c;
    return (vf)(((vi)x & m) | ((vi)c & ~m));
}
static inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
#endif

/* The loops below work on NV independent vectors at a time, statement by
 * statement, so that the long dependency chains (exp polynomial, squarings)
 * of one vector overlap with those of the others. */
#define FOR_U for (int u = 0; u < NV; u++)

/* Exponential terms are computed as max(e - TINY, 0): an absolute error of
 * at most 2^-60 (8.7e-19) per term, and terms below TINY become exactly 0.
 * With e = fma(a, a, -TINY) this keeps every intermediate normal: a squared
 * term below 2^-126 (subnormal, slow on most CPUs) cannot arise. */
#define TINY 0x1p-60f

/* e[u] = max(exp(-x[u]) - TINY, 0) for finite x >= 0.
 * n = round(-x log2 e) by the 1.5*2^23 trick, r = -x - n ln2 in two parts
 * (Cody-Waite), exp(r) by the Cephes expf polynomial (measured <= 2 ulp), times 2^n
 * built in the exponent bits.  x is capped at 60 first so 2^n stays normal
 * (exp(-60) = 8.7e-27 < TINY, so those lanes end at 0). */
static inline __attribute__((always_inline)) void vexp_neg(const vf *x, vf *e)
{
    const vf magic = vsplat(0x1.8p23f), cap = vsplat(60.0f), zero = {0};
    vf xc[NV], t[NV], nf[NV], r[NV], z[NV], y[NV];
    FOR_U xc[u] = vmin(x[u], cap);
    FOR_U t[u] = -xc[u] * 1.44269504088896341f + magic;
    FOR_U nf[u] = t[u] - magic;
    FOR_U r[u] = -xc[u] - nf[u] * 0.693359375f;
    FOR_U r[u] = r[u] - nf[u] * -2.12194440e-4f;
    FOR_U z[u] = r[u] * r[u];
    FOR_U y[u] = 1.9875691500e-4f * r[u] + 1.3981999507e-3f;
    FOR_U y[u] = y[u] * r[u] + 8.3334519073e-3f;
    FOR_U y[u] = y[u] * r[u] + 4.1665795894e-2f;
    FOR_U y[u] = y[u] * r[u] + 1.6666665459e-1f;
    FOR_U y[u] = y[u] * r[u] + 5.0000001201e-1f;
    FOR_U y[u] = y[u] * z[u] + r[u] + 1.0f;
    FOR_U {
        vi n = (vi)t[u] - (vi)magic;
        e[u] = vmax(vfma(y[u], (vf)((n + 127) << 23), -vsplat(TINY)), zero);
    }
}

/* Squarings in a row before a fresh exp: each doubles the relative error
 * of the term, so 5 squarings carry at most ~32 x 2 ulp (4e-6). */
#define RBF_CHAIN 6

/* f(s) and (if fp) f'(s), lane-wise.  kind is a compile-time constant at
 * every call site (always_inline), so the switch folds away. */
static inline __attribute__((always_inline)) void kern_v(const kpar_t *p, const int kind, const vf *s,
                                                          vf *f, vf *fp)
{
    vf g[NV], e[NV], x[NV];
    FOR_U f[u] = g[u] = (vf){0};
    if (kind == K_RBF_HALF) {
        FOR_U x[u] = s[u] * p->a[0];
        vexp_neg(x, e);
        FOR_U {
            f[u] = e[u];
            g[u] = e[u] * p->a[0];
        }
        for (int i = 1; i < p->ns; i++) {
            if (i % RBF_CHAIN == 0) { /* a fresh exp bounds the error growth */
                FOR_U x[u] = s[u] * p->a[i];
                vexp_neg(x, e);
            } else
                FOR_U e[u] = vmax(vfma(e[u], e[u], -vsplat(TINY)), (vf){0});
            FOR_U {
                f[u] += e[u];
                g[u] += e[u] * p->a[i];
            }
        }
    } else if (kind == K_RBF) {
        for (int i = 0; i < p->ns; i++) {
            FOR_U x[u] = s[u] * p->a[i];
            vexp_neg(x, e);
            FOR_U {
                f[u] += e[u];
                g[u] += e[u] * p->a[i];
            }
        }
    } else {
        for (int i = 0; i < p->ns; i++) {
            FOR_U {
                vf r = p->a[i] / (p->a[i] + s[u]);
                f[u] += r;
                g[u] += r * r * p->ia[i];
            }
        }
    }
    if (fp) FOR_U fp[u] = -g[u];
}

/* Sum of the STEP lane accumulators acc[u] (lane l = column offset
 * u*VW + l): in pairs of columns, in double, in column order. */
static inline double hsum(const vf *acc)
{
    double t = 0;
    FOR_U for (int l = 0; l < VW; l += 2) t += (double)acc[u][l] + (double)acc[u][l + 1];
    return t;
}

/* Lanes of columns j0 + l with lo < j0 + l < hi. */
static inline vi lane_mask(int j0, int lo, int hi)
{
    vi j;
    for (int l = 0; l < VW; l++) j[l] = j0 + l;
    return (j > lo) & (j < hi);
}

enum { M_XX = 0, M_XZ = 1, M_ZZ = 2 };

/* One row of pair sums: sample point q [b] (AoS) against the transposed
 * sample P ([b][np]) at columns j with jlo < j < n (jlo = i for the
 * triangular XX / ZZ sums, -1 for XZ).  Returns sum_j f(s_qj); for XX and
 * XZ adds cg * sum_j f'(s_qj)(q_k - p_kj) to gq[k] (double) and, for XX,
 * subtracts the unscaled term from gt[k][j] (x_j's side of the pair).
 * B > 0 is the code size as a constant; B == 0: the runtime b with lane
 * accumulators in gacc [b][NV].  Columns go STEP at a time (NV vectors); np
 * is a multiple of STEP and the padding lanes are masked. */
static inline __attribute__((always_inline)) double
pair_row(const kpar_t *p, const int kind, const int mode, const int B, int b, const float *q,
         const float *P, size_t np, int jlo, int n, double *gq, double cg, float *gt, vf *gacc)
{
    enum { BMAX = 4 };
    if (B) b = B;
    vf qk[BMAX], ga[BMAX][NV];
    for (int k = 0; k < BMAX && k < b; k++) {
        qk[k] = vsplat(q[k]);
        FOR_U ga[k][u] = (vf){0};
    }
    if (!B)
        for (int k = 0; k < b * NV; k++) gacc[k] = (vf){0};
    vf facc[NV];
    FOR_U facc[u] = (vf){0};
    int j0 = jlo < 0 ? 0 : (jlo + 1) / STEP * STEP;
    for (int j = j0; j < n; j += STEP) {
        vf s[NV], f[NV], fp[NV];
        FOR_U s[u] = (vf){0};
        for (int k = 0; k < b; k++) {
            const float *pk = P + k * np + j;
            vf qq = B ? qk[k] : vsplat(q[k]);
            FOR_U {
                vf d = qq - *(const vf *)(pk + u * VW);
                s[u] += d * d;
            }
        }
        kern_v(p, kind, s, f, mode == M_ZZ ? NULL : fp);
        if (j + STEP > n || j <= jlo) {
            FOR_U {
                vi m = lane_mask(j + u * VW, jlo, n);
                f[u] = vand(f[u], m);
                if (mode != M_ZZ) fp[u] = vand(fp[u], m);
            }
        }
        FOR_U facc[u] += f[u];
        if (mode == M_ZZ) continue;
        for (int k = 0; k < b; k++) {
            const float *pk = P + k * np + j;
            vf qq = B ? qk[k] : vsplat(q[k]);
            vf *acc = B ? ga[k] : gacc + k * NV;
            FOR_U {
                vf t = fp[u] * (qq - *(const vf *)(pk + u * VW));
                acc[u] += t;
                if (mode == M_XX) *(vf *)(gt + k * np + j + u * VW) -= t;
            }
        }
    }
    if (mode != M_ZZ)
        for (int k = 0; k < b; k++) gq[k] += cg * hsum(B ? ga[k] : gacc + k * NV);
    return hsum(facc);
}

typedef struct {
    const kpar_t *p;
    int n, b;
    size_t np;
    const float *X, *Z, *xt, *zt; /* AoS [n][b] and transposed [b][np] */
    float *gt;         /* [b][np] */
    vf *gacc;          /* [b][NV] */
    double *gd;        /* [n][b] gradient of MMD^2 */
    double cxx4, cxz4; /* 4/(n(n-1)), -4/n^2 */
    double sxx, sxz, szz;
} job_t;

/* The three sums for one kernel kind and code size: instantiated for each
 * (kind, B) pair below so that both are constants in the inner loops. */
static inline __attribute__((always_inline)) void run_sums(job_t *J, const int kind, const int B)
{
    int n = J->n, b = J->b;
    size_t np = J->np;
    for (int i = 0; i < n; i++) {
        const float *xi = J->X + (size_t)i * b;
        double *gi = J->gd + (size_t)i * b;
        J->sxx += pair_row(J->p, kind, M_XX, B, b, xi, J->xt, np, i, n, gi, J->cxx4, J->gt, J->gacc);
        J->sxz += pair_row(J->p, kind, M_XZ, B, b, xi, J->zt, np, -1, n, gi, J->cxz4, NULL, J->gacc);
        J->szz += pair_row(J->p, kind, M_ZZ, B, b, J->Z + (size_t)i * b, J->zt, np, i, n, NULL, 0, NULL, J->gacc);
        if ((i + 1) % MMD_FLUSH == 0 || i == n - 1) {
            /* x_j's side of the XX pairs, j > i - MMD_FLUSH: into double. */
            for (int k = 0; k < b; k++) {
                float *g = J->gt + k * np;
                for (int j = 0; j < n; j++) {
                    J->gd[(size_t)j * b + k] += J->cxx4 * g[j];
                    g[j] = 0;
                }
            }
        }
    }
}

#define RUN_B(kind)                                   \
    switch (J->b) {                                   \
    case 1: run_sums(J, kind, 1); break;              \
    case 2: run_sums(J, kind, 2); break;              \
    case 3: run_sums(J, kind, 3); break;              \
    case 4: run_sums(J, kind, 4); break;              \
    default: run_sums(J, kind, 0); break;             \
    }

static void run_rbf_half(job_t *J) { RUN_B(K_RBF_HALF) }
static void run_rbf(job_t *J) { RUN_B(K_RBF) }
static void run_imq(job_t *J) { RUN_B(K_IMQ) }

static float *align64(float *p)
{
    uintptr_t a = (uintptr_t)p;
    return (float *)((a + 63) & ~(uintptr_t)63);
}

double mmd_loss_grad_z(const mmd_cfg_t *c, const float *X, int n, int b, float *zbuf, float scale,
                       float *dcode)
{
    size_t nb = (size_t)n * b;
    const float *Z = zbuf;
    if (n < 2 || c->nscales < 1) { /* no pairs, or an empty kernel */
        memset(dcode, 0, nb * sizeof(float));
        return 0.0;
    }
    for (size_t i = 0; i < nb; i++)
        if (!isfinite(X[i])) {
            for (size_t k = 0; k < nb; k++) dcode[k] = NAN;
            return NAN; /* diverged codes; the kernels assume finite input */
        }
    kpar_t p = kpar_make(c);
    size_t np = pad_v((size_t)n);
    float *xt = align64(zbuf + nb), *zt = xt + (size_t)b * np, *gt = zt + (size_t)b * np;
    vf *gacc = (vf *)(gt + (size_t)b * np);
    double *gd = (double *)(gt + (size_t)b * np + (size_t)b * STEP);
    for (int k = 0; k < b; k++) {
        for (int j = 0; j < n; j++) {
            xt[(size_t)k * np + j] = X[(size_t)j * b + k];
            zt[(size_t)k * np + j] = Z[(size_t)j * b + k];
        }
        for (size_t j = (size_t)n; j < np; j++) xt[k * np + j] = zt[k * np + j] = 0.0f;
    }
    memset(gt, 0, (size_t)b * np * sizeof(float));
    memset(gd, 0, nb * sizeof(double));
    double cxx = 1.0 / ((double)n * (n - 1)), cxy = 1.0 / ((double)n * n);
    job_t J = {.p = &p, .n = n, .b = b, .np = np, .X = X, .Z = Z, .xt = xt, .zt = zt, .gt = gt,
               .gacc = gacc, .gd = gd, .cxx4 = 4.0 * cxx, .cxz4 = -4.0 * cxy};
    if (p.kind == K_RBF_HALF) run_rbf_half(&J);
    else if (p.kind == K_RBF) run_rbf(&J);
    else run_imq(&J);
    for (size_t i = 0; i < nb; i++) dcode[i] = (float)(scale * gd[i]);
    return 2.0 * J.sxx * cxx + 2.0 * J.szz * cxx - 2.0 * J.sxz * cxy;
}

double mmd_loss_grad(const mmd_cfg_t *c, const float *X, int n, int b, rng_t *zr, float scale,
                     float *dcode, float *zbuf)
{
    size_t nb = (size_t)n * b;
    for (size_t i = 0; i < nb; i++) zbuf[i] = (float)rng_normal(zr);
    return mmd_loss_grad_z(c, X, n, b, zbuf, scale, dcode);
}
