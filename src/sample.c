/* sample.c - random, scrambled Sobol and Latin hypercube designs; see sample.h. */
#include "aesweep/sample.h"
#include "aesweep/rng.h"
#include "aesweep/spec.h"
#include <math.h>
#include <stdio.h>

const char *const sample_method_names[SAMPLE_METHOD_COUNT] = {"random", "sobol", "lhs"};
const char *const sample_dist_names[DIST_COUNT] = {"uniform", "log_uniform", "int", "log_int", "choice"};

/* Joe & Kuo (2008), file new-joe-kuo-6.21201, rows d = 2..32: degree s of the
 * primitive polynomial, its coefficients a (the inner bits), and the initial
 * direction integers m_1..m_s (odd, m_k < 2^k). */
static const struct { int s, a; int m[7]; } JOE_KUO[SAMPLE_SOBOL_DIMS - 1] = {
    {1, 0, {1}}, {2, 1, {1, 3}}, {3, 1, {1, 3, 1}}, {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}}, {4, 4, {1, 3, 5, 13}}, {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}}, {5, 7, {1, 1, 7, 11, 19}}, {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}}, {5, 14, {1, 3, 5, 5, 31}}, {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}}, {6, 16, {1, 3, 1, 13, 27, 49}}, {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}}, {6, 25, {1, 1, 5, 5, 19, 61}}, {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}}, {7, 7, {1, 1, 3, 13, 7, 35, 63}}, {7, 8, {1, 3, 5, 9, 1, 25, 53}},
    {7, 14, {1, 3, 1, 13, 9, 35, 107}}, {7, 19, {1, 3, 1, 5, 27, 61, 31}},
    {7, 21, {1, 1, 5, 11, 19, 41, 61}}, {7, 28, {1, 3, 5, 3, 3, 13, 69}},
    {7, 31, {1, 1, 7, 13, 1, 19, 1}}, {7, 32, {1, 3, 7, 5, 13, 19, 59}},
    {7, 37, {1, 1, 3, 9, 25, 29, 41}}, {7, 41, {1, 3, 5, 13, 23, 1, 55}},
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},
};

/* Direction numbers v_1..v_32 of dimension dim as 32-bit fractions
 * (Bratley & Fox 1988, Joe & Kuo 2008):
 *   v_k = m_k 2^(32-k)                                          k <= s
 *   v_k = v_{k-s} ^ (v_{k-s} >> s) ^ XOR_{l=1}^{s-1} a_l v_{k-l}  k > s
 * with a_l the l-th coefficient bit of the polynomial (a's bit s-1-l).
 * Dimension 0 is van der Corput: v_k = 2^(32-k).  32 shifts and XORs;
 * recomputed per call rather than cached so that the module has no state. */
static void sobol_directions(int dim, uint32_t v[33])
{
    if (dim == 0) {
        for (int k = 1; k <= 32; k++) v[k] = 1u << (32 - k);
        return;
    }
    int s = JOE_KUO[dim - 1].s, a = JOE_KUO[dim - 1].a;
    for (int k = 1; k <= s; k++) v[k] = (uint32_t)JOE_KUO[dim - 1].m[k - 1] << (32 - k);
    for (int k = s + 1; k <= 32; k++) {
        uint32_t x = v[k - s] ^ (v[k - s] >> s);
        for (int l = 1; l < s; l++)
            if ((a >> (s - 1 - l)) & 1) x ^= v[k - l];
        v[k] = x;
    }
}

uint32_t sample_sobol_u32(int dim, uint32_t index)
{
    uint32_t v[33];
    sobol_directions(dim, v);
    /* Gray-code order: point i is the XOR of v_{k+1} over the set bits k of
     * gray(i) = i ^ (i >> 1), so consecutive points differ in one direction
     * number (the order scipy's generator walks). */
    uint32_t g = index ^ (index >> 1), x = 0;
    for (int k = 0; g; k++, g >>= 1)
        if (g & 1) x ^= v[k + 1];
    return x;
}

