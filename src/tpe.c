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

/* log P(a <= Z <= b), Z standard normal, a <= b, without the cancellation
 * of Phi(b) - Phi(a) in a tail: both above 0 use the upper tail's symmetry,
 * a straddle is 1 minus the two tails. */
static double log_mass(double a, double b)
{
    if (b <= 0) return log(Phi(b) - Phi(a));
    if (a >= 0) return log(Phi(-a) - Phi(-b));
    return log1p(-Phi(a) - Phi(-b));
}

typedef struct {
    double v;
    size_t i;
} centre_t;

static int cmp_centre(const void *pa, const void *pb)
{
    const centre_t *a = pa, *b = pb;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
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
    /* sorted centres with the bounds as sentinels: s[0] = lo, s[nc + 1] = hi;
     * each component keeps its own sorted position (equal centres by
     * component index), so one of two equal centres takes the gap to its
     * left and the other the gap to its right, as Optuna's argsort does */
    centre_t *ord = malloc(nc * sizeof *ord);
    if (!ord) return free(s), -1;
    for (size_t i = 0; i < nc; i++) ord[i] = (centre_t){z->mu[i], i};
    qsort(ord, nc, sizeof *ord, cmp_centre);
    s[0] = z->lo, s[nc + 1] = z->hi;
    for (size_t r = 1; r <= nc; r++) s[r] = ord[r - 1].v;
    double minsig = range / fmin(100.0, 1.0 + (double)nc);
    for (size_t r = 1; r <= nc; r++) {
        double sg = fmax(s[r] - s[r - 1], s[r + 1] - s[r]);
        if (nc >= 2 && r == 1) sg = s[2] - s[1];              /* consider_endpoints = False */
        else if (nc >= 2 && r == nc) sg = s[nc] - s[nc - 1];
        z->sigma[ord[r - 1].i] = fmin(fmax(sg, minsig), range); /* magic clip */
    }
    free(ord);
    z->sigma[n] = range; /* the prior: N(mid, range) */
    for (size_t i = 0; i < nc; i++)
        z->logz[i] = log_mass((z->lo - z->mu[i]) / z->sigma[i], (z->hi - z->mu[i]) / z->sigma[i]);
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
            t = log_mass((a - z->mu[i]) / z->sigma[i], (b - z->mu[i]) / z->sigma[i]);
        } else {
            double u = (x - z->mu[i]) / z->sigma[i];
            t = -0.5 * u * u - log(z->sigma[i]) - 0.5 * log(2 * M_PI);
        }
        t += log(z->w[i]) - z->logz[i];
        if (t == -INFINITY) continue; /* a component with no mass here (far tail) */
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

/* Diverged last, whatever their epochs (Optuna 3.1 would rank a trial
 * pruned at a NaN as (-step, inf), ahead of every finite trial stopped
 * earlier: a config that diverged late would then be modelled as good);
 * then (-epochs, metric), then trial index */
static int cmp_rank(const void *pa, const void *pb)
{
    const rank_t *a = pa, *b = pb;
    int da = !isfinite(a->metric), db = !isfinite(b->metric);
    if (da != db) return da - db;
    if (a->epochs != b->epochs) return a->epochs > b->epochs ? -1 : 1;
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

/* l (from below: ranks[0..nb-1]) and g (from above) of parameter p; both
 * groups in trial order (oldest first).  0, or -1 when out of memory. */
static int build_pair(const sample_param_t *sp_p, int p, double prior_weight, const rank_t *below, size_t nb,
                      const rank_t *above, size_t na, const tpe_obs_t *obs, parzen_t *l, parzen_t *g)
{
    double *x = malloc((nb + na + 1) * sizeof(double));
    int rc = -1;
    memset(l, 0, sizeof *l), memset(g, 0, sizeof *g);
    if (!x) return -1;
    for (size_t i = 0; i < nb; i++) x[i] = to_axis(sp_p, obs[below[i].pos].values[p]);
    if (parzen_build(l, sp_p, x, nb, prior_weight)) goto out;
    for (size_t i = 0; i < na; i++) x[i] = to_axis(sp_p, obs[above[i].pos].values[p]);
    if (parzen_build(g, sp_p, x, na, prior_weight)) goto out;
    rc = 0;
out:
    free(x);
    return rc;
}

static int propose_param(const sample_space_t *sp, const tpe_opts_t *o, uint64_t key, int p, const rank_t *below,
                         size_t nb, const rank_t *above, size_t na, const tpe_obs_t *obs, double *out)
{
    const sample_param_t *sp_p = &sp->params[p];
    parzen_t l, g;
    int rc = build_pair(sp_p, p, o->prior_weight, below, nb, above, na, obs, &l, &g);
    for (int j = 0; !rc && j < o->batch; j++) {
        rng_t r = rng_stream(rng_derive(rng_derive(key, (uint64_t)j), (uint64_t)p));
        double best = -INFINITY, bx = 0;
        for (int c = 0; c < o->n_ei_candidates; c++) {
            double cx = parzen_sample(&l, sp_p, &r);
            double score = parzen_logpdf(&l, sp_p, cx) - parzen_logpdf(&g, sp_p, cx);
            if (c == 0 || score > best) best = score, bx = cx;
        }
        out[j * sp->nparams + p] = from_axis(sp_p, bx);
    }
    parzen_free(&l);
    parzen_free(&g);
    return rc;
}

/* The split: rk sorted by (-epochs, metric, trial); the first gamma(n) are
 * "below"; each group then in trial order, as Optuna keeps it.  NULL when
 * out of memory. */
static rank_t *split(const tpe_obs_t *obs, size_t nobs, size_t *nb)
{
    rank_t *rk = malloc((nobs ? nobs : 1) * sizeof *rk);
    if (!rk) return NULL;
    for (size_t i = 0; i < nobs; i++) rk[i] = (rank_t){obs[i].trial, obs[i].epochs, obs[i].metric, i};
    qsort(rk, nobs, sizeof *rk, cmp_rank);
    *nb = (size_t)tpe_gamma(nobs);
    qsort(rk, *nb, sizeof *rk, cmp_trial);
    qsort(rk + *nb, nobs - *nb, sizeof *rk, cmp_trial);
    return rk;
}

double tpe_score(const sample_space_t *sp, const tpe_opts_t *o, const tpe_obs_t *obs, size_t nobs, int p,
                 double value)
{
    size_t nb;
    rank_t *rk = split(obs, nobs, &nb);
    parzen_t l, g;
    memset(&l, 0, sizeof l), memset(&g, 0, sizeof g);
    double s = NAN;
    const sample_param_t *sp_p = &sp->params[p];
    if (rk && !build_pair(sp_p, p, o->prior_weight, rk, nb, rk + nb, nobs - nb, obs, &l, &g))
        s = parzen_logpdf(&l, sp_p, to_axis(sp_p, value)) - parzen_logpdf(&g, sp_p, to_axis(sp_p, value));
    parzen_free(&l);
    parzen_free(&g);
    free(rk);
    return s;
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
    size_t nb;
    rank_t *rk = split(obs, nobs, &nb);
    if (!rk) return snprintf(err, errlen, "tpe: out of memory for %zu trials", nobs), -1;
    for (int p = 0; p < sp->nparams; p++)
        if (propose_param(sp, o, key, p, rk, nb, rk + nb, nobs - nb, obs, out)) {
            free(rk);
            return snprintf(err, errlen, "tpe: out of memory for the Parzen estimators of %zu trials", nobs), -1;
        }
    free(rk);
    return 0;
}
