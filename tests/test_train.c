/* test_train.c - the training loop: epoch prefixes are exact, mini-batch
 * steps and shuffles, divergence detection, interruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/data.h"
#include "aesweep/model.h"
#include "aesweep/rng.h"
#include "aesweep/train.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *snap[8];
    double mse[8];
    int n;
} rec_t;

static void ckpt(void *ctx, int idx, int epoch, const model_t *m, double train_mse)
{
    rec_t *r = ctx;
    (void)epoch;
    r->snap[idx] = malloc(m->nparams * sizeof(float));
    memcpy(r->snap[idx], m->params, m->nparams * sizeof(float));
    r->mse[idx] = train_mse;
    r->n++;
}

static model_t *trained(const dataset_t *d, int epochs, const int *ck, int nck, int batch, rec_t *rec,
                        int *status)
{
    model_arch_t a = {.in = 2, .hidden = 8, .layers = 1, .bottleneck = 1};
    model_t *m = model_create(&a);
    model_init(m, 42);
    train_cfg_t c = train_cfg_default();
    c.epochs = epochs;
    c.lr = 0.01f;
    c.batch_size = batch;
    c.shuffle_key = 77;
    c.checkpoints = ck;
    c.ncheck = nck;
    train_ws_t *tw = train_ws_create(m, d->n, batch, NULL, NULL);
    int nrep;
    *status = train_run(m, tw, d->x, d->n, &c, ckpt, NULL, rec, &nrep);
    assert_int_equal(nrep, rec ? rec->n : nrep);
    train_ws_free(tw);
    return m;
}

static void test_epoch_prefix_exact(void **st)
{
    (void)st;
    dataset_t d;
    data_moons(&d, 300, 0.1, 5);
    for (int batch = 0; batch <= 64; batch += 64) {
        int ck[3] = {0, 7, 20}, s;
        rec_t r = {0};
        model_t *m = trained(&d, 20, ck, 3, batch, &r, &s);
        assert_int_equal(s, TRAIN_OK);
        assert_int_equal(r.n, 3);
        /* a separate run of 7 epochs ends exactly where the long run passed epoch 7 */
        int ck7[1] = {7};
        rec_t r7 = {0};
        model_t *m7 = trained(&d, 7, ck7, 1, batch, &r7, &s);
        assert_memory_equal(m7->params, r.snap[1], m->nparams * sizeof(float));
        assert_true(r7.mse[0] == r.mse[1]);
        assert_memory_equal(m->params, r.snap[2], m->nparams * sizeof(float));
        assert_true(r.mse[2] < r.mse[0]); /* it learns */
        /* epoch 0 is the initialisation */
        model_t *m0 = trained(&d, 0, (int[]){0}, 1, batch, &(rec_t){0}, &s);
        assert_memory_equal(m0->params, r.snap[0], m->nparams * sizeof(float));
        for (int i = 0; i < 3; i++) free(r.snap[i]);
        free(r7.snap[0]);
        model_free(m), model_free(m7), model_free(m0);
    }
    data_free(&d);
}

static void test_minibatch_steps_and_shuffle(void **st)
{
    (void)st;
    dataset_t d;
    data_moons(&d, 100, 0.1, 5);
    int ck[1] = {3}, s;
    rec_t r = {0};
    model_t *m = trained(&d, 3, ck, 1, 32, &r, &s);
    assert_int_equal(m->adam_t, 3 * 4); /* ceil(100 / 32) steps per epoch */
    /* train MSE at a checkpoint is over the whole training set */
    model_ws_t *ws = model_ws_create(m, 100, NULL);
    assert_true(fabs(model_eval_mse(m, ws, d.x, 100) - r.mse[0]) < 1e-12);
    model_t *full = trained(&d, 3, ck, 1, 0, &(rec_t){0}, &s);
    assert_int_equal(full->adam_t, 3);
    assert_true(memcmp(full->params, m->params, m->nparams * sizeof(float)) != 0);
    /* batch >= n is full batch */
    model_t *big = trained(&d, 3, ck, 1, 1000, &(rec_t){0}, &s);
    assert_memory_equal(big->params, full->params, m->nparams * sizeof(float));
    free(r.snap[0]);
    model_ws_free(ws);
    model_free(m), model_free(full), model_free(big);
    data_free(&d);
}

static void test_divergence_detected(void **st)
{
    (void)st;
    dataset_t d;
    data_moons(&d, 50, 0.1, 5);
    for (size_t i = 0; i < 100; i++) d.x[i] *= 1e30f; /* overflowing gradients */
    int ck[2] = {5, 10}, s;
    rec_t r = {0};
    model_t *m = trained(&d, 10, ck, 2, 0, &r, &s);
    assert_int_equal(s, TRAIN_DIVERGED);
    assert_true(r.n < 2);
    model_free(m);
    for (int i = 0; i < r.n; i++) free(r.snap[i]);
    data_free(&d);
}

static int stop_at_3(void *ctx, int epoch)
{
    (void)ctx;
    return epoch >= 3;
}

static void test_interrupt(void **st)
{
    (void)st;
    dataset_t d;
    data_moons(&d, 50, 0.1, 5);
    model_arch_t a = {.in = 2, .hidden = 8, .layers = 1, .bottleneck = 1};
    model_t *m = model_create(&a);
    model_init(m, 1);
    train_cfg_t c = train_cfg_default();
    int ck[2] = {2, 10};
    c.epochs = 10;
    c.checkpoints = ck;
    c.ncheck = 2;
    train_ws_t *tw = train_ws_create(m, d.n, 0, NULL, NULL);
    rec_t r = {0};
    int nrep, s = train_run(m, tw, d.x, d.n, &c, ckpt, stop_at_3, &r, &nrep);
    assert_int_equal(s, TRAIN_INTERRUPTED);
    assert_int_equal(nrep, 1);
    assert_int_equal(m->adam_t, 3);
    free(r.snap[0]);
    train_ws_free(tw);
    model_free(m);
    data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_prefix_exact),
        cmocka_unit_test(test_minibatch_steps_and_shuffle),
        cmocka_unit_test(test_divergence_detected),
        cmocka_unit_test(test_interrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
