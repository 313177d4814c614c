/* test_mmd.c - the MMD penalty (mmd.h): values, gradients, PyTorch parity.
 *
 * Every check compares against something computed independently here, in
 * double: ref_mmd2 below is the unbiased estimator written from its formula
 * (ordered pairs i != j, diagonal left out), sharing no code with mmd.c.
 *
 * test_stream        mmd_loss_grad draws Z as n*b rng_normal() values of the
 *                    given stream (re-created here), advances the stream by
 *                    exactly that, stays inside its scratch (canaries after
 *                    the buffer, also for a batch smaller than the buffer's
 *                    rows), n < 2 gives 0, non-finite codes give NaN.
 * test_grad_codes    (a) central differences of ref_mmd2 w.r.t. every code
 *                    element vs scale * dMMD^2/dX from mmd_loss_grad, for
 *                    rbf (halving, k = 1..8, and a non-halving scale list)
 *                    and imq, b = 1, 2, 3, 5, n across the 32-column steps.
 *                    h = 1e-4 in double: truncation ~1e-9 relative.
 *                    Per element |g - fd| <= 1e-4 max(|fd|, 1e-2 max|fd|)
 *                    (observed <= 1.1e-5); the loss within 1e-5 of ref_mmd2
 *                    relative to the sum of its three terms' magnitudes
 *                    (float kernel values: each term carries up to ~4e-6
 *                    after the squarings of mmd.c; observed <= 1e-8).
 * test_fast_vs_ref   the vector kernel against mmd_loss_grad_ref (double
 *                    reference loops in mmd.c) over b = 1..256, n = 2..100,
 *                    rbf halving (k = 5, 16), rbf list, imq: gradients
 *                    per element within 1e-4 max(|g|, 1e-2 max|g|), loss as
 *                    above.  Observed worst 3e-5 (k = 16 or b = 256, at
 *                    elements near the floor), typically <= 1e-5; loss
 *                    <= 5e-7 (n = 2: no averaging).  mmd2() (the metrics)
 *                    against ref_mmd2 for n != m to 1e-12.
 * test_grad_encoder  (b) train.c's loss (1 - lambda) MSE + lambda MMD^2(codes,
 *                    Z) with Z fixed (drawn once from the stream):
 *                    model_backward(m, ws, X, n, 1 - lambda, dcode) against
 *                    central differences of the same loss with a double
 *                    forward pass (h = 1e-5, ReLU kinks skipped as in
 *                    test_gradcheck, at most 1% + 2 of the parameters), GC_RTOL 1e-4 with a floor at 1% of
 *                    max|fd|.  Guards: max|fd| > 1e-4, every encoder layer
 *                    has a non-zero gradient, an all-zero gradient fails on
 *                    >= 1/3 of the elements, and the gradient WITHOUT dcode
 *                    fails on at least a quarter of the encoder's elements
 *                    (so the MMD term is really being checked).
 * test_unbiased      (c) 200 seeds of n = 64: codes and Z from N(0, I) give a
 *                    mean MMD^2 within 4 standard errors of 0, while the
 *                    biased (V-statistic) estimator on the same samples is
 *                    > 10 standard errors above 0; codes from N((1,0), I)
 *                    give MMD^2 > 0 for every seed, mean > 10 standard errors.
 * test_torch_parity  (d) tests/fixtures/mmd_*.h5 from make_mmd_fixtures.py
 *                    (float64 autograd): mmd_loss_grad_z with the fixture's
 *                    Z: |L - L_t| <= 1e-4 |L_t|, ||g - g_t|| <= 1e-4 ||g_t||,
 *                    max|g - g_t| <= 1e-4 max|g_t|.  mmd_loss_grad_ref and
 *                    mmd2: loss to 1e-9, gradient (float output) to 1e-6.
 *                    Observed worst 3.5e-7 (fast path), 3e-8 (reference).
 * test_speed         prints the time of one call at n = 1000 and 4000
 *                    (b = 2); no assertion (shared machines).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "dmirror.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aesweep/mmd.h"
#include "aesweep/model.h"
#include "aesweep/rng.h"

#define FD_H 1e-4
#define FD_H_ENC 1e-5 /* smaller: fewer ReLU kinks within reach */
#define GC_RTOL 1e-4
#define GC_FLOOR 1e-2
#define LOSS_RTOL 1e-5  /* relative to the scale of the three terms */
#define PARITY_RTOL 1e-4
#define CANARY 64
#define CANARY_VAL 12345.5f

/* ---- independent double reference --------------------------------------- */

