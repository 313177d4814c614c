/* tpe.h - model-based proposals: the Tree-structured Parzen Estimator
 * (Bergstra, Bardenet, Bengio & Kegl, "Algorithms for hyper-parameter
 * optimization", NeurIPS 2011), in synchronous rounds.
 *
 * A round proposes a fixed batch of configurations (a spec value, never
 * the number of ranks) from the trials completed before it.  The proposals
 * are a pure function of (seed, stage, round, the completed trials as a set):
 * the trials are sorted by index inside, so the order they are handed in
 * does not matter, and every random draw comes from rng.h streams keyed by
 * (seed, stage, round, proposal, parameter).
 *
 * The model follows Optuna's TPESampler defaults (Optuna 3.1,
 * optuna/samplers/_tpe/sampler.py and parzen_estimator.py, univariate):
 *   - fewer than n_startup (10) completed trials: random proposals;
 *   - split: the gamma(n) = min(ceil(0.1 n), 25) best trials form "below",
 *     the rest "above", ranked by (-epochs reached, metric), i.e. a trial
 *     that reached a higher rung of successive halving ranks before one
 *     stopped earlier, as Optuna ranks pruned trials by (-step, value);
 *     without halving every trial is complete (epochs 0 here, even when
 *     `epochs` is in the space); diverged (NaN/inf) trials rank last,
 *     whatever their epochs (Optuna drops failed trials, but ranks one
 *     pruned at a NaN as (-step, inf), ahead of finite trials stopped
 *     earlier; here they only inform "above");
 *   - each parameter independently, in its transformed space (log for
 *     log_uniform/log_int, [lo - 1/2, hi + 1/2] for integers): a mixture of
 *     truncated normals, one per observation at its value plus a prior
 *     N(mid, range) of weight prior_weight (1); a component's sigma is the
 *     larger gap to its sorted neighbours (the outermost take their inner
 *     gap), clipped to [range / min(100, 1 + components), range] ("magic
 *     clip"); observation weights default_weights: 1 for the newest 25,
 *     a linear ramp from 1/n for the older ones (by trial index);
 *   - choice parameters: a categorical mixture, each observation putting
 *     1 + prior_weight/(n+1) on its category and prior_weight/(n+1) on
 *     every other one, normalised, plus a uniform prior component;
 *   - n_ei_candidates (24) draws from l = below's mixture; the one with the
 *     largest log l(x) - log g(x) (g = above's) is proposed (first on ties).
 *     Integers are scored by the mass of their unit bin, as Optuna does.
 *     Each component's density is the truncated normal's, -log(sigma)
 *     included: Optuna 3.1 leaves that term out (optuna/optuna#5109, fixed
 *     in 3.5 by #5110).  Equal centres take their own sorted positions,
 *     ties by trial order (Optuna's numpy argsort leaves that order to the
 *     sort).  test_tpe checks the score against Optuna's estimator with the
 *     fix, to 1e-9.
 *
 * Not for: the space and its distributions (sample.h), running trials.
 */
#ifndef AESWEEP_TPE_H
#define AESWEEP_TPE_H
#include "aesweep/sample.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int batch;           /* proposals per round (spec key tpe_batch) */
    int n_startup;       /* completed trials before the model is used (10) */
    int n_ei_candidates; /* candidates drawn from l per proposal and parameter (24) */
    double prior_weight; /* weight of the prior component (1.0) */
} tpe_opts_t;

/* Optuna's defaults, with the given batch size. */
tpe_opts_t tpe_defaults(int batch);

typedef struct {
    long trial;           /* trial index: ties and the weights' order */
    const double *values; /* [nparams], parameter values as sample_draw gives them */
    double metric;        /* lower is better; NaN or inf = diverged */
    long epochs;          /* epochs the metric was measured at (rung reached) */
} tpe_obs_t;

/* out[j * nparams + p], j < o->batch: the proposals of round `round`.
 * 0, or -1 with one line in err (out of memory, a choice value that is not
 * in its list, bad options). */
int tpe_propose(const sample_space_t *sp, const tpe_opts_t *o, uint64_t seed, int stage, int round,
                const tpe_obs_t *obs, size_t nobs, double *out, char *err, size_t errlen);

/* log l(x) - log g(x) of parameter p at value (a parameter value, as in
 * tpe_obs_t) for these completed trials: the score a candidate is chosen
 * by.  For the tests (checked against Optuna's own _ParzenEstimator); NaN
 * when out of memory.  l and g are built the way tpe_propose builds them. */
double tpe_score(const sample_space_t *sp, const tpe_opts_t *o, const tpe_obs_t *obs, size_t nobs, int p,
                 double value);

/* Optuna's default_gamma and default_weights, exposed for the tests. */
int tpe_gamma(size_t n);
double tpe_weight(size_t n, size_t i); /* weight of the i-th oldest of n */

#endif
