/* search_flow.c - a halving stage as a dataflow (halving.align = "flow"):
 * the ready set behind dispatch_flow; see search.h.
 *
 * Each bracket runs its rungs one after another, as in rounds, but no
 * bracket waits for another: when the last result of bracket b's rung k is
 * stored, rung k + 1's trials (halving_promote of rung k, the same rule and
 * the same trials as any alignment) become ready at once.  A free rank
 * takes the ready task with the longest remaining chain: its own cost plus
 * its bracket's later rungs, each at its costliest segment (tail[]).  Long
 * chains first keeps the full-length trials from ending the stage alone
 * (bench/simulate.c hb_dataflow: >= 0.85 utilisation up to 1,024 ranks
 * where merged rounds fall to 0.83), and starts them early, so a good
 * result is known early (anytime).
 *
 * The file is that of any rank count: what runs where never changes a
 * metric.  The `round` dataset records each task's rung (the round that
 * runs it aligned at the start).  A resumed run replays the journal and
 * opens each bracket at its first rung with a task not done.
 */
#include "aesweep/search.h"
#include "aesweep/util.h"
#include "aesweep/wire.h"
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    dispatch_t *d;
    plan_t *p;
    int nb;
    int *rung;        /* [nb] the rung each bracket runs (its nrungs: finished) */
    long *left;       /* [nb] tasks of that rung not stored yet */
    long *nready, *next; /* [nb] its ready list's length, and the next to hand out */
    size_t *ready;    /* [ntrials] bracket b's list at first_trial: costliest first */
    long *tr;         /* [ntrials] scratch: a rung's trials */
    uint8_t *mark;    /* [ntrials] scratch: promoted */
    double *tail;     /* [nb x nrungs] a bracket's later rungs, each at its costliest */
    int unfinished;   /* brackets not finished */
    int failed;
} flow_t;

typedef struct {
    double cost;
    size_t id;
} costed_t;

static int costliest_first(const void *a, const void *b)
{
    const costed_t *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? 1 : -1;
    return x->id > y->id ? 1 : x->id < y->id ? -1 : 0;
}

/* Open bracket b's rung f->rung[b] (and on past rungs a resumed run has
 * already done): list its tasks, record their round, drop the states of
 * the previous rung's trials not promoted.  -1 when out of memory. */
static int open_rung(flow_t *f, int b)
{
    plan_t *p = f->p;
    const halving_bracket_t *hb = &p->sched->b[b];
    size_t nr = (size_t)p->nrungs, first = (size_t)hb->first_trial;
    for (;;) {
        int k = f->rung[b];
        f->nready[b] = f->next[b] = 0;
        if (k >= hb->nrungs || hb->ntrials <= 0) {
            f->unfinished--;
            return 0;
        }
        long n = search_group_rung_trials(p, first, (size_t)hb->ntrials, k, f->tr + first);
        if (n < 0) return -1;
        if (k > 0) { /* rung k - 1's states nothing continues */
            for (long j = 0; j < n; j++) f->mark[f->tr[first + (size_t)j]] = 1;
            for (size_t t = first; t < first + (size_t)hb->ntrials; t++)
                if (!f->mark[t]) dispatch_drop_state(f->d, t * nr + (size_t)(k - 1));
            for (long j = 0; j < n; j++) f->mark[f->tr[first + (size_t)j]] = 0;
        }
        costed_t *c = malloc((size_t)(n ? n : 1) * sizeof *c);
        if (!c) return -1;
        long m = 0;
        for (long j = 0; j < n; j++) {
            size_t id = (size_t)f->tr[first + (size_t)j] * nr + (size_t)k;
            p->task_round[id] = search_bracket_round(p, hb->nrungs, k);
            if (!p->task_done[id]) c[m++] = (costed_t){p->tasks[id].cost, id};
        }
        qsort(c, (size_t)m, sizeof *c, costliest_first);
        for (long j = 0; j < m; j++) f->ready[first + (size_t)j] = c[j].id;
        free(c);
        f->nready[b] = f->left[b] = m;
        if (m) return 0;
        f->rung[b]++; /* all done already (a resumed run): on to the next */
    }
}

