/* test_lanes.c - the fused rows-in-lanes training step (kernel_lanes.c)
 * against the plain-C reference, and its reproducibility.
 *
 *   shapes:  widths 1..130 on every layer role (JB/KB blocks of every size,
 *            the 1-wide code layer, 2-wide outputs), n from 1 to several
 *            tiles, with n % 16 = 0 and != 0 (padding lanes);
 *   values:  model_mse_grad(scale 0.37) on a lanes workspace vs the
 *            reference kernel's forward, MSE and backward: every W_l and b_l within
 *            max|g - ref| <= KTOL * max|ref| (float32 vs double
 *            accumulation, as test_fastpath.c), the MSE within 1e-6
 *            relative; gradients are overwritten (NaN beforehand);
 *   bits:    the same gradients and MSE, bit for bit, with the tile lowered
 *            to 16, 32 and 48 rows, with X at other alignments, and with
 *            NaN in the rows after n (they must not be read);
 *   training: 20 full-batch Adam steps through model_mse_grad (the fused
 *            step under the default kernel) against the BLAS kernel's
 *            forward/backward: the loss before every step within 1e-4
 *            relative (the PyTorch-parity tolerance) and, on the moons
 *            shape, the final weights within 1e-4;
 *   dead units: skipping the ReLU units a tile leaves at zero gives the
 *            same gradients and weights bit for bit (test_dead_units);
 *   selection: model_mse_grad runs the fused step under the default
 *            kernel in a build where it is preferred (AVX-512, AVX2);
 *            a TILED workspace fills act[] as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aesweep/kernel_lanes.h"
#include "aesweep/model.h"
#include "aesweep/rng.h"

#define KTOL 1e-5
#define MSE_TOL 1e-6
#define TRAIN_TOL 1e-4

typedef struct {
    model_arch_t a;
    int n;
    float sigma;
    uint64_t key;
} lcase_t;

static const lcase_t CASES[] = {
    {{.in = 2, .hidden = 20, .layers = 3, .bottleneck = 1}, 1300, 1.0f, 41}, /* moons M1 */
    {{.in = 2, .hidden = 20, .layers = 3, .bottleneck = 1}, 1, 1.0f, 42},
    {{.in = 2, .hidden = 20, .layers = 3, .bottleneck = 1}, 16, 1.0f, 43},
    {{.in = 2, .hidden = 20, .layers = 3, .bottleneck = 1}, 17, 1.0f, 44},
    {{.in = 2, .hidden = 50, .layers = 4, .bottleneck = 1}, 703, 1.0f, 45},
    {{.in = 64, .hidden = 100, .layers = 2, .bottleneck = 8}, 300, 5.0f, 46}, /* digits */
    {{.in = 64, .hidden = 65, .layers = 1, .bottleneck = 2}, 257, 5.0f, 47},
    {{.in = 3, .hidden = 1, .layers = 0, .bottleneck = 1}, 5, 1.0f, 48},
    {{.in = 1, .hidden = 2, .layers = 1, .bottleneck = 2}, 33, 1.0f, 49},
    {{.in = 17, .hidden = 33, .layers = 1, .bottleneck = 3}, 1029, 1.0f, 50},
    {{.in = 5, .hidden = 130, .layers = 1, .bottleneck = 4}, 64, 1.0f, 51},
    {{.in = 7, .hidden = 9, .layers = 2, .bottleneck = 7}, 2000, 1.0f, 52},
    {{.in = 11, .hidden = 23, .layers = 2, .bottleneck = 6}, 95, 1.0f, 53},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static void one_case(const lcase_t *c)
{
    model_t *m = model_create(&c->a);
    assert_non_null(m);
    model_init(m, c->key);
    const int n = c->n, in = c->a.in;
    float *xb;
    float *X = tu_random_rows(c->key, "lanes-X", (size_t)n * in, c->sigma, 0, 64 * (size_t)in, &xb);
    /* the scratch is allocated with aligned_alloc(64, size): C requires a
     * multiple of the alignment (glibc does not check; ASan does) */
    assert_int_equal(klanes_ws_floats(m, n) % 16, 0);
    model_ws_t *ws = tu_ws(m, n, MODEL_KERNEL_LANES), *wr = tu_ws(m, n, MODEL_KERNEL_REF);
    assert_true(ws && wr);
    float *g = malloc(m->nparams * sizeof(float)), *gref = malloc(m->nparams * sizeof(float));
    assert_true(g && gref);
    const float scale = 0.37f;

    for (size_t i = 0; i < m->nparams; i++) m->grads[i] = NAN; /* must be overwritten */
    double mse = model_mse_grad(m, ws, X, n, scale);
    memcpy(g, m->grads, m->nparams * sizeof(float));
    model_forward(m, wr, X, n);
    double mref = model_mse(m, wr, X, n);
    for (size_t i = 0; i < m->nparams; i++) m->grads[i] = NAN;
    model_backward(m, wr, X, n, scale, NULL);
    memcpy(gref, m->grads, m->nparams * sizeof(float));
    assert_true(max_abs(gref, m->nparams) > 0.0);
    assert_true(mref > 0.0);
    if (!(fabs(mse - mref) <= MSE_TOL * mref)) print_error("mse %.12g ref %.12g\n", mse, mref);
    assert_true(fabs(mse - mref) <= MSE_TOL * mref);
    double worst = 0;
    assert_int_equal(tu_grads_match(m, g, gref, "fused", KTOL, &worst), 0);
    printf("[ lanes    ] %s: in %2d h %3d layers %d b %d n %4d (tile %4d): worst rel grad %.2e, mse %.2e\n",
           klanes_isa(), in, c->a.hidden, c->a.layers, c->a.bottleneck, n, klanes_ws_tile(ws), worst,
           fabs(mse - mref) / mref);

    /* Bit for bit at smaller tiles and other alignments of X. */
    static const int tiles[] = {16, 32, 48};
    for (int t = 0; t < 3; t++) {
        if (tiles[t] > klanes_ws_tile(ws)) continue;
        for (int shift = 0; shift < 16; shift += 5) {
            float *xb2;
            float *X2 = tu_random_rows(c->key, "lanes-X", (size_t)n * in, c->sigma, shift, 64 * (size_t)in, &xb2);
            model_ws_t *w2 = tu_ws(m, n + shift, MODEL_KERNEL_LANES);
            assert_non_null(w2);
            klanes_ws_set_tile(w2, tiles[t]); /* a smaller tile fits the scratch of a larger one */
            assert_int_equal(klanes_ws_tile(w2), tiles[t]);
            for (size_t i = 0; i < m->nparams; i++) m->grads[i] = NAN;
            double mse2 = model_mse_grad(m, w2, X2, n, scale);
            assert_memory_equal(&mse2, &mse, sizeof mse);
            assert_memory_equal(m->grads, g, m->nparams * sizeof(float));
            model_ws_free(w2);
            free(xb2);
        }
    }

    model_ws_free(ws);
    model_ws_free(wr);
    free(g);
    free(gref);
    free(xb);
    model_free(m);
}