/* k(x, y) = f(|x-y|^2), summed over the cfg's scales. */
static double ref_k(const mmd_cfg_t *c, double s)
{
    double f = 0;
    for (int i = 0; i < c->nscales; i++) {
        double h = c->scales[i];
        f += c->kernel == MMD_RBF ? exp(-s / (2.0 * h)) : h / (h + s);
    }
    return f;
}

static double ref_sq(const double *a, const double *b, int d)
{
    double s = 0;
    for (int k = 0; k < d; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
    return s;
}

/* Unbiased MMD^2(X [n][b], Y [m][b]); *terms (if set) = the sum of the three
 * terms' magnitudes, the scale of the rounding errors. */
static double ref_mmd2(const mmd_cfg_t *c, const double *X, int n, const double *Y, int m, int b,
                       double *terms)
{
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j) sxx += ref_k(c, ref_sq(X + (size_t)i * b, X + (size_t)j * b, b));
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            if (i != j) syy += ref_k(c, ref_sq(Y + (size_t)i * b, Y + (size_t)j * b, b));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) sxy += ref_k(c, ref_sq(X + (size_t)i * b, Y + (size_t)j * b, b));
    double a = sxx / ((double)n * (n - 1)), z = syy / ((double)m * (m - 1)), x = 2.0 * sxy / ((double)n * m);
    if (terms) *terms = a + z + x;
    return a + z - x;
}

/* Biased (V-statistic) estimator: diagonal included. */
static double ref_mmd2_biased(const mmd_cfg_t *c, const double *X, const double *Y, int n, int b)
{
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            sxx += ref_k(c, ref_sq(X + (size_t)i * b, X + (size_t)j * b, b));
            syy += ref_k(c, ref_sq(Y + (size_t)i * b, Y + (size_t)j * b, b));
            sxy += ref_k(c, ref_sq(X + (size_t)i * b, Y + (size_t)j * b, b));
        }
    return (sxx + syy - 2.0 * sxy) / ((double)n * n);
}

/* ---- helpers -------------------------------------------------------------- */

static void to_double(const float *a, double *d, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = a[i];
}

/* Scratch for rows codes of size b plus canaries. */
static float *scratch_new(const mmd_cfg_t *c, int rows, int b, size_t *len)
{
    *len = mmd_scratch_floats(c, rows, b);
    float *buf = malloc((*len + CANARY) * sizeof(float));
    assert_non_null(buf);
    for (size_t i = 0; i < *len + CANARY; i++) buf[i] = CANARY_VAL;
    return buf;
}

static void canaries_ok(const float *buf, size_t len)
{
    for (size_t i = len; i < len + CANARY; i++) assert_true(buf[i] == CANARY_VAL);
}

/* X [n][b] = mean + std * N(0,1) from stream key. */
static void draw(float *X, int n, int b, uint64_t key, double mean0, double std)
{
    rng_t r = rng_stream(key);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < b; k++) X[(size_t)i * b + k] = (float)((k == 0 ? mean0 : 0.1 * k) + std * rng_normal(&r));
}

static void cfg_imq_halving(mmd_cfg_t *c, float lambda, double C0, int k)
{
    double C[MMD_MAX_SCALES];
    for (int i = 0; i < k; i++) C[i] = C0 / (double)(1u << i); /* as task.c fill_mmd_cfg */
    mmd_cfg_imq(c, lambda, C, k);
}

/* Kernel configurations used across the tests. */
enum { KC_RBF5, KC_RBF1, KC_RBF8, KC_RBF16, KC_RBF_LIST, KC_IMQ3, KC_IMQ1, KC_COUNT };
static const char *const KC_NAMES[] = {"rbf h0=1 k=5", "rbf h0=0.5 k=1", "rbf h0=4 k=8", "rbf h0=8 k=16",
                                       "rbf list {1.5,0.4,0.1}", "imq C0=2 k=3", "imq C=1"};

static void kc_make(mmd_cfg_t *c, int which)
{
    switch (which) {
    case KC_RBF5: mmd_cfg_rbf(c, 0.5f, 1.0, 5); break;
    case KC_RBF1: mmd_cfg_rbf(c, 0.5f, 0.5, 1); break;
    case KC_RBF8: mmd_cfg_rbf(c, 0.5f, 4.0, 8); break;
    case KC_RBF16: mmd_cfg_rbf(c, 0.5f, 8.0, 16); break;
    case KC_RBF_LIST:
        mmd_cfg_rbf(c, 0.5f, 1.0, 3);
        c->scales[0] = 1.5; /* not halving: one exp per scale */
        c->scales[1] = 0.4;
        c->scales[2] = 0.1;
        break;
    case KC_IMQ3: cfg_imq_halving(c, 0.5f, 2.0, 3); break;
    default: cfg_imq_halving(c, 0.5f, 1.0, 1); break;
    }
}

