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
 * TPE (+ halving, one bracket per batch): the groups are the batches.
 * Batch j opens, and is proposed, once every earlier batch j - i has
 * finished its rungs 0 .. min(i - 1, R - 1) (a staircase: the previous
 * batch its first rung, the one before its first two, ...), from every
 * earlier trial at the deepest of those rungs it ran (search_tpe_rows:
 * search_tpe_cap).  Those rungs are complete when the batch opens, so the
 * proposals do not depend on timing; the batches overlap, so a batch's
 * long tail (a rung of one trial) no longer idles the other ranks.
 *
 * ASHA in a fixed order (halving.promote = "asha"; Li et al. 2020's rule,
 * made a pure function of the results).  Each bracket's rung k has a list
 * L_k: L_0 its trials costliest first (ties by trial), L_{k+1} rung k's
 * promoted in the order promoted.  Once the first j entries of L_k are all
 * in, rung k may have promoted floor(j / eta) of them: while it has fewer,
 * the best of the prefix's top floor(j / eta) (finite, ties by trial) not
 * yet promoted goes up, and its next segment is ready at once.  When all
 * of L_k is in and L_k is final, the count is rung-halving's
 * (halving_promote_count of its length).  So each rung holds as many
 * trials as with whole-rung promotion and the chains are no longer (the
 * same bounds hold), but a good trial early in a list climbs while the
 * rest of its rung still trains: ASHA's anytime behaviour.  What is
 * promoted depends on the order of the lists and the results only, never
 * on which result came first, so it is the same at any rank count and
 * after a resume (asha_advance replays it from the results).  With TPE
 * each batch promotes so, and a batch opens on the staircase above once the
 * earlier batches' rungs it observes are closed (rungs_finished): a closed
 * rung's trials and results do not depend on which came in first.  A free
 * rank takes, per bracket, the deepest rung's next task, and across brackets
 * the one whose segment ends at the most epochs (full-length results
 * first: what an anytime search waits for), ties by the longest remaining
 * chain as above.
 *
 * The file is that of any rank count: what runs where never changes a
 * metric.  The `round` dataset records each task's rung (the round that
 * runs it aligned at the start).  A resumed run replays the journal and
 * opens each bracket at its first rung with a task not done.
 */
#include "aesweep/search.h"
#include "aesweep/budget.h"
#include "aesweep/halving.h"
#include "aesweep/tpe.h"
#include "aesweep/util.h"
#include "aesweep/wire.h"
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    dispatch_t *d;
    plan_t *p;
    int nb;           /* groups: Hyperband brackets, or TPE batches */
    int tpe;          /* TPE: groups open one after another (opened: how many) */
    int opened;
    double *rows;     /* TPE: [tpe_batch][P_COUNT] a batch's proposals */
    int *rung;        /* [nb] the rung each bracket runs (its nrungs: finished) */
    long *left;       /* [nb] tasks of that rung not stored yet */
    long *nready, *next; /* [nb] its ready list's length, and the next to hand out */
    size_t *ready;    /* [ntrials] bracket b's list at first_trial: costliest first */
    long *tr;         /* [ntrials] scratch: a rung's trials */
    uint8_t *mark;    /* [ntrials] scratch: promoted */
    double *tail;     /* [nb x nrungs] a bracket's later rungs, each at its costliest */
    int unfinished;   /* brackets not finished */
    int failed;
    /* halving.promote = "asha": per bracket b and rung k (index b x nrungs + k)
     * the list L_k at alist + off(b, k), its length, the prefix of it that is
     * in (its entries best first at asort + off(b, k)), the next to hand out,
     * how many rung k promoted, and whether rung k is closed (L_k final, all
     * in, its promotions made); apromo[t x nrungs + k]: t promoted out of k */
    int asha;
    long *alist, *asort;
    long *alen, *apre, *anext, *apromoted;
    uint8_t *aclosed, *apromo;
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

/* Group g's trials [*first, *first + return) and its rungs (*nrungs). */
static long group_trials(const flow_t *f, int g, size_t *first, int *nrungs)
{
    const plan_t *p = f->p;
    if (!f->tpe) {
        const halving_bracket_t *hb = &p->sched->b[g];
        *first = (size_t)hb->first_trial, *nrungs = hb->nrungs;
        return hb->ntrials;
    }
    size_t B = (size_t)p->sspec->tpe_batch, lo = (size_t)g * B;
    *first = lo, *nrungs = p->sched->b[0].nrungs;
    return lo < p->ntrials ? (long)(p->ntrials - lo < B ? p->ntrials - lo : B) : 0;
}

