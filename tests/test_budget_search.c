/* test_budget_search.c - validate's bounds of a halving stage (budget_search_bound): the cost
 * bound is the costliest of every possible promotion outcome (enumerated), the makespan bound is
 * at least the LPT makespan of every outcome's rounds (plan_partition_subset), and the carried
 * states on rank 0 are what the rule in budget.h gives, recomputed here from the model's
 * parameter count.  A Hyperband stage of 6 trials (min 10, max 90, eta 3: brackets of 3, 2 and 1
 * trials), built by hand as plan.c builds it; no MPI.  The same stage as a dataflow (align =
 * "flow"): its makespan bound is Graham's, checked against greedy list schedules of every
 * promotion outcome in two priority orders, and its states bound holds each bracket's largest
 * rung at once.  And the costliest point of a TPE stage's space (budget_space_corner), validate's
 * bound over the proposals it cannot know. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/budget.h"
#include "aesweep/dispatch.h"
#include "aesweep/halving.h"
#include "aesweep/kernel_lanes.h"
#include "aesweep/plan.h"
#include "aesweep/study.h"
#include "aesweep/task.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SPEC = "study=\"b\"; seed=5; data={source=\"moons\"; pool=400;};\n"
                          "tests=({name=\"a\"; size=50;});\n"
                          "stages=({name=\"hb\"; axes={lr=[0.001];}; fixed={hidden=[20, 10];};});\n";

#define NT 6
static search_spec_t g_ss = {.has_sample = 1, .sampler = SAMPLE_RANDOM, .has_halving = 1, .min_epochs = 10,
                             .max_epochs = 90, .eta = 3};

/* The plan of NT trials under Hyperband from lo to hi epochs (eta 3). */
static void make_plan_range(plan_t *p, const study_t *s, long lo, long hi)
{
    char err[SPEC_ERR_LEN];
    assert_int_equal(plan_build(p, s, 0, NULL, NULL, err), 0);
    halving_schedule_t *h = malloc(sizeof *h);
    assert_int_equal(halving_schedule(h, lo, hi, 3, 0, NT, err, sizeof err), 0);
    size_t R = (size_t)h->b[0].nrungs, nc = NT * R;
    free(p->tasks);
    p->search = PLAN_SAMPLED | PLAN_HALVING, p->sspec = &g_ss, p->sched = h;
    p->ntrials = NT, p->nrungs = (int)R, p->ntasks = nc;
    p->tasks = calloc(nc, sizeof(task_t));
    for (size_t i = 0; i < nc; i++) {
        size_t t = i / R;
        int k = (int)(i % R), b = halving_bracket_of(h, (long)t);
        task_t *tk = &p->tasks[i];
        memcpy(tk->hp, p->base, sizeof tk->hp);
        tk->hp[P_HIDDEN] = t % 3 == 1 ? -1 : 8.0 + (double)t; /* -1: the list [20, 10], the largest state */
        tk->trial = (long)t, tk->rung = k, tk->absent = k >= h->b[b].nrungs;
        tk->hp[P_EPOCHS] = tk->absent ? 0 : (double)h->b[b].epochs[k];
        tk->start_epoch = k && !tk->absent ? (int)h->b[b].epochs[k - 1] : 0;
        tk->cost = tk->absent ? 0 : (tk->hp[P_EPOCHS] - tk->start_epoch) * (double)(1 + (t * 5) % 7);
    }
}

static void make_plan(plan_t *p, const study_t *s) { make_plan_range(p, s, 10, 90); }

/* Sum over rounds of each round's LPT makespan at R ranks when bracket 0 promotes trial a and
 * bracket 1 trial c; *total gets the cost of every segment trained. */