/* Elements with |g - ref| > rtol * max(|ref|, floor * max|ref|). */
static size_t count_bad(const float *g, const double *ref, size_t n, double rtol, double floor_rel,
                        double *worst, const char *what)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(ref[i]));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)g[i] - ref[i]) / fmax(fabs(ref[i]), floor_rel * mx);
        if (worst && err > *worst) *worst = err;
        if (!(err <= rtol)) {
            if (what && bad < 5) print_error("%s: element %zu: %.9g vs %.9g (rel %.3g)\n", what, i, (double)g[i], ref[i], err);
            bad++;
        }
    }
    return bad;
}

/* ---- test_stream ---------------------------------------------------------- */

static void test_stream(void **state)
{
    (void)state;
    for (int which = 0; which < KC_COUNT; which++) {
        mmd_cfg_t c;
        kc_make(&c, which);
        const int rows = 70, b = 3;
        size_t len;
        float *buf = scratch_new(&c, rows, b, &len);
        float X[70 * 3];
        draw(X, rows, b, 31, 0.2, 1.1);
        /* a mini-batch of nb < rows in a buffer sized for rows, as train.c */
        for (int nb = rows; nb >= 37; nb -= 33) {
            rng_t zr = rng_stream(77), zr2 = rng_stream(77);
            double L = mmd_loss_grad(&c, X, nb, b, &zr, 1.0f, buf, buf + (size_t)nb * b);
            assert_true(isfinite(L));
            for (int i = 0; i < nb * b; i++) assert_true(buf[(size_t)nb * b + i] == (float)rng_normal(&zr2));
            assert_true(zr.ctr == zr2.ctr && zr.key == zr2.key);
            canaries_ok(buf, len);
            /* mmd_loss_grad_z on the same Z gives the same bits */
            float d1[70 * 3];
            memcpy(d1, buf, sizeof(float) * nb * b);
            double L2 = mmd_loss_grad_z(&c, X, nb, b, buf + (size_t)nb * b, 1.0f, buf);
            assert_true(L2 == L);
            assert_memory_equal(d1, buf, sizeof(float) * nb * b);
        }
        /* n < 2: zero loss and gradient, Z still drawn */
        rng_t zr = rng_stream(5);
        buf[0] = buf[1] = buf[2] = 7.0f;
        assert_true(mmd_loss_grad(&c, X, 1, b, &zr, 1.0f, buf, buf + b) == 0.0);
        assert_true(buf[0] == 0.0f && buf[1] == 0.0f && buf[2] == 0.0f);
        assert_true(zr.ctr == rng_stream(5).ctr + 2 * (uint64_t)b);
        /* non-finite codes: NaN loss and gradient */
        X[4] = NAN;
        zr = rng_stream(5);
        assert_true(isnan(mmd_loss_grad(&c, X, 10, b, &zr, 1.0f, buf, buf + 10 * b)));
        for (int i = 0; i < 10 * b; i++) assert_true(isnan(buf[i]));
        X[4] = INFINITY;
        assert_true(isnan(mmd_loss_grad(&c, X, 10, b, &zr, 1.0f, buf, buf + 10 * b)));
        canaries_ok(buf, len);
        free(buf);
    }
}

/* ---- (a) gradient w.r.t. the codes ---------------------------------------- */

typedef struct {
    int kc, n, b;
    double mean0, std;
} gcase_t;

