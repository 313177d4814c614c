/* test_sample.c - sampled configurations (sample.h): the unscrambled Sobol
 * sequence against scipy (tests/fixtures/sobol_scipy.txt, written by
 * tests/make_sample_fixtures.py), the net property of the Owen-scrambled
 * points, Latin hypercube strata, the distributions' ranges and log spacing,
 * the parameter checks, and purity (same inputs, same bits, in any order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/sample.h"
#include "aesweep/spec.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sample_param_t uni(int param, double lo, double hi)
{
    sample_param_t p = {.param = param, .dist = DIST_UNIFORM, .lo = lo, .hi = hi};
    return p;
}

/* A space of d parameters, each uniform on [0, 1) (mmd_lambda, lr and
 * mmd_scale are the real ones; the rest take int ranges elsewhere). */
static sample_space_t unit_space(int method, long n, int d)
{
    static const int real[3] = {P_LR, P_MMD_LAMBDA, P_MMD_SCALE};
    sample_space_t sp = {.method = method, .n = n, .nparams = d};
    for (int j = 0; j < d; j++) sp.params[j] = uni(real[j % 3], 0, 1);
    return sp;
}

static void test_sobol_matches_scipy(void **st)
{
    (void)st;
    FILE *f = fopen("fixtures/sobol_scipy.txt", "r");
    assert_non_null(f);
    int d = 0;
    assert_int_equal(fscanf(f, "d %d", &d), 1);
    assert_int_equal(d, SAMPLE_SOBOL_DIMS);
    long first, count, checked = 0;
    while (fscanf(f, " block %ld %ld", &first, &count) == 2) {
        for (long i = 0; i < count; i++)
            for (int j = 0; j < d; j++) {
                unsigned long x;
                assert_int_equal(fscanf(f, "%lu", &x), 1);
                uint32_t mine = sample_sobol_u32(j, (uint32_t)(first + i));
                if (mine != (uint32_t)x) fail_msg("sobol point %ld dim %d: %u, scipy %lu", first + i, j, mine, x);
                checked++;
            }
    }
    fclose(f);
    assert_int_equal(checked, (256 + 32 + 32) * 32);
}

/* floor(u 2^m) over points 0..2^m-1 is a permutation of 0..2^m-1. */
static int stratified(const double *u, int stride, long npts, long nstrata)
{
    char *seen = calloc((size_t)nstrata, 1);
    int ok = 1;
    for (long i = 0; i < npts; i++) {
        long k = (long)floor(u[i * stride] * (double)nstrata);
        if (k < 0 || k >= nstrata || seen[k]) ok = 0;
        else seen[k] = 1;
    }
    free(seen);
    return ok;
}

static void test_sobol_scrambled_net(void **st)
{
    (void)st;
    enum { M = 10, N = 1 << M, D = 8 };
    sample_space_t sp = unit_space(SAMPLE_SOBOL, N, D);
    double *u = malloc(sizeof(double) * N * D);
    for (long i = 0; i < N; i++) sample_unit(&sp, 42, 1, i, u + i * D);
    /* every prefix of 2^m points is stratified in every dimension: each 1-d
     * projection of a Sobol net is a (0, m, 1)-net, and Owen scrambling keeps it */
    for (int j = 0; j < D; j++)
        for (int m = 0; m <= M; m++) assert_true(stratified(u + j, D, 1L << m, 1L << m));
    /* dimensions 0 and 1 form a (0, m, 2)-net: every box of 2^-a by 2^-(m-a) holds one point */
    for (int a = 0; a <= M; a++) {
        char *seen = calloc(N, 1);
        for (long i = 0; i < N; i++) {
            long k = (long)floor(u[i * D] * (1 << a)) * (1L << (M - a)) + (long)floor(u[i * D + 1] * (1L << (M - a)));
            assert_int_equal(seen[k], 0);
            seen[k] = 1;
        }
        free(seen);
    }
    /* scrambled: not the plain sequence, and another seed gives other points */
    int same_plain = 0, same_seed = 0;
    for (long i = 1; i < N; i++) {
        double v[D];
        sample_unit(&sp, 43, 1, i, v);
        same_plain += floor(u[i * D] * 0x1p32) == (double)sample_sobol_u32(0, (uint32_t)i);
        same_seed += v[0] == u[i * D];
    }
    assert_true(same_plain < 8);
    assert_int_equal(same_seed, 0);
    free(u);
}

static void test_owen_nested(void **st)
{
    (void)st;
    /* Owen scrambling is a bijection that maps points sharing their top d
     * digits to points sharing their top d digits (it permutes intervals) */
    uint32_t xs[4] = {0u, 0x80000000u, 0x12345678u, 0x12345679u};
    for (uint64_t key = 1; key < 200; key++) {
        uint32_t y[4];
        for (int i = 0; i < 4; i++) y[i] = sample_owen_u32(key, xs[i]);
        assert_true((y[0] >> 31) != (y[1] >> 31)); /* differ in digit 1 -> differ in digit 1 */
        assert_true((y[2] >> 1) == (y[3] >> 1));    /* share 31 digits -> share 31 */
        assert_true(y[2] != y[3]);
    }
}

