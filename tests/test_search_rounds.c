/* test_search_rounds.c - the plan of search stages (plan_search.c) and their
 * rounds (search.c) as pure functions, without MPI:
 *   - sampled stage: dims trial x draw x repeat, every task's values are
 *     sample_draw's, cube hp = task hp, costs;
 *   - halving stage: trial x rung cube, task id = trial * nrungs + rung,
 *     prev_task, start_epoch, rung epochs from the schedule, absent rungs,
 *     the cost of a rung = the cost of training its own epochs;
 *   - grid + halving: every grid cell is exactly one trial (a permutation);
 *   - promotion rounds from a filled cube against a plain re-implementation
 *     of the rule (sort by metric then trial, keep max(1, m / eta), never a
 *     NaN), merged across brackets and aligned at their end (search.h);
 *     selection at max_epochs;
 *   - TPE rounds: proposals only at a batch's first rung, a pure function
 *     of the cube (twice the same bits), plan_set_trial moving the tasks;
 *     as a dataflow, proposals blind to rungs beyond search_tpe_cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/plan.h"
#include "aesweep/sample.h"
#include "aesweep/search.h"
#include "aesweep/spec.h"
#include "aesweep/train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD                                                                                                      \
    "study=\"s\"; seed=11; data={source=\"moons\"; pool=2000;};\n"                                              \
    "tests=({name=\"a\"; size=100;});\n"                                                                        \
    "defaults={hidden=10; layers=1; bottleneck=1; lr=0.003; epochs=40;};\n"

static const char *SPACE = "space={train_size={int=[200,900];}; lr={log_uniform=[0.0005,0.003];}; "
                           "hidden={choice=(8,12,[12,8]);};};";

static void load(study_t *s, const char *stages)
{
    char text[4096], err[SPEC_ERR_LEN];
    snprintf(text, sizeof text, "%sstages=(%s);\n", HEAD, stages);
    if (spec_load(s, "t.cfg", text, err)) fail_msg("%s", err);
}

/* load() of one stage whose text holds the test's space at its one %s. */
static void load_stage(study_t *s, const char *stage_fmt)
{
    char stage[1024];
    snprintf(stage, sizeof stage, stage_fmt, SPACE);
    load(s, stage);
}

static void build(plan_t *p, const study_t *s, int k)
{
    char err[SPEC_ERR_LEN];
    if (plan_build(p, s, k, NULL, NULL, err)) fail_msg("%s", err);
}

/* The plan of that one stage. */
static void plan_stage(study_t *s, plan_t *p, const char *stage_fmt)
{
    load_stage(s, stage_fmt);
    build(p, s, 0);
}