static void grad_codes_case(const gcase_t *g, double *worst_g, double *worst_l)
{
    mmd_cfg_t c;
    kc_make(&c, g->kc);
    int n = g->n, b = g->b;
    size_t nb = (size_t)n * b, len;
    float *X = malloc(nb * sizeof(float)), *buf = scratch_new(&c, n, b, &len);
    double *Xd = calloc(nb, sizeof(double)), *Zd = calloc(nb, sizeof(double)), *fd = calloc(nb, sizeof(double));
    assert_true(X && Xd && Zd && fd);
    draw(X, n, b, 1000 + 17 * n + b, g->mean0, g->std);
    const float scale = 0.7f;
    rng_t zr = rng_stream(4242 + n);
    double L = mmd_loss_grad(&c, X, n, b, &zr, scale, buf, buf + nb);
    /* the same Z from a re-created stream */
    rng_t zr2 = rng_stream(4242 + n);
    for (size_t i = 0; i < nb; i++) Zd[i] = (float)rng_normal(&zr2);
    to_double(X, Xd, nb);

    double terms, Lref = ref_mmd2(&c, Xd, n, Zd, n, b, &terms);
    double el = fabs(L - Lref) / terms;
    *worst_l = fmax(*worst_l, el);
    if (!(el <= LOSS_RTOL)) print_error("%s n %d b %d: loss %.12g vs %.12g\n", KC_NAMES[g->kc], n, b, L, Lref);
    assert_true(el <= LOSS_RTOL);

    for (size_t i = 0; i < nb; i++) {
        double x0 = Xd[i];
        Xd[i] = x0 + FD_H;
        double Lp = ref_mmd2(&c, Xd, n, Zd, n, b, NULL);
        Xd[i] = x0 - FD_H;
        double Lm = ref_mmd2(&c, Xd, n, Zd, n, b, NULL);
        Xd[i] = x0;
        fd[i] = scale * (Lp - Lm) / (2.0 * FD_H);
    }
    double mx = 0;
    for (size_t i = 0; i < nb; i++) mx = fmax(mx, fabs(fd[i]));
    assert_true(mx > 1e-5); /* a real gradient */
    float *zero = calloc(nb, sizeof(float));
    assert_true(count_bad(zero, fd, nb, GC_RTOL, GC_FLOOR, NULL, NULL) >= nb / 3);
    free(zero);
    char what[96];
    snprintf(what, sizeof what, "%s n %d b %d", KC_NAMES[g->kc], n, b);
    size_t bad = count_bad(buf, fd, nb, GC_RTOL, GC_FLOOR, worst_g, what);
    assert_int_equal(bad, 0);
    canaries_ok(buf, len);
    free(X);
    free(buf);
    free(Xd);
    free(Zd);
    free(fd);
}

