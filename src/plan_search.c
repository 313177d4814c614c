/* plan_search.c - the plan of a search stage (`sample` and/or `halving`,
 * docs/search.md): its trials, their values, the halving schedule, the
 * (trial, rung) cube and its tasks.  plan.c calls these for such a stage;
 * everything here is a pure function of the spec, the seed and the
 * inherited values, so every rank builds the same plan.
 *
 * Trials.  Sampled: trial t = sample_draw(space, study seed, stage index, t)
 * written over the stage's base values.  TPE: the same random draws stand
 * in until search.c's round proposes the trial (plan_set_trial); only the
 * proposals are ever trained.  Grid with halving: trial t is grid cell
 * sample_permute(rng_derive_str(seed, "trials:<stage>"), ncells, t) in
 * row-major order over the axes, so that a bracket (contiguous trials)
 * gets a random share of the grid, not one corner of it.
 *
 * Halving.  The schedule is halving_schedule(min, max, eta, brackets,
 * ntrials) (TPE: one bracket, each TPE round is one successive-halving
 * bracket over its batch, see search.h).  The cube is trial x rung x
 * repeat(1); task id = cube index = trial * nrungs + rung.  Task (t, r)
 * trains from start_epoch = epochs[r - 1] (0 for r = 0) to epochs[r] of its
 * bracket, continuing the end state of task (t, r - 1) = prev_task.  Rungs
 * beyond the bracket's are absent: never run, cost 0, epochs 0.
 */
#include "aesweep/plan.h"
#include "aesweep/rng.h"
#include "aesweep/sample.h"
#include "aesweep/train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The trials' values (trial_hp rows), from the sampler or the permuted grid. */
static void plan_search_trials(plan_t *p)
{
    const stage_spec_t *st = p->spec;
    const search_spec_t *ss = p->sspec;
    double v[SAMPLE_MAX_PARAMS];
    uint64_t key = rng_derive_str(p->study->seed, "trials:");
    key = rng_derive_str(key, st->name);
    size_t ngrid = 1;
    for (int i = 0; i < st->naxes; i++) ngrid *= (size_t)st->axes[i].nvalues;
    for (size_t t = 0; t < p->ntrials; t++) {
        double *hp = p->trial_hp + t * P_COUNT;
        memcpy(hp, p->base, sizeof(double) * P_COUNT);
        if (ss->has_sample) {
            sample_draw(&ss->space, p->study->seed, p->stage_index, (long)t, v);
            for (int j = 0; j < ss->space.nparams; j++) hp[ss->space.params[j].param] = v[j];
        } else {
            size_t cell = (size_t)sample_permute(key, (long)ngrid, (long)t);
            for (int i = st->naxes - 1; i >= 0; i--) {
                hp[st->axes[i].param] = st->axes[i].values[cell % (size_t)st->axes[i].nvalues];
                cell /= (size_t)st->axes[i].nvalues;
            }
        }
        if (ss->has_halving) hp[P_EPOCHS] = (double)ss->max_epochs;
    }
}

/* The schedule, nrungs and each trial's bracket. */
static int plan_search_schedule(plan_t *p, char *err)
{
    const search_spec_t *ss = p->sspec;
    p->sched = calloc(1, sizeof *p->sched);
    p->trial_bracket = malloc((p->ntrials ? p->ntrials : 1) * sizeof(int));
    if (!p->sched || !p->trial_bracket) {
        snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory for the halving schedule", p->spec->name);
        return -1;
    }
    int tpe = ss->sampler == SEARCH_TPE && ss->has_sample;
    char msg[SPEC_ERR_LEN];
    if (halving_schedule(p->sched, ss->min_epochs, ss->max_epochs, ss->eta, tpe ? 1 : ss->brackets, (long)p->ntrials, msg,
                         sizeof msg)) {
        snprintf(err, SPEC_ERR_LEN, "stage %s: halving: %s", p->spec->name, msg);
        return -1;
    }
    p->nrungs = 1;
    for (int b = 0; b < p->sched->nbrackets; b++)
        if (p->sched->b[b].nrungs > p->nrungs) p->nrungs = p->sched->b[b].nrungs;
    for (size_t t = 0; t < p->ntrials; t++) p->trial_bracket[t] = tpe ? 0 : halving_bracket_of(p->sched, (long)t);
    return 0;
}

