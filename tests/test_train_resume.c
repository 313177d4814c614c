/* test_train_resume.c - continuing a trajectory from its carried state
 * (train_run_from, train.h) is exact: training 0 -> a, then a -> b from the
 * end state of the first call, gives bit for bit what one run 0 -> b gives
 * (parameters, Adam m, v and step, both stream counters, the checkpoint's
 * train MSE and the curve points), for full batch and mini-batch, with and
 * without the MMD term, over several architectures (plain ReLU MLP on the
 * default kernel, tapered widths, residual, tanh) and on every kernel.  The independent check is
 * the uninterrupted run from scratch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/data.h"
#include "aesweep/mmd.h"
#include "aesweep/model.h"
#include "aesweep/rng.h"
#include "aesweep/train.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double ck_mse[4];  /* train MSE per checkpoint index */
    int ck_epoch[4];
    double cv_mse[8];  /* per curve index */
    int ncalls;
} rec_t;

static void on_ck(void *ctx, int idx, int epoch, const model_t *m, double mse)
{
    rec_t *r = ctx;
    (void)m;
    r->ck_mse[idx] = mse;
    r->ck_epoch[idx] = epoch;
    r->ncalls++;
}

static void on_cv(void *ctx, int idx, int epoch, const model_t *m, double mse)
{
    rec_t *r = ctx;
    (void)m, (void)epoch;
    r->cv_mse[idx] = mse;
}

static const int CURVE[6] = {0, 2, 5, 7, 9, 12};

/* Train (from `start` into `end`) a copy of `from` (or a fresh init), to
 * `epochs` with checkpoints ck[nck]. */
static const model_opts_t *g_kopt; /* the kernel the runs use (NULL: the default choice) */

static model_t *run(const model_arch_t *a, const model_t *from, const dataset_t *d, int batch, int mmd,
                    int epochs, const int *ck, int nck, const train_pos_t *start, train_pos_t *end, rec_t *rec,
                    int *nrep)
{
    model_t *m = model_create(a);
    assert_non_null(m);
    if (from) { /* the state as it travels: the three arenas and the step, into a fresh model */
        memcpy(m->params, from->params, m->nparams * sizeof(float));
        memcpy(m->adam_m, from->adam_m, m->nparams * sizeof(float));
        memcpy(m->adam_v, from->adam_v, m->nparams * sizeof(float));
        m->adam_t = from->adam_t;
    } else
        model_init(m, 42);
    mmd_cfg_t mc;
    mmd_cfg_rbf(&mc, 0.3f, 1.0, 3);
    train_cfg_t c = train_cfg_default();
    c.epochs = epochs;
    c.lr = 0.01f;
    c.batch_size = batch;
    c.shuffle_key = 77;
    c.mmd = mmd ? &mc : NULL;
    c.mmd_key = 99;
    c.checkpoints = ck;
    c.ncheck = nck;
    c.curve = CURVE;
    c.ncurve = 6;
    c.curve_fn = on_cv;
    train_ws_t *tw = train_ws_create(m, d->n, batch, c.mmd, g_kopt);
    assert_non_null(tw);
    int s = train_run_from(m, tw, d->x, d->n, &c, start, end, on_ck, NULL, rec, nrep);
    assert_int_equal(s, TRAIN_OK);
    train_ws_free(tw);
    return m;
}

static void same_model(const model_t *x, const model_t *y)
{
    assert_int_equal(x->nparams, y->nparams);
    assert_memory_equal(x->params, y->params, x->nparams * sizeof(float));
    assert_memory_equal(x->adam_m, y->adam_m, x->nparams * sizeof(float));
    assert_memory_equal(x->adam_v, y->adam_v, x->nparams * sizeof(float));
    assert_int_equal(x->adam_t, y->adam_t);
}

