/* plan.c - cube layout, task enumeration, cost model, LPT partition, statistics. */
#include "aesweep/plan.h"
#include "aesweep/budget.h"
#include "aesweep/model.h"
#include "aesweep/train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The epochs of the learning curve: every epoch 1..E when the stage's
 * largest epochs value E is at most curve_points, else curve_points evenly
 * spaced epochs round(i E / P), i = 1..P; in both cases with every value of
 * the epochs axis added, so that the curve passes through the cube. */
static int plan_build_curves(plan_t *p, char *err)
{
    const stage_spec_t *st = p->spec;
    int P = st->curve_points;
    p->ncurve_metrics = p->study->ntests + 1;
    /* a halving trial is one trajectory cut into rungs: its curve is one row */
    p->ntraj = p->search & PLAN_HALVING ? p->ntrials
               : p->epoch_dim >= 0      ? p->ncube / p->dim_len[p->epoch_dim]
                                        : p->ncube;
    if (P <= 0) return 0;
    double E = p->search ? plan_search_max_epochs(p) : p->base[P_EPOCHS];
    int nax = 0;
    const double *axv = NULL;
    if (p->epoch_dim >= 0) {
        for (int i = 0; i < st->naxes; i++)
            if (st->axes[i].param == P_EPOCHS) axv = st->axes[i].values, nax = st->axes[i].nvalues;
        E = 0;
        for (int i = 0; i < nax; i++) if (axv[i] > E) E = axv[i];
    }
    long grid = E <= P ? (long)E : P;
    int *ep = malloc(((size_t)grid + nax + 1) * sizeof(int));
    if (!ep) goto oom;
    int n = 0;
    for (long i = 1; i <= grid; i++) ep[n++] = E <= P ? (int)i : (int)llround((double)i * E / P);
    for (int i = 0; i < nax; i++) ep[n++] = (int)axv[i];
    /* sort and drop duplicates (n is small) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && ep[j] < ep[j - 1]; j--) { int t = ep[j]; ep[j] = ep[j - 1]; ep[j - 1] = t; }
    int m = 0;
    for (int i = 0; i < n; i++) if (!m || ep[i] != ep[m - 1]) ep[m++] = ep[i];
    if (m == 0) { free(ep); return 0; }
    double bytes = (double)p->ncurve_metrics * p->ntraj * m * 8.0;
    if (bytes > 4e9) {
        free(ep);
        snprintf(err, SPEC_ERR_LEN, "stage %s: learning curves of %zu trajectories x %d points need %.3g GB on rank 0; lower curve_points",
                 st->name, p->ntraj, m, bytes * 1e-9);
        return -1;
    }
    p->ncurve = m;
    p->curve_epochs = ep;
    size_t nv = (size_t)p->ncurve_metrics * p->ntraj * m;
    p->curves = malloc(nv * sizeof(double));
    if (!p->curves) goto oom;
    for (size_t i = 0; i < nv; i++) p->curves[i] = NAN;
    return 0;
oom:
    snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory for the learning curves", st->name);
    return -1;
}

size_t plan_traj_index(const plan_t *p, size_t idx)
{
    if (p->epoch_dim < 0) return idx;
    size_t s = p->dim_stride[p->epoch_dim], len = p->dim_len[p->epoch_dim];
    return idx / (s * len) * s + idx % s;
}

int plan_curve_reach(const plan_t *p, double epochs)
{
    int n = 0;
    while (n < p->ncurve && p->curve_epochs[n] <= epochs) n++;
    return n;
}

/* The first curve point a task computes: its earlier points (before a
 * halving continuation's start epoch) are its trial's earlier rungs'. */
static int curve_from(const plan_t *p, const task_t *tk, int reach)
{
    int from = 0;
    while (from < reach && p->curve_epochs[from] < tk->start_epoch) from++;
    return from;
}

void plan_store_curve(plan_t *p, size_t task, const double *curve)
{
    if (!p->curves || task >= p->ntasks) return;
    const task_t *tk = &p->tasks[task];
    size_t tr = plan_traj_index(p, tk->first_cube);
    /* without epoch reuse several tasks share a trajectory; each holds an
     * exact prefix of it, so any of them may write the points it reached.
     * A halving task holds the segment of its trial's trajectory from its
     * start epoch on (the points before are its earlier rungs': NaN here,
     * never computed by this task). */
    int reach = plan_curve_reach(p, tk->hp[P_EPOCHS]), from = curve_from(p, tk, reach);
    if (p->search & PLAN_HALVING) tr = (size_t)tk->trial;
    for (int m = 0; m < p->ncurve_metrics; m++)
        for (int i = from; i < reach; i++)
            p->curves[((size_t)m * p->ntraj + tr) * p->ncurve + i] = curve[(size_t)i * p->ncurve_metrics + m];
}

/* The epochs slots of a task: with epoch reuse, every value of the epochs
 * axis in ascending order with the cube offset of its position on the axis;
 * else one slot.  Returns whether epochs are reused (slot arrays NULL when
 * out of memory: plan_build checks them). */
static int plan_slots(plan_t *p, const stage_spec_t *st)
{
    int reuse = st->reuse_epochs && p->epoch_dim >= 0;
    if (!reuse) {
        p->nslots = 1;
        p->slot_epochs = malloc(sizeof(int));
        p->slot_offset = calloc(1, sizeof(size_t));
        return 0;
    }
    const axis_t *ea = &st->axes[p->epoch_dim];
    p->nslots = ea->nvalues;
    p->slot_epochs = malloc(p->nslots * sizeof(int));
    p->slot_offset = malloc(p->nslots * sizeof(size_t));
    int *ord = malloc(p->nslots * sizeof(int));
    if (!p->slot_epochs || !p->slot_offset || !ord) {
        free(p->slot_epochs), free(p->slot_offset), free(ord);
        p->slot_epochs = NULL, p->slot_offset = NULL;
        return 1;
    }
    /* ascending epochs (insertion sort: a handful of values), remembering
     * each value's position on the axis */
    for (int i = 0; i < p->nslots; i++) ord[i] = i;
    for (int i = 1; i < p->nslots; i++)
        for (int j = i; j > 0 && ea->values[ord[j]] < ea->values[ord[j - 1]]; j--) {
            int t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
        }
    for (int i = 0; i < p->nslots; i++) {
        p->slot_epochs[i] = (int)ea->values[ord[i]];
        p->slot_offset[i] = (size_t)ord[i] * p->dim_stride[p->epoch_dim];
    }
    free(ord);
    return 1;
}

/* The stage's values outside its axes: default, fixed or inherited. */
static int plan_base(plan_t *p, const double *prev_best, const char *prev_name, char *err)
{
    const stage_spec_t *st = p->spec;
    for (int q = 0; q < P_COUNT; q++) {
        p->base[q] = p->study->defaults[q];
        p->source[q] = VS_DEFAULT;
        if (st->has_fixed[q]) {
            p->base[q] = st->fixed[q];
            p->source[q] = VS_FIXED;
        }
        if (st->inherit[q]) {
            if (!prev_best) {
                snprintf(err, SPEC_ERR_LEN, "stage %s inherits %s but no previous stage has a best cell",
                         st->name, param_names[q]);
                return -1;
            }
            p->base[q] = prev_best[q];
            p->source[q] = VS_INHERITED;
        }
    }
    if (prev_name) snprintf(p->inherited_from, sizeof p->inherited_from, "%s", prev_name);
    return 0;
}

/* A grid's dims: its axes in spec order, [draw], repeat. */
static void plan_grid_dims(plan_t *p)
{
    const stage_spec_t *st = p->spec;
    p->epoch_dim = -1;
    int nd = 0;
    for (int i = 0; i < st->naxes; i++) {
        p->dim_param[nd] = st->axes[i].param;
        p->source[st->axes[i].param] = VS_AXIS;
        snprintf(p->dim_names[nd], SPEC_NAME_LEN, "%s", param_names[st->axes[i].param]);
        p->dim_len[nd] = st->axes[i].nvalues;
        if (st->axes[i].param == P_EPOCHS) p->epoch_dim = nd;
        nd++;
    }
    if (st->data_draws > 1) {
        p->dim_param[nd] = -1;
        snprintf(p->dim_names[nd], SPEC_NAME_LEN, "draw");
        p->dim_len[nd++] = st->data_draws;
    }
    p->dim_param[nd] = -1;
    snprintf(p->dim_names[nd], SPEC_NAME_LEN, "repeat");
    p->dim_len[nd++] = st->repeats;
    p->ndims = nd;
}

/* A grid's tasks: row-major over the cube with the epochs index held at 0. */
static void plan_grid_tasks(plan_t *p, int reuse)
{
    const stage_spec_t *st = p->spec;
    size_t t = 0;
    for (size_t idx = 0; idx < p->ncube; idx++) {
        if (reuse && (idx / p->dim_stride[p->epoch_dim]) % p->dim_len[p->epoch_dim] != 0) continue;
        task_t *tk = &p->tasks[t++];
        tk->first_cube = idx;
        tk->trial = -1, tk->prev_task = -1;
        plan_cube_hp(p, idx, tk->hp);
        if (reuse) tk->hp[P_EPOCHS] = p->slot_epochs[p->nslots - 1];

        size_t r = idx % p->nrep;
        tk->repeat = (int)(r % st->repeats);
        tk->draw = (int)(r / st->repeats);
        tk->cost = plan_task_cost(p, tk);
    }
}

int plan_build(plan_t *p, const study_t *s, int k, const double *prev_best, const char *prev_name,
               char *err)
{
    memset(p, 0, sizeof *p);
    const stage_spec_t *st = &s->stages[k];
    p->study = s;
    p->spec = st;
    p->stage_index = k;
    p->best_cell = -1;
    p->nrungs = 1;
    if (plan_base(p, prev_best, prev_name, err)) return -1;
    int search = st->search.has_sample || st->search.has_halving;
    if (search) {
        if (plan_search_setup(p, err)) {
            plan_free(p);
            return -1;
        }
    } else
        plan_grid_dims(p);
    int nd = p->ndims;
    double dcube = 1; /* guard the size arithmetic below against overflow */
    for (int d = 0; d < nd; d++) dcube *= (double)p->dim_len[d];
    if (dcube * (PLAN_MAX_METRICS + 2) * 8.0 > 1e15) {
        snprintf(err, SPEC_ERR_LEN, "stage %s: %.3g cube points is too many; shrink the axes or repeats", st->name, dcube);
        plan_free(p);
        return -1;
    }
    p->ncube = 1;
    for (int d = nd - 1; d >= 0; d--) {
        p->dim_stride[d] = p->ncube;
        p->ncube *= p->dim_len[d];
    }
    p->nrep = (st->search.has_halving ? 1 : (size_t)st->data_draws) * st->repeats;
    p->ncells = p->ncube / p->nrep;

    /* epochs slots: with reuse, the epochs axis collapses into one task */
    int reuse = plan_slots(p, st);
    p->ntasks = reuse ? p->ncube / p->dim_len[p->epoch_dim] : p->ncube;
    p->tasks = calloc(p->ntasks ? p->ntasks : 1, sizeof(task_t));
    p->nmetrics = spec_metric_names(s, p->metric_names, PLAN_MAX_METRICS);
    size_t nval = (size_t)p->nmetrics * p->ncube;
    p->metrics = malloc((nval ? nval : 1) * sizeof(double));
    p->status = malloc(p->ncube ? p->ncube : 1);
    p->seconds = malloc((p->ncube ? p->ncube : 1) * sizeof(double));
    p->task_done = calloc(p->ntasks ? p->ntasks : 1, 1);
    p->task_round = search ? malloc((p->ntasks ? p->ntasks : 1) * sizeof(int)) : NULL;
    if (!p->tasks || !p->metrics || !p->status || !p->seconds || !p->task_done || !p->slot_epochs || !p->slot_offset ||
        (search && !p->task_round)) {
        snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory for %zu cells", st->name, p->ncube);
        plan_free(p);
        return -1;
    }
    for (size_t i = 0; i < (size_t)p->nmetrics * p->ncube; i++) p->metrics[i] = NAN;
    memset(p->status, TRAIN_NOT_RUN, p->ncube);
    for (size_t i = 0; i < p->ncube; i++) p->seconds[i] = NAN;
    for (size_t i = 0; search && i < p->ntasks; i++) p->task_round[i] = -1;

    if (plan_build_curves(p, err)) {
        plan_free(p);
        return -1;
    }
    if (search) plan_search_tasks(p);
    else plan_grid_tasks(p, reuse);
    /* the metric used for selection */
    p->select_metric = 0;
    if (st->select[0])
        for (int m = 0; m < p->nmetrics; m++)
            if (!strcmp(p->metric_names[m], st->select)) p->select_metric = m;
    return 0;
}

void plan_free(plan_t *p)
{
    if (!p) return;
    free(p->slot_epochs);
    free(p->slot_offset);
    free(p->tasks);
    free(p->metrics);
    free(p->status);
    free(p->seconds);
    free(p->task_done);
    free(p->curve_epochs);
    free(p->curves);
    free(p->trial_hp);
    free(p->sched);
    free(p->trial_bracket);
    free(p->task_round);
    memset(p, 0, sizeof *p);
}

void plan_cube_hp(const plan_t *p, size_t idx, double *hp)
{
    if (p->search) {
        plan_search_cube_hp(p, idx, hp);
        return;
    }
    memcpy(hp, p->base, sizeof(double) * P_COUNT);
    for (int d = 0; d < p->ndims; d++) {
        if (p->dim_param[d] < 0) continue;
        size_t i = (idx / p->dim_stride[d]) % p->dim_len[d];
        int ax = 0;
        while (p->spec->axes[ax].param != p->dim_param[d]) ax++;
        hp[p->dim_param[d]] = p->spec->axes[ax].values[i];
    }
}

double plan_task_cost(const plan_t *p, const task_t *t)
{
    int in = p->study->in_dim > 0 ? p->study->in_dim : (p->study->source == SRC_MOONS ? 2 : 64);
    model_arch_t a = spec_model_arch(p->study, t->hp, in);
    double macs = model_macs_per_row(&a);
    if (t->absent) return 0; /* a rung its bracket does not have: never run */
    /* a halving rung trains from start_epoch on (its trial's earlier rungs trained the rest) */
    double n = t->hp[P_TRAIN_SIZE], e = t->hp[P_EPOCHS] - t->start_epoch;
    /* forward 2 flops per MAC, backward 4, plus ~8 flops per parameter for Adam */
    double train = n * e * 6.0 * macs + e * 8.0 * (double)model_param_count(&a);
    double evals = 0;
    for (int i = 0; i < p->study->ntests; i++)
        evals += (double)(p->study->tests[i].size > 0 ? p->study->tests[i].size : 600) * 2.0 * macs;
    /* the learning curve evaluates every test set at each point it reaches
     * (and the training set too in mini-batch mode or with a scaler) */
    int reach = plan_curve_reach(p, t->hp[P_EPOCHS]);
    reach -= curve_from(p, t, reach); /* a continuation computes only its own points */
    double train_eval = (t->hp[P_BATCH_SIZE] > 0 && t->hp[P_BATCH_SIZE] < n) || p->study->scaler
                            ? n * 2.0 * macs : 0;
    evals = evals * (p->nslots + reach) + train_eval * reach;
    double mmd = 0;
    if (t->hp[P_MMD_LAMBDA] > 0) {
        double nb = t->hp[P_BATCH_SIZE] > 0 && t->hp[P_BATCH_SIZE] < n ? t->hp[P_BATCH_SIZE] : n;
        /* three n^2 kernel sums of ~(3b + 10 k) flops per pair, per step */
        mmd = e * (n / nb) * 3.0 * nb * nb * (3.0 * t->hp[P_BOTTLENECK] + 10.0 * t->hp[P_MMD_NSCALES]);
    }
    return train + evals + mmd + 1e5; /* + fixed per-task overhead */
}

double plan_partition_subset(const plan_t *p, const size_t *ids, size_t n, int nranks, size_t *order, int *owner,
                             double *load)
{
    if (nranks < 1 || (!ids && n != p->ntasks)) return -1;
    /* the subset in the one cost order (budget_order_by_cost: descending
     * cost, ties by ascending index), taken from the whole plan's order */
    size_t *all = malloc((p->ntasks ? p->ntasks : 1) * sizeof *all);
    uint8_t *in = ids ? calloc(p->ntasks ? p->ntasks : 1, 1) : NULL;
    int *heap = malloc((size_t)nranks * sizeof(int));
    if (!all || (ids && !in) || !heap) {
        free(all), free(in), free(heap);
        return -1;
    }
    budget_order_by_cost(p->tasks, p->ntasks, all);
    size_t m = 0;
    if (ids) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] < p->ntasks) in[ids[i]] = 1;
        for (size_t i = 0; i < p->ntasks; i++)
            if (in[all[i]] && m < n) order[m++] = all[i];
    } else
        for (m = 0; m < n; m++) order[m] = all[m];
    free(all), free(in);
    if (m != n) { /* an id out of range or given twice */
        free(heap);
        return -1;
    }
    /* least-loaded rank from a binary min-heap ordered by (load, rank), which
     * picks exactly what a linear scan with ties to the lowest rank would,
     * in O(log R) per task */
    for (int r = 0; r < nranks; r++) load[r] = 0, heap[r] = r;