static void test_permute(void **st)
{
    (void)st;
    for (long n = 1; n <= 300; n += (n < 20 ? 1 : 37)) {
        for (uint64_t key = 5; key < 8; key++) {
            char *seen = calloc((size_t)n, 1);
            for (long i = 0; i < n; i++) {
                long k = sample_permute(key, n, i);
                assert_true(k >= 0 && k < n);
                assert_int_equal(seen[k], 0);
                seen[k] = 1;
            }
            free(seen);
        }
    }
    /* keyed: two keys give different permutations of 1,000 */
    int same = 0;
    for (long i = 0; i < 1000; i++) same += sample_permute(1, 1000, i) == sample_permute(2, 1000, i);
    assert_true(same < 20);
}

static void test_lhs_strata(void **st)
{
    (void)st;
    enum { N = 97 };
    sample_space_t sp = {.method = SAMPLE_LHS, .n = N, .nparams = 4};
    sp.params[0] = uni(P_LR, 2, 5);
    sp.params[1] = (sample_param_t){.param = P_MMD_SCALE, .dist = DIST_LOG_UNIFORM, .lo = 1e-4, .hi = 1e-1};
    sp.params[2] = (sample_param_t){.param = P_HIDDEN, .dist = DIST_INT, .lo = 4, .hi = 4 + N - 1};
    sp.params[3] = uni(P_MMD_LAMBDA, 0, 1);
    double u[N][4], v[N][4], s[N][4];
    for (long i = 0; i < N; i++) {
        sample_unit(&sp, 7, 3, i, u[i]);
        sample_draw(&sp, 7, 3, i, v[i]);
        for (int j = 0; j < 4; j++) assert_true(v[i][j] == sample_map(&sp.params[j], u[i][j]));
        s[i][0] = (v[i][0] - 2) / 3;                                      /* linear strata */
        s[i][1] = (log(v[i][1]) - log(1e-4)) / (log(1e-1) - log(1e-4));  /* log strata */
        s[i][2] = (v[i][2] - 4 + 0.5) / N;                                /* one integer per stratum */
        s[i][3] = u[i][3];
    }
    for (int j = 0; j < 4; j++) {
        assert_true(stratified(&u[0][j], 4, N, N));
        assert_true(stratified(&s[0][j], 4, N, N));
    }
    /* one sample is one stratum: anywhere in [0, 1) */
    sample_space_t one = unit_space(SAMPLE_LHS, 1, 2);
    double w[2];
    sample_unit(&one, 7, 0, 0, w);
    assert_true(w[0] >= 0 && w[0] < 1 && w[1] >= 0 && w[1] < 1);
}

static void test_distributions(void **st)
{
    (void)st;
    enum { N = 20000 };
    sample_space_t sp = {.method = SAMPLE_RANDOM, .n = N, .nparams = 6};
    sp.params[0] = uni(P_LR, 0.0005, 0.003);
    sp.params[1] = (sample_param_t){.param = P_MMD_SCALE, .dist = DIST_LOG_UNIFORM, .lo = 1e-4, .hi = 1e-1};
    sp.params[2] = (sample_param_t){.param = P_LAYERS, .dist = DIST_INT, .lo = 0, .hi = 4};
    sp.params[3] = (sample_param_t){.param = P_TRAIN_SIZE, .dist = DIST_LOG_INT, .lo = 1, .hi = 1000};
    sp.params[4] = (sample_param_t){.param = P_ACTIVATION, .dist = DIST_CHOICE, .nchoices = 3, .choices = {0, 1, 2}};
    sp.params[5] = (sample_param_t){.param = P_HIDDEN, .dist = DIST_CHOICE, .nchoices = 2, .choices = {16, -1}};
    char err[256];
    assert_int_equal(sample_space_check(&sp, err, sizeof err), 0);
    long decade[3] = {0}, layers[5] = {0}, act[3] = {0}, wl = 0, small = 0, lrlow = 0;
    double lrmin = 1, lrmax = 0;
    for (long i = 0; i < N; i++) {
        double v[6];
        sample_draw(&sp, 11, 0, i, v);
        assert_true(v[0] >= 0.0005 && v[0] <= 0.003);
        lrmin = fmin(lrmin, v[0]), lrmax = fmax(lrmax, v[0]);
        lrlow += v[0] < 0.00175; /* the midpoint */
        assert_true(v[1] >= 1e-4 && v[1] <= 1e-1);
        decade[v[1] < 1e-3 ? 0 : v[1] < 1e-2 ? 1 : 2]++;
        assert_true(v[2] == floor(v[2]) && v[2] >= 0 && v[2] <= 4);
        layers[(int)v[2]]++;
        assert_true(v[3] == floor(v[3]) && v[3] >= 1 && v[3] <= 1000);
        small += v[3] <= 31; /* log-scale midpoint of [0.5, 1000.5] is 22.4; 31 takes ~0.54 */
        assert_true(v[4] == 0 || v[4] == 1 || v[4] == 2);
        act[(int)v[4]]++;
        assert_true(v[5] == 16 || v[5] == -1);
        wl += v[5] == -1;
    }
    /* N = 20000 fixed draws: a binomial share p has sd sqrt(p(1-p)/N) < 0.0036,
     * so 0.02 is > 5 sd (and the draws are fixed: the test cannot flake) */
    assert_true(fabs(lrlow / (double)N - 0.5) < 0.02);
    assert_true(lrmin < 0.0005 + 0.0001 && lrmax > 0.003 - 0.0001);
    for (int k = 0; k < 3; k++) assert_true(fabs(decade[k] / (double)N - 1.0 / 3) < 0.02); /* equal decades */
    for (int k = 0; k < 5; k++) assert_true(fabs(layers[k] / (double)N - 0.2) < 0.02);
    for (int k = 0; k < 3; k++) assert_true(fabs(act[k] / (double)N - 1.0 / 3) < 0.02);
    assert_true(fabs(wl / (double)N - 0.5) < 0.02);
    double p31 = (log(31.5) - log(0.5)) / (log(1000.5) - log(0.5));
    assert_true(fabs(small / (double)N - p31) < 0.02);
    /* the map's edges: u = 0 gives lo, u just below 1 stays in range */
    double top = nextafter(1.0, 0.0);
    for (int j = 0; j < 4; j++) {
        assert_true(sample_map(&sp.params[j], 0.0) == sp.params[j].lo);
        assert_true(sample_map(&sp.params[j], top) <= sp.params[j].hi);
    }
    assert_true(sample_map(&sp.params[2], top) == 4);
    assert_true(sample_map(&sp.params[4], top) == 2);
}