static void test_grad_codes(void **state)
{
    (void)state;
    static const gcase_t cases[] = {
        {KC_RBF5, 7, 2, 0.5, 1.2},  {KC_RBF5, 33, 2, 0.3, 1.0},  {KC_RBF5, 40, 1, 0.0, 1.5},
        {KC_RBF1, 20, 2, 1.0, 0.8}, {KC_RBF8, 31, 3, 0.2, 2.0},  {KC_RBF_LIST, 25, 2, 0.4, 0.9},
        {KC_RBF5, 19, 5, 0.3, 0.9}, {KC_IMQ3, 7, 2, 0.5, 1.2},   {KC_IMQ3, 33, 2, 0.3, 1.0},
        {KC_IMQ1, 40, 1, 0.0, 1.5}, {KC_IMQ3, 31, 3, 0.2, 2.0},  {KC_IMQ1, 19, 5, 0.3, 0.9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double wg = 0, wl = 0;
        grad_codes_case(&cases[i], &wg, &wl);
        printf("[ mmd grad ] %-24s n %3d b %d: worst rel err gradient %.2e, loss %.2e\n",
               KC_NAMES[cases[i].kc], cases[i].n, cases[i].b, wg, wl);
    }
}

/* ---- fast kernel vs the reference loops ----------------------------------- */

static void test_fast_vs_ref(void **state)
{
    (void)state;
    static const int bs[] = {1, 2, 3, 4, 5, 8, 64, 100, 256};
    static const int ns[] = {2, 3, 17, 31, 32, 33, 65, 100};
    static const int kcs[] = {KC_RBF5, KC_RBF16, KC_RBF_LIST, KC_IMQ3};
    double worst_g = 0, worst_l = 0;
    for (size_t bi = 0; bi < sizeof bs / sizeof bs[0]; bi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t ki = 0; ki < sizeof kcs / sizeof kcs[0]; ki++) {
                int b = bs[bi], n = ns[ni];
                if (b > 8 && n > 33 && ki > 1) continue; /* keep the run short */
                mmd_cfg_t c;
                kc_make(&c, kcs[ki]);
                if (b > 8) /* wider codes: distances grow with b, widen the kernel */
                    for (int i = 0; i < c.nscales; i++) c.scales[i] *= b / 2.0;
                size_t nb = (size_t)n * b, len;
                float *X = malloc(nb * sizeof(float)), *dref = malloc(nb * sizeof(float));
                double *gref = malloc(nb * sizeof(double)), *Xd = malloc(nb * sizeof(double)), *Zd = malloc(nb * sizeof(double));
                float *buf = scratch_new(&c, n, b, &len);
                assert_true(X && dref && gref && Xd && Zd);
                draw(X, n, b, 7 * n + b, 0.3, 1.1);
                rng_t zr = rng_stream(99 + b);
                double L = mmd_loss_grad(&c, X, n, b, &zr, 1.0f, buf, buf + nb);
                double Lr = mmd_loss_grad_ref(&c, X, n, b, buf + nb, 1.0f, dref);
                to_double(X, Xd, nb);
                to_double(buf + nb, Zd, nb);
                double terms, Lt = ref_mmd2(&c, Xd, n, Zd, n, b, &terms);
                double el = fabs(L - Lt) / terms, elr = fabs(Lr - Lt) / terms;
                worst_l = fmax(worst_l, el);
                if (!(el <= LOSS_RTOL) || !(elr <= 1e-12))
                    print_error("%s n %d b %d: loss %.12g ref %.12g test %.12g\n", KC_NAMES[kcs[ki]], n, b, L, Lr, Lt);
                assert_true(el <= LOSS_RTOL);
                assert_true(elr <= 1e-12);
                to_double(dref, gref, nb);
                char what[96];
                snprintf(what, sizeof what, "%s n %d b %d", KC_NAMES[kcs[ki]], n, b);
                assert_int_equal(count_bad(buf, gref, nb, GC_RTOL, GC_FLOOR, &worst_g, what), 0);
                canaries_ok(buf, len);
                free(X);
                free(dref);
                free(gref);
                free(Xd);
                free(Zd);
                free(buf);
            }
    printf("[ mmd fast ] vs reference loops: worst rel err gradient %.2e, loss %.2e\n", worst_g, worst_l);

    /* mmd2 (metrics), n != m, against the independent reference */
    for (int which = 0; which < KC_COUNT; which++) {
        mmd_cfg_t c;
        kc_make(&c, which);
        const int n = 40, m = 57, b = 3;
        float X[40 * 3], Y[57 * 3];
        double Xd[40 * 3], Yd[57 * 3];
        draw(X, n, b, 3, 0.5, 1.0);
        draw(Y, m, b, 4, 0.0, 1.0);
        to_double(X, Xd, (size_t)n * b);
        to_double(Y, Yd, (size_t)m * b);
        double terms, t = ref_mmd2(&c, Xd, n, Yd, m, b, &terms);
        assert_true(fabs(mmd2(&c, X, n, Y, m, b) - t) <= 1e-12 * terms);
        assert_true(isnan(mmd2(&c, X, 1, Y, m, b)));
    }
}

/* ---- (b) through the encoder ---------------------------------------------- */

/* The loss on the double-precision mirror (dmirror.h):
 * s * MSE + lambda * MMD^2(codes, Z). */
typedef struct {
    const double *Z; /* [n][bottleneck] */
    const mmd_cfg_t *c;
    double s, lam;
} enc_loss_t;

static double enc_loss(const dmirror_t *d, const double *out, const double *codes)
{
    const enc_loss_t *e = d->ctx;
    double L = e->s * dm_sq_error(d, out) / (double)((size_t)d->n * d->m->arch.in);
    if (e->lam != 0) L += e->lam * ref_mmd2(e->c, codes, d->n, e->Z, d->n, d->m->arch.bottleneck, NULL);
    return L;
}

static void grad_encoder_case(int kc, float lam, uint64_t key)
{
    model_arch_t a = {.in = 2, .hidden = 6, .layers = 1, .bottleneck = 2};
    model_t *m = model_create(&a);
    assert_non_null(m);
    model_init(m, key);
    const int n = 24, in = a.in, bn = a.bottleneck;
    size_t np = m->nparams, len;
    mmd_cfg_t c;
    kc_make(&c, kc);
    c.lambda = lam;
    float *X = malloc((size_t)n * in * sizeof(float)), *buf = scratch_new(&c, n, bn, &len);
    double *Xd = malloc((size_t)n * in * sizeof(double)), *Zd = malloc((size_t)n * bn * sizeof(double));
    assert_true(X && Xd && Zd);
    draw(X, n, in, key + 1, 0.5, 1.0);
    to_double(X, Xd, (size_t)n * in);

    /* train.c step_grad, with the stream drawn once */
    model_ws_t *ws = model_ws_create(m, n, NULL);
    assert_non_null(ws);
    model_forward(m, ws, X, n);
    const float *codes = ws->act[m->code_layer + 1];
    rng_t zr = rng_stream(rng_derive_str(key, "mmd"));
    mmd_loss_grad(&c, codes, n, bn, &zr, lam, buf, buf + (size_t)n * bn);
    to_double(buf + (size_t)n * bn, Zd, (size_t)n * bn);
    float *g_plain = malloc(np * sizeof(float));
    assert_non_null(g_plain);
    model_backward(m, ws, X, n, 1.0f - lam, NULL); /* the MSE part alone */
    memcpy(g_plain, m->grads, np * sizeof(float));
    model_backward(m, ws, X, n, 1.0f - lam, buf);

    enc_loss_t el = {.Z = Zd, .c = &c, .s = 1.0 - (double)lam, .lam = lam};
    dmirror_t d;
    dm_init(&d, m, n, Xd, enc_loss, &el);
    double *p = malloc(np * sizeof(double)), *fd = malloc(np * sizeof(double));
    unsigned char *skip = calloc(np, 1);
    assert_true(p && fd && skip);
    for (size_t i = 0; i < np; i++) p[i] = m->params[i];
    dm_forward(&d, p, d.pat0);
    /* the float forward's codes and ReLU pattern agree with the double one */
    assert_int_equal(dm_pattern_mismatches(&d, ws), 0);
    for (size_t i = 0; i < (size_t)n * bn; i++) assert_true(fabs(codes[i] - d.codes[i]) <= 1e-5 * (1 + fabs(d.codes[i])));
    size_t nskip = dm_central_diff(&d, p, np, FD_H_ENC, fd, skip);
    for (size_t i = 0; i < np; i++)
        if (skip[i]) fd[i] = m->grads[i]; /* not checked */
    if (nskip > np / 100 + 2) print_error("%zu of %zu parameters skipped at ReLU kinks\n", nskip, np);
    assert_true(nskip <= np / 100 + 2);
    double fdmax = 0;
    for (size_t i = 0; i < np; i++)
        if (!skip[i]) fdmax = fmax(fdmax, fabs(fd[i]));
    assert_true(fdmax > 1e-4);
    for (int l = 0; l <= m->code_layer; l++) {
        double s2 = 0;
        for (size_t i = 0; i < (size_t)m->dims[l + 1] * m->dims[l]; i++) s2 += fd[m->w_off[l] + i] * fd[m->w_off[l] + i];
        if (!(sqrt(s2) > 1e-6)) print_error("encoder layer %d has a zero gradient: pick another key\n", l);
        assert_true(sqrt(s2) > 1e-6);
    }
    float *zero = calloc(np, sizeof(float));
    assert_non_null(zero);
    assert_true(count_bad(zero, fd, np, GC_RTOL, GC_FLOOR, NULL, NULL) >= np / 3);
    /* without dcode the encoder's gradient must fail: the MMD term matters */
    size_t nenc = m->w_off[m->code_layer + 1];
    size_t bad_plain = count_bad(g_plain, fd, nenc, GC_RTOL, GC_FLOOR, NULL, NULL);
    assert_true(bad_plain >= nenc / 4);
    double worst = 0;
    char what[96];
    snprintf(what, sizeof what, "encoder %s lambda %.2f", KC_NAMES[kc], (double)lam);
    size_t bad = count_bad(m->grads, fd, np, GC_RTOL, GC_FLOOR, &worst, what);
    printf("[ mmd enc  ] %-24s lambda %.2f: %zu params, %zu skipped at kinks, max|fd| %.3g, "
           "worst rel err %.2e; without dcode %zu of %zu encoder params fail\n",
           KC_NAMES[kc], (double)lam, np, nskip, fdmax, worst, bad_plain, nenc);
    assert_int_equal(bad, 0);
    canaries_ok(buf, len);

    free(zero);
    free(skip);
    free(fd);
    free(p);
    dm_free(&d);
    free(g_plain);
    model_ws_free(ws);
    free(X);
    free(Xd);
    free(Zd);
    free(buf);
    model_free(m);
}

static void test_grad_encoder(void **state)
{
    (void)state;
    grad_encoder_case(KC_RBF5, 0.5f, 11);
    grad_encoder_case(KC_RBF5, 0.9f, 12);
    grad_encoder_case(KC_IMQ3, 0.5f, 13);
    grad_encoder_case(KC_IMQ3, 0.9f, 14);
}

/* ---- (c) the estimator is unbiased ---------------------------------------- */

static void test_unbiased(void **state)
{
    (void)state;
    const int S = 200, n = 64, b = 2;
    static const int kcs[] = {KC_RBF5, KC_IMQ3};
    for (size_t ki = 0; ki < 2; ki++) {
        mmd_cfg_t c;
        kc_make(&c, kcs[ki]);
        size_t len, nb = (size_t)n * b;
        float *buf = scratch_new(&c, n, b, &len);
        float X[64 * 2];
        double Xd[64 * 2], Zd[64 * 2];
        double s0 = 0, q0 = 0, sb = 0, s1 = 0, q1 = 0, min1 = INFINITY;
        for (int t = 0; t < S; t++) {
            rng_t zr = rng_stream(rng_derive(500, t));
            draw(X, n, b, rng_derive(600, t), 0.0, 1.0);
            for (size_t i = 1; i < nb; i += 2) X[i] -= 0.1f; /* draw() puts 0.1 on dim 1 */
            double L = mmd_loss_grad(&c, X, n, b, &zr, 1.0f, buf, buf + nb);
            s0 += L;
            q0 += L * L;
            to_double(X, Xd, nb);
            to_double(buf + nb, Zd, nb);
            sb += ref_mmd2_biased(&c, Xd, Zd, n, b);
            /* shifted: N((1, 0), I) */
            for (size_t i = 0; i < nb; i += 2) X[i] += 1.0f;
            zr = rng_stream(rng_derive(500, t));
            L = mmd_loss_grad(&c, X, n, b, &zr, 1.0f, buf, buf + nb);
            s1 += L;
            q1 += L * L;
            min1 = fmin(min1, L);
        }
        double m0 = s0 / S, se0 = sqrt((q0 / S - m0 * m0) / (S - 1));
        double m1 = s1 / S, se1 = sqrt((q1 / S - m1 * m1) / (S - 1)), mb = sb / S;
        printf("[ mmd bias ] %-14s same distribution: mean %.2e (se %.1e); biased estimator %.2e; "
               "shifted by 1: mean %.3e (se %.1e), min %.3e\n",
               KC_NAMES[kcs[ki]], m0, se0, mb, m1, se1, min1);
        assert_true(fabs(m0) <= 4.0 * se0);
        assert_true(mb >= 10.0 * se0);
        assert_true(min1 > 0.0);
        assert_true(m1 >= 10.0 * se1);
        canaries_ok(buf, len);
        free(buf);
    }
}

/* ---- (d) PyTorch parity ----------------------------------------------------- */

static const char *const FIXTURES[] = {
    "rbf_h1_k5_n50", "rbf_h2_k3_n200", "rbf_h0.5_k4_n128", "rbf_h1_k5_n60_b5",
    "imq_C2_k3_n100", "imq_C1_k1_n150", "imq_C4_k5_n77",
};

static hid_t open_fixture(const char *name)
{
    char path[4096];
    const char *src = getenv("AESWEEP_SRC");
    if (src && *src) snprintf(path, sizeof path, "%s/tests/fixtures/mmd_%s.h5", src, name);
    else snprintf(path, sizeof path, "fixtures/mmd_%s.h5", name);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) print_error("cannot open fixture %s\n", path);
    assert_true(f >= 0);
    return f;
}