#define HLESS(a, b) (load[a] < load[b] || (load[a] == load[b] && (a) < (b)))
    for (size_t i = 0; i < n; i++) {
        int best = heap[0];
        owner[i] = best;
        load[best] += p->tasks[order[i]].cost;
        int k = 0; /* sift down the root */
        for (;;) {
            int l = 2 * k + 1, r = l + 1, mm = k;
            if (l < nranks && HLESS(heap[l], heap[mm])) mm = l;
            if (r < nranks && HLESS(heap[r], heap[mm])) mm = r;
            if (mm == k) break;
            int t = heap[k]; heap[k] = heap[mm]; heap[mm] = t;
            k = mm;
        }
    }
#undef HLESS
    free(heap);
    double mk = 0;
    for (int r = 0; r < nranks; r++)
        if (load[r] > mk) mk = load[r];
    return mk;
}

double plan_partition(const plan_t *p, int nranks, int *owner, double *load)
{
    size_t n = p->ntasks;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    int *own = malloc((n ? n : 1) * sizeof *own);
    double mk = order && own ? plan_partition_subset(p, NULL, n, nranks, order, own, load) : -1;
    if (mk >= 0)
        for (size_t i = 0; i < n; i++) owner[order[i]] = own[i];
    free(order), free(own);
    return mk;
}

