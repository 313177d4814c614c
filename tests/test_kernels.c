/* test_kernels.c - the OpenBLAS kernels against the plain-C references.
 *
 * On random networks (model_init) and N(0, sigma^2) data, for several shapes
 * (n = 1 .. 1000, in = 2 .. 64, layers 0..3, hidden 1 .. 300):
 *
 *   forward:  model_forward vs the reference kernel, every activation act[1..L]
 *             (so the codes and the reconstruction included);
 *   backward: model_backward vs the reference kernel, every W_l and b_l
 *             gradient, with (scale 1, no dcode) and (scale 0.37, random
 *             dcode).  Both backward passes run on the SAME forward
 *             activations (those of model_forward), so a pre-activation
 *             that rounds to the other side of 0 in the two forwards cannot
 *             flip a ReLU mask between them and the comparison isolates the
 *             backward kernels;
 *   gemm:     the GEMM kernel (MODEL_KERNEL_GEMM; the wide-layer
 *             path: packed micro-kernel, then OpenBLAS) the same way;
 *   chunked:  model_eval_mse / model_apply / model_decode with a workspace
 *             smaller than n vs one full forward.
 *
 * Tolerance, per tensor: max |x - x_ref| <= KTOL * max |x_ref|, KTOL = 1e-5
 * (float32 sgemm vs double accumulation; observed <= ~1e-6).  A reference
 * tensor that is exactly zero must be matched exactly (floor 1e-30).
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

#include "aesweep/kernel_gemm.h"
#include "aesweep/model.h"
#include "aesweep/rng.h"

#define KTOL 1e-5

/* the kernel of the group that runs (use_blas, use_fast) */
static int g_kernel = MODEL_KERNEL_FAST;

typedef struct {
    model_arch_t a;
    int n;       /* rows */
    int extra;   /* workspace rows beyond n */
    float sigma; /* data scale */
    uint64_t key;
} kcase_t;

