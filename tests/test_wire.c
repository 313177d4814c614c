/* test_wire.c - the result record (wire.h): pack/unpack round trip with
 * every section, the layout of 0.3.0/0.4.0 journal payloads, records with
 * bad lengths or counts refused, batches, and storing into a plan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/plan.h"
#include "aesweep/spec.h"
#include "aesweep/wire.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A record with recognisable values in every section. */
typedef struct {
    double metrics[3 * 4], status[3], seconds[3], params[3 * 5], curve[6];
    wire_result_t r;
} sample_t;

static void sample(sample_t *s, size_t nparams, size_t ncurve)
{
    for (int i = 0; i < 12; i++) s->metrics[i] = 0.1 * i + 1e-17 * i;
    s->status[0] = 0, s->status[1] = -1, s->status[2] = 1;
    for (int i = 0; i < 3; i++) s->seconds[i] = 1.5 + i;
    for (int i = 0; i < 15; i++) s->params[i] = (float)(0.3 * i - 2.0); /* float values, as shipped */
    for (int i = 0; i < 6; i++) s->curve[i] = 100.0 / (i + 1);
    s->r = (wire_result_t){.stage = 2, .task = 123456789, .nslots = 3, .nmetrics = 4, .nparams = nparams,
                           .ncurve = ncurve, .metrics = s->metrics, .status = s->status, .seconds = s->seconds,
                           .params = nparams ? s->params : NULL, .curve = ncurve ? s->curve : NULL};
}

static void test_round_trip(void **st)
{
    (void)st;
    sample_t s;
    sample(&s, 5, 6);
    size_t len = wire_result_len(3, 4, 5, 6);
    assert_int_equal(len, 5 + 3 * 4 + 3 + 3 + 15 + 6);
    double buf[64];
    assert_int_equal(wire_result_pack(&s.r, buf, 64), len);
    /* the flat layout, field by field (what journals of 0.3.0 and 0.4.0 hold) */
    assert_true(buf[0] == 2 && buf[1] == 123456789 && buf[2] == 3 && buf[3] == 4 && buf[4] == 5);
    assert_memory_equal(buf + 5, s.metrics, sizeof s.metrics);
    assert_true(buf[17] == 0 && buf[18] == -1 && buf[19] == 1);
    assert_true(buf[20] == 1.5 && buf[22] == 3.5);
    assert_true(buf[23] == (double)(float)(0.3 * 0 - 2.0) && buf[37] == (double)(float)(0.3 * 14 - 2.0));
    assert_true(buf[38] == 100.0 && buf[43] == 100.0 / 6);
    wire_result_t u;
    assert_int_equal(wire_result_unpack(&u, buf, len), 0);
    assert_int_equal(u.stage, 2);
    assert_int_equal(u.task, 123456789);
    assert_int_equal(u.nslots, 3);
    assert_int_equal(u.nmetrics, 4);
    assert_int_equal(u.nparams, 5);
    assert_int_equal(u.ncurve, 6);
    assert_memory_equal(u.metrics, s.metrics, sizeof s.metrics);
    assert_memory_equal(u.seconds, s.seconds, sizeof s.seconds);
    assert_memory_equal(u.curve, s.curve, sizeof s.curve);
    int8_t st8[3];
    wire_result_get_status(&u, st8);
    assert_true(st8[0] == 0 && st8[1] == -1 && st8[2] == 1);
    float w[15];
    wire_result_get_params(&u, w);
    for (int i = 0; i < 15; i++) assert_true(w[i] == (float)s.params[i]);
    /* the views point into the buffer: no copy */
    assert_ptr_equal(u.metrics, buf + 5);
    assert_ptr_equal(u.curve, buf + 38);
    /* typed writers give the same bytes */
    double buf2[64];
    wire_result_t f = s.r;
    assert_int_equal(wire_result_frame(&f, buf2, 64), len);
    memcpy(f.metrics, s.metrics, sizeof s.metrics);
    int8_t in8[3] = {0, -1, 1};
    wire_result_put_status(&f, in8);
    memcpy(f.seconds, s.seconds, sizeof s.seconds);
    float fw[15];
    for (int i = 0; i < 15; i++) fw[i] = (float)s.params[i];
    wire_result_put_params(&f, fw);
    memcpy(f.curve, s.curve, sizeof s.curve);
    assert_memory_equal(buf, buf2, len * sizeof(double));
}

