/* test_plan.c - cube layout, task enumeration with epoch reuse, the LPT
 * partition (against a plain linear-scan LPT and the 4/3 bound), statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/plan.h"
#include "aesweep/spec.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *SPEC =
    "study=\"p\"; seed=1; data={source=\"moons\"; pool=1000;};\n"
    "tests=({name=\"a\"; size=100;});\n"
    "stages=({name=\"s\"; axes={lr=[0.1,0.2,0.3]; epochs=[30,10,20]; hidden=[4,8];}; repeats=2; data_draws=2;});\n";

static void test_layout_and_tasks(void **st)
{
    (void)st;
    study_t s;
    char err[SPEC_ERR_LEN];
    assert_int_equal(spec_load(&s, "t.cfg", SPEC, err), 0);
    plan_t p;
    assert_int_equal(plan_build(&p, &s, 0, NULL, NULL, err), 0);
    assert_int_equal(p.ndims, 5); /* lr, epochs, hidden, draw, repeat */
    assert_string_equal(p.dim_names[3], "draw");
    assert_int_equal(p.ncube, 3 * 3 * 2 * 2 * 2);
    assert_int_equal(p.ncells, 18);
    assert_int_equal(p.nrep, 4);
    assert_int_equal(p.ntasks, p.ncube / 3); /* epochs collapsed */
    /* slots ascending with the cube offset of each value's axis position */
    assert_int_equal(p.slot_epochs[0], 10);
    assert_int_equal(p.slot_epochs[2], 30);
    assert_int_equal(p.slot_offset[0], 1 * p.dim_stride[1]);
    assert_int_equal(p.slot_offset[2], 0);
    for (size_t t = 0; t < p.ntasks; t++) {
        assert_true(p.tasks[t].hp[P_EPOCHS] == 30);
        double hp[P_COUNT];
        plan_cube_hp(&p, p.tasks[t].first_cube, hp);
        assert_true(hp[P_LR] == p.tasks[t].hp[P_LR] && hp[P_HIDDEN] == p.tasks[t].hp[P_HIDDEN]);
        assert_true(p.tasks[t].cost > 0);
        /* a grid task has no search fields (plan.h) */
        assert_int_equal(p.tasks[t].trial, -1);
        assert_int_equal(p.tasks[t].prev_task, -1);
        assert_int_equal(p.tasks[t].rung + p.tasks[t].start_epoch + p.tasks[t].absent, 0);
    }
    assert_int_equal(p.search, PLAN_GRID);
    assert_null(p.sspec);
    assert_null(p.trial_hp);
    assert_int_equal(p.nrungs, 1);
    /* complete once every task is stored */
    assert_false(plan_complete(&p));
    p.ndone = p.ntasks;
    assert_true(plan_complete(&p));
    p.ndone = 0;
    /* cost grows with hidden */
    assert_true(p.tasks[0].cost < p.tasks[p.nrep].cost);
    plan_free(&p);
    spec_free(&s);
}

static void test_lpt(void **st)
{
    (void)st;
    study_t s;
    char err[SPEC_ERR_LEN];
    assert_int_equal(spec_load(&s, "t.cfg", SPEC, err), 0);
    plan_t p;
    plan_build(&p, &s, 0, NULL, NULL, err);
    srand(3);
    for (size_t t = 0; t < p.ntasks; t++) p.tasks[t].cost = 1 + rand() % 1000;
    for (int R = 1; R <= 7; R++) {
        int *owner = malloc(p.ntasks * sizeof(int));
        double *load = malloc(R * sizeof(double));
        double mk = plan_partition(&p, R, owner, load);
        /* reference LPT with a linear scan */
        size_t *ord = malloc(p.ntasks * sizeof(size_t));
        for (size_t i = 0; i < p.ntasks; i++) ord[i] = i;
        for (size_t i = 1; i < p.ntasks; i++)
            for (size_t j = i; j > 0; j--) {
                size_t a = ord[j - 1], b = ord[j];
                if (p.tasks[a].cost > p.tasks[b].cost || (p.tasks[a].cost == p.tasks[b].cost && a < b)) break;
                ord[j - 1] = b, ord[j] = a;
            }
        double *l2 = calloc(R, sizeof(double)), tot = 0, big = 0;
        for (size_t i = 0; i < p.ntasks; i++) {
            int b = 0;
            for (int r = 1; r < R; r++)
                if (l2[r] < l2[b]) b = r;
            assert_int_equal(owner[ord[i]], b);
            l2[b] += p.tasks[ord[i]].cost;
            tot += p.tasks[ord[i]].cost;
            if (p.tasks[ord[i]].cost > big) big = p.tasks[ord[i]].cost;
        }
        double lb = fmax(tot / R, big);
        assert_true(mk >= lb && mk <= 4.0 / 3.0 * lb + 1e-9); /* Graham's bound */
        free(owner), free(load), free(ord), free(l2);
    }
    plan_free(&p);
    spec_free(&s);
}