static double outcome(const plan_t *p, int R, long a, long c, double *total)
{
    size_t rounds[3][NT], n[3] = {0, 0, 0}, order[NT];
    int owner[NT];
    double load[8];
    /* end-aligned (search.h): round 0 bracket 0's rung 0; round 1 its rung 1 and bracket 1's rung 0;
     * round 2 every bracket's last rung */
    for (size_t t = 0; t < 3; t++) rounds[0][n[0]++] = t * 3;
    rounds[1][n[1]++] = (size_t)a * 3 + 1, rounds[1][n[1]++] = 3 * 3, rounds[1][n[1]++] = 4 * 3;
    rounds[2][n[2]++] = (size_t)a * 3 + 2, rounds[2][n[2]++] = (size_t)c * 3 + 1, rounds[2][n[2]++] = 5 * 3;
    double mk = 0;
    *total = 0;
    for (int k = 0; k < 3; k++) {
        mk += plan_partition_subset(p, rounds[k], n[k], R, order, owner, load);
        for (size_t i = 0; i < n[k]; i++) *total += p->tasks[rounds[k][i]].cost;
    }
    return mk;
}

/* Each test's study and hand-built Hyperband plan. */
typedef struct {
    study_ctx_t c;
    plan_t p;
} fixture_t;

static int setup(void **st)
{
    fixture_t *f = calloc(1, sizeof *f);
    char err[SPEC_ERR_LEN];
    study_source_t src = {.spec_path = "b.cfg", .text = SPEC, .data_label = ""};
    if (!f || study_open(&f->c, &src, err)) return -1;
    make_plan(&f->p, &f->c.s);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fixture_t *f = *st;
    plan_free(&f->p);
    study_close(&f->c);
    free(f);
    return 0;
}

static void test_bounds(void **st)
{
    fixture_t *f = *st;
    study_ctx_t *c = &f->c;
    plan_t p = f->p;
    char err[SPEC_ERR_LEN];
    const halving_schedule_t *h = p.sched;
    assert_true(h->b[0].ntrials == 3 && h->b[1].ntrials == 2 && h->b[2].ntrials == 1);
    for (int R = 1; R <= 4; R++) {
        budget_search_t sb;
        assert_int_equal(budget_search_bound(&c->sd, &p, R, &sb), 0);
        assert_int_equal(sb.nrounds, 3);
        assert_int_equal(sb.segments, 6 + 2 + 1);
        double worst = 0;
        for (long a = 0; a < 3; a++)
            for (long b = 3; b < 5; b++) {
                double tot, mk = outcome(&p, R, a, b, &tot);
                assert_true(mk <= sb.makespan * (1 + 1e-12));
                if (tot > worst) worst = tot;
            }
        assert_true(sb.cost == worst); /* the bound is the costliest outcome, no looser */
    }
    /* states (dispatch.c keeps one per trial of a round's rungs, none of a rung-0 last rung):
     * round 0 bracket 0's three; round 1 bracket 0's promoted one and bracket 1's two; round 2 the
     * inputs of brackets 0 and 1's last rungs (bracket 2's single rung keeps none); each with the
     * largest state record of the round's rungs that carry states in flight (8 + ceil(3 np / 2)
     * doubles, task.h; bracket 2's single rung sends and gets none) */
    double sz[NT], rec[NT];
    for (size_t t = 0; t < NT; t++) {
        model_arch_t a = task_arch(&c->sd, p.tasks[t * 3].hp);
        sz[t] = 12.0 * (double)model_param_count(&a) + (double)sizeof(task_state_t);
        rec[t] = 8.0 * (8 + ceil(3.0 * (double)model_param_count(&a) / 2)); /* floats packed two a double */
        assert_true(budget_state_bytes(&c->sd, p.tasks[t * 3].hp) == sz[t]);
    }
    double m0 = fmax(fmax(sz[0], sz[1]), sz[2]), m1 = fmax(sz[3], sz[4]);
    double q02 = fmax(fmax(rec[0], rec[1]), rec[2]), q04 = fmax(q02, fmax(rec[3], rec[4]));
    double r0 = sz[0] + sz[1] + sz[2] + q02;
    double r1 = m0 + sz[3] + sz[4] + q04, r2 = m0 + m1 + q04;
    budget_search_t sb;
    assert_int_equal(budget_search_bound(&c->sd, &p, 2, &sb), 0);
    assert_true(sz[1] > sz[0]); /* the width list makes a larger state */
    assert_true(fabs(sb.state_bytes - fmax(r0, fmax(r1, r2))) < 1e-9);
    /* the admission checks' bound allocates nothing: each rung's n states at its bracket's largest */
    double cap = budget_search_states_cap(&c->sd, &p);
    double c0 = 3 * m0 + q02, c1 = m0 + 2 * m1 + q04, c2 = m0 + m1 + q04;
    assert_true(fabs(cap - fmax(c0, fmax(c1, c2))) < 1e-9 && cap >= sb.state_bytes);
    /* budget_check_stage counts them on rank 0: a limit between the task alone and task + states */
    double task = budget_plan_peak(&c->sd, &p);
    assert_int_equal(budget_check_stage(&c->sd, &p, task + cap, "b.cfg", err), 0);
    assert_int_equal(budget_check_stage(&c->sd, &p, task + cap / 2, "b.cfg", err), -1);
    assert_non_null(strstr(err, "carried states"));
    /* a grid stage has none */
    plan_t g;
    assert_int_equal(plan_build(&g, &c->s, 0, NULL, NULL, err), 0);
    assert_int_equal(budget_search_bound(&c->sd, &g, 2, &sb), 0);
    assert_true(sb.state_bytes == 0 && sb.nrounds == 0);
    plan_free(&g);
    /* a stage of one rung (min_epochs = max_epochs) carries nothing: no state, no record in flight
     * (review: validate printed a record's bytes), in rounds and as a dataflow ... */
    plan_t one;
    make_plan_range(&one, &c->s, 90, 90);
    assert_int_equal(one.nrungs, 1);
    search_spec_t flow = g_ss;
    flow.flow = 1;
    for (int k = 0; k < 2; k++) {
        one.sspec = k ? &flow : &g_ss;
        assert_int_equal(budget_search_bound(&c->sd, &one, 2, &sb), 0);
        assert_true(sb.state_bytes == 0 && sb.segments == NT && budget_search_states_cap(&c->sd, &one) == 0);
    }
    /* unless the stage saves every model: each task then ships its end state for the weights
     * (dispatch.c ships_state), one record in flight at a time, the largest (review) */
    const stage_spec_t *keep = one.spec;
    stage_spec_t saving = *keep;
    saving.save_models = 1;
    one.spec = &saving, one.sspec = &g_ss;
    double big = 0;
    for (size_t t = 0; t < NT; t++) {
        model_arch_t a = task_arch(&c->sd, one.tasks[t].hp);
        big = fmax(big, 8.0 * (8 + ceil(3.0 * (double)model_param_count(&a) / 2)));
    }
    assert_int_equal(budget_search_bound(&c->sd, &one, 2, &sb), 0);
    assert_true(big > 0 && fabs(sb.state_bytes - big) < 1e-9 && fabs(budget_search_states_cap(&c->sd, &one) - big) < 1e-9);
    one.spec = keep;
    one.sspec = &g_ss;
    plan_free(&one);
}

