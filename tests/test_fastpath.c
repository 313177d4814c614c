/* test_fastpath.c - the fast SIMD kernel (kernel_fast.c) against the plain-C
 * reference, and its reproducibility.
 *
 *   shapes:  every micro-kernel path: widths 1..130 (vector tails of every
 *            length, the dot form for 1- and 2-wide layers, more than 8
 *            vectors per row so the column chunking runs), n from 1 to
 *            several backward tiles (tile rows = kfast_tile_rows);
 *   forward: the tiled kernel (a workspace made for MODEL_KERNEL_TILED) vs
 *            the reference kernel (MODEL_KERNEL_REF), every act[l];
 *   backward: the tiled vs the reference backward on the same
 *            activations (those of the fast forward, so no ReLU mask can
 *            differ), with (scale 1, no dcode) and (scale 0.37, dcode);
 *            tolerance per tensor max|x - ref| <= KTOL * max|ref| as in
 *            test_kernels.c (float32 vs double accumulation);
 *   reproducibility (bitwise): X, dcode and the workspace at other
 *            alignments (buffers shifted by 1..15 floats), a workspace of
 *            more rows, and a forward in chunks all give the same bits;
 *   training: 20 full-batch Adam steps (as the parity test) with the fast
 *            kernel against the same steps with the BLAS kernel (the float32
 *            path that matched PyTorch before): the loss before every step
 *            within 1e-4 relative (the parity test's tolerance) on both
 *            shapes, and the final weights within 1e-4 on the moons shape.
 *            Not the digits shape's weights: Adam turns rounding-level
 *            gradients (nearly dead units) into full-size steps, so any two
 *            float32 kernels (BLAS vs reference included) drift ~1e-3 apart
 *            in a few steps there while the loss agrees to ~1e-8;
 *   selection: each workspace runs the kernel its options chose (kernel.h),
 *            the default picks per model, and the packing blocks of the GEMM
 *            path are allocated only for the packed kernel.
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

#include "aesweep/kernel_fast.h"
#include "aesweep/kernel_gemm.h"
#include "aesweep/kernel_lanes.h"
#include "aesweep/model.h"
#include "aesweep/rng.h"

#define KTOL 1e-5
#define TRAIN_TOL 1e-4

typedef struct {
    model_arch_t a;
    int n;
    float sigma;
    uint64_t key;
} fcase_t;

static const fcase_t CASES[] = {
    {{.in = 2, .hidden = 20, .layers = 3, .bottleneck = 1}, 1300, 1.0f, 21},  /* moons M1 */
    {{.in = 2, .hidden = 50, .layers = 4, .bottleneck = 1}, 700, 1.0f, 22},
    {{.in = 64, .hidden = 100, .layers = 2, .bottleneck = 8}, 300, 5.0f, 23}, /* digits */
    {{.in = 64, .hidden = 65, .layers = 1, .bottleneck = 2}, 257, 5.0f, 24},
    {{.in = 3, .hidden = 1, .layers = 0, .bottleneck = 1}, 1, 1.0f, 25},
    {{.in = 1, .hidden = 2, .layers = 1, .bottleneck = 2}, 5, 1.0f, 26},
    {{.in = 17, .hidden = 33, .layers = 1, .bottleneck = 3}, 1029, 1.0f, 27},
    {{.in = 5, .hidden = 130, .layers = 1, .bottleneck = 4}, 64, 1.0f, 28},  /* > 8 vectors at VW 16 */
    {{.in = 10, .hidden = 300, .layers = 0, .bottleneck = 5}, 40, 1.0f, 29},
    {{.in = 7, .hidden = 9, .layers = 2, .bottleneck = 7}, 2000, 1.0f, 30},
    {{.in = 2, .hidden = 10, .layers = 0, .bottleneck = 1}, 3, 1.0f, 31},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static void one_case(const fcase_t *c)
{
    model_t *m = model_create(&c->a);
    assert_non_null(m);
    model_init(m, c->key);
    int n = c->n, in = c->a.in, bn = c->a.bottleneck;
    float *xb, *cb;
    float *X = tu_random_rows(c->key, "fast-X", (size_t)n * in, c->sigma, 0, 0, &xb);
    float *C = tu_random_rows(c->key, "fast-dcode", (size_t)n * bn, 1.0f / (float)n, 0, 0, &cb);
    model_ws_t *ws = tu_ws(m, n, MODEL_KERNEL_TILED), *wr = tu_ws(m, n, MODEL_KERNEL_REF);
    assert_non_null(ws);
    assert_non_null(wr);
    float *g = malloc(m->nparams * sizeof(float)), *gref = malloc(m->nparams * sizeof(float));
    assert_true(g && gref);

    double wf = 0, wb = 0;
    model_forward(m, ws, X, n);
    model_forward(m, wr, X, n);
    int bad = 0;
    for (int l = 1; l <= m->nlin; l++) bad += tu_check("act", l, ws->act[l], wr->act[l], (size_t)n * m->dims[l], KTOL, &wf);
    assert_int_equal(bad, 0);
    assert_true(max_abs(wr->act[m->nlin], (size_t)n * in) > 0.0);

    tu_copy_acts(m, wr, ws, n);
    for (int variant = 0; variant < 2; variant++) {
        float scale = variant ? 0.37f : 1.0f;
        const float *dcode = variant ? C : NULL;
        for (size_t i = 0; i < m->nparams; i++) m->grads[i] = NAN; /* must be overwritten */
        model_backward(m, ws, X, n, scale, dcode);
        memcpy(g, m->grads, m->nparams * sizeof(float));
        for (size_t i = 0; i < m->nparams; i++) m->grads[i] = NAN;
        model_backward(m, wr, X, n, scale, dcode); /* on ws's activations (copied above) */
        memcpy(gref, m->grads, m->nparams * sizeof(float));
        assert_true(max_abs(gref, m->nparams) > 0.0);
        assert_int_equal(tu_grads_match(m, g, gref, variant ? "dcode" : "plain", KTOL, &wb), 0);
    }
    printf("[ fastpath ] %s: in %2d h %3d layers %d b %d n %4d (tile %3d): worst rel forward %.2e backward %.2e\n",
           model_fast_isa(), in, c->a.hidden, c->a.layers, bn, n, kfast_tile_rows(m), wf, wb);

    /* Bitwise reproducibility at other alignments and workspace sizes. */
    model_backward(m, ws, X, n, 0.37f, C);
    memcpy(g, m->grads, m->nparams * sizeof(float));
    for (int shift = 1; shift < 16; shift += 7) {
        float *xb2, *cb2;
        float *X2 = tu_random_rows(c->key, "fast-X", (size_t)n * in, c->sigma, shift, 0, &xb2);
        float *C2 = tu_random_rows(c->key, "fast-dcode", (size_t)n * bn, 1.0f / (float)n, 16 - shift, 0, &cb2);
        model_ws_t *w2 = tu_ws(m, n + shift, MODEL_KERNEL_TILED);
        assert_non_null(w2);
        model_forward(m, w2, X2, n);
        for (int l = 1; l <= m->nlin; l++)
            assert_memory_equal(w2->act[l], ws->act[l], (size_t)n * m->dims[l] * sizeof(float));
        model_backward(m, w2, X2, n, 0.37f, C2);
        assert_memory_equal(m->grads, g, m->nparams * sizeof(float));
        model_ws_free(w2);
        free(xb2);
        free(cb2);
    }
    /* Forward in chunks of 7 rows: the same bits as one call. */
    if (n > 7) {
        model_ws_t *w7 = tu_ws(m, 7, MODEL_KERNEL_TILED); /* the tiled kernel whatever the width */
        float *rec = malloc((size_t)n * in * sizeof(float));
        assert_true(w7 && rec);
        model_apply(m, w7, X, (size_t)n, NULL, rec);
        assert_memory_equal(rec, ws->act[m->nlin], (size_t)n * in * sizeof(float));
        free(rec);
        model_ws_free(w7);
    }

    model_ws_free(ws);
    model_ws_free(wr);
    free(g);
    free(gref);
    free(xb);
    free(cb);
    model_free(m);
}

