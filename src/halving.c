/* halving.c - successive halving and Hyperband schedules and promotion; see halving.h. */
#include "aesweep/halving.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int halving_s_max(long min_epochs, long max_epochs, int eta)
{
    if (min_epochs < 1 || max_epochs < min_epochs || eta < 2) return -1;
    /* largest s with min eta^s <= max, without floating-point logs (Optuna's
     * math.log(81 / 1, 3) is 4.000000000000001, an accident away from 3) */
    int s = 0;
    for (long e = min_epochs; e <= max_epochs / eta; e *= eta) s++;
    return s;
}

long halving_paper_trials(int s_max, int eta, int s)
{
    /* ceil((s_max + 1) eta^s / (s + 1)) in integers */
    long p = 1;
    for (int i = 0; i < s; i++) p *= eta;
    long num = (long)(s_max + 1) * p;
    return (num + s) / (s + 1);
}

long halving_promote_count(long m, int eta)
{
    if (m <= 0) return 0;
    return m / eta > 1 ? m / eta : 1;
}

/* Largest-remainder apportionment of N trials over weights w[0..nb-1]. */
static void apportion(long N, const long *w, int nb, long *out)
{
    unsigned __int128 W = 0;
    for (int b = 0; b < nb; b++) W += (unsigned __int128)w[b];
    long given = 0;
    unsigned __int128 rem[HALVING_MAX_BRACKETS];
    for (int b = 0; b < nb; b++) {
        unsigned __int128 q = (unsigned __int128)N * (unsigned __int128)w[b];
        out[b] = (long)(q / W);
        rem[b] = q % W;
        given += out[b];
    }
    for (; given < N; given++) { /* at most nb - 1 rounds */
        int best = 0;
        for (int b = 1; b < nb; b++)
            if (rem[b] > rem[best]) best = b;
        out[best]++;
        rem[best] = 0;
    }
}

int halving_schedule(halving_schedule_t *h, long min_epochs, long max_epochs, int eta, int nbrackets,
                     long ntrials, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (eta < 2 || eta > 1000)
        return snprintf(err, errlen, "eta = %d is out of range; use a whole reduction factor 2..1000 (3 is usual)", eta), -1;
    if (min_epochs < 1)
        return snprintf(err, errlen, "min_epochs = %ld is out of range; use at least 1", min_epochs), -1;
    if (max_epochs < min_epochs || max_epochs > 100000000L)
        return snprintf(err, errlen, "max_epochs = %ld is out of range; use min_epochs (%ld) .. 100000000", max_epochs,
                        min_epochs), -1;
    int smax = halving_s_max(min_epochs, max_epochs, eta);
    if (smax + 1 > HALVING_MAX_BRACKETS || smax + 1 > HALVING_MAX_RUNGS)
        return snprintf(err, errlen, "max_epochs / min_epochs = %ld gives %d brackets; at most %d", max_epochs / min_epochs,
                        smax + 1, HALVING_MAX_BRACKETS), -1;
    if (nbrackets == 0) nbrackets = smax + 1;
    if (nbrackets < 1 || nbrackets > smax + 1)
        return snprintf(err, errlen, "brackets = %d is out of range; min_epochs %ld, max_epochs %ld and eta %d allow 1..%d",
                        nbrackets, min_epochs, max_epochs, eta, smax + 1), -1;
    if (ntrials < 0) return snprintf(err, errlen, "n_trials = %ld is negative; use at least 1", ntrials), -1;
    h->min_epochs = min_epochs, h->max_epochs = max_epochs, h->eta = eta;
    h->s_max = smax, h->nbrackets = nbrackets;
    long w[HALVING_MAX_BRACKETS], n[HALVING_MAX_BRACKETS];
    for (int b = 0; b < nbrackets; b++) w[b] = n[b] = halving_paper_trials(smax, eta, smax - b);
    if (ntrials > 0) apportion(ntrials, w, nbrackets, n);
    long first = 0;
    for (int b = 0; b < nbrackets; b++) {
        halving_bracket_t *br = &h->b[b];
        br->s = smax - b;
        br->nrungs = br->s + 1;
        br->first_trial = first;
        br->ntrials = n[b];
        first += n[b];
        long e = min_epochs;
        for (int i = 0; i < b; i++) e *= eta; /* min eta^b: the bracket's first rung */
        long m = n[b];
        for (int i = 0; i < br->nrungs; i++) {
            br->epochs[i] = i == br->s ? max_epochs : e;
            br->trials[i] = m;
            e *= eta;
            m = halving_promote_count(m, eta);
        }
    }
    h->ntrials = first;
    return 0;
}

double halving_bracket_epochs(const halving_bracket_t *b)
{
    double sum = 0;
    long prev = 0;
    for (int i = 0; i < b->nrungs; i++) {
        sum += (double)b->trials[i] * (double)(b->epochs[i] - prev);
        prev = b->epochs[i];
    }
    return sum;
}

double halving_schedule_epochs(const halving_schedule_t *h)
{
    double sum = 0;
    for (int b = 0; b < h->nbrackets; b++) sum += halving_bracket_epochs(&h->b[b]);
    return sum;
}

int halving_bracket_of(const halving_schedule_t *h, long trial)
{
    for (int b = 0; b < h->nbrackets; b++)
        if (trial >= h->b[b].first_trial && trial < h->b[b].first_trial + h->b[b].ntrials) return b;
    return -1;
}

typedef struct {
    double metric;
    long trial;
    size_t pos;
} entry_t;

/* finite metrics ascending, then the diverged; ties by trial index */
static int cmp_entry(const void *pa, const void *pb)
{
    const entry_t *a = pa, *b = pb;
    int da = !isfinite(a->metric), db = !isfinite(b->metric);
    if (da != db) return da - db;
    if (!da && a->metric != b->metric) return a->metric < b->metric ? -1 : 1;
    return (a->trial > b->trial) - (a->trial < b->trial);
}

int halving_before(double ma, long ta, double mb, long tb)
{
    entry_t a = {ma, ta, 0}, b = {mb, tb, 0};
    return cmp_entry(&a, &b) < 0;
}

int halving_order(const double *metric, const long *trial, size_t m, size_t *order)
{
    entry_t *e = malloc((m ? m : 1) * sizeof *e);
    if (!e) return -1;
    for (size_t i = 0; i < m; i++) e[i] = (entry_t){metric[i], trial[i], i};
    qsort(e, m, sizeof *e, cmp_entry);
    for (size_t i = 0; i < m; i++) order[i] = e[i].pos;
    free(e);
    return 0;
}

long halving_promote(const double *metric, const long *trial, size_t m, int eta, long *winners)
{
    size_t *order = malloc((m ? m : 1) * sizeof *order);
    if (!order || halving_order(metric, trial, m, order)) {
        free(order);
        return -1;
    }
    long k = halving_promote_count((long)m, eta), r = 0;
    for (; r < k && isfinite(metric[order[r]]); r++) winners[r] = trial[order[r]];
    free(order);
    return r;
}
