/* test_gradcheck.c - model_backward against central finite differences.
 *
 * For tiny networks (in 2 and 64, layers 0 and 2, hidden 3..5, bottleneck
 * 1..2, N 5..7 rows of N(0,1) data from rng streams; and, for issue 17, a
 * tapered encoder below the input, residual networks and the tanh and ELU
 * activations) we check the gradient of EVERY parameter of
 *
 *     L(theta) = s * MSE(X_hat, X) + sum_{i,j} C[i][j] * code[i][j]
 *
 * where model_backward(m, ws, X, n, s, C) is the analytic side (dcode = C is
 * d L / d code, added as is).  Cases: (s=1, C=NULL), (s=0.7, random C), and
 * (s=0, random C): a pure code gradient, for which every decoder gradient
 * must be exactly zero.
 *
 * The finite differences use a double-precision forward pass (dmirror.h,
 * shared with test_mmd.c: a mirror of the architecture in model.h) on the
 * float parameters promoted to double, perturbing one parameter by +-h, h = 1e-3, in double.  Within a
 * fixed ReLU pattern the network output is affine in any single parameter,
 * so L is exactly quadratic in it and the central difference is exact up to
 * double rounding (~1e-13): all the observed error is the float32 rounding
 * of the analytic gradient.  ReLU kinks: for each perturbation we record the
 * sign pattern of every pre-activation followed by a ReLU and skip the
 * element if either +-h changes it; we assert that at most
 * MAX_SKIP_FRAC * nparams + 2 elements were skipped.  We also assert that the
 * float forward's ReLU pattern agrees with the double one at the base point.
 * test_kink_skip plants a pre-activation 4e-4 from 0 and checks it is caught.
 *
 * Tolerance per element:  |g - fd| <= GC_RTOL * max(|fd|, GC_FLOOR * max|fd|)
 * with GC_RTOL = 1e-4 and GC_FLOOR = 1e-2 (relative error with a floor at 1%
 * of the largest gradient; float32 rounding gives ~1e-6 here).
 *
 * Guards against a vacuous pass: max|fd| must exceed 1e-3, every layer's
 * weight gradient must be non-zero (the chosen keys leave no layer dead), and
 * the same comparison applied to an all-zero gradient must reject every
 * element with |fd| >= GC_FLOOR * max|fd|, of which there must be at least a
 * third of the checked elements (encoder ones in the code-only case); the
 * keys are chosen so that few ReLU units are dead on the N rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "dmirror.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aesweep/model.h"
#include "aesweep/rng.h"

#define GC_H 1e-3
#define GC_RTOL 1e-4
#define GC_FLOOR 1e-2
#define MAX_SKIP_FRAC 0.01

typedef struct {
    model_arch_t a;
    int n;
    uint64_t key;
} gc_case_t;

static const gc_case_t CASES[] = {
    {{.in = 2, .hidden = 4, .layers = 0, .bottleneck = 1}, 5, 225},
    {{.in = 2, .hidden = 5, .layers = 2, .bottleneck = 2}, 7, 593},
    {{.in = 64, .hidden = 3, .layers = 0, .bottleneck = 2}, 6, 605},
    {{.in = 64, .hidden = 5, .layers = 2, .bottleneck = 1}, 5, 609},
    /* general architectures (issue 17): a tapered encoder with widths below
     * the input, residual blocks, each activation */
    {{.in = 12, .nwidths = 2, .widths = {8, 5}, .layers = 0, .bottleneck = 2}, 6, 713},
    {{.in = 6, .hidden = 5, .layers = 2, .bottleneck = 2, .kind = MODEL_RESNET}, 6, 721},
    {{.in = 10, .nwidths = 2, .widths = {7, 4}, .layers = 1, .bottleneck = 2, .act = MODEL_TANH}, 6, 703},
    {{.in = 10, .nwidths = 2, .widths = {7, 4}, .layers = 1, .bottleneck = 2, .act = MODEL_ELU}, 6, 704},
    {{.in = 9, .nwidths = 2, .widths = {6, 6}, .layers = 1, .bottleneck = 2, .kind = MODEL_RESNET,
      .act = MODEL_TANH}, 5, 705},
    {{.in = 9, .nwidths = 3, .widths = {7, 5, 5}, .layers = 0, .bottleneck = 3, .kind = MODEL_RESNET,
      .act = MODEL_ELU}, 7, 706},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

