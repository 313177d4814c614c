/* budget.c - admission by memory and cost (see budget.h): the memory a
 * task needs, the limit a rank has, the checks that refuse a study or a
 * stage up front with the numbers, the one cost order, the rate table. */
#define _GNU_SOURCE /* qsort_r: a comparator with context, no global */
#include "aesweep/budget.h"
#include "aesweep/dispatch.h"
#include "aesweep/kernel_lanes.h"
#include "aesweep/search.h"
#include "aesweep/task.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double budget_task_memory(const study_data_t *sd, const plan_t *p, const task_t *t)
{
    model_arch_t a = task_arch(sd, t->hp);
    double np = (double)model_param_count(&a);
    double rows = t->hp[P_TRAIN_SIZE];
    if (t->hp[P_BATCH_SIZE] > 0 && t->hp[P_BATCH_SIZE] < rows) rows = t->hp[P_BATCH_SIZE];
    double data = 2.0 * t->hp[P_TRAIN_SIZE] * a.in;
    for (int i = 0; i < sd->ntests; i++) data += (double)sd->tests[i].n * a.in;
    double save = p->spec->save_models ? np * p->nslots : 0;
    /* the training and the evaluation workspace (task.c: >= 1024 rows), as
     * model_ws_create sizes them */
    double ws = model_ws_bytes(&a, rows, &sd->kernel) + model_ws_bytes(&a, rows < 1024 ? 1024 : rows, &sd->kernel);
    /* 4 arenas (parameters, gradients, Adam m and v), data, saved weights */
    return 4.0 * (4 * np + data + save) + ws;
}

double budget_plan_peak(const study_data_t *sd, const plan_t *p)
{
    double mx = 0;
    for (size_t t = 0; t < p->ntasks; t++) {
        double m = budget_task_memory(sd, p, &p->tasks[t]);
        if (m > mx) mx = m;
    }
    return mx;
}

void budget_fmt_bytes(char *out, size_t n, double b)
{
    if (b >= 1073741824.0) snprintf(out, n, "%.2f GiB", b / 1073741824.0);
    else snprintf(out, n, "%.1f MiB", b / 1048576.0);
}

double budget_mem_limit(double max_mem_gb, int node_ranks)
{
    if (max_mem_gb > 0) return max_mem_gb * 1073741824.0;
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    return phys / (node_ranks > 0 ? node_ranks : 1);
}

int budget_check_study(const study_t *s, const study_data_t *sd, double limit, int node_ranks,
                       const char *spec_path, double *peak, char *err)
{
    double prev[P_COUNT];
    *peak = 0;
    for (int k = 0; k < s->nstages; k++) {
        plan_t p;
        if (plan_build(&p, s, k, k ? prev : NULL, k ? s->stages[k - 1].name : NULL, err)) return -1;
        const char *name = p.spec->name;
        double m = budget_plan_peak(sd, &p) + budget_search_states_cap(sd, &p); /* rank 0's carried states */
        if (m > *peak) *peak = m;
        plan_cube_hp(&p, 0, prev);
        plan_free(&p);
        if (m > limit) {
            char a[32], b[32];
            budget_fmt_bytes(a, sizeof a, m);
            budget_fmt_bytes(b, sizeof b, limit);
            snprintf(err, SPEC_ERR_LEN, "%s: stage %s: the largest task needs %s per rank but %s is available per rank (%d rank(s) on this node); lower train_size or hidden, set batch_size, use fewer ranks per node, or raise --max-mem-gb",
                     spec_path, name, a, b, node_ranks);
            return -1;
        }
    }
    return 0;
}

