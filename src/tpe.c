/* tpe.c - Tree-structured Parzen Estimator proposals in rounds; see tpe.h. */
#include "aesweep/tpe.h"
#include "aesweep/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tpe_opts_t tpe_defaults(int batch)
{
    tpe_opts_t o = {.batch = batch, .n_startup = 10, .n_ei_candidates = 24, .prior_weight = 1.0};
    return o;
}

int tpe_gamma(size_t n)
{
    size_t g = (n + 9) / 10; /* ceil(0.1 n) */
    return (int)(g < 25 ? g : 25);
}

double tpe_weight(size_t n, size_t i)
{
    /* default_weights(n): ones for n < 25; else linspace(1/n, 1, n - 25)
     * for the n - 25 oldest and ones for the newest 25 */
    if (n < 25 || i >= n - 25) return 1.0;
    size_t m = n - 25;
    if (m == 1) return 1.0 / (double)n;
    return 1.0 / (double)n + (1.0 - 1.0 / (double)n) * (double)i / (double)(m - 1);
}

/* One parameter's Parzen mixture over the transformed axis [lo, hi]
 * (numerical) or over k categories (choice). */
typedef struct {
    int ncomp;  /* observations + the prior (last) */
    double lo, hi;
    int k;      /* categories (choice), 0 for numerical */
    double *w;  /* [ncomp] mixture weights, sum 1 */
    double *mu, *sigma, *logz; /* numerical: [ncomp]; logz = log of the mass inside [lo, hi] */
    double *pcat; /* choice: [k] the mixture's probability of each category */
} parzen_t;