/* Any subset, in any order: the same placement as a linear-scan LPT of
 * just those tasks, placement order by descending cost (ties by id). */
static void test_lpt_subset(void **st)
{
    (void)st;
    study_t s;
    char err[SPEC_ERR_LEN];
    assert_int_equal(spec_load(&s, "t.cfg", SPEC, err), 0);
    plan_t p;
    plan_build(&p, &s, 0, NULL, NULL, err);
    srand(5);
    for (size_t t = 0; t < p.ntasks; t++) p.tasks[t].cost = 1 + rand() % 50; /* ties happen */
    size_t ids[64], n = 0;
    for (size_t t = p.ntasks; t-- > 0;) /* every third task, descending ids */
        if (t % 3 != 1) ids[n++] = t;
    assert_true(n > 4 && n < p.ntasks);
    for (int R = 1; R <= 5; R++) {
        size_t order[64];
        int owner[64];
        double load[5];
        double mk = plan_partition_subset(&p, ids, n, R, order, owner, load);
        /* placement order: a permutation of ids, descending cost, ties by id */
        for (size_t i = 0; i < n; i++) {
            int found = 0;
            for (size_t k = 0; k < n; k++) found += ids[k] == order[i];
            assert_int_equal(found, 1);
            if (i) {
                double a = p.tasks[order[i - 1]].cost, b = p.tasks[order[i]].cost;
                assert_true(a > b || (a == b && order[i - 1] < order[i]));
            }
        }
        double l2[5] = {0}, worst = 0;
        for (size_t i = 0; i < n; i++) {
            int b = 0;
            for (int r = 1; r < R; r++)
                if (l2[r] < l2[b]) b = r;
            assert_int_equal(owner[i], b);
            l2[b] += p.tasks[order[i]].cost;
        }
        for (int r = 0; r < R; r++) {
            assert_true(load[r] == l2[r]);
            if (l2[r] > worst) worst = l2[r];
        }
        assert_true(mk == worst);
    }
    /* the whole plan as a subset gives plan_partition's owners */
    size_t all[64], order[64];
    int own[64], owner[64];
    double load[3], load2[3];
    for (size_t t = 0; t < p.ntasks; t++) all[t] = p.ntasks - 1 - t;
    double a = plan_partition_subset(&p, all, p.ntasks, 3, order, own, load);
    double b = plan_partition(&p, 3, owner, load2);
    assert_true(a == b);
    for (size_t i = 0; i < p.ntasks; i++) assert_int_equal(owner[order[i]], own[i]);
    /* an empty subset */
    assert_true(plan_partition_subset(&p, ids, 0, 3, order, own, load) == 0);
    plan_free(&p);
    spec_free(&s);
}

static void test_stats(void **st)
{
    (void)st;
    study_t s;
    char err[SPEC_ERR_LEN];
    assert_int_equal(spec_load(&s, "t.cfg", SPEC, err), 0);
    plan_t p;
    plan_build(&p, &s, 0, NULL, NULL, err);
    for (size_t i = 0; i < p.ncube; i++) p.metrics[i] = (double)(i % 7) + 0.5 * (double)(i / 4);
    p.metrics[5] = NAN; /* a diverged repeat in cell 1 */
    double mean[18], sd[18], mn[18], isd[18], dsd[18];
    int cnt[18];
    plan_stats(&p, 0, mean, sd, mn, cnt);
    plan_spread(&p, 0, isd, dsd);
    for (size_t c = 0; c < 18; c++) {
        double v[4], m = 0, lo = INFINITY;
        int k = 0;
        for (int r = 0; r < 4; r++)
            if (isfinite(p.metrics[c * 4 + r])) v[k++] = p.metrics[c * 4 + r];
        for (int i = 0; i < k; i++) m += v[i] / k, lo = fmin(lo, v[i]);
        double ss = 0;
        for (int i = 0; i < k; i++) ss += (v[i] - m) * (v[i] - m);
        assert_int_equal(cnt[c], k);
        assert_true(fabs(mean[c] - m) < 1e-12 && fabs(sd[c] - sqrt(ss / (k - 1))) < 1e-12 && mn[c] == lo);
        if (c != 1) { /* draws x repeats = 2 x 2 */
            const double *x = p.metrics + c * 4;
            double m0 = (x[0] + x[1]) / 2, m1 = (x[2] + x[3]) / 2;
            double v0 = (x[0] - m0) * (x[0] - m0) * 2, v1 = (x[2] - m1) * (x[2] - m1) * 2;
            assert_true(fabs(isd[c] - sqrt((v0 + v1) / 2)) < 1e-12);
            assert_true(fabs(dsd[c] - fabs(m0 - m1) / sqrt(2)) < 1e-12);
        }
    }
    assert_int_equal(plan_select_best(&p), 0);
    assert_int_not_equal(p.best_cell, 1);
    assert_int_equal(p.nskipped, 1);
    plan_free(&p);
    spec_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_tasks),
        cmocka_unit_test(test_lpt), cmocka_unit_test(test_lpt_subset),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