/* A greedy list schedule at R ranks of the outcome (a, c) under each bracket's rung barrier: the
 * earliest free rank takes the first ready task in `order` (0: by task id, 1: costliest first);
 * returns the makespan. */
static double greedy(const plan_t *p, int R, long a, long c, int order)
{
    /* the rungs as lists of task ids, bracket by bracket; rung i follows rung i - 1 if same bracket */
    size_t rung[6][3], n[6] = {3, 1, 1, 2, 1, 1};
    int br[6] = {0, 0, 0, 1, 1, 2};
    for (size_t t = 0; t < 3; t++) rung[0][t] = t * 3;
    rung[1][0] = (size_t)a * 3 + 1, rung[2][0] = (size_t)a * 3 + 2;
    rung[3][0] = 9, rung[3][1] = 12, rung[4][0] = (size_t)c * 3 + 1, rung[5][0] = 15;
    int started[6][3] = {{0}};
    double fin[6] = {0}, freeat[8] = {0}, mk = 0;
    size_t left = 9;
    while (left) {
        int r = 0;
        for (int i = 1; i < R; i++)
            if (freeat[i] < freeat[r]) r = i;
        double t = freeat[r], wake = INFINITY;
        int bi = -1, bj = -1;
        for (int i = 0; i < 6; i++) {
            int after = i > 0 && br[i - 1] == br[i], done = 1;
            if (after)
                for (size_t j = 0; j < n[i - 1]; j++) done &= started[i - 1][j];
            if (after && !done) continue;
            if (after && fin[i - 1] > t) {
                wake = fmin(wake, fin[i - 1]);
                continue;
            }
            for (size_t j = 0; j < n[i]; j++) {
                if (started[i][j]) continue;
                double cj = p->tasks[rung[i][j]].cost;
                int better = bi < 0 || (order ? cj > p->tasks[rung[bi][bj]].cost : rung[i][j] < rung[bi][bj]);
                if (better) bi = i, bj = (int)j;
            }
        }
        if (bi < 0) {
            freeat[r] = wake;
            continue;
        }
        started[bi][bj] = 1, left--;
        freeat[r] = t + p->tasks[rung[bi][bj]].cost;
        fin[bi] = fmax(fin[bi], freeat[r]);
        mk = fmax(mk, freeat[r]);
    }
    return mk;
}

