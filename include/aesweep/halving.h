/* halving.h - successive halving and Hyperband as pure functions: the
 * schedule (brackets, rungs, epochs and trials per rung) and the promotion
 * decision.  No MPI, no I/O, no state: rank 0 plans each rung from these,
 * and the same spec and metrics give the same trials, rungs and winners at
 * any number of ranks.
 *
 * Schedule (Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, "Hyperband",
 * JMLR 18(185), 2018, Algorithm 1), with epochs as the resource:
 *   s_max = floor(log_eta(max_epochs / min_epochs)), computed in integers.
 *   Bracket b = 0 .. nbrackets-1 has s = s_max - b promotions, s + 1 rungs.
 *   Its weight is the paper's n = ceil((s_max + 1) eta^s / (s + 1)); a study
 *   of N trials gives bracket b the share N n_b / sum n (largest remainder,
 *   ties to the lower b), contiguous trial indices, bracket 0 first.  With
 *   N = 0 every bracket gets the paper's n (R = 81, eta = 3: 81, 34, 15, 8, 5).
 *   Trials per rung: n_0 = the bracket's trials, n_{i+1} = max(1, floor(n_i / eta)),
 *   the paper's floor(n eta^-i) for an integer eta, at least one as Optuna's
 *   SuccessiveHalvingPruner keeps (promotable_idx >= 0).
 *   Epochs at the end of rung i: min_epochs eta^(b + i) for i < s, and
 *   max_epochs at the last rung: Optuna's rung_promotion_step
 *   min_resource * reduction_factor^(min_early_stopping_rate + rung), with
 *   bracket b's min_early_stopping_rate = b as optuna/pruners/_hyperband.py
 *   sets it (Optuna 3.1, Debian's python3-optuna).  When max_epochs =
 *   min_epochs eta^s_max this is the paper's r_i = R eta^(i - s).
 *   nbrackets = 1 is plain successive halving from min_epochs.
 * A promoted trial continues from its state, so it trains e_i - e_{i-1}
 * epochs in rung i (halving_bracket_epochs), not e_i again.
 *
 * Promotion: the trials of a rung are ordered by metric, lower first, ties
 * broken by the lower trial index, NaN and infinite (diverged) metrics after
 * every finite one, in trial order.  The first min(k, finite ones) are
 * promoted, k = max(1, floor(m / eta)) for m trials in the rung: diverged
 * trials never continue (Optuna prunes a NaN value too).  Optuna promotes
 * every trial tied with the k-th; here ties are broken so that the count is
 * exact and the schedule holds.
 *
 * Not for: running rungs (dispatch), the metric itself (metrics).
 */
#ifndef AESWEEP_HALVING_H
#define AESWEEP_HALVING_H
#include <stddef.h>

#define HALVING_MAX_BRACKETS 40 /* s_max + 1 <= log2(max/min) + 1 */
#define HALVING_MAX_RUNGS 40

typedef struct {
    int s;             /* promotions (Hyperband's s); nrungs = s + 1 */
    long first_trial;  /* trials first_trial .. first_trial + ntrials - 1 */
    long ntrials;      /* n_0 (0: an empty bracket, when N < nbrackets) */
    int nrungs;
    long epochs[HALVING_MAX_RUNGS]; /* epochs trained by the end of rung i, increasing */
    long trials[HALVING_MAX_RUNGS]; /* trials scheduled to train rung i (an upper bound: diverged ones stop) */
} halving_bracket_t;

typedef struct {
    long min_epochs, max_epochs;
    int eta;
    int s_max;
    int nbrackets;
    long ntrials;
    halving_bracket_t b[HALVING_MAX_BRACKETS];
} halving_schedule_t;

/* floor(log_eta(max_epochs / min_epochs)) in integers; -1 if max < min. */
int halving_s_max(long min_epochs, long max_epochs, int eta);
/* The paper's trials of the bracket with s promotions: ceil((s_max + 1) eta^s / (s + 1)). */
long halving_paper_trials(int s_max, int eta, int s);
/* Trials promoted out of a rung of m: max(1, floor(m / eta)), 0 for m = 0. */
long halving_promote_count(long m, int eta);

/* The schedule; nbrackets 0 = all s_max + 1 brackets, ntrials 0 = the
 * paper's counts.  0, or -1 with one line in err (the bad value and the fix). */
int halving_schedule(halving_schedule_t *h, long min_epochs, long max_epochs, int eta, int nbrackets,
                     long ntrials, char *err, size_t errlen);
/* Epochs the bracket trains when every scheduled trial runs:
 * sum_i n_i (e_i - e_{i-1}), e_{-1} = 0. */
double halving_bracket_epochs(const halving_bracket_t *b);
double halving_schedule_epochs(const halving_schedule_t *h);
/* The bracket of a trial index, -1 if outside the study. */
int halving_bracket_of(const halving_schedule_t *h, long trial);

/* order[0..m-1]: positions 0..m-1 of the rung's trials, best first (see the
 * promotion rule above).  metric[i] and trial[i] describe position i.
 * 0, or -1 when out of memory. */
int halving_order(const double *metric, const long *trial, size_t m, size_t *order);
/* Whether (metric ma, trial ta) ranks before (mb, tb) in that order. */
int halving_before(double ma, long ta, double mb, long tb);
/* winners[0..r-1]: trial indices of the promoted, best first; returns r =
 * min(k, finite metrics) with k = halving_promote_count(m, eta), or -1 when
 * out of memory. */
long halving_promote(const double *metric, const long *trial, size_t m, int eta, long *winners);

#endif