static void test_purity(void **st)
{
    (void)st;
    enum { N = 200 };
    for (int m = 0; m < SAMPLE_METHOD_COUNT; m++) {
        sample_space_t sp = unit_space(m, N, 5);
        double fwd[N][5], bwd[N][5], other[5];
        for (long i = 0; i < N; i++) sample_draw(&sp, 99, 2, i, fwd[i]);
        for (long i = N - 1; i >= 0; i--) {
            sample_draw(&sp, 5, 1, (i * 7) % N, other); /* interleaved calls of other streams */
            sample_draw(&sp, 99, 2, i, bwd[i]);
        }
        assert_memory_equal(fwd, bwd, sizeof fwd);
        /* another stage or seed is another design */
        int same_stage = 0, same_seed = 0;
        for (long i = 0; i < N; i++) {
            sample_draw(&sp, 99, 3, i, other);
            same_stage += other[0] == fwd[i][0];
            sample_draw(&sp, 98, 2, i, other);
            same_seed += other[0] == fwd[i][0];
        }
        assert_true(same_stage < 3 && same_seed < 3);
    }
}

static void expect_error(sample_space_t *sp, const char *needle)
{
    char err[256] = "";
    assert_int_equal(sample_space_check(sp, err, sizeof err), -1);
    if (!strstr(err, needle)) fail_msg("message '%s' lacks '%s'", err, needle);
}

static void test_check(void **st)
{
    (void)st;
    sample_space_t sp = unit_space(SAMPLE_SOBOL, 10, 1);
    char err[256];
    assert_int_equal(sample_space_check(&sp, err, sizeof err), 0);
    sp.params[0] = uni(P_LR, 0.003, 0.0005);
    expect_error(&sp, "lr: range [0.003, 0.0005]");
    sp.params[0] = (sample_param_t){.param = P_LR, .dist = DIST_LOG_UNIFORM, .lo = 0, .hi = 1};
    expect_error(&sp, "lr: log_uniform needs lo > 0");
    sp.params[0] = uni(P_HIDDEN, 4, 64);
    expect_error(&sp, "hidden: an integer parameter takes int");
    sp.params[0] = (sample_param_t){.param = P_HIDDEN, .dist = DIST_INT, .lo = 4, .hi = 64.5};
    expect_error(&sp, "hidden: int range [4, 64.5] has a fraction");
    sp.params[0] = (sample_param_t){.param = P_ARCH, .dist = DIST_INT, .lo = 0, .hi = 1};
    expect_error(&sp, "arch: a categorical parameter takes a choice list");
    sp.params[0] = (sample_param_t){.param = P_ARCH, .dist = DIST_CHOICE, .nchoices = 0};
    expect_error(&sp, "arch: choice of 0 values");
    sp.nparams = 2;
    sp.params[0] = uni(P_LR, 0.1, 0.2);
    sp.params[1] = uni(P_LR, 0.1, 0.2);
    expect_error(&sp, "lr: sampled twice");
    sp.nparams = 1;
    sp.n = 0;
    expect_error(&sp, "n_trials = 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sobol_matches_scipy), cmocka_unit_test(test_sobol_scrambled_net),
        cmocka_unit_test(test_owen_nested),         cmocka_unit_test(test_permute),
        cmocka_unit_test(test_lhs_strata),          cmocka_unit_test(test_distributions),
        cmocka_unit_test(test_purity),              cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
