/* task.h - what one rank does with one task: build its training set, seed
 * its streams, train, and evaluate every metric at every epochs slot.
 *
 * Streams (all children of the study seed, see rng.h):
 *   pool            derive(seed, "pool")            moons training pool
 *   pool, stage     derive(seed, "pool:noise=<g>")  moons pool of a stage's pool_noise
 *   test set        derive(seed, "test:<name>")     moons test set
 *   split           derive(seed, "split")           permutation of a data file's rows
 *   data draw       derive(seed, "draw:<stage>:<d>")  fresh training set d
 *   task            derive(seed, stage name, every hyperparameter except
 *                   epochs (its double's bits, in param order), draw, repeat)
 *   init / shuffle / mmd = derive(task, "init" / "shuffle" / "mmd")
 *   metric sample   derive(seed, "metric.z")        fixed N(0, I) sample for MMD metrics
 * None depends on the rank, the process or the time.
 */
#ifndef AESWEEP_TASK_H
#define AESWEEP_TASK_H
#include "aesweep/data.h"
#include "aesweep/model.h"
#include "aesweep/plan.h"
#include "aesweep/spec.h"
#include "aesweep/study.h"
#include "aesweep/train.h"

#define TASK_METRIC_ROWS 1000 /* rows used by the MMD metrics */
/* Rows of the workspace that evaluates a model (test MSE, codes, reconstructions) in chunks: at
 * least this many, so that a small training batch does not make evaluation a loop of tiny passes;
 * the chunking gives the same sums whatever the chunk size (model.h). */
#define TASK_EVAL_ROWS 1024

/* study_data_t and its loading: study.h */

uint64_t task_key(const study_t *s, const char *stage, const double *hp, int draw, int repeat);
/* The (unscaled) training set of a task. */
int task_training_set(study_data_t *sd, const plan_t *p, const double *hp, int draw, dataset_t *out);
model_arch_t task_arch(const study_data_t *sd, const double *hp);

/* Per-task callbacks: tick is called every epoch (stop requests, progress). */
typedef int (*task_tick_fn)(void *ctx);
/* A learning-curve point as soon as it is computed (an interim report,
 * dispatch.h): point[n] = each test set's MSE, then train_mse, after
 * `epoch` epochs.  Only points strictly between the task's start and its
 * last epoch are reported (the ends are results).  It must not touch the
 * model: the trajectory is the same with or without it. */
typedef void (*task_report_fn)(void *ctx, int epoch, const double *point, int n);

/* Run task t of plan p: vals [nslots][nmetrics], status [nslots], secs [nslots].
 * If params_out != NULL it receives the arena at every slot reached
 * ([nslots][nparams]).
 * Returns the final train_status. */
int task_run(study_data_t *sd, const plan_t *p, size_t t, double *vals, int8_t *status,
             double *secs, float *params_out, task_tick_fn tick, void *ctx);

/* task_run that also records the learning curve (plan.h) into curve
 * [p->ncurve][p->ncurve_metrics] (NaN where not reached); curve may be NULL. */
int task_run_curve(study_data_t *sd, const plan_t *p, size_t t, double *vals, int8_t *status,
                   double *secs, float *params_out, double *curve, task_tick_fn tick, void *ctx);

/* ---- continuation (successive halving, issue 16; the state: below) ----
 * task_run_curve from the end state `from` of the task it continues
 * (p->tasks[t].prev_task; NULL: from the initialisation, as task_run_curve):
 * the task trains from->pos.epoch (== its start_epoch) to its epochs, and
 * its metrics are those of a run from scratch to that epoch count, bit for
 * bit (train.h).  state_out (NULL: not wanted) receives the end state in the
 * serialised form below, task_state_len(nparams) doubles, when the task
 * ends TRAIN_OK (otherwise it is left alone: a diverged task has no state
 * to carry).  Returns the train_status, -1 when out of memory, or
 * TASK_BAD_STATE when `from` is not a state of this task (its epoch is not
 * the task's start_epoch or lies beyond its checkpoints, or the parameter
 * count differs): nothing is trained then. */
#define TASK_BAD_STATE (-2)
struct task_state;
int task_run_from(study_data_t *sd, const plan_t *p, size_t t, const struct task_state *from, double *vals,
                  int8_t *status, double *secs, float *params_out, double *curve, double *state_out,
                  task_tick_fn tick, task_report_fn report, void *ctx);

