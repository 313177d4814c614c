/* saved.c - the models a study keeps: each stage's best model and, with
 * save_models, every cube point's (see saved.h).  The model, its scaler and
 * its codes and reconstructions are computed here; results.c writes them.
 */
#include "aesweep/saved.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void saved_outputs_free(results_model_t *mod)
{
    for (int i = 0; i < mod->nout; i++) {
        free(mod->out[i].codes), free(mod->out[i].recon);
        mod->out[i].codes = mod->out[i].recon = NULL;
    }
    mod->nout = 0;
}

/* codes = encode(scale(D)), recon = unscale(decode(codes)): what the model
 * makes of D in data units, evaluated in row blocks of the workspace. */
static int one_output(results_model_output_t *o, const model_t *m, model_ws_t *ws, const scaler_t *sc,
                      const dataset_t *D)
{
    size_t in = (size_t)m->arch.in, b = (size_t)m->arch.bottleneck;
    float *X = malloc(D->n * in * sizeof(float));
    o->data = D;
    o->codes = malloc(D->n * b * sizeof(float));
    o->recon = malloc(D->n * in * sizeof(float));
    if (!X || !o->codes || !o->recon) {
        free(X);
        return -1;
    }
    memcpy(X, D->x, D->n * in * sizeof(float));
    scaler_apply(sc, X, D->n);
    model_apply(m, ws, X, D->n, o->codes, o->recon);
    scaler_invert(sc, o->recon, D->n);
    free(X);
    return 0;
}

int saved_outputs(results_model_t *mod, const model_t *m, const scaler_t *sc, const dataset_t *train,
                  const study_data_t *sd, char *err)
{
    mod->nout = 0;
    model_ws_t *ws = model_ws_create(m, TASK_EVAL_ROWS, &sd->kernel);
    int rc = ws ? 0 : -1;
    for (int t = train ? -1 : 0; t < sd->ntests && !rc; t++) {
        results_model_output_t *o = &mod->out[mod->nout++];
        memset(o, 0, sizeof *o);
        if (t < 0) {
            snprintf(o->base, sizeof o->base, "train");
            snprintf(o->what, sizeof o->what, "its training set");
        } else {
            snprintf(o->base, sizeof o->base, "test_%s", sd->s->tests[t].name);
            snprintf(o->what, sizeof o->what, "test set %s", sd->s->tests[t].name);
        }
        rc = one_output(o, m, ws, sc, t < 0 ? train : &sd->tests[t]);
        if (rc)
            snprintf(err, SPEC_ERR_LEN, "out of memory computing the codes and reconstructions of %s (%zu rows)",
                     o->what, o->data ? o->data->n : 0);
    }
    if (!ws) snprintf(err, SPEC_ERR_LEN, "out of memory for the workspace of a saved model");
    model_ws_free(ws);
    if (rc) saved_outputs_free(mod);
    return rc;
}

/* Hand one model to the writer, with its outputs unless the spec keeps
 * weights only. */
static int write_one(results_t *res, const plan_t *p, const char *group, const model_t *m, const scaler_t *sc,
                     const double *hp, long cell, int draw, int repeat, const dataset_t *train,
                     const study_data_t *sd, char *err)
{
    results_model_t mod;
    memset(&mod, 0, sizeof mod);
    mod.m = m, mod.sc = sc, mod.hp = hp;
    mod.cell = cell, mod.draw = draw, mod.repeat = repeat;
    mod.weights_only = sd->s->model_data;
    if (!mod.weights_only && saved_outputs(&mod, m, sc, train, sd, err)) {
        char why[SPEC_ERR_LEN];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, SPEC_ERR_LEN, "stage %s, model %s: %s", p->spec->name, group, why);
        return -1;
    }
    int rc = results_write_model(res, p, group, &mod, err);
    saved_outputs_free(&mod);
    return rc;
}

/* The shipped weights of cube point idx, or NULL (its task shipped none). */
static const float *shipped_params(const plan_t *p, study_data_t *sd, float *const *cell_params, size_t idx)
{
    if (!cell_params) return NULL;
    for (size_t t = 0; t < p->ntasks; t++)
        for (int sl = 0; sl < p->nslots; sl++)
            if (p->tasks[t].first_cube + p->slot_offset[sl] == idx && cell_params[t]) {
                model_arch_t a = task_arch(sd, p->tasks[t].hp);
                return cell_params[t] + (size_t)sl * model_param_count(&a);
            }
    return NULL;
}

/* best cell, repeat 0 / draw 0: from the weights its task shipped, or
 * retrained from its seeds (same seeds => bitwise the same numbers, which
 * is checked) when they were too large to keep.  A halving stage ships end
 * states, not weights (dispatch.h), so its best cell - (best trial, its
 * last rung), plan_cube_hp giving that rung's epochs - is retrained in one
 * run, unless save_models kept every cell's weights. */