uint32_t sample_owen_u32(uint64_t key, uint32_t x)
{
    /* Nested uniform scrambling: digit d (d = 0 the most significant) is
     * flipped by a random bit that depends on the digits above it and on
     * nothing else, i.e. one independent random permutation of {0, 1} per
     * node of the binary tree of intervals.  The random bit of a node is a
     * hash of (key, depth, prefix): the node's identity. */
    uint32_t y = x;
    for (int d = 0; d < 32; d++) {
        int b = 31 - d;
        uint64_t prefix = d ? (uint64_t)(x >> (b + 1)) : 0;
        uint64_t h = rng_mix64(key ^ rng_mix64(((uint64_t)d << 32 | prefix) + 0x9e3779b97f4a7c15ULL));
        y ^= (uint32_t)(h >> 63) << b;
    }
    return y;
}

long sample_permute(uint64_t key, long n, long i)
{
    if (n <= 1) return 0;
    /* A 4-round Feistel network is a bijection of [0, 2^(2h)) whatever its
     * round function; cycle walking (apply again while outside [0, n))
     * restricts it to a bijection of [0, n).  2^(2h) < 4n, so on average
     * fewer than 4 rounds of walking. */
    int h = 1;
    while (((uint64_t)1 << (2 * h)) < (uint64_t)n) h++;
    uint64_t mask = ((uint64_t)1 << h) - 1, x = (uint64_t)i;
    do {
        uint64_t L = x >> h, R = x & mask;
        for (uint64_t r = 0; r < 4; r++) {
            uint64_t F = rng_mix64(key ^ rng_mix64(R * 4 + r + 1)) & mask;
            uint64_t t = L ^ F;
            L = R;
            R = t;
        }
        x = L << h | R;
    } while (x >= (uint64_t)n);
    return (long)x;
}

/* The key of stage `stage`'s design of method m. */
static uint64_t design_key(uint64_t seed, int stage, int m)
{
    return rng_derive(rng_derive_str(seed, m == SAMPLE_SOBOL ? "sample.sobol" : m == SAMPLE_LHS ? "sample.lhs"
                                                                                                 : "sample.random"),
                      (uint64_t)stage);
}

void sample_unit(const sample_space_t *sp, uint64_t seed, int stage, long index, double *u)
{
    uint64_t key = design_key(seed, stage, sp->method);
    /* the sample's own stream: uniforms inside strata, digits below 2^-32 */
    rng_t r = rng_stream(rng_derive(key, (uint64_t)index));
    for (int j = 0; j < sp->nparams; j++) {
        double w = rng_uniform_d(&r);
        switch (sp->method) {
        case SAMPLE_SOBOL: {
            uint32_t x = sample_owen_u32(rng_derive(key, 0x50b01ULL + (uint64_t)j),
                                         sample_sobol_u32(j, (uint32_t)index));
            /* 32 scrambled digits and 21 random ones below: 53 bits, exact, < 1 */
            u[j] = ((double)x + floor(w * 2097152.0) / 2097152.0) * 0x1p-32;
            break;
        }
        case SAMPLE_LHS: {
            long k = sample_permute(rng_derive(key, 0x1a5ULL + (uint64_t)j), sp->n, index);
            u[j] = ((double)k + w) / (double)sp->n;
            if (u[j] >= 1.0) u[j] = nextafter(1.0, 0.0); /* (n-1 + w)/n rounding up */
            break;
        }
        default:
            u[j] = w;
        }
    }
}

double sample_map(const sample_param_t *p, double u)
{
    double v;
    switch (p->dist) {
    case DIST_UNIFORM:
        v = p->lo + u * (p->hi - p->lo);
        break;
    case DIST_LOG_UNIFORM:
        v = p->lo * exp(u * log(p->hi / p->lo)); /* = lo exactly at u = 0 */
        break;
    case DIST_INT:
        v = p->lo + floor(u * (p->hi - p->lo + 1));
        break;
    case DIST_LOG_INT: {
        double a = log(p->lo - 0.5), b = log(p->hi + 0.5);
        v = round(exp(a + u * (b - a)));
        break;
    }
    default: {
        long k = (long)floor(u * p->nchoices);
        return p->choices[k < p->nchoices ? k : p->nchoices - 1];
    }
    }
    /* exp/log and lo + u (hi - lo) may round one ulp past a bound */
    return v < p->lo ? p->lo : v > p->hi ? p->hi : v;
}