static void read_attr(hid_t f, const char *name, hid_t mtype, void *v)
{
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, mtype, v) >= 0);
    H5Aclose(a);
}

static void read_ds(hid_t f, const char *name, hid_t mtype, size_t nelem, void *buf)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) print_error("missing dataset %s\n", name);
    assert_true(d >= 0);
    hid_t s = H5Dget_space(d);
    assert_true((size_t)H5Sget_simple_extent_npoints(s) == nelem);
    assert_true(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(s);
    H5Dclose(d);
}

static void test_torch_parity(void **state)
{
    (void)state;
    for (size_t fi = 0; fi < sizeof FIXTURES / sizeof FIXTURES[0]; fi++) {
        hid_t f = open_fixture(FIXTURES[fi]);
        long kernel, k, n, b;
        double s0, Lt;
        read_attr(f, "kernel", H5T_NATIVE_LONG, &kernel);
        read_attr(f, "nscales", H5T_NATIVE_LONG, &k);
        read_attr(f, "n", H5T_NATIVE_LONG, &n);
        read_attr(f, "b", H5T_NATIVE_LONG, &b);
        read_attr(f, "scale0", H5T_NATIVE_DOUBLE, &s0);
        read_attr(f, "loss", H5T_NATIVE_DOUBLE, &Lt);
        assert_true(k >= 1 && k <= MMD_MAX_SCALES && n >= 2 && b >= 1);
        /* the kernel as a spec builds it (task.c fill_mmd_cfg) */
        mmd_cfg_t c;
        if (kernel == MMD_RBF) mmd_cfg_rbf(&c, 1.0f, s0, (int)k);
        else cfg_imq_halving(&c, 1.0f, s0, (int)k);
        double sc[MMD_MAX_SCALES];
        read_ds(f, "scales", H5T_NATIVE_DOUBLE, (size_t)k, sc);
        for (int i = 0; i < k; i++) assert_true(c.scales[i] == sc[i]);

        size_t nb = (size_t)n * b, len;
        float *X = malloc(nb * sizeof(float)), *dref = malloc(nb * sizeof(float));
        double *gt = malloc(nb * sizeof(double));
        float *buf = scratch_new(&c, (int)n, (int)b, &len);
        assert_true(X && gt && dref);
        read_ds(f, "X", H5T_NATIVE_FLOAT, nb, X);
        read_ds(f, "Z", H5T_NATIVE_FLOAT, nb, buf + nb);
        read_ds(f, "grad", H5T_NATIVE_DOUBLE, nb, gt);
        H5Fclose(f);

        double L = mmd_loss_grad_z(&c, X, (int)n, (int)b, buf + nb, 1.0f, buf);
        double Lr = mmd_loss_grad_ref(&c, X, (int)n, (int)b, buf + nb, 1.0f, dref);
        double Lm = mmd2(&c, X, (size_t)n, buf + nb, (size_t)n, (int)b);
        double gn = 0, en = 0, gm = 0, em = 0, ern = 0;
        for (size_t i = 0; i < nb; i++) {
            gn += gt[i] * gt[i];
            en += (buf[i] - gt[i]) * (buf[i] - gt[i]);
            ern += (dref[i] - gt[i]) * (dref[i] - gt[i]);
            gm = fmax(gm, fabs(gt[i]));
            em = fmax(em, fabs(buf[i] - gt[i]));
        }
        double el = fabs(L - Lt) / fabs(Lt), eg = sqrt(en / gn), egm = em / gm;
        printf("[ mmd torch] %-18s n %3ld b %ld MMD^2 %+.6f: rel err loss %.2e, gradient %.2e "
               "(2-norm) %.2e (max); reference loops %.1e %.1e\n",
               FIXTURES[fi], n, b, Lt, el, eg, egm, fabs(Lr - Lt) / fabs(Lt), sqrt(ern / gn));
        assert_true(el <= PARITY_RTOL);
        assert_true(eg <= PARITY_RTOL);
        assert_true(egm <= PARITY_RTOL);
        assert_true(fabs(Lr - Lt) <= 1e-9 * fabs(Lt));
        assert_true(sqrt(ern / gn) <= 1e-6);
        assert_true(fabs(Lm - Lt) <= 1e-9 * fabs(Lt));
        canaries_ok(buf, len);
        free(X);
        free(dref);
        free(gt);
        free(buf);
    }
}