static void test_no_weights_no_curve(void **st)
{
    (void)st;
    /* a record as 0.3.0 wrote it before learning curves: no weights, no curve */
    double old[] = {1, 7, 2, 3, 0, /* metrics */ 0.5, 0.25, 0.125, 1, 2, 3, /* status */ 0, 3, /* seconds */ 0.01, 0.02};
    wire_result_t u;
    assert_int_equal(wire_result_unpack(&u, old, sizeof old / sizeof *old), 0);
    assert_int_equal(u.stage, 1);
    assert_int_equal(u.task, 7);
    assert_int_equal(u.nparams, 0);
    assert_int_equal(u.ncurve, 0);
    assert_true(u.metrics[5] == 3 && u.status[1] == 3 && u.seconds[1] == 0.02);
    /* packing it back gives the same doubles */
    double again[15];
    assert_int_equal(wire_result_pack(&u, again, 15), 15);
    assert_memory_equal(again, old, sizeof old);
}

static void test_bad_lengths_refused(void **st)
{
    (void)st;
    sample_t s;
    sample(&s, 5, 0);
    double buf[64];
    size_t len = wire_result_pack(&s.r, buf, 64);
    assert_int_equal(len, 38);
    wire_result_t u;
    /* every length shorter than the header says is refused */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(wire_result_unpack(&u, buf, n), -1);
        assert_null(u.metrics);
    }
    assert_int_equal(wire_result_unpack(&u, buf, len), 0);
    assert_int_equal(u.ncurve, 0);
    assert_int_equal(wire_result_unpack(&u, buf, len + 4), 0); /* the rest is the curve */
    assert_int_equal(u.ncurve, 4);
    assert_int_equal(wire_result_unpack(&u, NULL, 10), -1);
    /* the buffer is too small for the record */
    assert_int_equal(wire_result_pack(&s.r, buf, len - 1), 0);
    assert_int_equal(wire_result_frame(&s.r, buf, len - 1), 0);
}

static void test_bad_counts_refused(void **st)
{
    (void)st;
    double good[] = {0, 3, 1, 1, 0, 0.5, 0, 0.1};
    wire_result_t u;
    assert_int_equal(wire_result_unpack(&u, good, 8), 0);
    struct { int field; double value; } bad[] = {
        {0, -1},   {0, 0.5},  {0, NAN},        /* stage */
        {1, -1},   {1, 2.5},  {1, INFINITY},   /* task */
        {2, 0},    {2, -3},   {2, 1.5},  {2, 1e7}, {2, NAN}, /* nslots */
        {3, 0},    {3, 2.5},  {3, 1e4},        /* nmetrics */
        {4, -1},   {4, 0.5},  {4, 1e13}, {4, 1e300}, /* nparams: no overflow */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double b[8];
        memcpy(b, good, sizeof b);
        b[bad[i].field] = bad[i].value;
        assert_int_equal(wire_result_unpack(&u, b, 8), -1);
    }
    /* a count in range whose sections do not fit: refused, no overflow */
    double big[] = {0, 0, 999999, 999, 1099511627775.0, 0, 0, 0};
    assert_int_equal(wire_result_unpack(&u, big, 8), -1);
    /* counts out of range are not framed either */
    wire_result_t r = {.nslots = 0, .nmetrics = 1};
    double buf[16];
    assert_int_equal(wire_result_frame(&r, buf, 16), 0);
}

