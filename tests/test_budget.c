/* test_budget.c - admission (budget.h): the memory a task needs against
 * the arithmetic of its architecture's parameter count, refusal just over
 * the limit and admission at it, the generated-data bound, the one cost
 * order and the rate table.  No MPI: the study is opened from a spec text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/budget.h"
#include "aesweep/study.h"
#include "aesweep/task.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* moons (2 features): pool 1000, one test set of 100 rows; the network
 * [2, 8, 8, 1, 8, 8, 2] (hidden 8, one more layer of 8, bottleneck 1);
 * minibatches of 50 rows, so the workspaces do not depend on train_size. */
static const char *SPEC =
    "study = \"b\"; seed = 1;\n"
    "data = { source = \"moons\"; pool = 1000; };\n"
    "tests = ( { name = \"t\"; size = 100; } );\n"
    "defaults = { hidden = 8; layers = 1; bottleneck = 1; batch_size = 50; epochs = 3; };\n"
    "stages = ( { name = \"s\"; axes = { train_size = [100, 300]; epochs = [1, 3]; }; } );\n";

static int open_text(study_ctx_t *c, const char *text)
{
    char err[SPEC_ERR_LEN];
    study_source_t src = {.spec_path = "b.cfg", .text = text, .check_data = 1};
    int rc = study_open(c, &src, err);
    if (rc) fprintf(stderr, "%s\n", err);
    return rc;
}

static void test_task_memory_arithmetic(void **st)
{
    (void)st;
    study_ctx_t c;
    assert_int_equal(open_text(&c, SPEC), 0);
    plan_t p;
    char err[SPEC_ERR_LEN];
    assert_int_equal(plan_build(&p, &c.s, 0, NULL, NULL, err), 0);
    assert_int_equal(p.ntasks, 2); /* train_size 100 and 300; epochs share a task */
    model_arch_t a = task_arch(&c.sd, p.tasks[0].hp);
    /* weights + biases layer by layer: 2*8+8, 8*8+8, 8*1+1, 1*8+8, 8*8+8, 8*2+2 */
    assert_int_equal(model_param_count(&a), 24 + 72 + 9 + 16 + 72 + 18);
    const task_t *t100 = p.tasks[0].hp[P_TRAIN_SIZE] == 100 ? &p.tasks[0] : &p.tasks[1];
    const task_t *t300 = t100 == &p.tasks[0] ? &p.tasks[1] : &p.tasks[0];
    double m100 = budget_task_memory(&c.sd, &p, t100), m300 = budget_task_memory(&c.sd, &p, t300);
    /* 4 bytes x (4 arenas of 211 floats + 2 x 100 training rows x 2 + 100
     * test rows x 2) + the workspaces of 50 and 1024 rows */
    double ws = model_ws_bytes(&a, 50, NULL) + model_ws_bytes(&a, 1024, NULL);
    assert_true(ws > 0);
    assert_true(m100 == 4.0 * (4 * 211 + 2 * 100 * 2 + 100 * 2) + ws);
    /* 200 more training rows: 4 bytes x 2 copies x 200 rows x 2 features */
    assert_true(m300 - m100 == 4.0 * 2 * 200 * 2);
    assert_true(budget_plan_peak(&c.sd, &p) == m300);
    /* saving the models keeps every slot's arena: + 4 x 211 x nslots */
    p.spec = &c.s.stages[0];
    c.s.stages[0].save_models = 1;
    assert_true(budget_task_memory(&c.sd, &p, t100) - m100 == 4.0 * 211 * p.nslots);
    assert_int_equal(p.nslots, 2);
    c.s.stages[0].save_models = 0;
    plan_free(&p);
    study_close(&c);
}