/* ---- speed (informational) ------------------------------------------------ */

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_speed(void **state)
{
    (void)state;
    static const int ns[] = {1000, 4000};
    for (int ki = 0; ki < 2; ki++)
        for (int q = 0; q < 2; q++) {
            mmd_cfg_t c;
            kc_make(&c, ki ? KC_IMQ3 : KC_RBF5);
            int n = ns[q], b = 2;
            size_t len;
            float *X = malloc((size_t)n * b * sizeof(float)), *buf = scratch_new(&c, n, b, &len);
            assert_non_null(X);
            draw(X, n, b, 1, 0.1, 1.2);
            rng_t zr = rng_stream(2);
            double best = INFINITY;
            for (int r = 0; r < 3; r++) {
                double t0 = cpu_now();
                mmd_loss_grad(&c, X, n, b, &zr, 1.0f, buf, buf + (size_t)n * b);
                best = fmin(best, cpu_now() - t0);
            }
            printf("[ mmd speed] %-14s n %5d b 2: %.4f s per call (%.2f ns per pair, 2n^2 pairs)\n",
                   KC_NAMES[ki ? KC_IMQ3 : KC_RBF5], n, best, best * 1e9 / (2.0 * n * n));
            free(X);
            free(buf);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream),       cmocka_unit_test(test_grad_codes),
        cmocka_unit_test(test_fast_vs_ref),  cmocka_unit_test(test_grad_encoder),
        cmocka_unit_test(test_unbiased),     cmocka_unit_test(test_torch_parity),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