/* Retrain one cube point (hp with its own epochs) and return the model and
 * its scaler (caller frees the model).  Used to store the best model and
 * saved models; the metrics it recomputes must equal the cube's. */
model_t *task_train_model(study_data_t *sd, const plan_t *p, const double *hp, int draw, int repeat,
                          scaler_t *sc, dataset_t *train_out, double *vals, int *status);

/* ---- carried state (successive halving, issue 16) --------------------------
 * A halving task (t, r > 0) continues from the end state of (t, r - 1): the
 * model's parameters, Adam moments and step, and where its trajectory
 * stands (train_pos_t: epochs, shuffle and MMD stream counters).  The
 * stream keys are not carried: they come from task_key, which ignores the
 * epochs, so every rung of a trial derives the same ones. */
typedef struct task_state {
    train_pos_t pos;
    long adam_t;
    size_t nparams;
    float *arena; /* [3][nparams]: parameters, Adam m, Adam v (one allocation with the struct) */
} task_state_t;

/* Serialised form, in doubles (the params section of a halving task's wire
 * record, wire.h, and the header of a WIRE_TAG_STATE message):
 *   [0] TASK_STATE_MAGIC      [1] epoch         [2] Adam step t
 *   [3] shuffle_ctr / 2^32    [4] shuffle_ctr % 2^32
 *   [5] mmd_ctr / 2^32        [6] mmd_ctr % 2^32
 *   [7] nparams
 *   [8 ..] the arena's floats, parameters [nparams], Adam m [nparams] and
 *          Adam v [nparams], packed two to a double by their bytes (the
 *          memory of 3 x nparams floats, zero-padded to whole doubles)
 * The counters are split into 32-bit halves and the floats travel as their
 * bytes, so the round trip is exact.  Packed, not widened: a state is 12
 * bytes a parameter in the journal and on the wire, not 24 (the journal
 * holds one per segment).  The packed doubles are bytes, never numbers:
 * they are copied (wire, journal, MPI_DOUBLE on one architecture), never
 * computed with or compared.  The magic names the layout (16016: floats
 * widened to doubles, before 0.4.0). */
#define TASK_STATE_HDR 8
#define TASK_STATE_MAGIC 16017.0
/* Doubles of the serialised state of a model of nparams parameters. */
size_t task_state_len(size_t nparams);
/* Bytes a kept state takes (rank 0's memory for carried states). */
double task_state_bytes(size_t nparams);
/* A state of nparams parameters (arena uninitialised); NULL when out of memory. */
task_state_t *task_state_new(size_t nparams);
void task_state_free(task_state_t *s); /* NULL is harmless */
/* The header (TASK_STATE_HDR doubles) of s into h. */
void task_state_header(const task_state_t *s, double *h);
/* A new state with the header h (arena uninitialised): NULL with *bad = 1
 * when h is not a state's header, with *bad = 0 when out of memory. */
task_state_t *task_state_from_header(const double *h, int *bad);
/* Read the header h into s (its arena untouched): 0, or -1 when h is not a
 * state's header or its parameter count is not s->nparams. */
int task_state_read_header(task_state_t *s, const double *h);
/* The whole serialised state into out[task_state_len(s->nparams)]. */
void task_state_pack(const task_state_t *s, double *out);
/* A new state from len doubles at in; NULL as task_state_from_header (a
 * length that does not match the header is bad). */
task_state_t *task_state_unpack(const double *in, size_t len, int *bad);
/* The state of model m after training to pos, into s (same nparams). */
void task_state_save(task_state_t *s, const model_t *m, const train_pos_t *pos);
/* Load s into m: 0, or -1 when the parameter counts differ. */
int task_state_load(const task_state_t *s, model_t *m);

/* The study-wide kernel of the MMD metrics (see task.c): IMQ with
 * C = 2 dim var x {0.1, 0.2, 0.5, 1, 2, 5, 10}. */
struct mmd_cfg;
void task_metric_kernel(struct mmd_cfg *k, int dim, double var);
/* Mean per-feature variance of the first TASK_METRIC_ROWS rows of T. */
double task_metric_variance(const dataset_t *T);

#endif