static const kcase_t CASES[] = {
    {{.in = 2, .hidden = 20, .layers = 3, .bottleneck = 1}, 1, 0, 1.0f, 11},
    {{.in = 64, .hidden = 65, .layers = 1, .bottleneck = 2}, 1000, 0, 5.0f, 12},
    {{.in = 64, .hidden = 32, .layers = 0, .bottleneck = 2}, 37, 5, 1.0f, 13},
    {{.in = 5, .hidden = 7, .layers = 2, .bottleneck = 3}, 1000, 24, 1.0f, 14},
    {{.in = 64, .hidden = 100, .layers = 3, .bottleneck = 8}, 257, 0, 2.0f, 15},
    {{.in = 3, .hidden = 1, .layers = 0, .bottleneck = 1}, 1, 1, 1.0f, 16},
    {{.in = 64, .hidden = 16, .layers = 2, .bottleneck = 4}, 1, 0, 1.0f, 17},
    {{.in = 10, .hidden = 300, .layers = 1, .bottleneck = 5}, 64, 0, 1.0f, 18},
    {{.in = 2, .hidden = 10, .layers = 0, .bottleneck = 1}, 1000, 0, 1.0f, 19},
    /* general architectures (issue 17): tapered below the input, wide,
     * residual blocks, each activation */
    {{.in = 100, .nwidths = 2, .widths = {300, 40}, .layers = 0, .bottleneck = 8}, 70, 3, 1.0f, 20},
    {{.in = 20, .hidden = 32, .layers = 2, .bottleneck = 3, .kind = MODEL_RESNET}, 129, 0, 1.0f, 21},
    {{.in = 30, .nwidths = 3, .widths = {24, 24, 12}, .layers = 1, .bottleneck = 4, .act = MODEL_TANH}, 64, 1, 1.0f, 22},
    {{.in = 30, .nwidths = 2, .widths = {16, 16}, .layers = 1, .bottleneck = 4, .kind = MODEL_RESNET,
      .act = MODEL_ELU}, 65, 0, 2.0f, 23},
    {{.in = 50, .nwidths = 2, .widths = {260, 260}, .layers = 0, .bottleneck = 6, .kind = MODEL_RESNET,
      .act = MODEL_TANH}, 33, 0, 1.0f, 24},
    /* wider than one packed block of columns (1024) */
    {{.in = 40, .hidden = 1100, .layers = 0, .bottleneck = 3}, 9, 0, 1.0f, 25},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static void one_case(const kcase_t *c)
{
    model_t *m = model_create(&c->a);
    assert_non_null(m);
    model_init(m, c->key);
    int n = c->n, in = c->a.in, bn = c->a.bottleneck;
    float *blk_; /* shift 0: the block is X (C) itself */
    float *X = tu_random_rows(c->key, "kernels-X", (size_t)n * in, c->sigma, 0, 0, &blk_);
    /* dcode of the order of the MSE gradient (2 (x_hat - x) / (n in)). */
    float *C = tu_random_rows(c->key, "kernels-dcode", (size_t)n * bn, 1.0f / (float)n, 0, 0, &blk_);
    model_ws_t *ws = tu_ws(m, n + c->extra, g_kernel), *wr = tu_ws(m, n + c->extra, MODEL_KERNEL_REF);
    assert_non_null(ws);
    assert_non_null(wr);
    float *g = malloc(m->nparams * sizeof(float)), *gref = malloc(m->nparams * sizeof(float));
    assert_non_null(g);
    assert_non_null(gref);

    /* Forward. */
    double wf = 0, wb = 0;
    model_forward(m, ws, X, n);
    model_forward(m, wr, X, n);
    int bad = 0;
    for (int l = 1; l <= m->nlin; l++)
        bad += tu_check("act", l, ws->act[l], wr->act[l], (size_t)n * m->dims[l], KTOL, &wf);
    assert_int_equal(bad, 0);
    assert_true(max_abs(wr->act[m->nlin], (size_t)n * in) > 0.0);
    assert_true(fabs(model_mse(m, ws, X, n) - model_mse(m, wr, X, n)) <=
                1e-5 * model_mse(m, wr, X, n));

    /* Backward on ws's activations, both kernels. */
    model_ws_t *wc = tu_ws(m, n + c->extra, MODEL_KERNEL_REF);
    assert_non_null(wc);
    tu_copy_acts(m, wc, ws, n);
    for (int variant = 0; variant < 2; variant++) {
        float scale = variant ? 0.37f : 1.0f;
        const float *dcode = variant ? C : NULL;
        for (size_t i = 0; i < m->nparams; i++) m->grads[i] = NAN; /* must be overwritten */
        model_backward(m, ws, X, n, scale, dcode);
        memcpy(g, m->grads, m->nparams * sizeof(float));
        for (size_t i = 0; i < m->nparams; i++) m->grads[i] = NAN;
        model_backward(m, wc, X, n, scale, dcode);
        memcpy(gref, m->grads, m->nparams * sizeof(float));
        assert_true(max_abs(gref, m->nparams) > 0.0);
        assert_int_equal(tu_grads_match(m, g, gref, variant ? "dcode" : "plain", KTOL, &wb), 0);
    }
    /* The wide-layer path (kernel_gemm.h), packed micro-kernel and
     * OpenBLAS, held to the reference the same way. */
    double wgf = 0, wgb = 0;
    for (int packed = 1; packed >= 0; packed--) {
        model_opts_t go = {.kernel = MODEL_KERNEL_GEMM, .gemm_packed = packed};
        model_ws_t *wg = model_ws_create(m, n + c->extra, &go);
        assert_non_null(wg);
        model_forward(m, wg, X, n);
        tu_copy_acts(m, wc, wg, n);
        bad = 0;
        for (int l = 1; l <= m->nlin; l++)
            bad += tu_check("gemm act", l, wg->act[l], wr->act[l], (size_t)n * m->dims[l], KTOL, &wgf);
        assert_int_equal(bad, 0);
        for (int variant = 0; variant < 2; variant++) {
            float scale = variant ? 0.37f : 1.0f;
            const float *dcode = variant ? C : NULL;
            for (size_t i = 0; i < m->nparams; i++) m->grads[i] = NAN;
            model_backward(m, wg, X, n, scale, dcode);
            memcpy(g, m->grads, m->nparams * sizeof(float));
            for (size_t i = 0; i < m->nparams; i++) m->grads[i] = NAN;
            model_backward(m, wc, X, n, scale, dcode);
            assert_int_equal(tu_grads_match(m, g, m->grads, variant ? "gemm dcode" : "gemm plain", KTOL, &wgb), 0);
        }
        model_ws_free(wg);
    }
    model_ws_free(wc);
    char desc[128];
    model_arch_describe(&c->a, desc, sizeof desc);
    printf("[ kernels  ] %-28s n %4d: gemm (%s and blas) forward %.2e backward %.2e\n", desc, n,
           kgemm_packed_available() ? "avx512" : "blas", wgf, wgb);
    printf("[ kernels  ] %-28s n %4d: worst rel forward %.2e backward %.2e\n", desc, n, wf, wb);

    model_ws_free(ws);
    model_ws_free(wr);
    free(g);
    free(gref);
    free(X);
    free(C);
    model_free(m);
}

static void test_forward_backward(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) one_case(&CASES[i]);
}