int budget_check_stage(const study_data_t *sd, const plan_t *p, double limit, const char *spec_path, char *err)
{
    double m = budget_plan_peak(sd, p);
    /* rank 0 trains tasks too, and holds the carried states of a halving stage */
    double states = budget_search_states_cap(sd, p);
    if (m + states <= limit) return 0;
    char a[32], b[32], c[32];
    budget_fmt_bytes(a, sizeof a, m);
    budget_fmt_bytes(b, sizeof b, limit);
    budget_fmt_bytes(c, sizeof c, states);
    if (states > 0)
        snprintf(err, SPEC_ERR_LEN, "%s: stage %s: rank 0 needs %s for its largest task and up to %s for the trials' carried states (halving) but %s is available; earlier stages are saved: lower n_trials or the widths, raise --max-mem-gb, and run with --resume",
                 spec_path, p->spec->name, a, c, b);
    else
        snprintf(err, SPEC_ERR_LEN, "%s: stage %s: with the inherited values its largest task needs %s per rank but %s is available; earlier stages are saved: change the grid and run with --resume",
                 spec_path, p->spec->name, a, b);
    return -1;
}

int budget_check_data(const study_t *s, double limit, const char *spec_path, char *err)
{
    if (s->source != SRC_MOONS) return 0; /* file loaders check their own sizes */
    double pts = (double)s->pool;
    for (int t = 0; t < s->ntests; t++) pts += (double)s->tests[t].size;
    double bytes = pts * 44.0; /* float x,y + label + the generator's doubles and permutation */
    if (bytes > limit) {
        char a[32], b[32];
        budget_fmt_bytes(a, sizeof a, bytes);
        budget_fmt_bytes(b, sizeof b, limit);
        snprintf(err, SPEC_ERR_LEN, "%s: data.pool and tests need %s to generate but %s is available per rank; lower data.pool or tests.size",
                 spec_path, a, b);
        return -1;
    }
    return 0;
}

/* Inherited values for stage k + 1 that bound its cost, for validate's
 * estimate (the best cell of stage k is not known before it runs).  Start
 * from stage k's most expensive task; then, one inherited parameter at a
 * time, try each value it takes in stage k (up to BOUND_VALUES of them) and
 * keep the one that makes stage k + 1 costliest.  Trying them matters where
 * stage k's cost ignores a parameter that stage k + 1's does not (batch_size
 * before an MMD stage, say), so that many tasks tie. */
#define BOUND_VALUES 32
void budget_bound_inherited(const study_t *s, int k, const plan_t *p, double prev[P_COUNT])
{
    if (!p->ntasks) {
        plan_cube_hp(p, 0, prev);
        return;
    }
    size_t top = 0;
    for (size_t t = 1; t < p->ntasks; t++)
        if (p->tasks[t].cost > p->tasks[top].cost) top = t;
    memcpy(prev, p->tasks[top].hp, sizeof(double) * P_COUNT);
    if (k + 1 >= s->nstages) return;
    for (int q = 0; q < P_COUNT; q++) {
        if (!s->stages[k + 1].inherit[q]) continue;
        double seen[BOUND_VALUES], best_v = prev[q], best_c = -1;
        int ns = 0;
        for (size_t t = 0; t < p->ntasks && ns < BOUND_VALUES; t++) {
            double v = p->tasks[t].hp[q];
            int dup = 0;
            for (int i = 0; i < ns && !dup; i++) dup = seen[i] == v;
            if (dup) continue;
            seen[ns++] = v;
            prev[q] = v;
            plan_t nx;
            char e[SPEC_ERR_LEN];
            if (plan_build(&nx, s, k + 1, prev, s->stages[k].name, e)) continue;
            double c = 0;
            for (size_t u = 0; u < nx.ntasks; u++) c += nx.tasks[u].cost;
            plan_free(&nx);
            if (c > best_c) best_c = c, best_v = v;
        }
        prev[q] = best_v;
    }
}

/* Descending cost, ties by ascending index: a total order, so qsort's
 * result does not depend on its algorithm. */
static int cost_desc(const void *a, const void *b, void *ctx)
{
    const task_t *tasks = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double ci = tasks[i].cost, cj = tasks[j].cost;
    if (ci != cj) return ci > cj ? -1 : 1;
    return (i > j) - (i < j);
}

void budget_order_by_cost(const task_t *tasks, size_t n, size_t *ord)
{
    for (size_t i = 0; i < n; i++) ord[i] = i;
    qsort_r(ord, n, sizeof *ord, cost_desc, (void *)tasks);
}