static void test_batch(void **st)
{
    (void)st;
    wire_batch_t b = {0};
    sample_t s;
    size_t lens[3];
    for (int i = 0; i < 3; i++) {
        sample(&s, i == 1 ? 5 : 0, (size_t)i * 2);
        s.r.task = (size_t)i;
        double *at = wire_batch_reserve(&b, wire_result_len(3, 4, s.r.nparams, s.r.ncurve));
        assert_non_null(at);
        lens[i] = wire_result_pack(&s.r, at, wire_result_len(3, 4, s.r.nparams, s.r.ncurve));
        wire_batch_commit(&b, lens[i], 10.0 + i);
    }
    assert_int_equal(b.count, 3);
    assert_true(b.first_at == 10.0);
    assert_int_equal(b.len, 3 + lens[0] + lens[1] + lens[2]);
    size_t pos = 0, rl;
    double *rec;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wire_batch_next(b.buf, b.len, &pos, &rec, &rl), 1);
        assert_int_equal(rl, lens[i]);
        wire_result_t u;
        assert_int_equal(wire_result_unpack(&u, rec, rl), 0);
        assert_int_equal(u.task, i);
        assert_int_equal(u.ncurve, (size_t)i * 2);
    }
    assert_int_equal(wire_batch_next(b.buf, b.len, &pos, &rec, &rl), 0);
    /* a length running past the message, or not a record's, is refused */
    pos = 0;
    assert_int_equal(wire_batch_next(b.buf, lens[0], &pos, &rec, &rl), -1);
    double bad[] = {2.5, 0, 0, 0, 0, 0, 0};
    pos = 0;
    assert_int_equal(wire_batch_next(bad, 7, &pos, &rec, &rl), -1);
    bad[0] = 3; /* shorter than a header */
    pos = 0;
    assert_int_equal(wire_batch_next(bad, 7, &pos, &rec, &rl), -1);
    wire_batch_clear(&b);
    assert_int_equal(b.count, 0);
    assert_int_equal(b.len, 0);
    wire_batch_free(&b);
}

static const char *SPEC = "study=\"w\"; seed=1; data={source=\"moons\"; pool=100;};\n"
                          "tests=({name=\"a\"; size=10;});\n"
                          "stages=({name=\"s\"; axes={lr=[0.1,0.2]; epochs=[10,20];}; repeats=1;});\n";

static void test_store_into_plan(void **st)
{
    (void)st;
    study_t s;
    char err[SPEC_ERR_LEN];
    assert_int_equal(spec_load(&s, "w.cfg", SPEC, err), 0);
    plan_t p;
    assert_int_equal(plan_build(&p, &s, 0, NULL, NULL, err), 0);
    assert_int_equal(p.nslots, 2);
    assert_int_equal(p.ntasks, 2);
    double m[2 * PLAN_MAX_METRICS], stt[2] = {0, 0}, secs[2] = {1, 2};
    for (int i = 0; i < 2 * p.nmetrics; i++) m[i] = 10 + i;
    wire_result_t r = {.stage = 0, .task = 1, .nslots = 2, .nmetrics = p.nmetrics, .metrics = m, .status = stt,
                       .seconds = secs};
    double buf[256];
    size_t len = wire_result_pack(&r, buf, 256);
    wire_result_t u;
    assert_int_equal(wire_result_unpack(&u, buf, len), 0);
    int was = -1;
    assert_int_equal(wire_result_store(&u, &p, &was), 0);
    assert_int_equal(was, 0);
    assert_int_equal(p.ndone, 1);
    assert_true(p.task_done[1]);
    /* slot s of task 1 lands at its cube point */
    for (int sl = 0; sl < 2; sl++) {
        size_t idx = p.tasks[1].first_cube + p.slot_offset[sl];
        assert_true(p.metrics[idx] == 10 + sl * p.nmetrics);
        assert_true(p.seconds[idx] == secs[sl]);
    }
    assert_int_equal(wire_result_store(&u, &p, &was), 0); /* journaled twice: counted once */
    assert_int_equal(was, 1);
    assert_int_equal(p.ndone, 1);
    /* foreign records are left alone */
    wire_result_t f = u;
    f.stage = 1;
    assert_int_equal(wire_result_store(&f, &p, NULL), -1);
    f = u, f.task = 2;
    assert_int_equal(wire_result_store(&f, &p, NULL), -1);
    f = u, f.nslots = 1;
    assert_int_equal(wire_result_store(&f, &p, NULL), -1);
    f = u, f.nmetrics = p.nmetrics + 1;
    assert_int_equal(wire_result_store(&f, &p, NULL), -1);
    assert_int_equal(p.ndone, 1);
    plan_free(&p);
    spec_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_no_weights_no_curve),
        cmocka_unit_test(test_bad_lengths_refused), cmocka_unit_test(test_bad_counts_refused),
        cmocka_unit_test(test_batch),           cmocka_unit_test(test_store_into_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