static int write_best(results_t *res, const plan_t *p, study_data_t *sd, float *const *cell_params, char *err)
{
    size_t idx = (size_t)p->best_cell * p->nrep;
    const float *shipped = shipped_params(p, sd, cell_params, idx);
    scaler_t *sc = malloc(sizeof *sc);
    dataset_t tr = {0};
    model_t *m = NULL;
    if (sc && shipped) {
        model_arch_t a = task_arch(sd, p->best_hp);
        m = model_create(&a);
        if (m && task_training_set(sd, p, p->best_hp, 0, &tr) == 0) {
            memcpy(m->params, shipped, m->nparams * sizeof(float));
            scaler_fit(sc, sd->s->scaler, &tr);
        } else {
            model_free(m);
            m = NULL;
        }
    } else if (sc) {
        double vals[PLAN_MAX_METRICS];
        int st;
        m = task_train_model(sd, p, p->best_hp, 0, 0, sc, &tr, vals, &st);
        double cube = p->metrics[(size_t)p->select_metric * p->ncube + idx];
        /* a halving stage's best cell was trained in rungs, each continuing
         * the previous rung's state: retraining it in one run checks that
         * the continuation was exact */
        if (m && !(vals[p->select_metric] == cube))
            fprintf(stderr, "aesweep: warning: stage %s: the retrained best model gives %.17g, the cube %.17g (%s)\n",
                    p->spec->name, vals[p->select_metric], cube,
                    (p->search & PLAN_HALVING) ? "non-deterministic BLAS, or a continuation from a carried state that is not exact?"
                                               : "non-deterministic BLAS?");
    }
    int rc = -1;
    if (!m)
        snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory building the best model", p->spec->name);
    else
        rc = write_one(res, p, "best", m, sc, p->best_hp, p->best_cell, 0, 0, &tr, sd, err);
    model_free(m);
    data_free(&tr);
    free(sc);
    return rc;
}

/* Every cube point that trained ok, in cube order, so that cells/<index>
 * come back sorted (the file tracks link creation order). */
static int write_cells(results_t *res, const plan_t *p, study_data_t *sd, float *const *cell_params, char *err)
{
    size_t *task_of = malloc(p->ncube * sizeof(size_t));
    int *slot_of = malloc(p->ncube * sizeof(int));
    scaler_t *sc = malloc(sizeof *sc);
    if (!task_of || !slot_of || !sc) {
        free(task_of), free(slot_of), free(sc);
        snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory ordering the saved models", p->spec->name);
        return -1;
    }
    for (size_t i = 0; i < p->ncube; i++) task_of[i] = (size_t)-1;
    for (size_t t = 0; t < p->ntasks; t++)
        for (int s = 0; s < p->nslots; s++) {
            task_of[p->tasks[t].first_cube + p->slot_offset[s]] = t;
            slot_of[p->tasks[t].first_cube + p->slot_offset[s]] = s;
        }
    size_t cur = (size_t)-1;
    model_t *m = NULL;
    dataset_t tr = {0};
    int rc = 0;
    for (size_t idx = 0; idx < p->ncube && !rc; idx++) {
        size_t t = task_of[idx];
        if (t == (size_t)-1 || !cell_params[t] || p->status[idx] != 0) continue;
        const task_t *tk = &p->tasks[t];
        if (t != cur) { /* the task's model, scaler and training set */
            model_free(m);
            data_free(&tr);
            model_arch_t a = task_arch(sd, tk->hp);
            m = model_create(&a);
            if (!m || task_training_set(sd, p, tk->hp, tk->draw, &tr)) {
                snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory building saved model cells/%zu", p->spec->name, idx);
                rc = -1;
                break;
            }
            scaler_fit(sc, sd->s->scaler, &tr);
            cur = t;
        }
        memcpy(m->params, cell_params[t] + (size_t)slot_of[idx] * m->nparams, m->nparams * sizeof(float));
        double hp[P_COUNT];
        plan_cube_hp(p, idx, hp);
        char g[64];
        snprintf(g, sizeof g, "cells/%zu", idx);
        rc = write_one(res, p, g, m, sc, hp, (long)(idx / p->nrep), tk->draw, tk->repeat, &tr, sd, err);
    }
    model_free(m);
    data_free(&tr);
    free(sc), free(task_of), free(slot_of);
    return rc;
}

int saved_write_stage(results_t *res, const plan_t *p, study_data_t *sd, float *const *cell_params, char *err)
{
    if (p->best_cell >= 0 && write_best(res, p, sd, cell_params, err)) return -1;
    if (p->spec->save_models && cell_params && write_cells(res, p, sd, cell_params, err)) return -1;
    return 0;
}