/* GFLOP/s of one rank with the default training kernel of this build, as
 * bench/ measured it on the study's shapes (Zen 5 core, 4 GHz): the fused
 * AVX-512 step ~200, the fused AVX2 step ~95, the portable 4-lane kernel at
 * -march=x86-64-v2 ~16.  A rough guide (bench/run.sh measures this
 * machine's); the progress line's ETA uses the rate measured in the run. */
static const struct {
    const char *isa;
    double gflops;
} rates[] = {
    {"avx512", 200},
    {"avx2", 95},
    {NULL, 16}, /* any other: the portable kernel */
};

double budget_rate(const char *isa)
{
    size_t i = 0;
    while (rates[i].isa && strcmp(rates[i].isa, isa)) i++;
    return rates[i].gflops * 1e9;
}

/* ---- search stages: rounds, their makespan bound, carried states --------- */


/* Per-round sums as the groups of one round come in, and the totals. */
typedef struct {
    const study_data_t *sd;
    const plan_t *p;
    int nranks;
    double *v;          /* [ntrials] scratch for the top-n sums; NULL: n x the largest (no allocation) */
    int round;          /* the round being summed, -1 before the first */
    double sum, max, states, record;
    double chain[HALVING_MAX_BRACKETS];   /* align = "flow": per bracket, its rungs' largest segments summed, */
    double bstates[HALVING_MAX_BRACKETS]; /* the most states one of its rungs holds, */
    double maxrecord;                     /* and the largest state record of the stage; */
    /* with tpe, the batches' staircase (search_flow.c): F[j mod (R + 1)][k] the
     * earliest end of batch j's rung k with ranks enough, L its latest, and
     * the most states one batch's rung holds */
    double F[HALVING_MAX_RUNGS + 1][HALVING_MAX_RUNGS], tpeL, tpe_states;
    long nbatches;
    budget_search_t *out;
} bound_acc_t;

static void round_end(bound_acc_t *a)
{
    if (a->round < 0) return;
    a->out->nrounds = a->round + 1;
    a->out->cost += a->sum;
    a->out->makespan += a->max + a->sum / (a->nranks > 0 ? a->nranks : 1);
    if (a->states + a->record > a->out->state_bytes) a->out->state_bytes = a->states + a->record;
    a->sum = a->max = a->states = a->record = 0;
}

static int desc_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* The sum of the n largest segment costs (states = 0) or state sizes (1)
 * of group g; *mx the largest.  Without scratch, n x the largest (an upper
 * bound of the same). */
static double group_top(bound_acc_t *a, const search_slot_t *g, int states, double *mx)
{
    const plan_t *p = a->p;
    size_t m = (size_t)(g->end - g->first);
    *mx = 0;
    for (long t = g->first; t < g->end; t++) {
        const task_t *tk = &p->tasks[(size_t)t * p->nrungs + g->rung];
        double x = states ? budget_state_bytes(a->sd, tk->hp) : tk->cost;
        if (a->v) a->v[t - g->first] = x;
        if (x > *mx) *mx = x;
    }
    if (!a->v) return (double)(g->trials < (long)m ? g->trials : (long)m) * *mx;
    qsort(a->v, m, sizeof *a->v, desc_double);
    double sum = 0;
    for (size_t i = 0; i < m && (long)i < g->trials; i++) sum += a->v[i];
    return sum;
}

/* Bytes of the wire record that carries a state (doubles, task.h). */
static double state_record_bytes(const study_data_t *sd, const double *hp)
{
    model_arch_t a = task_arch(sd, hp);
    return sizeof(double) * (double)task_state_len(model_param_count(&a));
}

static int is_tpe_flow(const plan_t *p)
{
    return p->sspec && p->sspec->flow && p->sspec->has_sample && p->sspec->sampler == SEARCH_TPE;
}

/* TPE as a dataflow: batch j opens once every batch j - i has finished its
 * rungs 0 .. min(i - 1, R - 1) (search_tpe_cap; batches further back are
 * complete before batch j - 1 opened), so with ranks enough its rung k ends
 * at F(j, k) = max(open(j), F(j, k - 1)) + its costliest segment, open(j)
 * = max over i of F(j - i, min(i - 1, R - 1)).  The longest chain is the
 * latest F. */