/* 0 -> 12 in one run against 0 -> 5 -> 9 -> 12 in three. */
static void check_shape(const model_arch_t *a, const dataset_t *d, int batch, int mmd)
{
    int ck_all[3] = {5, 9, 12}, nrep;
    rec_t whole = {0};
    train_pos_t end_all;
    model_t *ref = run(a, NULL, d, batch, mmd, 12, ck_all, 3, NULL, &end_all, &whole, &nrep);
    assert_int_equal(nrep, 3);
    assert_int_equal(end_all.epoch, 12);

    /* piece 1: 0 -> 5, reporting epoch 5 */
    rec_t r1 = {0};
    train_pos_t s1, s2, s3;
    model_t *m1 = run(a, NULL, d, batch, mmd, 5, (int[]){5}, 1, NULL, &s1, &r1, &nrep);
    assert_int_equal(s1.epoch, 5);
    assert_true(r1.ck_mse[0] == whole.ck_mse[0]);
    /* piece 2: 5 -> 9 with the checkpoints {5, 9}: the one at its start is
     * reported again (the same numbers), as a curve point there */
    rec_t r2 = {0};
    model_t *m2 = run(a, m1, d, batch, mmd, 9, ck_all, 2, &s1, &s2, &r2, &nrep);
    assert_int_equal(nrep, 2);
    assert_int_equal(r2.ncalls, 2);
    assert_true(r2.ck_mse[0] == whole.ck_mse[0]);
    /* piece 2 again with checkpoints {2, 9}: 2 lies before its start, passed
     * over without a call but counted */
    rec_t r2b = {0};
    model_t *m2b = run(a, m1, d, batch, mmd, 9, (int[]){2, 9}, 2, &s1, NULL, &r2b, &nrep);
    assert_int_equal(nrep, 2);
    assert_int_equal(r2b.ncalls, 1);
    assert_true(r2b.ck_mse[1] == whole.ck_mse[1]);
    same_model(m2b, m2);
    model_free(m2b);
    assert_int_equal(r2.ck_epoch[1], 9);
    assert_true(r2.ck_mse[1] == whole.ck_mse[1]);
    /* piece 3: 9 -> 12 */
    rec_t r3 = {0};
    model_t *m3 = run(a, m2, d, batch, mmd, 12, (int[]){12}, 1, &s2, &s3, &r3, &nrep);
    assert_true(r3.ck_mse[0] == whole.ck_mse[2]);
    same_model(m3, ref);
    assert_int_equal(s3.epoch, end_all.epoch);
    assert_true(s3.shuffle_ctr == end_all.shuffle_ctr);
    assert_true(s3.mmd_ctr == end_all.mmd_ctr);
    /* the streams did move (the test would not see a forgotten counter otherwise) */
    assert_true(batch ? s1.shuffle_ctr > 0 : s1.shuffle_ctr == 0);
    assert_true(mmd ? s1.mmd_ctr > 0 && s2.mmd_ctr > s1.mmd_ctr : s1.mmd_ctr == 0);
    /* curve points: each piece reports those in its own epochs (the point at
     * a boundary, by both pieces, equal) */
    assert_true(r1.cv_mse[1] == whole.cv_mse[1] && r1.cv_mse[2] == whole.cv_mse[2]);
    assert_true(r2.cv_mse[2] == whole.cv_mse[2] && r2.cv_mse[3] == whole.cv_mse[3]);
    assert_true(r2.cv_mse[4] == whole.cv_mse[4] && r3.cv_mse[5] == whole.cv_mse[5]);
    assert_true(r3.cv_mse[0] == 0 && r3.cv_mse[3] == 0); /* before its start: never called */
    /* the model at the end of piece 1 is the 5-epoch model, whatever comes after */
    model_t *m5 = run(a, NULL, d, batch, mmd, 5, (int[]){5}, 1, NULL, NULL, &(rec_t){0}, &nrep);
    same_model(m1, m5);
    model_free(ref), model_free(m1), model_free(m2), model_free(m3), model_free(m5);
}