/* Chunked helpers with a workspace of 7 rows on 50 rows (last chunk partial)
 * against one forward over all rows. */
static void test_chunked(void **state)
{
    (void)state;
    model_arch_t a = {.in = 6, .hidden = 9, .layers = 1, .bottleneck = 2};
    model_t *m = model_create(&a);
    assert_non_null(m);
    model_init(m, 77);
    const int n = 50;
    float *blk_; /* shift 0: the block is X itself */
    float *X = tu_random_rows(77, "chunk-X", (size_t)n * a.in, 1.0f, 0, 0, &blk_);
    model_ws_t *big = tu_ws(m, n, MODEL_KERNEL_REF), *small = tu_ws(m, 7, g_kernel);
    assert_non_null(big);
    assert_non_null(small);
    float *codes = malloc((size_t)n * a.bottleneck * sizeof(float));
    float *recon = malloc((size_t)n * a.in * sizeof(float));
    float *dec = malloc((size_t)n * a.in * sizeof(float));
    assert_true(codes && recon && dec);

    model_forward(m, big, X, n);
    double mse = model_mse(m, big, X, n);
    assert_true(fabs(model_eval_mse(m, small, X, (size_t)n) - mse) <= 1e-5 * mse);
    model_apply(m, small, X, (size_t)n, codes, recon);
    assert_int_equal(tu_check("codes", 0, codes, big->act[m->code_layer + 1], (size_t)n * a.bottleneck, KTOL, NULL),
                     0);
    assert_int_equal(tu_check("recon", 0, recon, big->act[m->nlin], (size_t)n * a.in, KTOL, NULL), 0);
    model_decode(m, small, codes, (size_t)n, dec);
    assert_int_equal(tu_check("decode", 0, dec, big->act[m->nlin], (size_t)n * a.in, KTOL, NULL), 0);

    free(codes);
    free(recon);
    free(dec);
    free(X);
    model_ws_free(big);
    model_ws_free(small);
    model_free(m);
}

/* The comparison can fail: one element off by 2e-5 of the max, or a NaN. */
static void test_check_can_fail(void **state)
{
    (void)state;
    float ref[4] = {1.0f, -2.0f, 0.5f, 0.0f}, x[4];
    memcpy(x, ref, sizeof x);
    assert_int_equal(tu_check("self", 0, x, ref, 4, KTOL, NULL), 0);
    x[2] += 4e-5f;
    print_message("(two expected mismatch reports follow)\n");
    assert_int_equal(tu_check("self", 0, x, ref, 4, KTOL, NULL), 1);
    x[2] = NAN;
    assert_int_equal(tu_check("self", 0, x, ref, 4, KTOL, NULL), 1);
}

static int use_blas(void **st)
{
    (void)st;
    g_kernel = MODEL_KERNEL_BLAS;
    return 0;
}

static int use_fast(void **st)
{
    (void)st;
    g_kernel = MODEL_KERNEL_FAST;
    return 0;
}

int main(void)
{
    /* model_forward/model_backward against the plain reference, once with
     * the OpenBLAS path and once with the default fast kernel */
    const struct CMUnitTest blas[] = {
        cmocka_unit_test(test_forward_backward),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_check_can_fail),
    };
    const struct CMUnitTest fast[] = {
        cmocka_unit_test(test_forward_backward),
        cmocka_unit_test(test_chunked),
    };
    int rc = cmocka_run_group_tests_name("blas", blas, use_blas, use_fast);
    rc += cmocka_run_group_tests_name("fast", fast, use_fast, NULL);
    return rc;
}