static void staircase(bound_acc_t *a, const search_slot_t *g, double mx)
{
    int R = a->p->nrungs, j = g->group, k = g->rung;
    double *row = a->F[j % (R + 1)];
    if (k == 0) {
        double open = 0;
        for (int i = 1; i <= j && i <= R; i++) {
            double e = a->F[(j - i) % (R + 1)][i - 1 < R - 1 ? i - 1 : R - 1];
            if (e > open) open = e;
        }
        row[0] = open + mx;
        a->nbatches = j + 1;
    } else
        row[k] = row[k - 1] + mx;
    if (row[k] > a->tpeL) a->tpeL = row[k];
}

/* One group into the round's sums.  dispatch.c keeps a state until the
 * task continuing it is stored (or promotion drops it), and none of a
 * bracket's last rung: round k starts with the states of the rung's n
 * trials (rung k - 1's, the promoted), each finished segment swaps its
 * input for its output, and promotion then drops the losers: one state per
 * trial of the rung (none for a bracket of one rung); plus one record in
 * flight, unpacked beside its state (none for a bracket of one rung). */
static void add_group(const search_slot_t *g, void *ctx)
{
    bound_acc_t *a = ctx;
    if (g->round != a->round) {
        round_end(a);
        a->round = g->round;
    }
    double mx;
    a->sum += group_top(a, g, 0, &mx);
    if (mx > a->max) a->max = mx;
    if (g->group >= 0 && g->group < HALVING_MAX_BRACKETS) a->chain[g->group] += mx;
    if (is_tpe_flow(a->p)) staircase(a, g, mx);
    a->out->segments += g->trials;
    double st = group_top(a, g, 1, &mx);
    /* a bracket of one rung neither sends a state nor keeps one: no state,
     * and no record in flight unless the stage saves every model (then
     * each task ships its end state for the weights: dispatch.c ships_state) */
    int carries = g->rung > 0 || !g->last;
    if (carries) {
        a->states += st;
        if (g->group >= 0 && g->group < HALVING_MAX_BRACKETS && st > a->bstates[g->group]) a->bstates[g->group] = st;
        if (st > a->tpe_states) a->tpe_states = st;
    }
    if (!carries && !a->p->spec->save_models) return;
    for (long t = g->first; t < g->end; t++) {
        double rec = state_record_bytes(a->sd, a->p->tasks[(size_t)t * a->p->nrungs + g->rung].hp);
        if (rec > a->record) a->record = rec;
        if (rec > a->maxrecord) a->maxrecord = rec;
    }
}

/* Every (group, rung) of a halving stage in round order, as search.h runs
 * them (search_schedule_walk: merged rungs, aligned as the spec says; with
 * tpe each batch one bracket after the previous), summed per round. */
static void bound_groups(bound_acc_t *a)
{
    search_schedule_walk(a->p, add_group, a);
    round_end(a);
}

double budget_state_bytes(const study_data_t *sd, const double *hp)
{
    model_arch_t a = task_arch(sd, hp);
    return task_state_bytes(model_param_count(&a));
}

/* The bounds with scratch v (tight) or without (v = NULL: n x the largest). */
static void search_bound(const study_data_t *sd, const plan_t *p, int nranks, double *v, budget_search_t *out)
{
    memset(out, 0, sizeof *out);
    if (!(p->search & PLAN_HALVING) || !p->sched) return;
    bound_acc_t a = {.sd = sd, .p = p, .nranks = nranks, .v = v, .round = -1, .out = out};
    bound_groups(&a);
    if (p->sspec && p->sspec->flow) {
        /* No rounds: a list schedule under the rung barriers, whose
         * makespan is at most W / R + (1 - 1/R) L (Graham 1966: while a
         * rank idles, a task of a longest chain runs), L the longest
         * chain: a bracket's rungs' largest segments end to end.  A model
         * bound, on predicted costs, as the rounds' LPT bound is. */
        double L = 0;
        for (int b = 0; b < HALVING_MAX_BRACKETS; b++)
            if (a.chain[b] > L) L = a.chain[b];
        int tpe = is_tpe_flow(p);
        if (tpe) L = a.tpeL;
        double R = nranks > 0 ? nranks : 1;
        /* A task of that chain may also wait behind a short task its worker
         * holds (dispatch.h: predicted under DISPATCH_FLOW_QUEUE_S): once per
         * rung at most, counted at the rate validate converts with. */
        double rungs = tpe ? (double)(a.nbatches + p->nrungs) : (double)p->nrungs; /* on the chain */
        double slack = R > 1 ? rungs * DISPATCH_FLOW_QUEUE_S * budget_rate(klanes_isa()) : 0.0;
        out->schedule = out->cost / R + (1.0 - 1.0 / R) * L;
        out->makespan = out->schedule + slack;
        /* and the brackets' rungs overlap in any way: each bracket holds
         * the states of one rung at a time, at most its largest */
        double sb = a.maxrecord;
        if (tpe) /* at most R batches hold states at once (those before are complete) */
            sb += (double)p->nrungs * a.tpe_states;
        else
            for (int b = 0; b < HALVING_MAX_BRACKETS; b++) sb += a.bstates[b];
        if (sb > out->state_bytes) out->state_bytes = sb;
    } else
        out->schedule = out->makespan;
}