void plan_store(plan_t *p, size_t task, const double *vals, const int8_t *status, const double *secs)
{
    const task_t *t = &p->tasks[task];
    for (int s = 0; s < p->nslots; s++) {
        size_t idx = t->first_cube + p->slot_offset[s];
        for (int m = 0; m < p->nmetrics; m++) p->metrics[(size_t)m * p->ncube + idx] = vals[s * p->nmetrics + m];
        p->status[idx] = status[s];
        p->seconds[idx] = secs[s];
    }
    if (!p->task_done[task]) {
        p->task_done[task] = 1;
        p->ndone++;
    }
}

void plan_stats(const plan_t *p, int m, double *mean, double *sd, double *mn, int *count)
{
    const double *x = p->metrics + (size_t)m * p->ncube;
    for (size_t c = 0; c < p->ncells; c++) {
        const double *v = x + c * p->nrep;
        double s = 0, lo = INFINITY;
        int k = 0;
        for (size_t r = 0; r < p->nrep; r++)
            if (isfinite(v[r])) {
                s += v[r];
                k++;
                if (v[r] < lo) lo = v[r];
            }
        double mu = k ? s / k : NAN, ss = 0;
        for (size_t r = 0; r < p->nrep; r++)
            if (isfinite(v[r])) ss += (v[r] - mu) * (v[r] - mu);
        if (mean) mean[c] = mu;
        if (sd) sd[c] = k > 1 ? sqrt(ss / (k - 1)) : NAN;
        if (mn) mn[c] = k ? lo : NAN;
        if (count) count[c] = k;
    }
}