static void shapes(int batch, int mmd)
{
    dataset_t d;
    data_moons(&d, 150, 0.1, 5);
    model_arch_t plain = {.in = 2, .hidden = 8, .layers = 1, .bottleneck = 1};
    model_arch_t tapered = {.in = 2, .nwidths = 3, .widths = {12, 8, 4}, .layers = 0, .bottleneck = 2};
    model_arch_t resnet = {.in = 2, .hidden = 6, .layers = 2, .bottleneck = 1, .kind = MODEL_RESNET};
    model_arch_t tanh_ = {.in = 2, .hidden = 7, .layers = 1, .bottleneck = 2, .act = MODEL_TANH};
    const model_arch_t *all[4] = {&plain, &tapered, &resnet, &tanh_};
    for (int i = 0; i < 4; i++) {
        const char *why;
        assert_true(model_arch_check(all[i], &why));
        check_shape(all[i], &d, batch, mmd);
    }
    data_free(&d);
}

static void test_full_batch(void **st) { (void)st, shapes(0, 0); }
static void test_mini_batch(void **st) { (void)st, shapes(32, 0); }
static void test_full_batch_mmd(void **st) { (void)st, shapes(0, 1); }
static void test_mini_batch_mmd(void **st) { (void)st, shapes(40, 1); }

/* Every kernel (model.h), forced, on the plain ReLU MLP, and the wide-layer
 * path (GEMM, plain and packed) on a 256-wide model: a fresh workspace (and
 * kernel scratch) for each piece changes nothing. */
static void test_kernels(void **st)
{
    (void)st;
    dataset_t d;
    data_moons(&d, 150, 0.1, 5);
    model_arch_t plain = {.in = 2, .hidden = 8, .layers = 1, .bottleneck = 1};
    static const int kernels[5] = {MODEL_KERNEL_BLAS, MODEL_KERNEL_REF, MODEL_KERNEL_TILED, MODEL_KERNEL_LANES,
                                   MODEL_KERNEL_GEMM};
    for (int k = 0; k < 5; k++) {
        model_opts_t o = {.kernel = kernels[k]};
        g_kopt = &o;
        check_shape(&plain, &d, 0, 0);
        check_shape(&plain, &d, 32, 1);
    }
    model_arch_t wide = {.in = 2, .hidden = 256, .layers = 0, .bottleneck = 2};
    for (int packed = 0; packed <= 1; packed++) {
        model_opts_t o = {.kernel = MODEL_KERNEL_FAST, .gemm_packed = packed};
        g_kopt = &o;
        check_shape(&wide, &d, 48, 0);
    }
    g_kopt = NULL;
    data_free(&d);
}

/* A continuation of zero epochs (start == epochs) reports the start and
 * leaves the state as it was. */
static void test_zero_epochs(void **st)
{
    (void)st;
    dataset_t d;
    data_moons(&d, 100, 0.1, 5);
    model_arch_t a = {.in = 2, .hidden = 8, .layers = 1, .bottleneck = 1};
    for (int batch = 0; batch <= 32; batch += 32) {
        int nrep;
        train_pos_t s1, s2;
        rec_t r1 = {0}, r2 = {0};
        model_t *m1 = run(&a, NULL, &d, batch, 1, 4, (int[]){4}, 1, NULL, &s1, &r1, &nrep);
        model_t *m2 = run(&a, m1, &d, batch, 1, 4, (int[]){4}, 1, &s1, &s2, &r2, &nrep);
        same_model(m1, m2);
        assert_true(r2.ck_mse[0] == r1.ck_mse[0]);
        assert_true(s2.epoch == 4 && s2.shuffle_ctr == s1.shuffle_ctr && s2.mmd_ctr == s1.mmd_ctr);
        model_free(m1), model_free(m2);
    }
    data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_batch),
        cmocka_unit_test(test_mini_batch),
        cmocka_unit_test(test_full_batch_mmd),
        cmocka_unit_test(test_mini_batch_mmd),
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_zero_epochs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
