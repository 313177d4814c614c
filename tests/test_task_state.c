/* test_task_state.c - the carried state of a halving task (task.h): its
 * serialised form round-trips exactly (counters above 2^53 too), malformed
 * forms are refused, a model saved and loaded through it is the same
 * model; and at task level (task_run_from), a task continued from the end
 * state of the same configuration's shorter task gives bit for bit the
 * metrics, curve points and end state of that task trained from scratch
 * (full batch and mini-batch, with and without MMD, MLP and ResNet, with a
 * scaler); a state of another epoch or model is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/model.h"
#include "aesweep/plan.h"
#include "aesweep/study.h"
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
    assert_int_equal(len, TASK_STATE_HDR + (3 * m->nparams + 1) / 2); /* packed floats: 12 bytes a parameter */
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

/* The arena travels as its bytes, two floats to a double: every float bit
 * pattern comes back as it went (NaN payloads, -0, subnormals, infinities,
 * patterns whose pair reads as a signalling NaN double), an odd float count
 * pads with zero bytes, and the packed length is 12 bytes a parameter. */
static void test_packed_bits(void **st)
{
    (void)st;
    const size_t np = 5; /* 15 floats: 8 doubles, the last half padding */
    task_state_t *s = task_state_new(np);
    assert_non_null(s);
    const uint32_t pat[15] = {0x7fc00001u, 0x7f800001u, 0x80000000u, 0x00000001u, 0x7f800000u,
                              0xff800000u, 0xfff00000u, 0x7ff00000u, 0x3f800000u, 0x00800000u,
                              0xffffffffu, 0x12345678u, 0x7fffffffu, 0x807fffffu, 0xdeadbeefu};
    memcpy(s->arena, pat, sizeof pat);
    size_t len = task_state_len(np);
    assert_int_equal(len, TASK_STATE_HDR + 8);
    double buf[TASK_STATE_HDR + 8];
    memset(buf, 0xab, sizeof buf);
    task_state_pack(s, buf);
    uint32_t pad;
    memcpy(&pad, (const char *)(buf + TASK_STATE_HDR) + 15 * sizeof(float), sizeof pad);
    assert_int_equal(pad, 0);
    double copy[TASK_STATE_HDR + 8];
    memcpy(copy, buf, sizeof buf); /* as the journal and MPI move it: bytes */
    int bad = 1;
    task_state_t *u = task_state_unpack(copy, len, &bad);
    assert_non_null(u);
    assert_int_equal(bad, 0);
    assert_memory_equal(u->arena, pat, sizeof pat);
    task_state_free(u), task_state_free(s);
}

static void test_malformed(void **st)
{
    (void)st;
    task_state_t *s = task_state_new(4);
    memset(s->arena, 0, 12 * sizeof(float));
    s->pos.epoch = 3;
    double buf[TASK_STATE_HDR + 6];
    assert_int_equal(task_state_len(4), TASK_STATE_HDR + 6);
    task_state_pack(s, buf);
    int bad = 0;
    assert_null(task_state_unpack(buf, TASK_STATE_HDR + 5, &bad)); /* short */
    assert_int_equal(bad, 1);
    assert_null(task_state_unpack(buf, 3, &bad));
    assert_int_equal(bad, 1);
    double b2[TASK_STATE_HDR + 6];
    memcpy(b2, buf, sizeof buf);
    b2[0] = 1.0; /* not a state (e.g. a weights section) */
    assert_null(task_state_unpack(b2, TASK_STATE_HDR + 6, &bad));
    memcpy(b2, buf, sizeof buf);
    b2[4] = 4294967296.0; /* a counter half out of range */
    assert_null(task_state_unpack(b2, TASK_STATE_HDR + 6, &bad));
    memcpy(b2, buf, sizeof buf);
    b2[1] = 2.5; /* epoch not whole */
    assert_null(task_state_unpack(b2, TASK_STATE_HDR + 6, &bad));
    assert_int_equal(bad, 1);
    task_state_t *ok = task_state_unpack(buf, TASK_STATE_HDR + 6, &bad);
    assert_non_null(ok);
    assert_int_equal(ok->pos.epoch, 3);
    task_state_free(ok), task_state_free(s);
    task_state_free(NULL);
}

/* Every cell comes as (epochs 5, epochs 12) consecutive tasks: task 2k + 1
 * continues task 2k. */
