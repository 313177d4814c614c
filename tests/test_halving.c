/* test_halving.c - successive halving and Hyperband (halving.h): the
 * schedule against Li et al.'s table (JMLR 2018, R = 81, eta = 3), Optuna's
 * HyperbandPruner / SuccessiveHalvingPruner semantics (Optuna 3.1:
 * n_brackets, rung steps, per-bracket budgets, promotable count), the
 * apportionment of a trial count, the compute of a bracket, and promotion
 * (ties by trial index, NaN and inf last and never promoted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/halving.h"
#include "aesweep/rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_paper_table(void **st)
{
    (void)st;
    /* Li et al. 2018, Table 1: R = 81, eta = 3, s_max = 4; n_i and r_i per bracket s */
    static const long n[5][5] = {{81, 27, 9, 3, 1}, {34, 11, 3, 1}, {15, 5, 1}, {8, 2}, {5}};
    static const long r[5][5] = {{1, 3, 9, 27, 81}, {3, 9, 27, 81}, {9, 27, 81}, {27, 81}, {81}};
    halving_schedule_t h;
    char err[256];
    assert_int_equal(halving_schedule(&h, 1, 81, 3, 0, 0, err, sizeof err), 0);
    assert_int_equal(h.s_max, 4);
    assert_int_equal(h.nbrackets, 5);
    assert_int_equal(h.ntrials, 81 + 34 + 15 + 8 + 5);
    long first = 0;
    for (int b = 0; b < 5; b++) {
        assert_int_equal(h.b[b].s, 4 - b);
        assert_int_equal(h.b[b].nrungs, 5 - b);
        assert_int_equal(h.b[b].first_trial, first);
        first += h.b[b].ntrials;
        for (int i = 0; i < h.b[b].nrungs; i++) {
            assert_int_equal(h.b[b].trials[i], n[b][i]);
            assert_int_equal(h.b[b].epochs[i], r[b][i]);
        }
    }
    /* the same in units of 10 epochs: min 10, max 810 */
    halving_schedule_t h10;
    assert_int_equal(halving_schedule(&h10, 10, 810, 3, 0, 0, err, sizeof err), 0);
    for (int b = 0; b < 5; b++)
        for (int i = 0; i < h.b[b].nrungs; i++) assert_int_equal(h10.b[b].epochs[i], 10 * r[b][i]);
    /* compute with continuation, bracket s = 4: 81*1 + 27*2 + 9*6 + 3*18 + 1*54 */
    assert_true(halving_bracket_epochs(&h.b[0]) == 297);
    assert_true(halving_bracket_epochs(&h.b[4]) == 5 * 81);
    assert_true(halving_schedule_epochs(&h) == 297 + (34 * 3 + 11 * 6 + 3 * 18 + 1 * 54) + (15 * 9 + 5 * 18 + 54) +
                                                    (8 * 27 + 2 * 54) + 405);
}

static void test_optuna_semantics(void **st)
{
    (void)st;
    /* HyperbandPruner._try_initialization: n_brackets = floor(log(max/min, eta)) + 1 */
    static const struct { long mn, mx; int eta, nb; } cases[] = {
        {1, 81, 3, 5}, {1, 80, 3, 4}, {1, 1000, 3, 7}, {1, 100, 3, 5}, {10, 1000, 4, 4}, {5, 1000, 2, 8}, {7, 7, 3, 1},
    };
    char err[256];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        halving_schedule_t h;
        assert_int_equal(halving_schedule(&h, cases[c].mn, cases[c].mx, cases[c].eta, 0, 0, err, sizeof err), 0);
        assert_int_equal(h.nbrackets, cases[c].nb);
        for (int b = 0; b < h.nbrackets; b++) {
            /* _calculate_trial_allocation_budget: ceil(n_brackets * eta^s / (s + 1)), s = n_brackets - 1 - b */
            int s = h.nbrackets - 1 - b;
            double budget = ceil(h.nbrackets * pow(cases[c].eta, s) / (s + 1));
            assert_true((double)h.b[b].ntrials == budget);
            /* SuccessiveHalvingPruner(min_early_stopping_rate = b): rung k promotes at
             * step min_resource * eta^(b + k); the last rung is the full budget */
            for (int k = 0; k < h.b[b].nrungs - 1; k++)
                assert_true((double)h.b[b].epochs[k] == cases[c].mn * pow(cases[c].eta, b + k));
            assert_int_equal(h.b[b].epochs[h.b[b].nrungs - 1], cases[c].mx);
        }
    }
    /* _is_trial_promotable_to_next_rung: promotable_idx = len // eta - 1, at least 0 */
    for (int eta = 2; eta <= 5; eta++)
        for (long m = 1; m <= 100; m++) {
            long idx = m / eta - 1;
            if (idx == -1) idx = 0;
            assert_int_equal(halving_promote_count(m, eta), idx + 1);
        }
    assert_int_equal(halving_promote_count(0, 3), 0);
}

