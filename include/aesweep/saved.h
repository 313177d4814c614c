/* saved.h - the models a study keeps in its result file.
 *
 * After a stage completes, rank 0 stores (docs/results-format.md, models/):
 *   models/<stage>/best          the best cell's repeat 0 / draw 0 model, from
 *                                the weights its task shipped or, when they
 *                                were too large to ship, retrained from its
 *                                seeds (bitwise the same; checked);
 *   models/<stage>/cells/<i>     with save_models, every cube point i that
 *                                trained ok, from the shipped weights.
 * This module builds each model and its scaler and computes its codes and
 * reconstructions of the training set and each test set (unless the spec
 * says model_data = "weights"); results.c only writes what it is handed.
 *
 * Not here: the CSV `aesweep export` command (export.c), which reads models
 * back out of a result file.
 *
 * Contract: 0, or -1 with a one-line message in err (SPEC_ERR_LEN) that
 * names the model and the cause (out of memory, or the HDF5 writer's
 * message).  Never exits; frees everything it allocated on every path.
 */
#ifndef AESWEEP_SAVED_H
#define AESWEEP_SAVED_H
#include "aesweep/plan.h"
#include "aesweep/results.h"
#include "aesweep/task.h"

/* Write stage p's best model and, with save_models, its saved cells.
 * cell_params: [p->ntasks] shipped parameter arenas, one model per slot
 * (NULL entries for tasks that shipped none; NULL if no task shipped). */
int saved_write_stage(results_t *res, const plan_t *p, study_data_t *sd, float *const *cell_params, char *err);

/* The codes and reconstructions (data units) of model m with scaler sc on
 * the training set train (may be NULL: then only the test sets) and each
 * of sd's test sets, filled into mod->out[] (mod->nout of them).  Buffers
 * are owned by mod: free them with saved_outputs_free.  0, or -1 (out of
 * memory) with err set. */
int saved_outputs(results_model_t *mod, const model_t *m, const scaler_t *sc, const dataset_t *train,
                  const study_data_t *sd, char *err);
void saved_outputs_free(results_model_t *mod);

#endif