static void test_against_reference(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) one_case(&CASES[i]);
}

/* 20 Adam steps: model_mse_grad (the fused step under the default kernel)
 * vs the BLAS kernel. */
static double step_fused(model_t *m, model_ws_t *ws, const float *X, int n)
{
    return model_mse_grad(m, ws, X, n, 1.0f);
}

static void test_training_close(void **state)
{
    (void)state;
    tu_training_close("lanes", step_fused, MODEL_KERNEL_FAST, 700, "lanes-X", TRAIN_TOL);
}

/* FAST runs the fused step (act[] untouched); TILED runs forward/backward
 * (act[] filled) and gives the same gradients within KTOL. */
static void test_selection(void **state)
{
    (void)state;
    model_arch_t a = {.in = 3, .hidden = 6, .layers = 1, .bottleneck = 2};
    model_t *m = model_create(&a);
    assert_non_null(m);
    model_init(m, 19);
    float *xb;
    float *X = tu_random_rows(19, "lanes-X", 30, 1.0f, 0, 0, &xb);
    model_ws_t *ws = model_ws_create(m, 10, NULL), *wt = tu_ws(m, 10, MODEL_KERNEL_TILED);
    assert_true(ws && wt);
    float g[256];
    assert_true(m->nparams <= 256);
    float *out = ws->act[m->nlin];
    for (int i = 0; i < 30; i++) out[i] = -7.0f;
    double l1 = model_mse_grad(m, ws, X, 10, 1.0f);
    memcpy(g, m->grads, m->nparams * sizeof(float));
    /* the fused step (AVX-512/AVX2 builds) leaves act[] alone; elsewhere FAST is
     * the tiled kernel's forward/backward, which fills it */
    for (int i = 0; i < 30; i++) assert_true((out[i] == -7.0f) == (klanes_preferred() != 0));
    assert_string_equal(model_ws_kernel_name(wt), "tiled");
    for (int i = 0; i < 30; i++) wt->act[m->nlin][i] = -7.0f;
    double l2 = model_mse_grad(m, wt, X, 10, 1.0f);
    assert_true(wt->act[m->nlin][0] != -7.0f);
    assert_true(fabs(l1 - l2) <= MSE_TOL * l2);
    assert_int_equal(tu_check("grad", 0, g, m->grads, m->nparams, KTOL, NULL), 0);
    model_ws_free(ws);
    model_ws_free(wt);
    model_free(m);
    free(xb);
}

