/* search.c - the rounds of a search stage; see search.h. */
#include "aesweep/search.h"
#include "aesweep/tpe.h"
#include "aesweep/train.h"
#include "aesweep/util.h"
#include "aesweep/wire.h"
#include <math.h>
#include <stdint.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_tpe(const plan_t *p)
{
    return p->sspec && p->sspec->has_sample && p->sspec->sampler == SEARCH_TPE;
}

/* Rounds per group: the rungs with halving, else 1. */
static int rounds_per_group(const plan_t *p)
{
    return (p->search & PLAN_HALVING) ? p->nrungs : 1;
}

int search_nrounds(const plan_t *p)
{
    if (!p->search) return 0;
    if (is_tpe(p)) {
        size_t B = (size_t)p->sspec->tpe_batch;
        return (int)((p->ntrials + B - 1) / B) * rounds_per_group(p);
    }
    return rounds_per_group(p);
}

int search_bracket_round(const plan_t *p, int nrungs_b, int r)
{
    return p->sspec && p->sspec->align_start ? r : r + (p->nrungs - nrungs_b);
}

int search_task_round(const plan_t *p, size_t task)
{
    const task_t *tk = &p->tasks[task];
    long batch = is_tpe(p) ? p->sspec->tpe_batch : 0;
    long b = batch && tk->trial >= 0 ? tk->trial / batch : 0;
    if (!(p->search & PLAN_HALVING)) return (int)b;
    if (batch) return (int)(b * p->nrungs + tk->rung);
    int nb = p->sched && tk->trial >= 0 ? p->sched->b[p->trial_bracket[tk->trial]].nrungs : p->nrungs;
    return search_bracket_round(p, nb, tk->rung);
}

int search_round_rung(const plan_t *p, int round)
{
    return (p->search & PLAN_HALVING) ? round % p->nrungs : 0;
}