static long flow_next(void *ctx)
{
    flow_t *f = ctx;
    const plan_t *p = f->p;
    int best = -1;
    double bp = 0;
    for (int b = 0; b < f->nb; b++) {
        if (f->next[b] >= f->nready[b]) continue;
        size_t id = f->ready[(size_t)p->sched->b[b].first_trial + (size_t)f->next[b]];
        double pr = p->tasks[id].cost + f->tail[(size_t)b * (size_t)p->nrungs + (size_t)f->rung[b]];
        if (best < 0 || pr > bp) best = b, bp = pr;
    }
    if (best < 0) return -1;
    return (long)f->ready[(size_t)p->sched->b[best].first_trial + (size_t)f->next[best]++];
}

static void flow_stored(void *ctx, size_t task)
{
    flow_t *f = ctx;
    const plan_t *p = f->p;
    const task_t *tk = &p->tasks[task];
    if (tk->trial < 0) return;
    int b = p->trial_bracket[tk->trial];
    if (tk->rung != f->rung[b] || --f->left[b] > 0) return;
    f->rung[b]++;
    if (open_rung(f, b)) {
        fprintf(stderr, "aesweep: rank 0: out of memory opening a rung of stage %s; finished tasks are journaled: --resume\n",
                p->spec->name);
        f->failed = 1;
        f->d->failed = f->d->stop = 1;
    }
}

static int flow_finished(void *ctx) { return ((flow_t *)ctx)->unfinished == 0; }

static void flow_free(flow_t *f)
{
    free(f->rung), free(f->left), free(f->nready), free(f->next), free(f->ready), free(f->tr), free(f->mark), free(f->tail);
}

/* Rank 0: the ready set at the start (after a replay).  0, or -1. */
static int flow_open(flow_t *f)
{
    plan_t *p = f->p;
    size_t nt = p->ntrials ? p->ntrials : 1, nr = (size_t)p->nrungs;
    f->nb = p->sched->nbrackets;
    f->rung = calloc((size_t)f->nb, sizeof *f->rung);
    f->left = calloc((size_t)f->nb, sizeof *f->left);
    f->nready = calloc((size_t)f->nb, sizeof *f->nready);
    f->next = calloc((size_t)f->nb, sizeof *f->next);
    f->ready = malloc(nt * sizeof *f->ready);
    f->tr = malloc(nt * sizeof *f->tr);
    f->mark = calloc(nt, 1);
    f->tail = calloc((size_t)f->nb * nr, sizeof *f->tail);
    if (!f->rung || !f->left || !f->nready || !f->next || !f->ready || !f->tr || !f->mark || !f->tail) return -1;
    for (int b = 0; b < f->nb; b++) {
        const halving_bracket_t *hb = &p->sched->b[b];
        double *tl = f->tail + (size_t)b * nr;
        for (int k = hb->nrungs - 2; k >= 0; k--) {
            double mx = 0;
            for (long t = hb->first_trial; t < hb->first_trial + hb->ntrials; t++) {
                double c = p->tasks[(size_t)t * nr + (size_t)(k + 1)].cost;
                if (c > mx) mx = c;
            }
            tl[k] = tl[k + 1] + mx;
        }
    }
    f->unfinished = f->nb;
    for (int b = 0; b < f->nb; b++)
        if (open_rung(f, b)) return -1;
    return 0;
}

int search_flow_run(dispatch_t *d)
{
    plan_t *p = d->p;
    flow_t f = {.d = d, .p = p};
    int ok = 1;
    if (d->rank == 0 && flow_open(&f)) {
        fprintf(stderr, "aesweep: rank 0: out of memory for the dataflow of stage %s\n", p->spec->name);
        ok = 0;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int rc = WIRE_DONE_FAILED;
    double t0 = util_mono_seconds(), b0 = 0;
    if (d->rank == 0)
        for (int r = 0; r < d->nranks; r++) b0 += d->busy[r];
    if (ok) {
        dispatch_flow_t ops = {.ctx = &f, .next = flow_next, .stored = flow_stored, .finished = flow_finished};
        rc = dispatch_flow(d, d->rank == 0 ? &ops : NULL);
    } else
        d->failed = 1;
    if (d->rank == 0) {
        double wall = util_mono_seconds() - t0, busy = -b0;
        for (int r = 0; r < d->nranks; r++) busy += d->busy[r];
        if (rc == WIRE_DONE_OK && !f.failed) p->search_complete = 1;
        p->idle_share = wall > 0 ? 1.0 - busy / ((double)d->nranks * wall) : 0.0;
        p->state_peak_bytes = d->state_peak_bytes;
    }
    flow_free(&f);
    return rc;
}