/* The lane sums (sixteen at a time with AVX-512, by a transposing add tree)
 * equal, bit for bit, the plain pairwise tree they stand for: counts 0-300
 * (whole groups of sixteen and the scalar tail), magnitudes 2^-40..2^40,
 * signed zeros, infinities and NaN, which the tree must carry the same way. */
static void test_lane_sums(void **state)
{
    (void)state;
    const int W = klanes_lane_width();
    rng_t r = rng_stream(rng_derive_str(11, "lane-sums"));
    size_t mism = 0, total = 0;
    for (size_t cnt = 0; cnt <= 300; cnt += cnt < 40 ? 1 : 13) {
        float *p = malloc((cnt * W + 1) * sizeof(float)), *out = malloc((cnt + 1) * sizeof(float));
        assert_true(p && out);
        for (size_t i = 0; i < cnt * W; i++) {
            double u = rng_uniform_d(&r);
            p[i] = (float)ldexp(rng_normal(&r), (int)(80 * u) - 40);
            if (u < 0.01) p[i] = -0.0f;
            else if (u > 0.999) p[i] = u > 0.9995 ? INFINITY : NAN;
        }
        klanes_lane_sums(p, cnt, out);
        for (size_t q = 0; q < cnt; q++, total++) {
            float h[64];
            for (int i = 0; i < W; i++) h[i] = p[q * W + i];
            for (int w = W / 2; w >= 1; w /= 2)
                for (int i = 0; i < w; i++) h[i] = h[i] + h[i + w];
            mism += memcmp(&h[0], &out[q], sizeof(float)) != 0;
        }
        free(p);
        free(out);
    }
    printf("[ lanes    ] lane sums (%d lanes): %zu of %zu differ from the pairwise tree\n", W, mism, total);
    assert_int_equal(mism, 0);
}

/* Skipping dead units (kernel_lanes.c, "Dead units") changes no bit.  Each
 * model is stepped by Adam twice side by side, once with the skip and once
 * without, from scratch filled with NaN (the step must not read what it did
 * not write): after every step the gradients and the MSE are equal bit for
 * bit, and so is the gradient with the skip at a 16-row tile (other dead
 * sets per tile); at the end the parameters are.  The models:
 *   0  2-20x3-1 on N(0,1) rows as initialised: a third of the hidden units
 *      are dead (asserted: more than a tenth of the unit-tiles skipped);
 *   1  the same with unit 3 of the first hidden layer relu(x0 - c) and the
 *      rows sorted by x0, so that it is dead on the first 300 rows and live
 *      after: its partial sums begin in a later tile;
 *   2  7-9x2-7 with the first 9-wide hidden layer dead on every row
 *      (weights 0, biases -50): the layer above sums over no input at all
 *      and its db comes from the separate pass;
 *   3  2-20x3-1 with one NaN in the input (one step): NaN activations count
 *      as live, so the loss is NaN with the skip as without. */