size_t search_round_proposals(const plan_t *p, int round, size_t *first)
{
    *first = 0;
    if (!is_tpe(p) || search_round_rung(p, round) != 0) return 0;
    size_t B = (size_t)p->sspec->tpe_batch, j = (size_t)(round / rounds_per_group(p));
    *first = j * B;
    if (*first >= p->ntrials) return 0;
    return p->ntrials - *first < B ? p->ntrials - *first : B;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* The trials of a group (a bracket, or a TPE batch) that run rung r:
 * rung 0 all of them, rung i the promoted of rung i - 1.  trials[] holds
 * at least n entries; returns the count, -1 when out of memory. */
long search_group_rung_trials(const plan_t *p, size_t first, size_t n, int r, long *trials)
{
    const double *x = p->metrics + (size_t)p->select_metric * p->ncube;
    double *m = malloc((n ? n : 1) * sizeof *m);
    long *won = malloc((n ? n : 1) * sizeof *won);
    if (!m || !won) {
        free(m), free(won);
        return -1;
    }
    long k = (long)n;
    for (size_t i = 0; i < n; i++) trials[i] = (long)(first + i);
    for (int i = 1; i <= r && k > 0; i++) {
        for (long j = 0; j < k; j++) m[j] = x[(size_t)trials[j] * (size_t)p->nrungs + (size_t)(i - 1)];
        k = halving_promote(m, trials, (size_t)k, p->sched->eta, won);
        if (k < 0) break;
        /* winners best first; the round lists them by trial */
        qsort(won, (size_t)k, sizeof *won, cmp_long);
        memcpy(trials, won, (size_t)k * sizeof *trials);
    }
    free(m), free(won);
    return k;
}

long search_round_tasks(const plan_t *p, int round, size_t *ids)
{
    if (!p->search || round < 0 || round >= search_nrounds(p)) return 0;
    if (!(p->search & PLAN_HALVING)) {
        size_t first = 0, n = p->ntrials;
        if (is_tpe(p)) n = search_round_proposals(p, round, &first);
        size_t per = p->nrep, c = 0;
        for (size_t i = first * per; i < (first + n) * per; i++) ids[c++] = i;
        return (long)c;
    }
    int r = search_round_rung(p, round);
    long *tr = malloc((p->ntrials ? p->ntrials : 1) * sizeof *tr);
    if (!tr) return -1;
    long c = 0;
    if (is_tpe(p)) {
        size_t B = (size_t)p->sspec->tpe_batch, first = (size_t)(round / p->nrungs) * B;
        size_t n = first < p->ntrials ? (p->ntrials - first < B ? p->ntrials - first : B) : 0;
        long k = r < p->sched->b[0].nrungs ? search_group_rung_trials(p, first, n, r, tr) : 0;
        if (k < 0) c = -1;
        for (long j = 0; j < k; j++) ids[c++] = (size_t)tr[j] * (size_t)p->nrungs + (size_t)r;
    } else
        for (int b = 0; b < p->sched->nbrackets && c >= 0; b++) {
            /* end-aligned: bracket b's rungs are the last nrungs_b rounds;
             * start-aligned: its first nrungs_b */
            const halving_bracket_t *hb = &p->sched->b[b];
            int rb = round - search_bracket_round(p, hb->nrungs, 0);
            if (rb >= hb->nrungs) continue;
            if (rb < 0 || hb->ntrials == 0) continue;
            long k = search_group_rung_trials(p, (size_t)hb->first_trial, (size_t)hb->ntrials, rb, tr);
            if (k < 0) c = -1;
            for (long j = 0; j < k; j++) ids[c++] = (size_t)tr[j] * (size_t)p->nrungs + (size_t)rb;
        }
    free(tr);
    return c;
}

/* A completed trial as TPE sees it: the mean select metric over its
 * repeats (NaN when one diverged) at its epochs, or with halving its
 * metric at the deepest rung it ran. */
int search_tpe_cap(const plan_t *p, int batch, long of)
{
    int last = p->nrungs - 1;
    if (!p->sspec || !p->sspec->flow) return last;
    long c = (long)batch - 1 - of;
    return c < last ? (int)c : last;
}

static void tpe_observation(const plan_t *p, size_t t, int cap, double *metric, long *epochs)
{
    const double *x = p->metrics + (size_t)p->select_metric * p->ncube;
    if (p->search & PLAN_HALVING) {
        int deep = 0;
        for (int r = 0; r <= cap && r < p->nrungs; r++)
            if (p->status[t * (size_t)p->nrungs + (size_t)r] != TRAIN_NOT_RUN) deep = r;
        *metric = x[t * (size_t)p->nrungs + (size_t)deep];
        *epochs = p->sched->b[0].epochs[deep];
        return;
    }
    double s = 0;
    for (size_t i = 0; i < p->nrep; i++) s += x[t * p->nrep + i];
    *metric = s / (double)p->nrep; /* NaN or inf when one is */
    /* no halving: every trial is complete, whatever epochs it sampled (an
     * `epochs` in the space is a parameter here, not how far it got) */
    *epochs = 0;
}

int search_tpe_rows(const plan_t *p, int round, double *rows, char *err)
{
    size_t first;
    size_t n = search_round_proposals(p, round, &first);
    if (!n) return 0;
    const sample_space_t *sp = &p->sspec->space;
    int np = sp->nparams, B = p->sspec->tpe_batch;
    tpe_obs_t *obs = malloc((first ? first : 1) * sizeof *obs);
    double *vals = malloc((first ? first : 1) * (size_t)np * sizeof *vals);
    double *out = malloc((size_t)B * (size_t)np * sizeof *out);
    if (!obs || !vals || !out) {
        free(obs), free(vals), free(out);
        snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory for the TPE proposals of %zu trials", p->spec->name, first);
        return -1;
    }
    for (size_t t = 0; t < first; t++) {
        for (int j = 0; j < np; j++) vals[t * (size_t)np + (size_t)j] = p->trial_hp[t * P_COUNT + (size_t)sp->params[j].param];
        obs[t].trial = (long)t;
        obs[t].values = vals + t * (size_t)np;
        tpe_observation(p, t, search_tpe_cap(p, round / rounds_per_group(p), (long)t / B), &obs[t].metric, &obs[t].epochs);
    }
    tpe_opts_t o = tpe_defaults(B);
    o.n_startup = p->sspec->tpe_startup;
    char msg[SPEC_ERR_LEN];
    int rc = tpe_propose(sp, &o, p->study->seed, p->stage_index, round / rounds_per_group(p), obs, first, out, msg,
                         sizeof msg);
    if (rc) snprintf(err, SPEC_ERR_LEN, "stage %s: %s", p->spec->name, msg);
    for (size_t i = 0; !rc && i < n; i++) {
        double *row = rows + i * P_COUNT;
        memcpy(row, p->trial_hp + (first + i) * P_COUNT, sizeof(double) * P_COUNT);
        for (int j = 0; j < np; j++) row[sp->params[j].param] = out[i * (size_t)np + (size_t)j];
    }
    free(obs), free(vals), free(out);
    return rc;
}

void search_schedule_walk(const plan_t *p, search_slot_fn fn, void *ctx)
{
    if (!(p->search & PLAN_HALVING) || !p->sched) return;
    const halving_schedule_t *h = p->sched;
    if (is_tpe(p)) { /* batch j's rung k runs in round j * nrungs + k */
        long batch = p->sspec->tpe_batch, R = h->b[0].nrungs;
        for (long lo = 0, j = 0; lo < (long)p->ntrials; lo += batch, j++) {
            long hi = lo + batch < (long)p->ntrials ? lo + batch : (long)p->ntrials, m = hi - lo;
            for (int k = 0; k < R; k++, m = halving_promote_count(m, h->eta))
                fn(&(search_slot_t){(int)j, lo, hi, m, k, (int)(j * p->nrungs + k), k == R - 1}, ctx);
        }
        return;
    }
    for (int round = 0; round < p->nrungs; round++)
        for (int b = 0; b < h->nbrackets; b++) {
            const halving_bracket_t *B = &h->b[b];
            int k = round - search_bracket_round(p, B->nrungs, 0);
            if (k < 0 || k >= B->nrungs || B->ntrials <= 0) continue;
            fn(&(search_slot_t){b, B->first_trial, B->first_trial + B->ntrials, B->trials[k], k, round, k == B->nrungs - 1},
               ctx);
        }
}

typedef struct {
    const plan_t *p;
    size_t tasks;
    double cost;
} sched_sum_t;

static void sum_slot(const search_slot_t *s, void *ctx)
{
    sched_sum_t *a = ctx;
    const plan_t *p = a->p;
    double c = 0;
    for (long t = s->first; t < s->end; t++) c += p->tasks[(size_t)t * (size_t)p->nrungs + (size_t)s->rung].cost;
    a->tasks += (size_t)s->trials;
    a->cost += c / (double)(s->end - s->first) * (double)s->trials;
}

/* The tasks a halving stage's schedule runs when every promotion is taken
 * (an upper bound: diverged trials are not promoted); *cost gets their
 * predicted cost, each rung's estimated by its mean over the group's trials. */
static size_t scheduled_tasks(const plan_t *p, double *cost)
{
    sched_sum_t a = {.p = p};
    search_schedule_walk(p, sum_slot, &a);
    if (cost) *cost = a.cost;
    return a.tasks;
}

size_t search_tasks_total(const plan_t *p)
{
    if (!(p->search & PLAN_HALVING)) return p->ntasks;
    if (p->search_complete) return p->ndone;
    size_t s = scheduled_tasks(p, NULL);
    return s > p->ndone ? s : p->ndone;
}

void search_progress_start(dispatch_t *d)
{
    const plan_t *p = d->p;
    if (!(p->search & PLAN_HALVING)) {
        dispatch_progress_start(d);
        return;
    }
    double ctot, cdone = 0;
    size_t total = scheduled_tasks(p, &ctot), ndone = 0;
    for (size_t t = 0; t < p->ntasks; t++)
        if (p->task_done[t]) ndone++, cdone += p->tasks[t].cost;
    progress_start(&d->prog, p->spec->name, total > ndone ? total : ndone, ndone, ctot > cdone ? ctot : cdone, cdone,
                   d->opt.quiet, d->opt.progress_seconds);
    d->have_prog = 1;
    progress_best(&d->prog, d->best_seen); /* a replay's */
}

/* ---- the collective loop ----------------------------------------------------- */

typedef struct {
    dispatch_t *d;
    size_t *ids, *prev, *pending;  /* this round's tasks, the previous round's, those not done */
    uint8_t *cont;                /* [ntasks] scratch: continued by a task of this round */
    long nids, nprev;
    double wall, busy;            /* sums over the rounds that ran tasks */
} rounds_t;

static double busy_sum(const dispatch_t *d)
{
    double s = 0;
    for (int r = 0; r < d->nranks; r++) s += d->busy[r];
    return s;
}

/* Rank 0: the states of the previous round that no task of this round
 * continues (trials not promoted, or a previous batch's). */
static void drop_unpromoted(rounds_t *w)
{
    plan_t *p = w->d->p;
    for (long j = 0; j < w->nids; j++)
        if (p->tasks[w->ids[j]].prev_task >= 0) w->cont[p->tasks[w->ids[j]].prev_task] = 1;
    for (long i = 0; i < w->nprev; i++)
        if (!w->cont[w->prev[i]]) dispatch_drop_state(w->d, w->prev[i]);
    for (long j = 0; j < w->nids; j++)
        if (p->tasks[w->ids[j]].prev_task >= 0) w->cont[p->tasks[w->ids[j]].prev_task] = 0;
}

/* Rank 0, after a round: the previous round's states are all spent, and
 * nothing continues a bracket's last rung. */
static void drop_spent(rounds_t *w)
{
    plan_t *p = w->d->p;
    for (long i = 0; i < w->nprev; i++) dispatch_drop_state(w->d, w->prev[i]);
    for (long j = 0; j < w->nids; j++) {
        const task_t *tk = &p->tasks[w->ids[j]];
        size_t next = w->ids[j] + 1;
        if (tk->rung + 1 >= p->nrungs || p->tasks[next].absent) dispatch_drop_state(w->d, w->ids[j]);
    }
}

/* Rank 0: decide round `round` into hdr {go, first, nrows, npending} and
 * rows; 0, or -1 (failed: out of memory, a TPE error). */
static int root_plan_round(rounds_t *w, int round, int *hdr, double *rows)
{
    plan_t *p = w->d->p;
    char err[SPEC_ERR_LEN];
    size_t first = 0, n = search_round_proposals(p, round, &first);
    if (n && search_tpe_rows(p, round, rows, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        return -1;
    }
    for (size_t i = 0; i < n; i++) plan_set_trial(p, first + i, rows + i * P_COUNT);
    size_t *t = w->prev; /* the previous round's list becomes prev */
    w->prev = w->ids, w->nprev = w->nids, w->ids = t;
    w->nids = search_round_tasks(p, round, w->ids);
    if (w->nids < 0) {
        fprintf(stderr, "aesweep: rank 0: out of memory listing round %d of stage %s\n", round, p->spec->name);
        w->nids = 0;
        return -1;
    }
    long np = 0;
    for (long i = 0; i < w->nids; i++) {
        p->task_round[w->ids[i]] = round;
        if (!p->task_done[w->ids[i]]) w->pending[np++] = w->ids[i];
    }
    drop_unpromoted(w);
    hdr[0] = 1, hdr[1] = (int)first, hdr[2] = (int)n, hdr[3] = (int)np;
    return 0;
}

static int root_rounds(rounds_t *w, double *rows)
{
    dispatch_t *d = w->d;
    plan_t *p = d->p;
    int nr = search_nrounds(p), rc = WIRE_DONE_OK;
    for (int round = 0; round < nr && rc == WIRE_DONE_OK; round++) {
        int hdr[4] = {0, 0, 0, 0};
        if (root_plan_round(w, round, hdr, rows)) {
            d->failed = 1;
            rc = WIRE_DONE_FAILED;
            hdr[0] = 0;
        }
        MPI_Bcast(hdr, 4, MPI_INT, 0, MPI_COMM_WORLD);
        if (!hdr[0]) break;
        if (hdr[2] > 0) MPI_Bcast(rows, hdr[2] * P_COUNT, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (hdr[3] > 0) {
            double t0 = util_mono_seconds(), b0 = busy_sum(d);
            rc = dispatch_round(d, w->pending, (size_t)hdr[3]);
            w->wall += util_mono_seconds() - t0;
            w->busy += busy_sum(d) - b0;
        }
        if (rc == WIRE_DONE_OK) drop_spent(w);
    }
    if (rc == WIRE_DONE_OK) {
        int hdr[4] = {0, 0, 0, 0};
        MPI_Bcast(hdr, 4, MPI_INT, 0, MPI_COMM_WORLD);
        p->search_complete = 1;
    }
    p->idle_share = w->wall > 0 ? 1.0 - w->busy / ((double)d->nranks * w->wall) : 0.0;
    p->state_peak_bytes = d->state_peak_bytes; /* what validate's bound must hold (results: an attribute) */
    return rc;
}

static int worker_rounds(dispatch_t *d, double *rows)
{
    for (;;) {
        int hdr[4];
        MPI_Bcast(hdr, 4, MPI_INT, 0, MPI_COMM_WORLD);
        if (!hdr[0]) return WIRE_DONE_OK;
        if (hdr[2] > 0) {
            MPI_Bcast(rows, hdr[2] * P_COUNT, MPI_DOUBLE, 0, MPI_COMM_WORLD);
            for (int i = 0; i < hdr[2]; i++) plan_set_trial(d->p, (size_t)hdr[1] + (size_t)i, rows + (size_t)i * P_COUNT);
        }
        if (hdr[3] > 0) {
            int rc = dispatch_round(d, NULL, 0);
            if (rc != WIRE_DONE_OK) return rc;
        }
    }
}

int search_run(dispatch_t *d)
{
    plan_t *p = d->p;
    if (p->sspec && p->sspec->flow) return search_flow_run(d); /* no rounds: search_flow.c */
    size_t nt = p->ntasks ? p->ntasks : 1;
    int B = is_tpe(p) ? p->sspec->tpe_batch : 1;
    double *rows = malloc((size_t)B * P_COUNT * sizeof *rows);
    rounds_t w = {.d = d};
    int ok = rows != NULL;
    if (d->rank == 0) {
        w.ids = malloc(nt * sizeof *w.ids), w.prev = malloc(nt * sizeof *w.prev), w.pending = malloc(nt * sizeof *w.pending);
        w.cont = calloc(nt, 1);
        ok = ok && w.ids && w.prev && w.pending && w.cont;
    }
    if (!ok) fprintf(stderr, "aesweep: rank %d: out of memory for the rounds of stage %s\n", d->rank, p->spec->name);
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    int rc = WIRE_DONE_FAILED;
    if (ok) rc = d->rank == 0 ? root_rounds(&w, rows) : worker_rounds(d, rows);
    else d->failed = 1;
    free(rows), free(w.ids), free(w.prev), free(w.pending), free(w.cont);
    return rc;
}