static double Phi(double z) { return 0.5 * erfc(-z * M_SQRT1_2); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The transformed value of p's parameter value v: the axis the mixture lives on. */
static int choice_index(const sample_param_t *p, double v)
{
    for (int c = 0; c < p->nchoices; c++)
        if (p->choices[c] == v) return c;
    return -1;
}

/* The axis value of p's parameter value v (a choice must be in the list:
 * tpe_propose checks before it builds anything). */
static double to_axis(const sample_param_t *p, double v)
{
    if (p->dist == DIST_LOG_UNIFORM || p->dist == DIST_LOG_INT) return log(v);
    if (p->dist == DIST_CHOICE) return choice_index(p, v);
    return v;
}

static void axis_bounds(const sample_param_t *p, double *lo, double *hi)
{
    switch (p->dist) {
    case DIST_LOG_UNIFORM: *lo = log(p->lo), *hi = log(p->hi); break;
    case DIST_INT: *lo = p->lo - 0.5, *hi = p->hi + 0.5; break;
    case DIST_LOG_INT: *lo = log(p->lo - 0.5), *hi = log(p->hi + 0.5); break;
    default: *lo = p->lo, *hi = p->hi;
    }
}

static void parzen_free(parzen_t *z)
{
    free(z->w);
    free(z->mu);
    free(z->sigma);
    free(z->logz);
    free(z->pcat);
    memset(z, 0, sizeof *z);
}

/* Build the mixture from x[0..n-1] (axis values, oldest first). */
static int parzen_build(parzen_t *z, const sample_param_t *p, const double *x, size_t n, double prior_weight)
{
    memset(z, 0, sizeof *z);
    z->ncomp = (int)n + 1;
    size_t nc = n + 1;
    z->w = malloc(nc * sizeof(double));
    if (!z->w) return -1;
    double wsum = prior_weight;
    for (size_t i = 0; i < n; i++) wsum += z->w[i] = tpe_weight(n, i);
    z->w[n] = prior_weight;
    for (size_t i = 0; i < nc; i++) z->w[i] /= wsum;
    if (p->dist == DIST_CHOICE) {
        z->k = p->nchoices;
        z->pcat = calloc((size_t)z->k, sizeof(double));
        if (!z->pcat) return -1;
        /* row i: prior_weight/(n+1) everywhere, +1 on its category; normalised */
        double v = prior_weight / (double)(n + 1), rowsum = 1.0 + v * z->k;
        for (int c = 0; c < z->k; c++) z->pcat[c] = z->w[n] / z->k;
        for (size_t i = 0; i < n; i++) {
            for (int c = 0; c < z->k; c++) z->pcat[c] += z->w[i] * v / rowsum;
            z->pcat[(int)x[i]] += z->w[i] / rowsum;
        }
        return 0;
    }
    axis_bounds(p, &z->lo, &z->hi);
    double range = z->hi - z->lo;
    z->mu = malloc(nc * sizeof(double));
    z->sigma = malloc(nc * sizeof(double));
    z->logz = malloc(nc * sizeof(double));
    double *s = malloc((nc + 2) * sizeof(double));
    if (!z->mu || !z->sigma || !z->logz || !s) return free(s), -1;
    for (size_t i = 0; i < n; i++) z->mu[i] = x[i];
    z->mu[n] = 0.5 * (z->lo + z->hi);
    /* sorted centres with the bounds as sentinels: s[0] = lo, s[nc + 1] = hi */
    s[0] = z->lo, s[nc + 1] = z->hi;
    memcpy(s + 1, z->mu, nc * sizeof(double));
    qsort(s + 1, nc, sizeof(double), cmp_double);
    double minsig = range / fmin(100.0, 1.0 + (double)nc);
    for (size_t i = 0; i < nc; i++) {
        /* the component's rank among the sorted centres (equal centres share a gap) */
        size_t r = 1, hi = nc; /* first of s[1..nc] >= mu_i, by bisection */
        while (r < hi) {
            size_t mid = (r + hi) / 2;
            if (s[mid] < z->mu[i]) r = mid + 1;
            else hi = mid;
        }
        double left = s[r] - s[r - 1], right = s[r + 1] - s[r], sg = fmax(left, right);
        if (nc >= 2 && r == 1) sg = s[2] - s[1];              /* consider_endpoints = False */
        else if (nc >= 2 && r == nc) sg = s[nc] - s[nc - 1];
        z->sigma[i] = fmin(fmax(sg, minsig), range);
    }
    z->sigma[n] = range; /* the prior: N(mid, range) */
    for (size_t i = 0; i < nc; i++)
        z->logz[i] = log(Phi((z->hi - z->mu[i]) / z->sigma[i]) - Phi((z->lo - z->mu[i]) / z->sigma[i]));
    free(s);
    return 0;
}

/* log density (numerical; integers: log mass of the unit bin) of axis value x */
static double parzen_logpdf(const parzen_t *z, const sample_param_t *p, double x)
{
    if (z->k) return log(z->pcat[(int)x]);
    int bin = p->dist == DIST_INT;
    double m = -INFINITY, acc = 0; /* running log-sum-exp: log sum = m + log acc */
    for (int i = 0; i < z->ncomp; i++) {
        double t;
        if (bin) {
            double a = fmax(x - 0.5, z->lo), b = fmin(x + 0.5, z->hi);
            t = log(Phi((b - z->mu[i]) / z->sigma[i]) - Phi((a - z->mu[i]) / z->sigma[i]));
        } else {
            double u = (x - z->mu[i]) / z->sigma[i];
            t = -0.5 * u * u - log(z->sigma[i]) - 0.5 * log(2 * M_PI);
        }
        t += log(z->w[i]) - z->logz[i];
        if (t > m) acc = acc * exp(m - t) + 1.0, m = t;
        else acc += exp(t - m);
    }
    return m + log(acc);
}

/* One draw from the mixture, on the axis; integers rounded to their value. */
static double parzen_sample(const parzen_t *z, const sample_param_t *p, rng_t *r)
{
    double u = rng_uniform_d(r), c = 0;
    if (z->k) {
        int j = 0;
        for (; j < z->k - 1; j++)
            if (u < (c += z->pcat[j])) break;
        return j;
    }
    int i = 0;
    for (; i < z->ncomp - 1; i++)
        if (u < (c += z->w[i])) break;
    /* truncated normal by rejection: mu in [lo, hi] and sigma <= range keep
     * the acceptance above P(0 <= Z <= 1) = 0.34 */
    double x = z->mu[i];
    for (int t = 0; t < 1000; t++) {
        double y = z->mu[i] + z->sigma[i] * rng_normal(r);
        if (y >= z->lo && y <= z->hi) { x = y; break; }
    }
    if (p->dist == DIST_INT) x = fmin(fmax(round(x), p->lo), p->hi);
    if (p->dist == DIST_LOG_INT) x = log(fmin(fmax(round(exp(x)), p->lo), p->hi));
    return x;
}

static double from_axis(const sample_param_t *p, double x)
{
    switch (p->dist) {
    case DIST_LOG_UNIFORM: return fmin(fmax(exp(x), p->lo), p->hi);
    case DIST_LOG_INT: return fmin(fmax(round(exp(x)), p->lo), p->hi);
    case DIST_CHOICE: return p->choices[(int)x];
    default: return fmin(fmax(x, p->lo), p->hi);
    }
}

typedef struct {
    long trial, epochs;
    double metric;
    size_t pos;
} rank_t;

/* (-epochs, metric; diverged last), then trial index */
static int cmp_rank(const void *pa, const void *pb)
{
    const rank_t *a = pa, *b = pb;
    if (a->epochs != b->epochs) return a->epochs > b->epochs ? -1 : 1;
    int da = !isfinite(a->metric), db = !isfinite(b->metric);
    if (da != db) return da - db;
    if (!da && a->metric != b->metric) return a->metric < b->metric ? -1 : 1;
    return (a->trial > b->trial) - (a->trial < b->trial);
}

static int cmp_trial(const void *pa, const void *pb)
{
    const rank_t *a = pa, *b = pb;
    return (a->trial > b->trial) - (a->trial < b->trial);
}

static void propose_random(const sample_space_t *sp, uint64_t key, int batch, double *out)
{
    for (int j = 0; j < batch; j++) {
        rng_t r = rng_stream(rng_derive(key, (uint64_t)j));
        for (int p = 0; p < sp->nparams; p++) out[j * sp->nparams + p] = sample_map(&sp->params[p], rng_uniform_d(&r));
    }
}

/* below: ranks[0..nb-1], above: the rest; both re-sorted by trial (oldest first). */
static int propose_param(const sample_space_t *sp, const tpe_opts_t *o, uint64_t key, int p, const rank_t *below,
                         size_t nb, const rank_t *above, size_t na, const tpe_obs_t *obs, double *out)
{
    const sample_param_t *sp_p = &sp->params[p];
    double *x = malloc((nb + na + 1) * sizeof(double));
    parzen_t l, g;
    int rc = -1;
    memset(&l, 0, sizeof l), memset(&g, 0, sizeof g);
    if (!x) return -1;
    for (size_t i = 0; i < nb; i++) x[i] = to_axis(sp_p, obs[below[i].pos].values[p]);
    if (parzen_build(&l, sp_p, x, nb, o->prior_weight)) goto out;
    for (size_t i = 0; i < na; i++) x[i] = to_axis(sp_p, obs[above[i].pos].values[p]);
    if (parzen_build(&g, sp_p, x, na, o->prior_weight)) goto out;
    for (int j = 0; j < o->batch; j++) {
        rng_t r = rng_stream(rng_derive(rng_derive(key, (uint64_t)j), (uint64_t)p));
        double best = -INFINITY, bx = 0;
        for (int c = 0; c < o->n_ei_candidates; c++) {
            double cx = parzen_sample(&l, sp_p, &r);
            double score = parzen_logpdf(&l, sp_p, cx) - parzen_logpdf(&g, sp_p, cx);
            if (c == 0 || score > best) best = score, bx = cx;
        }
        out[j * sp->nparams + p] = from_axis(sp_p, bx);
    }
    rc = 0;
out:
    parzen_free(&l);
    parzen_free(&g);
    free(x);
    return rc;
}

int tpe_propose(const sample_space_t *sp, const tpe_opts_t *o, uint64_t seed, int stage, int round,
                const tpe_obs_t *obs, size_t nobs, double *out, char *err, size_t errlen)
{
    if (o->batch < 1 || o->n_ei_candidates < 1 || !(o->prior_weight > 0) || o->n_startup < 0)
        return snprintf(err, errlen, "tpe: batch %d, candidates %d, prior weight %g; use positive values", o->batch,
                        o->n_ei_candidates, o->prior_weight), -1;
    for (size_t i = 0; i < nobs; i++)
        for (int p = 0; p < sp->nparams; p++)
            if (sp->params[p].dist == DIST_CHOICE && choice_index(&sp->params[p], obs[i].values[p]) < 0)
                return snprintf(err, errlen, "tpe: trial %ld: value %g is not in the choice list of parameter %d",
                                obs[i].trial, obs[i].values[p], p), -1;
    uint64_t key = rng_derive(rng_derive(rng_derive_str(seed, "tpe"), (uint64_t)stage), (uint64_t)round);
    if (nobs < (size_t)o->n_startup || nobs == 0) {
        propose_random(sp, key, o->batch, out);
        return 0;
    }
    rank_t *rk = malloc(nobs * sizeof *rk);
    if (!rk) return snprintf(err, errlen, "tpe: out of memory for %zu trials", nobs), -1;
    for (size_t i = 0; i < nobs; i++) rk[i] = (rank_t){obs[i].trial, obs[i].epochs, obs[i].metric, i};
    qsort(rk, nobs, sizeof *rk, cmp_rank);
    size_t nb = (size_t)tpe_gamma(nobs);
    /* chronological (trial) order inside each group, as Optuna keeps it */
    qsort(rk, nb, sizeof *rk, cmp_trial);
    qsort(rk + nb, nobs - nb, sizeof *rk, cmp_trial);
    for (int p = 0; p < sp->nparams; p++)
        if (propose_param(sp, o, key, p, rk, nb, rk + nb, nobs - nb, obs, out)) {
            free(rk);
            return snprintf(err, errlen, "tpe: out of memory for the Parzen estimators of %zu trials", nobs), -1;
        }
    free(rk);
    return 0;
}
