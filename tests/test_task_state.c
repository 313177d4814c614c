/* test_task_state.c - the carried state of a halving task (task.h): its
 * serialised form round-trips exactly (counters above 2^53 too), malformed
 * forms are refused, and a model saved and loaded through it is the same
 * model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/model.h"
#include "aesweep/task.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_round_trip(void **st)
{
    (void)st;
    model_arch_t a = {.in = 3, .hidden = 5, .layers = 1, .bottleneck = 2};
    model_t *m = model_create(&a);
    model_init(m, 7);
    for (size_t i = 0; i < m->nparams; i++) {
        m->adam_m[i] = (float)i * 1e-3f - 0.01f;
        m->adam_v[i] = (float)i * 1e-7f + 1e-30f; /* a subnormal-adjacent value */
    }
    m->adam_t = 123456;
    train_pos_t pos = {.epoch = 81, .shuffle_ctr = 0xfedcba9876543210ull, .mmd_ctr = (1ull << 53) + 1};
    task_state_t *s = task_state_new(m->nparams);
    assert_non_null(s);
    task_state_save(s, m, &pos);
    size_t len = task_state_len(m->nparams);
    assert_int_equal(len, TASK_STATE_HDR + 3 * m->nparams);
    double *buf = malloc(len * sizeof(double));
    task_state_pack(s, buf);
    assert_true(buf[0] == TASK_STATE_MAGIC && buf[1] == 81 && buf[2] == 123456 && buf[7] == (double)m->nparams);
    int bad = -1;
    task_state_t *u = task_state_unpack(buf, len, &bad);
    assert_non_null(u);
    assert_int_equal(bad, 0);
    assert_int_equal(u->pos.epoch, 81);
    assert_true(u->pos.shuffle_ctr == pos.shuffle_ctr);
    assert_true(u->pos.mmd_ctr == pos.mmd_ctr);
    assert_int_equal(u->adam_t, 123456);
    assert_int_equal(u->nparams, m->nparams);
    assert_memory_equal(u->arena, s->arena, 3 * m->nparams * sizeof(float));
    model_t *m2 = model_create(&a);
    assert_int_equal(task_state_load(u, m2), 0);
    assert_memory_equal(m2->params, m->params, m->nparams * sizeof(float));
    assert_memory_equal(m2->adam_m, m->adam_m, m->nparams * sizeof(float));
    assert_memory_equal(m2->adam_v, m->adam_v, m->nparams * sizeof(float));
    assert_int_equal(m2->adam_t, m->adam_t);
    /* header alone: the same fields, arena to be filled by the caller */
    double h[TASK_STATE_HDR];
    task_state_header(s, h);
    task_state_t *hs = task_state_from_header(h, &bad);
    assert_non_null(hs);
    assert_true(hs->pos.shuffle_ctr == pos.shuffle_ctr && hs->nparams == m->nparams);
    /* another shape is refused */
    model_arch_t b = {.in = 3, .hidden = 6, .layers = 1, .bottleneck = 2};
    model_t *m3 = model_create(&b);
    assert_int_equal(task_state_load(u, m3), -1);
    task_state_free(hs), task_state_free(u), task_state_free(s);
    model_free(m), model_free(m2), model_free(m3);
    free(buf);
}

static void test_malformed(void **st)
{
    (void)st;
    task_state_t *s = task_state_new(4);
    memset(s->arena, 0, 12 * sizeof(float));
    s->pos.epoch = 3;
    double buf[TASK_STATE_HDR + 12];
    task_state_pack(s, buf);
    int bad = 0;
    assert_null(task_state_unpack(buf, TASK_STATE_HDR + 11, &bad)); /* short */
    assert_int_equal(bad, 1);
    assert_null(task_state_unpack(buf, 3, &bad));
    assert_int_equal(bad, 1);
    double b2[TASK_STATE_HDR + 12];
    memcpy(b2, buf, sizeof buf);
    b2[0] = 1.0; /* not a state (e.g. a weights section) */
    assert_null(task_state_unpack(b2, TASK_STATE_HDR + 12, &bad));
    memcpy(b2, buf, sizeof buf);
    b2[4] = 4294967296.0; /* a counter half out of range */
    assert_null(task_state_unpack(b2, TASK_STATE_HDR + 12, &bad));
    memcpy(b2, buf, sizeof buf);
    b2[1] = 2.5; /* epoch not whole */
    assert_null(task_state_unpack(b2, TASK_STATE_HDR + 12, &bad));
    assert_int_equal(bad, 1);
    task_state_t *ok = task_state_unpack(buf, TASK_STATE_HDR + 12, &bad);
    assert_non_null(ok);
    assert_int_equal(ok->pos.epoch, 3);
    task_state_free(ok), task_state_free(s);
    task_state_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