void sample_draw(const sample_space_t *sp, uint64_t seed, int stage, long index, double *values)
{
    double u[SAMPLE_MAX_PARAMS];
    sample_unit(sp, seed, stage, index, u);
    for (int j = 0; j < sp->nparams; j++) values[j] = sample_map(&sp->params[j], u[j]);
}

static int categorical(int p)
{
    return p == P_ARCH || p == P_ACTIVATION || p == P_MMD_KERNEL;
}

static int check_param(const sample_param_t *p, char *err, size_t errlen)
{
    const char *name = p->param >= 0 && p->param < P_COUNT ? param_names[p->param] : "?";
    if (p->param < 0 || p->param >= P_COUNT) return snprintf(err, errlen, "sample: parameter %d is unknown", p->param), -1;
    if (p->dist < 0 || p->dist >= DIST_COUNT)
        return snprintf(err, errlen, "%s: distribution %d is unknown; use uniform, log_uniform, int, log_int or choice",
                        name, p->dist), -1;
    if (p->dist == DIST_CHOICE) {
        if (p->nchoices < 1 || p->nchoices > SAMPLE_MAX_CHOICES)
            return snprintf(err, errlen, "%s: choice of %d values; give 1..%d", name, p->nchoices, SAMPLE_MAX_CHOICES), -1;
        return 0;
    }
    if (categorical(p->param) || (p->param == P_HIDDEN && p->lo < 0))
        return snprintf(err, errlen, "%s: a categorical parameter takes a choice list, not %s", name,
                        sample_dist_names[p->dist]), -1;
    if (!(p->lo <= p->hi) || !isfinite(p->lo) || !isfinite(p->hi))
        return snprintf(err, errlen, "%s: range [%g, %g] is empty or not finite; give lo <= hi", name, p->lo, p->hi), -1;
    int isint = p->dist == DIST_INT || p->dist == DIST_LOG_INT;
    if (param_is_integer(p->param) && !isint)
        return snprintf(err, errlen, "%s: an integer parameter takes int, log_int or choice, not %s", name,
                        sample_dist_names[p->dist]), -1;
    if (isint && (p->lo != floor(p->lo) || p->hi != floor(p->hi)))
        return snprintf(err, errlen, "%s: int range [%g, %g] has a fraction; use whole numbers", name, p->lo, p->hi), -1;
    if (p->dist == DIST_LOG_UNIFORM && !(p->lo > 0))
        return snprintf(err, errlen, "%s: log_uniform needs lo > 0, got %g", name, p->lo), -1;
    if (p->dist == DIST_LOG_INT && !(p->lo >= 1))
        return snprintf(err, errlen, "%s: log_int needs lo >= 1, got %g", name, p->lo), -1;
    return 0;
}

int sample_space_check(const sample_space_t *sp, char *err, size_t errlen)
{
    if (sp->method < 0 || sp->method >= SAMPLE_METHOD_COUNT)
        return snprintf(err, errlen, "sampler %d is unknown; use random, sobol or lhs", sp->method), -1;
    if (sp->nparams < 1 || sp->nparams > SAMPLE_MAX_PARAMS)
        return snprintf(err, errlen, "a sampled space of %d parameters; give 1..%d", sp->nparams, SAMPLE_MAX_PARAMS), -1;
    if (sp->n < 1 || (sp->method == SAMPLE_SOBOL && sp->n > 4294967295L))
        return snprintf(err, errlen, "n_trials = %ld is out of range; use 1..%s", sp->n,
                        sp->method == SAMPLE_SOBOL ? "4294967295 for sobol" : "LONG_MAX"), -1;
    for (int j = 0; j < sp->nparams; j++) {
        if (check_param(&sp->params[j], err, errlen)) return -1;
        for (int i = 0; i < j; i++)
            if (sp->params[i].param == sp->params[j].param)
                return snprintf(err, errlen, "%s: sampled twice; give each parameter once",
                                param_names[sp->params[j].param]), -1;
    }
    return 0;
}