static int cmp_x0(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void dead_case(int which)
{
    const model_arch_t a = which == 2 ? (model_arch_t){.in = 7, .hidden = 9, .layers = 2, .bottleneck = 7} : (model_arch_t){.in = 2, .hidden = 20, .layers = 3, .bottleneck = 1};
    const int n = 1300, in = a.in, steps = which == 3 ? 1 : 12;
    model_t *m1 = model_create(&a), *m0 = model_create(&a);
    assert_true(m1 && m0);
    model_init(m1, 300 + which);
    float *xb;
    float *X = tu_random_rows(300 + which, "dead-X", (size_t)n * in, 1.0f, 0, 0, &xb);
    if (which == 1) {
        qsort(X, (size_t)n, 2 * sizeof(float), cmp_x0); /* rows by x0 */
        float *w = m1->params + m1->w_off[0];
        w[3 * 2] = 1.0f;
        w[3 * 2 + 1] = 0.0f;
        m1->params[m1->b_off[0] + 3] = -X[300 * 2];
    }
    if (which == 3) X[700 * 2 + 1] = NAN;
    if (which == 2) {
        for (int k = 0; k < m1->dims[1] * m1->dims[0]; k++) m1->params[m1->w_off[0] + k] = 0.0f;
        for (int k = 0; k < m1->dims[1]; k++) m1->params[m1->b_off[0] + k] = -50.0f;
    }
    memcpy(m0->params, m1->params, m1->nparams * sizeof(float));
    model_opts_t keep = {.kernel = MODEL_KERNEL_LANES, .keep_dead = 1};
    model_ws_t *w1 = tu_ws(m1, n, MODEL_KERNEL_LANES), *w0 = model_ws_create(m0, n, &keep),
               *w16 = tu_ws(m1, n, MODEL_KERNEL_LANES);
    assert_true(w1 && w0 && w16);
    klanes_ws_set_tile(w16, 16);
    assert_int_equal(klanes_ws_tile(w16), 16);
    float *g1 = malloc(m1->nparams * sizeof(float));
    assert_non_null(g1);
    long units = 0, dead = 0;
    for (int s = 0; s < steps; s++) {
        klanes_ws_poison(w1, m1);
        klanes_ws_poison(w0, m0);
        klanes_ws_poison(w16, m1);
        double l16 = model_mse_grad(m1, w16, X, n, 1.0f);
        memcpy(g1, m1->grads, m1->nparams * sizeof(float));
        double l1 = model_mse_grad(m1, w1, X, n, 1.0f);
        assert_memory_equal(g1, m1->grads, m1->nparams * sizeof(float));
        assert_memory_equal(&l16, &l1, sizeof l1);
        units += w1->units;
        dead += w1->dead;
        double l0 = model_mse_grad(m0, w0, X, n, 1.0f);
        assert_int_equal(w0->dead, 0);
        assert_true(which == 3 ? isnan(l0) : l0 == l0 && l0 > 0);
        assert_memory_equal(&l0, &l1, sizeof l1);
        assert_memory_equal(m0->grads, m1->grads, m1->nparams * sizeof(float));
        model_adam_step(m1, 0.01f, 0.9f, 0.999f, 1e-8f);
        model_adam_step(m0, 0.01f, 0.9f, 0.999f, 1e-8f);
    }
    assert_memory_equal(m0->params, m1->params, m1->nparams * sizeof(float));
    printf("[ lanes    ] dead units, model %d: %ld of %ld hidden unit-tiles skipped over %d steps, "
           "gradients and weights bit for bit as without skipping\n",
           which, dead, units, steps);
    assert_true(units > 0);
    if (which == 0) assert_true(dead * 10 > units);
    if (which == 2) assert_true(dead * 6 >= units); /* a whole layer of the six */
    model_ws_free(w1);
    model_ws_free(w0);
    model_ws_free(w16);
    model_free(m1);
    model_free(m0);
    free(g1);
    free(xb);
}

static void test_dead_units(void **state)
{
    (void)state;
    for (int c = 0; c < 4; c++) dead_case(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_training_close),
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_lane_sums),
        cmocka_unit_test(test_dead_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