static void test_flow_bounds(void **st)
{
    fixture_t *f = *st;
    study_ctx_t *c = &f->c;
    plan_t p = f->p; /* a copy whose sspec this test changes */
    search_spec_t fl = g_ss;
    fl.flow = fl.align_start = 1;
    budget_search_t rounds;
    assert_int_equal(budget_search_bound(&c->sd, &p, 2, &rounds), 0);
    p.sspec = &fl;
    /* the longest chain: each bracket's rungs at their costliest segment, end to end */
    double L = 0;
    for (int b = 0; b < 3; b++) {
        const halving_bracket_t *hb = &p.sched->b[b];
        double chain = 0;
        for (int k = 0; k < hb->nrungs; k++) {
            double mx = 0;
            for (long t = hb->first_trial; t < hb->first_trial + hb->ntrials; t++) mx = fmax(mx, p.tasks[t * 3 + k].cost);
            chain += mx;
        }
        L = fmax(L, chain);
    }
    for (int R = 1; R <= 4; R++) {
        budget_search_t sb;
        assert_int_equal(budget_search_bound(&c->sd, &p, R, &sb), 0);
        double slack = R > 1 ? 3 * DISPATCH_FLOW_QUEUE_S * budget_rate(klanes_isa()) : 0;
        assert_true(fabs(sb.makespan - (sb.cost / R + (1.0 - 1.0 / R) * L + slack)) <= 1e-9 * sb.makespan);
        for (long a = 0; a < 3; a++)
            for (long b = 3; b < 5; b++)
                for (int order = 0; order < 2; order++)
                    assert_true(greedy(&p, R, a, b, order) <= sb.makespan - slack + 1e-9);
    }
    /* states: every bracket may hold its largest rung at once (here bracket 0's three and bracket
     * 1's two inputs: more than any round's) */
    budget_search_t sb;
    assert_int_equal(budget_search_bound(&c->sd, &p, 2, &sb), 0);
    assert_true(sb.state_bytes >= rounds.state_bytes);
    double sz[NT], q = 0;
    for (size_t t = 0; t < NT; t++) {
        model_arch_t a = task_arch(&c->sd, p.tasks[t * 3].hp);
        sz[t] = 12.0 * (double)model_param_count(&a) + (double)sizeof(task_state_t);
        q = fmax(q, 8.0 * (8 + ceil(3.0 * (double)model_param_count(&a) / 2)));
    }
    assert_true(fabs(sb.state_bytes - (sz[0] + sz[1] + sz[2] + sz[3] + sz[4] + q)) < 1e-9);
}

/* budget_space_corner, validate's bound over TPE's proposals: no point of the space costs more
 * than the corner it returns, checked on 2,000 random points; with more combinations than
 * BUDGET_CORNER_MAX (one parameter at a time) it equals the maximum over every combination of
 * the candidates, enumerated here. */
static double full_cost(const plan_t *p, const double *hp)
{
    task_t tk;
    memset(&tk, 0, sizeof tk);
    memcpy(tk.hp, hp, sizeof tk.hp);
    tk.hp[P_EPOCHS] = 27;
    return plan_task_cost(p, &tk);
}