static const char *SPEC = "study = \"cont\"; seed = 9;\n"
                          "data = { source = \"moons\"; pool = 300; noise = 0.1; scaler = \"standard\"; };\n"
                          "tests = ( { name = \"t\"; noise = 0.1; size = 100; } );\n"
                          "defaults = { train_size = 200; hidden = 6; layers = 1; bottleneck = 2; lr = 0.01;"
                          " mmd_scale = 2.0; mmd_nscales = 2; };\n"
                          "stages = ( { name = \"s\"; reuse_epochs = false; curve_points = 13;"
                          " axes = { batch_size = [0, 64]; mmd_lambda = [0.0, 0.4]; arch = [\"mlp\", \"resnet\"];"
                          " epochs = [5, 12]; }; } );\n";

typedef struct {
    double vals[PLAN_MAX_METRICS];
    int8_t st;
    double secs;
    double *curve;
    double *state;
} out_t;

static int run_task(study_ctx_t *c, plan_t *p, size_t t, const task_state_t *from, out_t *o)
{
    size_t np;
    {
        model_arch_t a = task_arch(&c->sd, p->tasks[t].hp);
        np = model_param_count(&a);
    }
    o->curve = malloc((size_t)p->ncurve * p->ncurve_metrics * sizeof(double));
    o->state = calloc(task_state_len(np), sizeof(double));
    assert_non_null(o->curve);
    assert_non_null(o->state);
    return task_run_from(&c->sd, p, t, from, o->vals, &o->st, &o->secs, NULL, o->curve, o->state, NULL, NULL, NULL);
}

static void test_task_continuation(void **st)
{
    (void)st;
    study_ctx_t c;
    char err[SPEC_ERR_LEN];
    study_source_t src = {.spec_path = "cont.cfg", .text = SPEC};
    assert_int_equal(study_open(&c, &src, err), 0);
    c.s.in_dim = c.sd.in_dim;
    plan_t p;
    assert_int_equal(plan_build(&p, &c.s, 0, NULL, NULL, err), 0);
    assert_int_equal(p.ntasks, 16);
    assert_int_equal(p.nslots, 1);
    assert_int_equal(p.ncurve, 12); /* epochs 1..12 */
    int nm = p.nmetrics, ncv = p.ncurve * p.ncurve_metrics;
    for (size_t t = 0; t < p.ntasks; t += 2) {
        assert_true(p.tasks[t].hp[P_EPOCHS] == 5 && p.tasks[t + 1].hp[P_EPOCHS] == 12);
        out_t a, b, ref;
        assert_int_equal(run_task(&c, &p, t, NULL, &a), TRAIN_OK);
        int bad;
        task_state_t *s = task_state_unpack(a.state, task_state_len((size_t)a.state[7]), &bad);
        assert_non_null(s);
        assert_int_equal(s->pos.epoch, 5);
        /* from scratch (the independent check), then continued */
        assert_int_equal(run_task(&c, &p, t + 1, NULL, &ref), TRAIN_OK);
        assert_int_equal(run_task(&c, &p, t + 1, s, &b), TASK_BAD_STATE); /* start_epoch is 0 */
        free(b.curve), free(b.state);
        p.tasks[t + 1].start_epoch = 5;
        p.tasks[t + 1].prev_task = (long)t;
        assert_int_equal(run_task(&c, &p, t + 1, s, &b), TRAIN_OK);
        assert_memory_equal(b.vals, ref.vals, nm * sizeof(double));
        assert_int_equal(b.st, TRAIN_OK);
        assert_memory_equal(b.state, ref.state, task_state_len(s->nparams) * sizeof(double));
        /* curve points: the continuation reports those from its start on */
        for (int i = 0; i < ncv; i++) {
            int pt = i / p.ncurve_metrics, e = p.curve_epochs[pt]; /* point-major */
            if (e >= 5) assert_memory_equal(&b.curve[i], &ref.curve[i], sizeof(double));
            else assert_true(isnan(b.curve[i]));
            if (e <= 5) assert_memory_equal(&a.curve[i], &ref.curve[i], sizeof(double));
        }
        /* the state of another model (mlp <-> resnet: another arena size) */
        size_t other = t ^ 2;
        p.tasks[other + 1].start_epoch = 5;
        out_t x;
        assert_int_equal(run_task(&c, &p, other + 1, s, &x), TASK_BAD_STATE);
        p.tasks[other + 1].start_epoch = 0;
        free(x.curve), free(x.state);
        task_state_free(s);
        free(a.curve), free(a.state), free(b.curve), free(b.state), free(ref.curve), free(ref.state);
    }
    plan_free(&p);
    study_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_packed_bits),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_task_continuation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