/* ---- the loss on the double-precision mirror (dmirror.h) ----------------- */

typedef struct {
    const double *C; /* [n][bottleneck] or NULL */
    double s;        /* mse scale */
} gc_loss_t;

/* L = s * MSE + sum C * codes */
static double gc_loss(const dmirror_t *d, const double *out, const double *codes)
{
    const gc_loss_t *g = d->ctx;
    double extra = 0.0;
    if (g->C)
        for (size_t i = 0; i < (size_t)d->n * d->m->arch.bottleneck; i++) extra += g->C[i] * codes[i];
    return g->s * dm_sq_error(d, out) / (double)((size_t)d->n * d->m->arch.in) + extra;
}

/* ---- comparison ----------------------------------------------------------- */

/* Number of checked (non-skipped) elements where g disagrees with fd. */
static size_t count_bad(const float *g, const double *fd, const unsigned char *skip, size_t np,
                        double fdmax, double *worst, int verbose)
{
    size_t bad = 0;
    double floor_ = GC_FLOOR * fdmax;
    for (size_t i = 0; i < np; i++) {
        if (skip[i]) continue;
        double err = fabs((double)g[i] - fd[i]) / fmax(fabs(fd[i]), floor_);
        if (worst && err > *worst) *worst = err;
        if (!(err <= GC_RTOL)) {
            if (verbose && bad < 10)
                print_error("param %zu: analytic %.9g, finite difference %.9g (rel %.3g)\n", i,
                            (double)g[i], fd[i], err);
            bad++;
        }
    }
    return bad;
}

/* ---- the check ------------------------------------------------------------ */

enum { MODE_PLAIN, MODE_DCODE, MODE_CODE_ONLY };

/* kink != 0: move b_0[0] so that the first pre-activation of row 0 is
 * KINK_MARGIN < h, so the +-h perturbations of b_0[0] (and of W_0[0][q] with
 * |x_0q| > KINK_MARGIN/h) cross the kink: the skip logic must catch them. */
#define KINK_MARGIN 4e-4