void plan_spread(const plan_t *p, int m, double *init_sd, double *data_sd)
{
    const double *x = p->metrics + (size_t)m * p->ncube;
    int D = p->spec->data_draws, R = p->spec->repeats;
    for (size_t c = 0; c < p->ncells; c++) {
        const double *v = x + c * p->nrep;
        double vsum = 0, msum = 0, mss = 0;
        int nv = 0, nm = 0;
        double means[D > 0 ? D : 1];
        for (int d = 0; d < D; d++) {
            double s = 0;
            int k = 0;
            for (int r = 0; r < R; r++)
                if (isfinite(v[d * R + r])) { s += v[d * R + r]; k++; }
            means[d] = k ? s / k : NAN;
            if (k > 1) {
                double ss = 0;
                for (int r = 0; r < R; r++)
                    if (isfinite(v[d * R + r])) ss += (v[d * R + r] - means[d]) * (v[d * R + r] - means[d]);
                vsum += ss / (k - 1);
                nv++;
            }
            if (k) { msum += means[d]; nm++; }
        }
        double mu = nm ? msum / nm : NAN;
        for (int d = 0; d < D; d++)
            if (isfinite(means[d])) mss += (means[d] - mu) * (means[d] - mu);
        init_sd[c] = nv ? sqrt(vsum / nv) : NAN;
        data_sd[c] = nm > 1 ? sqrt(mss / (nm - 1)) : NAN;
    }
}