static int group_of(const flow_t *f, long trial)
{
    return f->tpe ? (int)(trial / f->p->sspec->tpe_batch) : f->p->trial_bracket[trial];
}

/* Open bracket b's rung f->rung[b] (and on past rungs a resumed run has
 * already done): list its tasks, record their round, drop the states of
 * the previous rung's trials not promoted.  -1 when out of memory. */
static int open_rung(flow_t *f, int b)
{
    plan_t *p = f->p;
    size_t nr = (size_t)p->nrungs, first;
    int nrungs;
    long ntr = group_trials(f, b, &first, &nrungs);
    for (;;) {
        int k = f->rung[b];
        f->nready[b] = f->next[b] = 0;
        if (k >= nrungs || ntr <= 0) {
            f->rung[b] = nrungs;
            f->unfinished--;
            return 0;
        }
        long n = search_group_rung_trials(p, first, (size_t)ntr, k, f->tr + first);
        if (n < 0) return -1;
        if (k > 0) { /* rung k - 1's states nothing continues */
            for (long j = 0; j < n; j++) f->mark[f->tr[first + (size_t)j]] = 1;
            for (size_t t = first; t < first + (size_t)ntr; t++)
                if (!f->mark[t]) dispatch_drop_state(f->d, t * nr + (size_t)(k - 1));
            for (long j = 0; j < n; j++) f->mark[f->tr[first + (size_t)j]] = 0;
        }
        costed_t *c = malloc((size_t)(n ? n : 1) * sizeof *c);
        if (!c) return -1;
        long m = 0;
        for (long j = 0; j < n; j++) {
            size_t id = (size_t)f->tr[first + (size_t)j] * nr + (size_t)k;
            p->task_round[id] = search_task_round(p, id);
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

/* ---- ASHA in a fixed order (halving.promote = "asha") -------------------- */

static void group_tail(flow_t *f, int g);

static long *asha_list(const flow_t *f, int b, int k, long **sorted)
{
    size_t first, nr = (size_t)f->p->nrungs;
    int nrungs;
    size_t n = (size_t)group_trials(f, b, &first, &nrungs), off = first * nr + (size_t)k * n;
    if (sorted) *sorted = f->asort + off;
    return f->alist + off;
}

static double asha_metric(const plan_t *p, long t, int k)
{
    return p->metrics[(size_t)p->select_metric * p->ncube + (size_t)t * (size_t)p->nrungs + (size_t)k];
}

static void asha_append(flow_t *f, int b, int k, long t)
{
    plan_t *p = f->p;
    size_t id = (size_t)t * (size_t)p->nrungs + (size_t)k;
    asha_list(f, b, k, NULL)[f->alen[(size_t)b * (size_t)p->nrungs + (size_t)k]++] = t;
    p->task_round[id] = search_task_round(p, id);
}

/* Rung k of bracket b promotes until it has promoted `allowed`: each time the
 * best of its prefix's top `allowed` (finite) not promoted yet. */
static void asha_promote(flow_t *f, int b, int k, long allowed)
{
    const plan_t *p = f->p;
    size_t nr = (size_t)p->nrungs, bk = (size_t)b * nr + (size_t)k;
    long *S;
    asha_list(f, b, k, &S);
    while (f->apromoted[bk] < allowed) {
        long pick = -1;
        for (long i = 0; i < f->apre[bk] && i < allowed && isfinite(asha_metric(p, S[i], k)); i++)
            if (!f->apromo[(size_t)S[i] * nr + (size_t)k]) {
                pick = S[i];
                break;
            }
        if (pick < 0) return;
        f->apromo[(size_t)pick * nr + (size_t)k] = 1;
        f->apromoted[bk]++;
        asha_append(f, b, k + 1, pick);
    }
}

/* Bracket b as far as its results go: every rung's prefix that is in, the
 * promotions each new entry allows, and the rungs that close (their
 * trials not promoted drop their states).  Live, after each stored result
 * of b; after a replay, from nothing. */
static void asha_advance(flow_t *f, int b)
{
    const plan_t *p = f->p;
    size_t nr = (size_t)p->nrungs, first;
    int nrungs, eta = p->sched->eta;
    group_trials(f, b, &first, &nrungs);
    for (int k = 0; k < nrungs; k++) {
        size_t bk = (size_t)b * nr + (size_t)k;
        long *S, *L = asha_list(f, b, k, &S);
        while (f->apre[bk] < f->alen[bk] && p->task_done[(size_t)L[f->apre[bk]] * nr + (size_t)k]) {
            long t = L[f->apre[bk]], i = f->apre[bk]++;
            double m = asha_metric(p, t, k);
            for (; i > 0 && halving_before(m, t, asha_metric(p, S[i - 1], k), S[i - 1]); i--) S[i] = S[i - 1];
            S[i] = t; /* insertion: the prefix best first */
            if (k + 1 < nrungs) asha_promote(f, b, k, f->apre[bk] / eta);
        }
        if (f->aclosed[bk] || f->apre[bk] < f->alen[bk] || (k > 0 && !f->aclosed[bk - 1])) continue;
        f->aclosed[bk] = 1;
        if (k + 1 < nrungs) {
            asha_promote(f, b, k, halving_promote_count(f->alen[bk], eta));
            for (long i = 0; i < f->alen[bk]; i++) /* rung k's states nothing continues */
                if (!f->apromo[(size_t)L[i] * nr + (size_t)k]) dispatch_drop_state(f->d, (size_t)L[i] * nr + (size_t)k);
        } else
            f->unfinished--;
    }
}

/* Bracket b's next task: its deepest rung's next not done; -1 if none. */
static long asha_candidate(flow_t *f, int b, int *rung)
{
    const plan_t *p = f->p;
    size_t nr = (size_t)p->nrungs, first;
    int nrungs;
    group_trials(f, b, &first, &nrungs);
    for (int k = nrungs - 1; k >= 0; k--) {
        size_t bk = (size_t)b * nr + (size_t)k;
        const long *L = asha_list(f, b, k, NULL);
        while (f->anext[bk] < f->alen[bk] && p->task_done[(size_t)L[f->anext[bk]] * nr + (size_t)k]) f->anext[bk]++;
        if (f->anext[bk] < f->alen[bk]) {
            *rung = k;
            return L[f->anext[bk]];
        }
    }
    return -1;
}

static long asha_next(flow_t *f)
{
    const plan_t *p = f->p;
    size_t nr = (size_t)p->nrungs;
    int best = -1, bestk = 0;
    long bestt = -1;
    double be = 0, bp = 0;
    int ng = f->tpe ? f->opened : f->nb; /* TPE: batches not opened have no lists yet */
    for (int b = 0; b < ng; b++) {
        int k;
        long t = asha_candidate(f, b, &k);
        if (t < 0) continue;
        const task_t *tk = &p->tasks[(size_t)t * nr + (size_t)k];
        double e = tk->hp[P_EPOCHS], pr = tk->cost + f->tail[(size_t)b * nr + (size_t)k];
        if (best < 0 || e > be || (e == be && pr > bp)) best = b, bestk = k, bestt = t, be = e, bp = pr;
    }
    if (best < 0) return -1;
    f->anext[(size_t)best * nr + (size_t)bestk]++;
    return bestt * (long)nr + bestk;
}

/* Rank 0, promote = "asha": the lists' memory.  0, or -1 when out of memory. */
static int asha_alloc(flow_t *f)
{
    const plan_t *p = f->p;
    size_t nt = p->ntrials ? p->ntrials : 1, nr = (size_t)p->nrungs, nbk = (size_t)(f->nb ? f->nb : 1) * nr;
    f->alist = malloc(nt * nr * sizeof *f->alist), f->asort = malloc(nt * nr * sizeof *f->asort);
    f->alen = calloc(nbk, sizeof *f->alen), f->apre = calloc(nbk, sizeof *f->apre);
    f->anext = calloc(nbk, sizeof *f->anext), f->apromoted = calloc(nbk, sizeof *f->apromoted);
    f->aclosed = calloc(nbk, 1), f->apromo = calloc(nt * nr, 1);
    return f->alist && f->asort && f->alen && f->apre && f->anext && f->apromoted && f->aclosed && f->apromo ? 0 : -1;
}

/* Group b's lists once its trials are known (a bracket at the start, a TPE
 * batch when proposed; open_group, after its tail): L_0 costliest first,
 * ties by trial, then as far as the results go (after a replay, the
 * journaled ones).  0, or -1 (memory). */
static int asha_group_open(flow_t *f, int b)
{
    const plan_t *p = f->p;
    size_t first, nr = (size_t)p->nrungs;
    int nrungs;
    long n = group_trials(f, b, &first, &nrungs);
    costed_t *c = malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    if (!c) return -1;
    for (long j = 0; j < n; j++) c[j] = (costed_t){p->tasks[(first + (size_t)j) * nr].cost, first + (size_t)j};
    qsort(c, (size_t)n, sizeof *c, costliest_first); /* n >= 0: group_trials */
    for (long j = 0; j < n; j++) asha_append(f, b, 0, (long)c[j].id);
    free(c);
    asha_advance(f, b);
    return 0;
}

static long flow_next(void *ctx)
{
    flow_t *f = ctx;
    if (f->asha) return asha_next(f);
    const plan_t *p = f->p;
    int best = -1;
    double bp = 0;
    int ng = f->tpe ? f->opened : f->nb; /* TPE: batches not opened have nothing ready */
    for (int b = 0; b < ng; b++) {
        if (f->next[b] >= f->nready[b]) continue;
        size_t first;
        int nrungs;
        group_trials(f, b, &first, &nrungs);
        size_t id = f->ready[first + (size_t)f->next[b]];
        double pr = p->tasks[id].cost + f->tail[(size_t)b * (size_t)p->nrungs + (size_t)f->rung[b]];
        if (best < 0 || pr > bp) best = b, bp = pr;
    }
    if (best < 0) return -1;
    size_t first;
    int nrungs;
    group_trials(f, best, &first, &nrungs);
    return (long)f->ready[first + (size_t)f->next[best]++];
}

/* Group g's tail: per rung, its later rungs each at its costliest segment
 * (known once its trials are: a TPE batch's when it is proposed). */
static void group_tail(flow_t *f, int g)
{
    const plan_t *p = f->p;
    size_t nr = (size_t)p->nrungs, first;
    int nrungs;
    long ntr = group_trials(f, g, &first, &nrungs);
    double *tl = f->tail + (size_t)g * nr;
    for (int k = nrungs - 2; k >= 0; k--) {
        double mx = 0;
        for (size_t t = first; t < first + (size_t)ntr; t++) {
            double c = p->tasks[t * nr + (size_t)(k + 1)].cost;
            if (c > mx) mx = c;
        }
        tl[k] = tl[k + 1] + mx;
    }
}

/* How many of group b's rungs are finished, 0 .. onward: whole-rung
 * promotion's rung[] (the rung it runs), or with ASHA the closed ones (a
 * closed rung's list is final and all in, and so are those before it). */
static int rungs_finished(const flow_t *f, int b)
{
    if (!f->asha) return f->rung[b];
    size_t nr = (size_t)f->p->nrungs;
    int k = 0;
    while (k < f->p->nrungs && f->aclosed[(size_t)b * nr + (size_t)k]) k++;
    return k;
}

/* TPE: may batch j open?  Every earlier batch j - i has finished its
 * rungs 0 .. min(i - 1, R - 1) (search_tpe_cap).  With ASHA too: a closed
 * rung's results are the same whatever came in first, so the proposals
 * still depend on the results alone. */
static int batch_ready(const flow_t *f, int j)
{
    for (int i = 1; i <= j; i++)
        if (rungs_finished(f, j - i) <= search_tpe_cap(f->p, j, (long)(j - i))) return 0;
    return 1;
}

/* Open group g: a TPE batch is proposed first (every rank gets its
 * trials' values with their tasks, dispatch_flow); then its rung 0.
 * 0, or -1 (one line). */
static int open_group(flow_t *f, int g)
{
    plan_t *p = f->p;
    if (f->tpe) {
        char err[SPEC_ERR_LEN];
        size_t first, n = search_round_proposals(p, g * p->nrungs, &first);
        if (n && search_tpe_rows(p, g * p->nrungs, f->rows, err)) {
            fprintf(stderr, "aesweep: %s\n", err);
            return -1;
        }
        for (size_t i = 0; i < n; i++) plan_set_trial(p, first + i, f->rows + i * P_COUNT);
        f->opened = g + 1;
    }
    group_tail(f, g);
    if (f->asha ? asha_group_open(f, g) : open_rung(f, g)) {
        fprintf(stderr, "aesweep: rank 0: out of memory opening a rung of stage %s; finished tasks are journaled: --resume\n",
                p->spec->name);
        return -1;
    }
    return 0;
}

/* TPE: open every batch that may open now, in order. */
static int open_batches(flow_t *f)
{
    while (f->tpe && f->opened < f->nb && batch_ready(f, f->opened))
        if (open_group(f, f->opened)) return -1;
    return 0;
}

static void flow_stored(void *ctx, size_t task)
{
    flow_t *f = ctx;
    const plan_t *p = f->p;
    const task_t *tk = &p->tasks[task];
    if (tk->trial < 0) return;
    int b = group_of(f, tk->trial);
    int bad = 0;
    if (f->asha)
        asha_advance(f, b);
    else {
        if (tk->rung != f->rung[b] || --f->left[b] > 0) return;
        f->rung[b]++;
        bad = open_rung(f, b);
        if (bad)
            fprintf(stderr, "aesweep: rank 0: out of memory opening a rung of stage %s; finished tasks are journaled: --resume\n",
                    p->spec->name);
    }
    if (!bad) bad = open_batches(f); /* says why itself */
    if (bad) {
        f->failed = 1;
        f->d->failed = f->d->stop = 1;
    }
}

static int flow_finished(void *ctx) { return ((flow_t *)ctx)->unfinished == 0; }

static void flow_free(flow_t *f)
{
    free(f->rung), free(f->left), free(f->nready), free(f->next), free(f->ready), free(f->tr), free(f->mark), free(f->tail);
    free(f->rows);
    free(f->alist), free(f->asort), free(f->alen), free(f->apre), free(f->anext), free(f->apromoted), free(f->aclosed);
    free(f->apromo);
}

/* Rank 0: the ready set at the start (after a replay).  0, or -1. */
static int flow_open(flow_t *f)
{
    plan_t *p = f->p;
    size_t nt = p->ntrials ? p->ntrials : 1, nr = (size_t)p->nrungs;
    f->tpe = p->sspec->has_sample && p->sspec->sampler == SEARCH_TPE;
    f->nb = f->tpe ? (int)((p->ntrials + (size_t)p->sspec->tpe_batch - 1) / (size_t)p->sspec->tpe_batch) : p->sched->nbrackets;
    size_t nb = (size_t)(f->nb ? f->nb : 1);
    f->rung = calloc(nb, sizeof *f->rung);
    f->left = calloc(nb, sizeof *f->left);
    f->nready = calloc(nb, sizeof *f->nready);
    f->next = calloc(nb, sizeof *f->next);
    f->ready = malloc(nt * sizeof *f->ready);
    f->tr = malloc(nt * sizeof *f->tr);
    f->mark = calloc(nt, 1);
    f->tail = calloc(nb * nr, sizeof *f->tail);
    f->rows = f->tpe ? malloc((size_t)p->sspec->tpe_batch * P_COUNT * sizeof *f->rows) : NULL;
    if (!f->rung || !f->left || !f->nready || !f->next || !f->ready || !f->tr || !f->mark || !f->tail || (f->tpe && !f->rows)) {
        fprintf(stderr, "aesweep: rank 0: out of memory for the dataflow of stage %s\n", p->spec->name);
        return -1;
    }
    f->unfinished = f->nb;
    f->asha = p->sspec->asha;
    if (f->asha && asha_alloc(f)) {
        fprintf(stderr, "aesweep: rank 0: out of memory for the promotion lists of stage %s\n", p->spec->name);
        return -1;
    }
    if (f->tpe) /* batch 0, then every batch a resumed run may open already */
        return f->nb > 0 && (open_group(f, 0) || open_batches(f)) ? -1 : 0;
    for (int b = 0; b < f->nb; b++)
        if (open_group(f, b)) return -1;
    return 0;
}

int search_flow_run(dispatch_t *d)
{
    plan_t *p = d->p;
    flow_t f = {.d = d, .p = p};
    int ok = 1;
    if (d->rank == 0 && flow_open(&f)) ok = 0;
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int rc = WIRE_DONE_FAILED;
    double t0 = util_mono_seconds(), b0 = 0;
    if (d->rank == 0) {
        for (int r = 0; r < d->nranks; r++) b0 += d->busy[r];
        /* the file's predicted_makespan: no partition to sum as rounds do,
         * so Graham's bound on the predicted costs (budget.c; validate's
         * without the hand-out waits), which a resumed run counts again in
         * full (review: it was 0); NaN, unknown, if its scratch cannot be
         * had: an estimate is not worth failing the study for */
        budget_search_t sb;
        if (ok) d->predicted += budget_search_bound(d->sd, p, d->nranks, &sb) == 0 ? sb.schedule : NAN;
    }
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