static void test_sampled_plan(void **st)
{
    (void)st;
    study_t s;
    plan_t p;
    plan_stage(&s, &p, "{name=\"r\"; sample={sampler=\"sobol\"; n_trials=10; %s}; repeats=2; data_draws=3;}");
    assert_int_equal(p.search, PLAN_SAMPLED);
    assert_int_equal(p.ndims, 3);
    assert_string_equal(p.dim_names[0], "trial");
    assert_string_equal(p.dim_names[1], "draw");
    assert_string_equal(p.dim_names[2], "repeat");
    assert_int_equal(p.dim_param[0], -1);
    assert_int_equal(p.ntrials, 10);
    assert_int_equal(p.ncells, 10);
    assert_int_equal(p.nrep, 6);
    assert_int_equal(p.ntasks, 60);
    assert_int_equal(p.nsearch_params, 3);
    assert_int_equal(p.search_params[0], P_TRAIN_SIZE);
    assert_int_equal(p.source[P_LR], VS_AXIS);
    assert_int_equal(p.source[P_EPOCHS], VS_DEFAULT);
    int widthlist = 0;
    for (size_t i = 0; i < p.ntasks; i++) {
        const task_t *tk = &p.tasks[i];
        double v[SAMPLE_MAX_PARAMS], hp[P_COUNT];
        sample_draw(&s.stages[0].search.space, s.seed, 0, tk->trial, v);
        assert_int_equal(tk->trial, (long)(i / 6));
        assert_int_equal(tk->draw, (int)(i % 6) / 2);
        assert_int_equal(tk->repeat, (int)(i % 2));
        assert_int_equal(tk->first_cube, i);
        assert_int_equal(tk->prev_task, -1);
        assert_true(tk->hp[P_TRAIN_SIZE] == v[0] && tk->hp[P_LR] == v[1] && tk->hp[P_HIDDEN] == v[2]);
        assert_true(tk->hp[P_EPOCHS] == 40 && tk->hp[P_LAYERS] == 1);
        widthlist |= tk->hp[P_HIDDEN] < 0;
        plan_cube_hp(&p, i, hp);
        assert_memory_equal(hp, tk->hp, sizeof hp);
        assert_true(tk->cost > 0);
    }
    assert_true(widthlist); /* the list [12, 8] was drawn: coded -(1 + i) */
    /* the same trial in every draw and repeat costs the same */
    assert_true(p.tasks[0].cost == p.tasks[5].cost);
    assert_int_equal(search_nrounds(&p), 1);
    size_t ids[60];
    assert_int_equal(search_round_tasks(&p, 0, ids), 60);
    plan_free(&p);
    spec_free(&s);
}

static void test_halving_plan(void **st)
{
    (void)st;
    study_t s;
    load_stage(&s, "{name=\"h\"; sample={sampler=\"random\"; n_trials=40; %s}; "
                   "halving={min_epochs=3; max_epochs=81; eta=3;};}");
    assert_int_equal(s.stages[0].curve_points, 0); /* the study-wide default does not apply */
    plan_t p;
    build(&p, &s, 0);
    assert_int_equal(p.search, PLAN_SAMPLED | PLAN_HALVING);
    assert_non_null(p.sched);
    assert_int_equal(p.sched->nbrackets, 4); /* s_max = 3 */
    assert_int_equal(p.nrungs, 4);
    assert_int_equal(p.ndims, 3);
    assert_string_equal(p.dim_names[1], "rung");
    assert_int_equal(p.ncube, 40 * 4);
    assert_int_equal(p.ntasks, 160);
    assert_int_equal(p.ncells, 160);
    assert_int_equal(p.nrep, 1);
    assert_true(p.base[P_EPOCHS] == 81);
    for (size_t i = 0; i < p.ntasks; i++) {
        const task_t *tk = &p.tasks[i];
        long t = (long)(i / 4);
        int r = (int)(i % 4), b = halving_bracket_of(p.sched, t);
        const halving_bracket_t *hb = &p.sched->b[b];
        assert_int_equal(p.trial_bracket[t], b);
        assert_int_equal(tk->trial, t);
        assert_int_equal(tk->rung, r);
        assert_int_equal(tk->first_cube, i);
        if (r >= hb->nrungs) {
            assert_int_equal(tk->absent, 1);
            assert_true(tk->cost == 0);
            continue;
        }
        assert_int_equal(tk->absent, 0);
        assert_true(tk->hp[P_EPOCHS] == (double)hb->epochs[r]);
        assert_int_equal(tk->start_epoch, r ? (int)hb->epochs[r - 1] : 0);
        assert_int_equal(tk->prev_task, r ? (long)i - 1 : -1);
        /* its cost is that of training its own epochs from scratch */
        task_t fresh = *tk;
        fresh.hp[P_EPOCHS] = tk->hp[P_EPOCHS] - tk->start_epoch;
        fresh.start_epoch = 0;
        assert_true(tk->cost == plan_task_cost(&p, &fresh));
        double hp[P_COUNT];
        plan_cube_hp(&p, i, hp);
        assert_memory_equal(hp, tk->hp, sizeof hp);
        /* every rung of a trial shares its values but epochs */
        hp[P_EPOCHS] = 81;
        assert_memory_equal(hp, p.trial_hp + t * P_COUNT, sizeof hp);
    }
    /* the last rung of every bracket is max_epochs */
    for (int b = 0; b < p.sched->nbrackets; b++) assert_int_equal(p.sched->b[b].epochs[p.sched->b[b].nrungs - 1], 81);
    plan_free(&p);
    spec_free(&s);
}