int budget_search_bound(const study_data_t *sd, const plan_t *p, int nranks, budget_search_t *out)
{
    double *v = malloc((p->ntrials ? p->ntrials : 1) * sizeof *v);
    if (!v) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    search_bound(sd, p, nranks, v, out);
    free(v);
    return 0;
}

/* What budget_space_corner maximises at hp: a full-length task's cost,
 * or its memory plus its carried state. */
static double corner_score(const study_data_t *sd, const plan_t *p, int which, const double *hp)
{
    task_t tk;
    memset(&tk, 0, sizeof tk);
    memcpy(tk.hp, hp, sizeof tk.hp);
    tk.prev_task = -1;
    if (p->sspec && p->sspec->has_halving) tk.hp[P_EPOCHS] = (double)p->sspec->max_epochs;
    return which == BUDGET_CORNER_COST ? plan_task_cost(p, &tk)
                                       : budget_task_memory(sd, p, &tk) + budget_state_bytes(sd, tk.hp);
}

/* Candidate j of space parameter q: a choice's j-th value, or a range's end. */
static double corner_value(const sample_param_t *q, int j) { return q->dist == DIST_CHOICE ? q->choices[j] : j ? q->hi : q->lo; }
static int corner_count(const sample_param_t *q) { return q->dist == DIST_CHOICE ? q->nchoices : 2; }

void budget_space_corner(const study_data_t *sd, const plan_t *p, int which, double hp[P_COUNT])
{
    const sample_space_t *sp = &p->sspec->space;
    double combos = 1, best = -1, x[P_COUNT];
    for (int i = 0; i < sp->nparams; i++) combos *= corner_count(&sp->params[i]);
    memcpy(x, hp, sizeof x);
    if (combos <= BUDGET_CORNER_MAX) { /* every combination, a mixed-radix counter over the candidates */
        int digit[SAMPLE_MAX_PARAMS] = {0};
        for (long n = 0; n < (long)combos; n++) {
            for (int i = 0; i < sp->nparams; i++) x[sp->params[i].param] = corner_value(&sp->params[i], digit[i]);
            double s = corner_score(sd, p, which, x);
            if (s > best) best = s, memcpy(hp, x, sizeof x);
            for (int i = 0; i < sp->nparams && ++digit[i] == corner_count(&sp->params[i]); i++) digit[i] = 0;
        }
        return;
    }
    for (int pass = 0; pass < 2; pass++) /* one parameter at a time, from the best so far */
        for (int i = 0; i < sp->nparams; i++) {
            const sample_param_t *q = &sp->params[i];
            memcpy(x, hp, sizeof x);
            for (int j = 0; j < corner_count(q); j++) {
                x[q->param] = corner_value(q, j);
                double s = corner_score(sd, p, which, x);
                if (s > best) best = s, hp[q->param] = x[q->param];
            }
        }
}

double budget_search_states_cap(const study_data_t *sd, const plan_t *p)
{
    budget_search_t b;
    search_bound(sd, p, 1, NULL, &b);
    return b.state_bytes;
}