int plan_search_setup(plan_t *p, char *err)
{
    const stage_spec_t *st = p->spec;
    const search_spec_t *ss = &st->search;
    p->sspec = ss;
    p->search = (ss->has_sample ? PLAN_SAMPLED : 0) | (ss->has_halving ? PLAN_HALVING : 0);
    p->nsearch_params = 0;
    if (ss->has_sample) {
        p->ntrials = (size_t)ss->space.n;
        for (int j = 0; j < ss->space.nparams; j++) p->search_params[p->nsearch_params++] = ss->space.params[j].param;
    } else {
        p->ntrials = 1;
        for (int i = 0; i < st->naxes; i++) {
            p->ntrials *= (size_t)st->axes[i].nvalues;
            p->search_params[p->nsearch_params++] = st->axes[i].param;
        }
    }
    for (int j = 0; j < p->nsearch_params; j++) p->source[p->search_params[j]] = VS_AXIS;
    if (ss->has_halving) p->base[P_EPOCHS] = (double)ss->max_epochs;
    p->trial_hp = malloc((p->ntrials ? p->ntrials : 1) * P_COUNT * sizeof(double));
    if (!p->trial_hp) {
        snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory for %zu trials", st->name, p->ntrials);
        return -1;
    }
    if (ss->has_halving && plan_search_schedule(p, err)) return -1;
    plan_search_trials(p);
    /* dims: trial, then rung (halving) or [draw]; then repeat */
    int nd = 0;
    p->dim_param[nd] = -1;
    snprintf(p->dim_names[nd], SPEC_NAME_LEN, "trial");
    p->dim_len[nd++] = p->ntrials;
    if (ss->has_halving) {
        p->dim_param[nd] = -1;
        snprintf(p->dim_names[nd], SPEC_NAME_LEN, "rung");
        p->dim_len[nd++] = (size_t)p->nrungs;
    } else if (st->data_draws > 1) {
        p->dim_param[nd] = -1;
        snprintf(p->dim_names[nd], SPEC_NAME_LEN, "draw");
        p->dim_len[nd++] = (size_t)st->data_draws;
    }
    p->dim_param[nd] = -1;
    snprintf(p->dim_names[nd], SPEC_NAME_LEN, "repeat");
    p->dim_len[nd++] = (size_t)st->repeats;
    p->ndims = nd;
    p->epoch_dim = -1;
    return 0;
}

/* Task i's search fields and values: cube index i (both layouts number
 * tasks as the cube). */
static void plan_search_task(plan_t *p, size_t i)
{
    task_t *tk = &p->tasks[i];
    memset(tk, 0, sizeof *tk);
    tk->first_cube = i;
    tk->prev_task = -1;
    plan_cube_hp(p, i, tk->hp);
    if (p->search & PLAN_HALVING) {
        size_t t = i / (size_t)p->nrungs;
        int r = (int)(i % (size_t)p->nrungs);
        const halving_bracket_t *b = &p->sched->b[p->trial_bracket[t]];
        tk->trial = (long)t;
        tk->rung = r;
        tk->absent = r >= b->nrungs;
        tk->start_epoch = r > 0 && !tk->absent ? (int)b->epochs[r - 1] : 0;
        tk->prev_task = r > 0 && !tk->absent ? (long)i - 1 : -1;
    } else {
        size_t rr = i % p->nrep;
        tk->trial = (long)(i / p->nrep);
        tk->repeat = (int)(rr % (size_t)p->spec->repeats);
        tk->draw = (int)(rr / (size_t)p->spec->repeats);
    }
    tk->cost = plan_task_cost(p, tk);
}

void plan_search_tasks(plan_t *p)
{
    for (size_t i = 0; i < p->ntasks; i++) plan_search_task(p, i);
}

void plan_set_trial(plan_t *p, size_t t, const double *hp)
{
    if (t >= p->ntrials) return;
    memcpy(p->trial_hp + t * P_COUNT, hp, sizeof(double) * P_COUNT);
    if (p->search & PLAN_HALVING) p->trial_hp[t * P_COUNT + P_EPOCHS] = (double)p->sspec->max_epochs;
    size_t per = p->ntasks / p->ntrials; /* tasks per trial: rungs, or draws x repeats */
    for (size_t i = t * per; i < (t + 1) * per; i++) plan_search_task(p, i);
}

void plan_search_cube_hp(const plan_t *p, size_t idx, double *hp)
{
    size_t t = idx / p->dim_stride[0];
    if (t >= p->ntrials) t = p->ntrials ? p->ntrials - 1 : 0;
    memcpy(hp, p->trial_hp + t * P_COUNT, sizeof(double) * P_COUNT);
    if (p->search & PLAN_HALVING) {
        int r = (int)((idx / p->dim_stride[1]) % (size_t)p->nrungs);
        const halving_bracket_t *b = &p->sched->b[p->trial_bracket[t]];
        hp[P_EPOCHS] = r < b->nrungs ? (double)b->epochs[r] : 0;
    }
}

double plan_search_max_epochs(const plan_t *p)
{
    const search_spec_t *ss = p->sspec;
    if (ss->has_halving) return (double)ss->max_epochs;
    double e = p->base[P_EPOCHS];
    for (int j = 0; j < ss->space.nparams; j++) {
        const sample_param_t *q = &ss->space.params[j];
        if (q->param != P_EPOCHS) continue;
        e = q->dist == DIST_CHOICE ? 0 : q->hi;
        for (int c = 0; c < q->nchoices; c++)
            if (q->choices[c] > e) e = q->choices[c];
    }
    return e;
}

int plan_search_select(plan_t *p)
{
    /* the lowest select metric among trials that reached max_epochs (the
     * last rung of every bracket), ties to the lower trial */
    const double *x = p->metrics + (size_t)p->select_metric * p->ncube;
    p->best_cell = -1;
    p->nskipped = 0;
    for (size_t t = 0; t < p->ntrials; t++) {
        const halving_bracket_t *b = &p->sched->b[p->trial_bracket[t]];
        size_t idx = t * (size_t)p->nrungs + (size_t)(b->nrungs - 1);
        if (p->status[idx] == TRAIN_NOT_RUN) continue; /* not promoted that far */
        if (!isfinite(x[idx])) {
            p->nskipped++;
            continue;
        }
        if (p->best_cell < 0 || x[idx] < p->best_value) {
            p->best_cell = (long)idx;
            p->best_value = x[idx];
        }
    }
    if (p->best_cell >= 0) plan_cube_hp(p, (size_t)p->best_cell, p->best_hp);
    return p->best_cell >= 0 ? 0 : -1;
}