static void test_grid_halving_permutes_cells(void **st)
{
    (void)st;
    study_t s;
    load(&s, "{name=\"g\"; axes={lr=[0.001,0.002,0.003]; hidden=[4,8,16,32]; train_size=[300,600];}; "
             "halving={min_epochs=2; max_epochs=18; eta=3;};}");
    plan_t p;
    build(&p, &s, 0);
    assert_int_equal(p.search, PLAN_HALVING);
    assert_int_equal(p.ntrials, 24);
    assert_int_equal(p.nsearch_params, 3);
    int seen[24] = {0}, identity = 1;
    const double lr[3] = {0.001, 0.002, 0.003}, hid[4] = {4, 8, 16, 32}, ts[2] = {300, 600};
    for (size_t t = 0; t < 24; t++) {
        const double *hp = p.trial_hp + t * P_COUNT;
        int a = -1, b = -1, c = -1;
        for (int i = 0; i < 3; i++) if (hp[P_LR] == lr[i]) a = i;
        for (int i = 0; i < 4; i++) if (hp[P_HIDDEN] == hid[i]) b = i;
        for (int i = 0; i < 2; i++) if (hp[P_TRAIN_SIZE] == ts[i]) c = i;
        assert_true(a >= 0 && b >= 0 && c >= 0);
        int cell = (a * 4 + b) * 2 + c; /* row-major over the axes */
        seen[cell]++;
        identity &= cell == (int)t;
        assert_true(hp[P_EPOCHS] == 18);
    }
    for (int i = 0; i < 24; i++) assert_int_equal(seen[i], 1);
    assert_false(identity); /* permuted, not row-major */
    plan_free(&p);
    spec_free(&s);
}

/* The promotion rule written out plainly: the trials of `in` (m of them)
 * by (metric, trial), the first max(1, m / eta) finite ones. */