static void gradcheck(const gc_case_t *c, int mode, int kink)
{
    model_t *m = model_create(&c->a);
    assert_non_null(m);
    model_init(m, c->key);
    int n = c->n, in = c->a.in, bn = c->a.bottleneck;
    size_t np = m->nparams;

    rng_t rx = rng_stream(rng_derive_str(c->key, "gradcheck-X"));
    rng_t rc = rng_stream(rng_derive_str(c->key, "gradcheck-C"));
    float *X = malloc((size_t)n * in * sizeof(float));
    float *C = malloc((size_t)n * bn * sizeof(float));
    double *Xd = malloc((size_t)n * in * sizeof(double));
    double *Cd = malloc((size_t)n * bn * sizeof(double));
    assert_true(X && C && Xd && Cd);
    for (int i = 0; i < n * in; i++) Xd[i] = X[i] = (float)rng_normal(&rx);
    for (int i = 0; i < n * bn; i++) Cd[i] = C[i] = (float)(0.5 * rng_normal(&rc));
    if (kink) {
        float *W0 = m->params + m->w_off[0], *b0 = m->params + m->b_off[0];
        double z = 0;
        for (int q = 0; q < in; q++) z += (double)W0[q] * X[q];
        b0[0] = (float)(KINK_MARGIN - z);
    }
    float s = mode == MODE_PLAIN ? 1.0f : mode == MODE_DCODE ? 0.7f : 0.0f;
    const float *dcode = mode == MODE_PLAIN ? NULL : C;

    model_ws_t *ws = model_ws_create(m, n, NULL);
    assert_non_null(ws);
    model_forward(m, ws, X, n);
    model_backward(m, ws, X, n, s, dcode);

    /* Double mirror. */
    gc_loss_t gl = {.C = dcode ? Cd : NULL, .s = s};
    dmirror_t d;
    dm_init(&d, m, n, Xd, gc_loss, &gl);
    double *p = malloc(np * sizeof(double)), *fd = malloc(np * sizeof(double));
    unsigned char *skip = calloc(np, 1);
    assert_true(p && fd && skip);
    for (size_t i = 0; i < np; i++) p[i] = m->params[i];
    double L0 = dm_forward(&d, p, d.pat0);

    /* The float forward agrees with the double one on the ReLU pattern and,
     * closely, on the loss. */
    assert_int_equal(dm_pattern_mismatches(&d, ws), 0);
    if (mode == MODE_PLAIN) {
        double lf = model_mse(m, ws, X, n);
        assert_true(fabs(lf - L0) <= 1e-5 * fabs(L0));
    }

    size_t nskip = dm_central_diff(&d, p, np, GC_H, fd, skip);

    double fdmax = 0;
    for (size_t i = 0; i < np; i++)
        if (!skip[i]) fdmax = fmax(fdmax, fabs(fd[i]));
    double worst = 0;
    size_t bad = count_bad(m->grads, fd, skip, np, fdmax, &worst, 1);
    char desc[128];
    model_arch_describe(&c->a, desc, sizeof desc);
    printf("[ gradchk  ] %-22s (%d linear, %d blocks) n %d mode %d: %zu params, %zu skipped at "
           "kinks, max|fd| %.3g, worst rel err %.2e\n",
           desc, m->nlin, m->nskip, n, mode, np, nskip, fdmax, worst);

    /* Guards. */
    if (kink) {
        assert_true(skip[m->b_off[0]]);
        assert_true(nskip <= (size_t)in + 1); /* b_0[0] and W_0[0][*] only */
    } else {
        assert_true(nskip <= (size_t)(MAX_SKIP_FRAC * (double)np) + 2);
    }
    assert_true(fdmax > 1e-3);
    for (int l = 0; l < m->nlin; l++) {
        if (mode == MODE_CODE_ONLY && l > m->code_layer) continue;
        size_t len = (size_t)m->dims[l + 1] * m->dims[l];
        double s2 = 0;
        for (size_t i = 0; i < len; i++) s2 += fd[m->w_off[l] + i] * fd[m->w_off[l] + i];
        if (!(sqrt(s2) > 1e-6)) print_error("layer %d has a zero gradient: pick another key\n", l);
        assert_true(sqrt(s2) > 1e-6);
    }
    {
        float *zero = calloc(np, sizeof(float));
        assert_non_null(zero);
        /* Every element with |fd| >= the floor must be rejected, and there
         * must be a fair number of them (dead ReLU units make many exact 0s). */
        size_t nsig = 0, nrel = 0;
        size_t lim = mode == MODE_CODE_ONLY ? m->w_off[m->code_layer + 1] : np; /* L's support */
        for (size_t i = 0; i < lim; i++) {
            nrel += !skip[i];
            nsig += !skip[i] && fabs(fd[i]) >= GC_FLOOR * fdmax;
        }
        printf("[ gradchk  ]   %zu of %zu checked elements have |fd| >= %g max|fd|\n", nsig,
               nrel, GC_FLOOR);
        assert_true(nsig >= nrel / 3);
        assert_true(count_bad(zero, fd, skip, np, fdmax, NULL, 0) >= nsig);
        free(zero);
    }
    /* The check proper. */
    assert_int_equal(bad, 0);

    if (mode == MODE_CODE_ONLY) {
        /* L does not depend on the decoder: its gradients are exactly 0. */
        for (int l = m->code_layer + 1; l < m->nlin; l++) {
            size_t len = (size_t)m->dims[l + 1] * (m->dims[l] + 1);
            for (size_t i = 0; i < len; i++) assert_true(m->grads[m->w_off[l] + i] == 0.0f);
        }
    }

    free(skip);
    free(fd);
    free(p);
    dm_free(&d);
    model_ws_free(ws);
    free(X);
    free(C);
    free(Xd);
    free(Cd);
    model_free(m);
}

static void test_plain(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) gradcheck(&CASES[i], MODE_PLAIN, 0);
}

static void test_dcode(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) gradcheck(&CASES[i], MODE_DCODE, 0);
}

static void test_code_only(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) gradcheck(&CASES[i], MODE_CODE_ONLY, 0);
}

/* The kink detection fires when a pre-activation sits within h of 0. */
static void test_kink_skip(void **state)
{
    (void)state;
    gradcheck(&CASES[0], MODE_PLAIN, 1);
    gradcheck(&CASES[1], MODE_DCODE, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_dcode),
        cmocka_unit_test(test_code_only),
        cmocka_unit_test(test_kink_skip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