static void corner_of(const char *space, double (*check)(const plan_t *, const double *, double *))
{
    char spec[1024], err[SPEC_ERR_LEN];
    snprintf(spec, sizeof spec,
             "study=\"c\"; seed=5; data={source=\"moons\"; pool=1000;}; tests=({name=\"a\"; size=50;});\n"
             "stages=({name=\"t\"; sample={sampler=\"tpe\"; n_trials=8; tpe_batch=4; space={%s};};"
             " halving={min_epochs=3; max_epochs=27; eta=3; brackets=1;};});\n", space);
    study_ctx_t c;
    study_source_t src = {.spec_path = "c.cfg", .text = spec, .data_label = ""};
    assert_int_equal(study_open(&c, &src, err), 0);
    plan_t p;
    assert_int_equal(plan_build(&p, &c.s, 0, NULL, NULL, err), 0);
    double hp[P_COUNT], hs[P_COUNT];
    memcpy(hp, p.trial_hp, sizeof hp);
    memcpy(hs, p.trial_hp, sizeof hs);
    budget_space_corner(&c.sd, &p, BUDGET_CORNER_COST, hp);
    budget_space_corner(&c.sd, &p, BUDGET_CORNER_STATE, hs);
    double top = full_cost(&p, hp);
    assert_true(check(&p, hp, &top) <= top);
    /* the memory corner has the largest model: no point's state is larger */
    assert_true(budget_state_bytes(&c.sd, hs) >= budget_state_bytes(&c.sd, hp));
    plan_free(&p);
    study_close(&c);
}

/* random points: train_size in [100, 900], hidden of (4, 64, 16), layers in [1, 3] */
static double random_points(const plan_t *p, const double *hp, double *top)
{
    assert_true(hp[P_TRAIN_SIZE] == 900 && hp[P_HIDDEN] == 64 && hp[P_LAYERS] == 3);
    static const double hid[3] = {4, 64, 16};
    srand(7);
    double most = 0, x[P_COUNT];
    for (int i = 0; i < 2000; i++) {
        memcpy(x, hp, sizeof x);
        x[P_TRAIN_SIZE] = 100 + rand() % 801, x[P_HIDDEN] = hid[rand() % 3], x[P_LAYERS] = 1 + rand() % 3;
        x[P_LR] = 0.001 + 0.009 * rand() / (double)RAND_MAX;
        most = fmax(most, full_cost(p, x));
    }
    (void)top;
    return most;
}

/* every combination of 10 x 10 x 2 x 3 = 600 x 10 (batch) > BUDGET_CORNER_MAX candidates */
static double every_combination(const plan_t *p, const double *hp, double *top)
{
    static const double ts[10] = {100, 900, 300, 200, 800, 400, 700, 500, 600, 250};
    static const double hid[10] = {4, 64, 16, 8, 32, 12, 48, 6, 24, 40};
    static const double bs[10] = {0, 16, 32, 64, 128, 8, 256, 512, 4, 1024};
    double most = 0, x[P_COUNT];
    for (int a = 0; a < 10; a++)
        for (int b = 0; b < 10; b++)
            for (int l = 1; l <= 3; l += 2)
                for (int k = 1; k <= 3; k++)
                    for (int q = 0; q < 10; q++) {
                        memcpy(x, hp, sizeof x);
                        x[P_TRAIN_SIZE] = ts[a], x[P_HIDDEN] = hid[b], x[P_LAYERS] = l, x[P_BOTTLENECK] = k;
                        x[P_BATCH_SIZE] = bs[q];
                        most = fmax(most, full_cost(p, x));
                    }
    assert_true(most == *top); /* one parameter at a time found the true maximum */
    return most;
}

static void test_tpe_corner(void **st)
{
    (void)st;
    corner_of("train_size={int=[100, 900];}; hidden={choice=(4, 64, 16);}; layers={int=[1, 3];};"
              " lr={log_uniform=[0.001, 0.01];};", random_points);
    corner_of("train_size={choice=(100, 900, 300, 200, 800, 400, 700, 500, 600, 250);};"
              " hidden={choice=(4, 64, 16, 8, 32, 12, 48, 6, 24, 40);}; layers={int=[1, 3];};"
              " bottleneck={choice=(1, 2, 3);}; batch_size={choice=(0, 16, 32, 64, 128, 8, 256, 512, 4, 1024);};",
              every_combination);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
                                       cmocka_unit_test_setup_teardown(test_flow_bounds, setup, teardown),
                                       cmocka_unit_test(test_tpe_corner)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