static void test_against_reference(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) one_case(&CASES[i]);
}

/* 20 Adam steps, the tiled kernel's forward/backward vs the BLAS kernel. */
static double step_fast(model_t *m, model_ws_t *ws, const float *X, int n)
{
    model_forward(m, ws, X, n);
    double l = model_mse(m, ws, X, n);
    model_backward(m, ws, X, n, 1.0f, NULL);
    return l;
}

static void test_training_close(void **state)
{
    (void)state;
    tu_training_close("fastpath", step_fast, MODEL_KERNEL_TILED, 500, "train-X", TRAIN_TOL);
}

/* The kernel is chosen once per workspace from the options: each forced
 * kernel gives its own table (and the same forward bits as a second
 * workspace of that kernel), the default picks per model (model.h), and
 * the names parse back. */
static void test_selection(void **state)
{
    (void)state;
    model_arch_t a = {.in = 3, .hidden = 6, .layers = 1, .bottleneck = 2};
    model_t *m = model_create(&a);
    assert_non_null(m);
    model_init(m, 9);
    float *xb;
    float *X = tu_random_rows(9, "sel-X", 30, 1.0f, 0, 0, &xb);
    static const int kinds[] = {MODEL_KERNEL_REF, MODEL_KERNEL_BLAS, MODEL_KERNEL_TILED, MODEL_KERNEL_LANES, MODEL_KERNEL_GEMM};
    static const char *const names[] = {"ref", "blas", "tiled", "lanes", "gemm"};
    for (int i = 0; i < 5; i++) {
        model_ws_t *w1 = tu_ws(m, 10, kinds[i]), *w2 = tu_ws(m, 10, kinds[i]);
        assert_true(w1 && w2);
        assert_string_equal(model_ws_kernel_name(w1), names[i]);
        assert_int_equal(model_kernel_parse(model_kernel_name(kinds[i])), kinds[i]);
        model_forward(m, w1, X, 10);
        model_forward(m, w2, X, 10);
        assert_memory_equal(w1->act[m->nlin], w2->act[m->nlin], 10 * 3 * sizeof(float));
        model_ws_free(w1);
        model_ws_free(w2);
    }
    /* the default: the fused step where this build prefers it, else tiled */
    model_ws_t *wd = model_ws_create(m, 10, NULL);
    assert_non_null(wd);
    assert_string_equal(model_ws_kernel_name(wd), klanes_preferred() ? "lanes" : "tiled");
    model_ws_free(wd);
    assert_string_equal(model_kernel_name(MODEL_KERNEL_FAST), "fast");
    assert_int_equal(model_kernel_parse("fast"), MODEL_KERNEL_FAST);
    assert_int_equal(model_kernel_parse("nonsense"), -1);
    /* a wide model goes to the GEMM path by default, a narrow residual one to BLAS */
    model_arch_t wa = {.in = 300, .hidden = 260, .layers = 0, .bottleneck = 2};
    model_arch_t ra = {.in = 3, .hidden = 6, .layers = 1, .bottleneck = 2, .kind = MODEL_RESNET};
    model_t *mw = model_create(&wa), *mr = model_create(&ra);
    assert_true(mw && mr);
    model_ws_t *ww = model_ws_create(mw, 4, NULL), *wr = model_ws_create(mr, 4, NULL);
    assert_true(ww && wr);
    assert_string_equal(model_ws_kernel_name(ww), "gemm");
    assert_string_equal(model_ws_kernel_name(wr), "blas");
    model_opts_t po = {.gemm_packed = 1};
    model_ws_t *wp = model_ws_create(mw, 4, &po);
    assert_non_null(wp);
    assert_string_equal(model_ws_kernel_name(wp), kgemm_packed_available() ? "gemm-packed" : "gemm");
    /* the packing blocks only when the packed kernel runs */
    assert_true(model_ws_bytes(&wa, 4, &po) - model_ws_bytes(&wa, 4, NULL) ==
                (kgemm_packed_available() ? 4.0 * (double)kgemm_pack_floats() : 0.0));
    model_ws_free(wp);
    model_ws_free(ww);
    model_ws_free(wr);
    model_free(mw);
    model_free(mr);
    model_free(m);
    free(xb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_training_close),
        cmocka_unit_test(test_selection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