static long promote_ref(const double *x, int nrungs, int r, const long *in, long m, int eta, long *out)
{
    long ord[256];
    memcpy(ord, in, (size_t)m * sizeof(long));
    for (long i = 1; i < m; i++)
        for (long j = i; j > 0; j--) {
            double a = x[ord[j - 1] * nrungs + r], b = x[ord[j] * nrungs + r];
            int fa = isfinite(a), fb = isfinite(b);
            int swap = (fb && !fa) || (fa && fb && (b < a || (b == a && ord[j] < ord[j - 1]))) ||
                       (!fa && !fb && ord[j] < ord[j - 1]);
            if (!swap) break;
            long t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
        }
    long k = m / eta > 1 ? m / eta : 1, n = 0;
    for (long i = 0; i < k && i < m && isfinite(x[ord[i] * nrungs + r]); i++) out[n++] = ord[i];
    /* ascending trial order */
    for (long i = 1; i < n; i++)
        for (long j = i; j > 0 && out[j] < out[j - 1]; j--) { long t = out[j]; out[j] = out[j - 1]; out[j - 1] = t; }
    return n;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void test_promotion_rounds(void **st)
{
    (void)st;
    study_t s;
    plan_t p;
    plan_stage(&s, &p, "{name=\"h\"; sample={sampler=\"lhs\"; n_trials=60; %s}; "
                        "halving={min_epochs=1; max_epochs=27; eta=3;}; select=\"train_mse\";}");
    assert_int_equal(p.nrungs, 4);
    assert_int_equal(search_nrounds(&p), 4);
    double *x = p.metrics + (size_t)p.select_metric * p.ncube;
    assert_string_equal(p.metric_names[p.select_metric], "train_mse");
    /* metrics with ties and diverged trials, every (trial, rung) filled:
     * only the promoted ones are read */
    for (size_t i = 0; i < p.ncube; i++) x[i] = (double)((i * 7919) % 17) / 16.0;
    for (size_t t = 0; t < p.ntrials; t += 7) x[t * 4] = NAN;
    x[13 * 4 + 1] = INFINITY;
    long in[4][64], nin[4] = {0};
    size_t *ids = malloc(p.ntasks * sizeof *ids);
    long total = 0;
    for (int r = 0; r < 4; r++) {
        long n = search_round_tasks(&p, r, ids);
        assert_true(n >= 0);
        /* expected, end-aligned: rung r - (4 - nrungs_b) of every bracket b
         * where that is >= 0; the last round holds every last rung */
        size_t want[256];
        long nw = 0;
        for (int b = 0; b < p.sched->nbrackets; b++) {
            const halving_bracket_t *hb = &p.sched->b[b];
            int rb = r - (4 - hb->nrungs);
            if (rb < 0) continue;
            long cur[64], m = hb->ntrials, nxt[64];
            for (long i = 0; i < m; i++) cur[i] = hb->first_trial + i;
            for (int q = 1; q <= rb; q++) {
                m = promote_ref(x, 4, q - 1, cur, m, 3, nxt);
                memcpy(cur, nxt, (size_t)m * sizeof(long));
            }
            for (long i = 0; i < m; i++) want[nw++] = (size_t)cur[i] * 4 + (size_t)rb;
            if (b == 0) memcpy(in[r], cur, (size_t)m * sizeof(long)), nin[r] = m;
        }
        qsort(want, (size_t)nw, sizeof *want, cmp_size);
        qsort(ids, (size_t)n, sizeof *ids, cmp_size);
        assert_int_equal(n, nw);
        for (long i = 0; i < n; i++) {
            const task_t *tk = &p.tasks[ids[i]];
            assert_int_equal(ids[i], want[i]);
            assert_int_equal(tk->rung, r - (4 - p.sched->b[p.trial_bracket[tk->trial]].nrungs));
            assert_int_equal(tk->absent, 0);
            assert_true(tk->rung == 0 || isfinite(x[ids[i] - 1])); /* a diverged trial never goes on */
            if (r == 3) assert_int_equal(tk->rung, p.sched->b[p.trial_bracket[tk->trial]].nrungs - 1);
        }
        total += n;
    }
    /* bracket 0 (s = 3): rung sizes follow the schedule where nothing diverged */
    assert_int_equal(nin[0], p.sched->b[0].trials[0]);
    assert_true(nin[1] <= p.sched->b[0].trials[1] && nin[1] >= 1);
    assert_true(total > 60 && total < 160);
    /* selection: the lowest metric at max_epochs among trials that ran their last rung */
    for (size_t i = 0; i < p.ncube; i++) p.status[i] = TRAIN_NOT_RUN;
    for (int r = 0; r < 4; r++) {
        long n = search_round_tasks(&p, r, ids);
        for (long i = 0; i < n; i++) p.status[ids[i]] = isfinite(x[ids[i]]) ? TRAIN_OK : TRAIN_DIVERGED;
    }
    x[2 * 4 + 0] = -1; /* a low metric at a rung below max_epochs is not a result */
    p.status[2 * 4 + 0] = TRAIN_OK;
    assert_int_equal(plan_select_best(&p), 0);
    double best = INFINITY;
    long bt = -1;
    for (size_t t = 0; t < p.ntrials; t++) {
        int last = p.sched->b[p.trial_bracket[t]].nrungs - 1;
        size_t idx = t * 4 + (size_t)last;
        if (p.status[idx] == TRAIN_OK && x[idx] < best) best = x[idx], bt = (long)t;
    }
    assert_int_equal(p.best_cell, bt * 4 + p.sched->b[p.trial_bracket[bt]].nrungs - 1);
    assert_true(p.best_value == best);
    assert_true(p.best_hp[P_EPOCHS] == 27);
    free(ids);
    plan_free(&p);
    spec_free(&s);
}

/* halving.align = "start": round k runs rung k of every bracket.  The same
 * trials reach the same rungs as end-aligned (promotion is per bracket);
 * only the round of each (bracket, rung) moves, and round 0 holds the
 * least aggressive bracket's full-length trials. */
static void test_start_aligned_rounds(void **st)
{
    (void)st;
    study_t se, ss;
    char stage[1024];
    const char *fmt = "{name=\"h\"; sample={sampler=\"lhs\"; n_trials=60; %s}; "
                      "halving={min_epochs=1; max_epochs=27; eta=3;%s}; select=\"train_mse\";}";
    snprintf(stage, sizeof stage, fmt, SPACE, "");
    load(&se, stage);
    snprintf(stage, sizeof stage, fmt, SPACE, " align=\"start\";");
    load(&ss, stage);
    plan_t pe, ps;
    build(&pe, &se, 0);
    build(&ps, &ss, 0);
    assert_int_equal(ps.sspec->align_start, 1);
    assert_int_equal(pe.sspec->align_start, 0);
    assert_int_equal(search_nrounds(&ps), search_nrounds(&pe));
    double *xe = pe.metrics + (size_t)pe.select_metric * pe.ncube;
    double *xs = ps.metrics + (size_t)ps.select_metric * ps.ncube;
    for (size_t i = 0; i < pe.ncube; i++) xe[i] = xs[i] = (double)((i * 7919) % 17) / 16.0;
    size_t *ids = malloc(pe.ntasks * sizeof *ids);
    int *round_e = malloc(pe.ntasks * sizeof *round_e), *round_s = malloc(pe.ntasks * sizeof *round_s);
    for (size_t i = 0; i < pe.ntasks; i++) round_e[i] = round_s[i] = -1;
    for (int r = 0; r < search_nrounds(&pe); r++) {
        long n = search_round_tasks(&pe, r, ids);
        for (long i = 0; i < n; i++) round_e[ids[i]] = r;
        n = search_round_tasks(&ps, r, ids);
        for (long i = 0; i < n; i++) {
            round_s[ids[i]] = r;
            assert_int_equal(ps.tasks[ids[i]].rung, r); /* rung k in round k */
            assert_int_equal(search_bracket_round(&ps, ps.sched->b[ps.trial_bracket[ps.tasks[ids[i]].trial]].nrungs,
                                                  ps.tasks[ids[i]].rung), r);
        }
    }
    int full_in_round0 = 0;
    for (size_t i = 0; i < pe.ntasks; i++) {
        assert_int_equal(round_e[i] >= 0, round_s[i] >= 0); /* the same segments run */
        if (round_s[i] < 0) continue;
        int nb = ps.sched->b[ps.trial_bracket[ps.tasks[i].trial]].nrungs;
        assert_int_equal(round_e[i], round_s[i] + (ps.nrungs - nb));
        if (round_s[i] == 0 && ps.tasks[i].hp[P_EPOCHS] == 27) full_in_round0++;
    }
    const halving_bracket_t *last = &ps.sched->b[ps.sched->nbrackets - 1];
    assert_int_equal(last->nrungs, 1);
    assert_int_equal(full_in_round0, last->ntrials);
    free(ids), free(round_e), free(round_s);
    plan_free(&pe), plan_free(&ps);
    spec_free(&se), spec_free(&ss);
}

static void test_tpe_rounds(void **st)
{
    (void)st;
    study_t s;
    plan_t p;
    plan_stage(&s, &p, "{name=\"t\"; sample={sampler=\"tpe\"; n_trials=20; tpe_batch=6; tpe_startup=4; %s}; "
                        "halving={min_epochs=3; max_epochs=27; eta=3; brackets=1;};}");
    assert_int_equal(p.nrungs, 3);
    assert_int_equal(search_nrounds(&p), 4 * 3); /* 4 batches (6, 6, 6, 2) x 3 rungs */
    size_t first;
    assert_int_equal(search_round_proposals(&p, 0, &first), 6);
    assert_int_equal(first, 0);
    assert_int_equal(search_round_proposals(&p, 1, &first), 0); /* a rung, not a batch */
    assert_int_equal(search_round_proposals(&p, 9, &first), 2);
    assert_int_equal(first, 18);
    /* batch 0 runs; its trials get metrics at every rung they reach */
    double rows[6 * P_COUNT], again[6 * P_COUNT];
    char err[SPEC_ERR_LEN];
    assert_int_equal(search_tpe_rows(&p, 0, rows, err), 0);
    for (int i = 0; i < 6; i++) plan_set_trial(&p, (size_t)i, rows + i * P_COUNT);
    for (int i = 0; i < 6; i++) {
        const task_t *tk = &p.tasks[(size_t)i * 3 + 1];
        assert_true(tk->hp[P_LR] == rows[i * P_COUNT + P_LR] && tk->hp[P_EPOCHS] == 9 && tk->start_epoch == 3);
        assert_true(p.trial_hp[i * P_COUNT + P_EPOCHS] == 27);
    }
    double *x = p.metrics + (size_t)p.select_metric * p.ncube;
    size_t ids[64];
    for (int r = 0; r < 3; r++) {
        long n = search_round_tasks(&p, r, ids);
        assert_int_equal(n, r == 0 ? 6 : r == 1 ? 2 : 1);
        for (long i = 0; i < n; i++) {
            x[ids[i]] = 0.5 / (1.0 + (double)ids[i]) + 0.01 * r;
            p.status[ids[i]] = TRAIN_OK;
        }
    }
    /* round 3 proposes batch 1 from batch 0: the same bits twice, and
     * different from a cube with other metrics */
    assert_int_equal(search_tpe_rows(&p, 3, rows, err), 0);
    assert_int_equal(search_tpe_rows(&p, 3, again, err), 0);
    assert_memory_equal(rows, again, sizeof rows);
    for (int i = 0; i < 6; i++) {
        assert_true(rows[i * P_COUNT + P_LR] >= 0.0005 && rows[i * P_COUNT + P_LR] <= 0.003);
        assert_true(rows[i * P_COUNT + P_TRAIN_SIZE] >= 200 && rows[i * P_COUNT + P_TRAIN_SIZE] <= 900);
        assert_true(rows[i * P_COUNT + P_LAYERS] == 1); /* not searched: the base value */
    }
    /* gamma(6) = 1: "below" is the best trial of the deepest rung; the
     * rung-0 metrics of the others only reorder "above", which changes
     * nothing */
    for (int i = 0; i < 6; i++)
        if (p.status[i * 3 + 1] == TRAIN_NOT_RUN) x[i * 3] = 1.0 - 0.1 * i;
    assert_int_equal(search_tpe_rows(&p, 3, again, err), 0);
    assert_memory_equal(rows, again, sizeof rows);
    /* another trial reaching max_epochs with a lower metric becomes "below" */
    int u = 0;
    while (p.status[u * 3 + 1] != TRAIN_NOT_RUN) u++;
    p.status[u * 3 + 2] = TRAIN_OK, x[u * 3 + 2] = -1;
    assert_int_equal(search_tpe_rows(&p, 3, again, err), 0);
    assert_memory_not_equal(rows, again, sizeof rows);
    plan_free(&p);
    spec_free(&s);
}

/* TPE batches as a dataflow (align = "flow", search_flow.c): batch j observes batch j - i at its
 * rungs <= min(i - 1, R - 1) only (search_tpe_cap), the rungs complete when j opens, so results
 * beyond them (a later rung of an earlier batch, still under way when j opened) change nothing;
 * within them they do. */
static void test_tpe_flow_caps(void **st)
{
    (void)st;
    study_t s;
    plan_t p;
    plan_stage(&s, &p, "{name=\"t\"; sample={sampler=\"tpe\"; n_trials=18; tpe_batch=6; tpe_startup=4; %s}; "
                        "halving={min_epochs=3; max_epochs=27; eta=3; brackets=1; align=\"flow\";};}");
    assert_int_equal(p.nrungs, 3);
    assert_int_equal(search_tpe_cap(&p, 2, 1), 0);
    assert_int_equal(search_tpe_cap(&p, 2, 0), 1);
    assert_int_equal(search_tpe_cap(&p, 5, 0), 2); /* the last rung: complete */
    double rows[6 * P_COUNT], a[6 * P_COUNT], b[6 * P_COUNT];
    char err[SPEC_ERR_LEN];
    double *x = p.metrics + (size_t)p.select_metric * p.ncube;
    /* batches 0 and 1 proposed and run: batch 0 to its end, batch 1 its rung 0 */
    for (int j = 0; j < 2; j++) {
        assert_int_equal(search_tpe_rows(&p, j * 3, rows, err), 0);
        for (int i = 0; i < 6; i++) plan_set_trial(&p, (size_t)(j * 6 + i), rows + i * P_COUNT);
        for (int i = 0; i < 6; i++) {
            size_t t = (size_t)(j * 6 + i);
            p.status[t * 3] = TRAIN_OK, x[t * 3] = 0.3 + 0.05 * ((i * 7 + j) % 6);
        }
    }
    p.status[2 * 3 + 1] = p.status[4 * 3 + 1] = TRAIN_OK, x[2 * 3 + 1] = 0.2, x[4 * 3 + 1] = 0.25;
    assert_int_equal(search_tpe_rows(&p, 6, a, err), 0); /* batch 2: batch 0 to rung 1, batch 1 rung 0 */
    /* beyond the caps: batch 0's rung 2 and batch 1's rung 1 under way */
    p.status[2 * 3 + 2] = TRAIN_OK, x[2 * 3 + 2] = -5;
    p.status[7 * 3 + 1] = p.status[9 * 3 + 1] = TRAIN_OK, x[7 * 3 + 1] = -4, x[9 * 3 + 1] = -3;
    assert_int_equal(search_tpe_rows(&p, 6, b, err), 0);
    assert_memory_equal(a, b, sizeof a);
    /* in rounds (no caps) the same cube is read to the deepest rung: other proposals */
    ((search_spec_t *)p.sspec)->flow = 0; /* the spec this test owns */
    assert_int_equal(search_tpe_rows(&p, 6, b, err), 0);
    assert_memory_not_equal(a, b, sizeof a);
    ((search_spec_t *)p.sspec)->flow = 1;
    /* within the caps: a third rung-1 result of batch 0, the best, changes the two TPE calls good */
    p.status[0 * 3 + 1] = TRAIN_OK, x[0 * 3 + 1] = -1;
    assert_int_equal(search_tpe_rows(&p, 6, b, err), 0);
    assert_memory_not_equal(a, b, sizeof a);
    plan_free(&p);
    spec_free(&s);
}

/* TPE without halving: round j = the tasks (every draw and repeat) of batch j; its
 * observations are the mean over a trial's repeats (NaN when one diverged). */
static void test_tpe_batches(void **st)
{
    (void)st;
    study_t s;
    load(&s, "{name=\"t\"; sample={sampler=\"tpe\"; n_trials=7; tpe_batch=3; tpe_startup=2; "
             "space={lr={log_uniform=[0.0005,0.003];}; layers={int=[1,3];};};}; repeats=2;}");
    plan_t p;
    build(&p, &s, 0);
    assert_int_equal(search_nrounds(&p), 3);
    size_t ids[32], first;
    assert_int_equal(search_round_tasks(&p, 2, ids), 2); /* trial 6, two repeats */
    assert_int_equal(ids[0], 12);
    assert_int_equal(ids[1], 13);
    assert_int_equal(search_round_proposals(&p, 1, &first), 3);
    assert_int_equal(first, 3);
    double rows[3 * P_COUNT], again[3 * P_COUNT];
    char err[SPEC_ERR_LEN];
    double *x = p.metrics + (size_t)p.select_metric * p.ncube;
    for (size_t i = 0; i < 6; i++) x[i] = 0.1 * (double)(i + 1), p.status[i] = TRAIN_OK;
    assert_int_equal(search_tpe_rows(&p, 1, rows, err), 0);
    for (int i = 0; i < 3; i++) plan_set_trial(&p, 3 + (size_t)i, rows + i * P_COUNT);
    for (int i = 0; i < 3; i++)
        for (int r = 0; r < 2; r++) {
            const task_t *tk = &p.tasks[(3 + (size_t)i) * 2 + (size_t)r];
            assert_true(tk->hp[P_LR] == rows[i * P_COUNT + P_LR] && tk->hp[P_LAYERS] == rows[i * P_COUNT + P_LAYERS]);
            assert_int_equal(tk->repeat, r);
            assert_true(tk->cost == plan_task_cost(&p, tk));
        }
    /* one repeat of trial 0 diverges: trial 0 is no longer the best observation */
    x[1] = NAN;
    assert_int_equal(search_tpe_rows(&p, 1, again, err), 0);
    assert_memory_not_equal(rows, again, sizeof rows);
    x[1] = 0.2;
    assert_int_equal(search_tpe_rows(&p, 1, again, err), 0);
    assert_memory_equal(rows, again, sizeof rows);
    plan_free(&p);
    spec_free(&s);
}

/* Without halving every trial is complete: an `epochs` in the space is a
 * parameter like any other and must not rank the trials (review: the
 * trials that sampled the most epochs ranked first, whatever their metric).
 * 20 observed trials: the 10 with the best metrics at lr ~0.0006 and few
 * epochs, the 10 worst at lr ~0.0028 and the most epochs; gamma(20) = 2,
 * so "below" is two good trials and the proposals go to the low lr. */
static void test_tpe_epochs_is_a_parameter(void **st)
{
    (void)st;
    study_t s;
    plan_t p;
    plan_stage(&s, &p, "{name=\"t\"; sample={sampler=\"tpe\"; n_trials=40; tpe_batch=20; tpe_startup=10; "
                        "space={lr={log_uniform=[0.0005,0.003];}; epochs={int=[1,30];};};};}");
    assert_int_equal(search_nrounds(&p), 2);
    double rows[20 * P_COUNT];
    char err[SPEC_ERR_LEN];
    assert_int_equal(search_tpe_rows(&p, 0, rows, err), 0);
    double *x = p.metrics + (size_t)p.select_metric * p.ncube;
    for (int i = 0; i < 20; i++) {
        int good = i % 2 == 0;
        rows[i * P_COUNT + P_LR] = good ? 0.0006 + 1e-6 * i : 0.0028 - 1e-6 * i;
        rows[i * P_COUNT + P_EPOCHS] = good ? 2 + i / 4 : 30 - i / 4;
        plan_set_trial(&p, (size_t)i, rows + i * P_COUNT);
        x[i] = good ? 0.01 * (i + 1) : 1.0 + 0.01 * i;
        p.status[i] = TRAIN_OK;
    }
    assert_int_equal(search_tpe_rows(&p, 1, rows, err), 0);
    int low = 0;
    for (int i = 0; i < 20; i++) low += rows[i * P_COUNT + P_LR] < 0.0012;
    print_message("epochs a parameter: %d of 20 proposals at lr < 0.0012\n", low);
    assert_true(low >= 15);
    plan_free(&p);
    spec_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampled_plan),        cmocka_unit_test(test_halving_plan),
        cmocka_unit_test(test_grid_halving_permutes_cells), cmocka_unit_test(test_promotion_rounds),
        cmocka_unit_test(test_tpe_rounds), cmocka_unit_test(test_tpe_epochs_is_a_parameter),          cmocka_unit_test(test_tpe_batches), cmocka_unit_test(test_tpe_flow_caps), cmocka_unit_test(test_start_aligned_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