static void test_apportion(void **st)
{
    (void)st;
    halving_schedule_t h;
    char err[256];
    assert_int_equal(halving_schedule(&h, 1, 1000, 3, 0, 10000, err, sizeof err), 0);
    assert_int_equal(h.ntrials, 10000);
    double W = 0;
    for (int b = 0; b < h.nbrackets; b++) W += (double)halving_paper_trials(h.s_max, 3, h.b[b].s);
    long first = 0;
    for (int b = 0; b < h.nbrackets; b++) {
        double share = 10000.0 * halving_paper_trials(h.s_max, 3, h.b[b].s) / W;
        assert_true(fabs((double)h.b[b].ntrials - share) < 1.0);
        assert_int_equal(h.b[b].first_trial, first);
        for (long t = first; t < first + h.b[b].ntrials; t++) assert_int_equal(halving_bracket_of(&h, t), b);
        first += h.b[b].ntrials;
        for (int i = 1; i < h.b[b].nrungs; i++) {
            assert_int_equal(h.b[b].trials[i], halving_promote_count(h.b[b].trials[i - 1], 3));
            assert_true(h.b[b].epochs[i] > h.b[b].epochs[i - 1]);
        }
    }
    assert_int_equal(halving_bracket_of(&h, 10000), -1);
    /* one bracket: successive halving from min_epochs, every trial in it */
    assert_int_equal(halving_schedule(&h, 5, 1000, 3, 1, 200, err, sizeof err), 0);
    assert_int_equal(h.nbrackets, 1);
    assert_int_equal(h.b[0].ntrials, 200);
    /* s_max = 4 (5 * 3^4 = 405 <= 1000 < 1215): rungs at 5, 15, 45, 135, then the full 1000 */
    static const long sh_n[] = {200, 66, 22, 7, 2}, sh_e[] = {5, 15, 45, 135, 1000};
    assert_int_equal(h.b[0].nrungs, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(h.b[0].trials[i], sh_n[i]);
        assert_int_equal(h.b[0].epochs[i], sh_e[i]);
    }
    /* fewer trials than brackets: empty brackets, nothing lost */
    assert_int_equal(halving_schedule(&h, 1, 81, 3, 0, 3, err, sizeof err), 0);
    long tot = 0;
    for (int b = 0; b < h.nbrackets; b++) tot += h.b[b].ntrials;
    assert_int_equal(tot, 3);
}

static void expect_error(long mn, long mx, int eta, int nb, long n, const char *needle)
{
    halving_schedule_t h;
    char err[256] = "";
    assert_int_equal(halving_schedule(&h, mn, mx, eta, nb, n, err, sizeof err), -1);
    if (!strstr(err, needle)) fail_msg("message '%s' lacks '%s'", err, needle);
}

static void test_errors(void **st)
{
    (void)st;
    expect_error(1, 81, 1, 0, 0, "eta = 1 is out of range");
    expect_error(0, 81, 3, 0, 0, "min_epochs = 0");
    expect_error(10, 5, 3, 0, 0, "max_epochs = 5 is out of range; use min_epochs (10)");
    expect_error(1, 81, 3, 6, 0, "brackets = 6 is out of range; min_epochs 1, max_epochs 81 and eta 3 allow 1..5");
    expect_error(1, 81, 3, 0, -4, "n_trials = -4");
}

static void test_promote(void **st)
{
    (void)st;
    double m[] = {0.5, NAN, 0.2, 0.2, INFINITY, 0.1, 0.3, 0.2, 0.9};
    long t[] = {10, 11, 12, 13, 14, 15, 16, 17, 18};
    size_t order[9];
    assert_int_equal(halving_order(m, t, 9, order), 0);
    static const size_t want[9] = {5, 2, 3, 7, 6, 0, 8, 1, 4}; /* 0.1; 0.2 x3 by trial; 0.3, 0.5, 0.9; NaN, inf */
    for (int i = 0; i < 9; i++) assert_int_equal(order[i], want[i]);
    long w[9];
    assert_int_equal(halving_promote(m, t, 9, 3, w), 3);
    assert_int_equal(w[0], 15);
    assert_int_equal(w[1], 12);
    assert_int_equal(w[2], 13);
    /* only diverged: nobody continues; one finite of three: it alone */
    double bad[] = {NAN, NAN, INFINITY};
    assert_int_equal(halving_promote(bad, t, 3, 3, w), 0);
    double one[] = {NAN, 4.0, NAN};
    assert_int_equal(halving_promote(one, t, 3, 2, w), 1);
    assert_int_equal(w[0], 11);
    /* the winners are a function of the set, not of the order it comes in */
    enum { M = 300 };
    double mm[M], sm[M];
    long tt[M], stt[M];
    rng_t r = rng_stream(17);
    for (int i = 0; i < M; i++) {
        mm[i] = i % 7 == 0 ? NAN : floor(rng_uniform_d(&r) * 50); /* many ties */
        tt[i] = 1000 + i;
    }
    long ref[M], got[M];
    long k = halving_promote(mm, tt, M, 3, ref);
    assert_int_equal(k, M / 3);
    for (int rep = 0; rep < 5; rep++) {
        size_t perm[M];
        rng_t pr = rng_stream(100 + rep);
        rng_permutation(&pr, M, perm);
        for (int i = 0; i < M; i++) sm[i] = mm[perm[i]], stt[i] = tt[perm[i]];
        assert_int_equal(halving_promote(sm, stt, M, 3, got), k);
        assert_memory_equal(ref, got, (size_t)k * sizeof(long));
    }
    /* and they are the k smallest (metric, trial) pairs */
    for (long i = 1; i < k; i++) {
        double a = mm[ref[i - 1] - 1000], b = mm[ref[i] - 1000];
        assert_true(a < b || (a == b && ref[i - 1] < ref[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_table), cmocka_unit_test(test_optuna_semantics), cmocka_unit_test(test_apportion),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_promote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