int plan_select_best(plan_t *p)
{
    if (p->search & PLAN_HALVING) return plan_search_select(p);
    /* each cell's mean over its repeats, summed in plan_stats' order (the
     * same bits as the stored <metric>_mean), one cell at a time: nothing
     * to allocate, so nothing that can fail */
    const double *x = p->metrics + (size_t)p->select_metric * p->ncube;
    p->best_cell = -1;
    p->nskipped = 0;
    for (size_t c = 0; c < p->ncells; c++) {
        const double *v = x + c * p->nrep;
        double sum = 0;
        size_t k = 0;
        for (size_t r = 0; r < p->nrep; r++)
            if (isfinite(v[r])) sum += v[r], k++;
        double mean = k ? sum / k : NAN;
        if (!isfinite(mean) || k < p->nrep) {
            /* a cell with a diverged or missing repeat is not comparable */
            p->nskipped++;
            continue;
        }
        if (p->best_cell < 0 || mean < p->best_value) {
            p->best_cell = (long)c;
            p->best_value = mean;
        }
    }
    if (p->best_cell >= 0) plan_cube_hp(p, (size_t)p->best_cell * p->nrep, p->best_hp);
    return p->best_cell >= 0 ? 0 : -1;
}

int plan_complete(const plan_t *p)
{
    if (p->search & PLAN_HALVING) return p->search_complete;
    if (p->sspec && p->sspec->sampler == SEARCH_TPE) return p->search_complete;
    return p->ndone == p->ntasks;
}