static void test_refusal_over_the_limit(void **st)
{
    (void)st;
    study_ctx_t c;
    assert_int_equal(open_text(&c, SPEC), 0);
    char err[SPEC_ERR_LEN] = "";
    double peak = 0;
    assert_int_equal(budget_check_study(&c.s, &c.sd, 1e12, 2, "b.cfg", &peak, err), 0);
    assert_true(peak > 0);
    /* at the peak: admitted; a byte under it: refused with both numbers */
    assert_int_equal(budget_check_study(&c.s, &c.sd, peak, 2, "b.cfg", &peak, err), 0);
    assert_int_equal(budget_check_study(&c.s, &c.sd, peak - 1, 2, "b.cfg", &peak, err), -1);
    char need[32], want[64];
    budget_fmt_bytes(need, sizeof need, peak);
    snprintf(want, sizeof want, "the largest task needs %s per rank", need);
    assert_non_null(strstr(err, "b.cfg: stage s: "));
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "(2 rank(s) on this node)"));
    assert_non_null(strstr(err, "raise --max-mem-gb"));
    /* a planned stage, as run checks it once its inherited values are known */
    plan_t p;
    assert_int_equal(plan_build(&p, &c.s, 0, NULL, NULL, err), 0);
    assert_int_equal(budget_check_stage(&c.sd, &p, peak, "b.cfg", err), 0);
    assert_int_equal(budget_check_stage(&c.sd, &p, peak - 1, "b.cfg", err), -1);
    assert_non_null(strstr(err, "b.cfg: stage s: with the inherited values its largest task needs"));
    plan_free(&p);
    study_close(&c);
}

static void test_generated_data_bound(void **st)
{
    (void)st;
    study_ctx_t c;
    assert_int_equal(open_text(&c, SPEC), 0);
    char err[SPEC_ERR_LEN] = "";
    /* (1000 pool + 100 test) points x 44 bytes */
    assert_int_equal(budget_check_data(&c.s, 1100 * 44.0, "b.cfg", err), 0);
    assert_int_equal(budget_check_data(&c.s, 1100 * 44.0 - 1, "b.cfg", err), -1);
    assert_non_null(strstr(err, "b.cfg: data.pool and tests need 0.0 MiB to generate"));
    /* study_open makes that check before generating anything */
    study_close(&c);
    study_source_t src = {.spec_path = "b.cfg", .text = SPEC, .mem_limit = 1000.0, .check_data = 1};
    assert_int_equal(study_open(&c, &src, err), -1);
    assert_non_null(strstr(err, "lower data.pool or tests.size"));
    assert_int_equal(c.sd.pool.n, 0); /* nothing was generated */
    study_close(&c);
    study_close(&c); /* harmless twice */
}

static void test_limits_and_format(void **st)
{
    (void)st;
    assert_true(budget_mem_limit(1.5, 4) == 1.5 * 1073741824.0);
    double one = budget_mem_limit(0, 1), four = budget_mem_limit(0, 4);
    assert_true(one > 0 && four == one / 4);
    char b[32];
    budget_fmt_bytes(b, sizeof b, 3 * 1048576.0);
    assert_string_equal(b, "3.0 MiB");
    budget_fmt_bytes(b, sizeof b, 1.5 * 1073741824.0);
    assert_string_equal(b, "1.50 GiB");
}

static void test_cost_order_and_rates(void **st)
{
    (void)st;
    task_t t[6];
    memset(t, 0, sizeof t);
    double cost[6] = {5, 9, 5, 1, 9, 5};
    for (int i = 0; i < 6; i++) t[i].cost = cost[i];
    size_t ord[6];
    budget_order_by_cost(t, 6, ord);
    /* descending cost, ties in ascending index */
    size_t want[6] = {1, 4, 0, 2, 5, 3};
    for (int i = 0; i < 6; i++) assert_int_equal(ord[i], want[i]);
    budget_order_by_cost(t, 0, ord); /* nothing to order */
    assert_true(budget_rate("avx512") == 200e9);
    assert_true(budget_rate("avx2") == 95e9);
    assert_true(budget_rate("generic") == 16e9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_memory_arithmetic),
        cmocka_unit_test(test_refusal_over_the_limit),
        cmocka_unit_test(test_generated_data_bound),
        cmocka_unit_test(test_limits_and_format),
        cmocka_unit_test(test_cost_order_and_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
