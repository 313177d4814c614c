/* train.h - the training loop: full-batch or mini-batch Adam on one model.
 *
 * One call trains one task to its largest epoch count and reports the model
 * at every requested checkpoint epoch on the way (the epochs axis of a
 * sweep is filled by one trajectory: a run of e epochs is an exact prefix of
 * a run of E > e epochs from the same seed).
 *
 * Definitions used everywhere in aesweep:
 *   train MSE at epoch e = MSE over the whole training subset of the model
 *   after e optimiser epochs.  In full-batch mode this is exactly the loss of
 *   the forward pass that starts epoch e+1, so it costs nothing extra.
 */
#ifndef AESWEEP_TRAIN_H
#define AESWEEP_TRAIN_H
#include "aesweep/model.h"
#include <stddef.h>
#include <stdint.h>

enum train_status {
    TRAIN_OK = 0,          /* reached the last epoch */
    TRAIN_DIVERGED = 1,    /* loss became NaN or infinite; training stopped */
    TRAIN_INTERRUPTED = 2, /* the tick callback asked to stop */
    TRAIN_NOT_RUN = 3      /* placeholder for tasks that never ran */
};
const char *train_status_name(int status);

struct mmd_cfg; /* mmd.h */

typedef struct {
    int epochs;              /* largest epoch count (the last checkpoint) */
    float lr;
    float beta1, beta2, eps; /* Adam; train_cfg_default() sets PyTorch's */
    int batch_size;          /* 0 or >= n: full batch */
    uint64_t shuffle_key;    /* stream for mini-batch order */
    const int *checkpoints;  /* ascending epoch values to report, last == epochs */
    int ncheck;
    const struct mmd_cfg *mmd; /* NULL: plain MSE autoencoder */
    uint64_t mmd_key;        /* stream for the N(0, I) samples of the MMD term */
    /* Learning curve: curve_fn(ctx, i, e, m, train_mse) after curve[i] = e
     * epochs (ascending), at the same place in the loop as a checkpoint, so a
     * curve point equals a run stopped there.  It only reads the model: the
     * trajectory is the same with or without it. */
    const int *curve;
    int ncurve;
    void (*curve_fn)(void *ctx, int idx, int epoch, const model_t *m, double train_mse);
} train_cfg_t;

/* Defaults of a training run: train_cfg_default() and spec.h's param_info (a spec's defaults and
 * `aesweep train`'s flags) take epochs and the learning rate from here. */
#define TRAIN_DEFAULT_EPOCHS 100
#define TRAIN_DEFAULT_LR 0.001
train_cfg_t train_cfg_default(void);

/* Called at each checkpoint; idx indexes cfg->checkpoints. */
typedef void (*train_ckpt_fn)(void *ctx, int idx, int epoch, const model_t *m, double train_mse);
/* Called once per epoch before the update; non-zero return stops training. */
typedef int (*train_tick_fn)(void *ctx, int epoch);

typedef struct {
    model_ws_t *ws; /* rows = batch rows (full batch: n) */
    size_t *perm;   /* [n] mini-batch order */
    float *batch;   /* [batch][in] gathered mini-batch */
    float *mmd_buf; /* MMD scratch (mmd.h), NULL if unused */
    size_t n;
    int rows;
} train_ws_t;

/* The training workspace of model m on n rows in batches of batch_size
 * (0 or >= n: full batch); kopt: the kernel options (model.h; NULL: the
 * defaults). */
train_ws_t *train_ws_create(const model_t *m, size_t n, int batch_size, const struct mmd_cfg *mmd,
                            const model_opts_t *kopt);
void train_ws_free(train_ws_t *tw);

/* Train m (already initialised) on X [n][in].  Returns a train_status; the
 * number of checkpoints reported is stored in *nreported (those not reported
 * are the caller's to mark as NaN). */
int train_run(model_t *m, train_ws_t *tw, const float *X, size_t n, const train_cfg_t *cfg,
              train_ckpt_fn ckpt, train_tick_fn tick, void *ctx, int *nreported);

/* Where a trajectory stands between two calls (the carried state of a
 * successive-halving rung, issue 16): the epochs trained and how far the
 * two streams have been drawn.  The model holds the rest of the state: its
 * parameters, the Adam moments m and v and the Adam step t.  {0, 0, 0} is
 * a fresh start (what train_run does).
 *
 * Exactness: train_run_from to epoch a from {0} (end state S), then from S
 * to b gives, bit for bit, what one call to b gives: every step sees the
 * same parameters, moments, mini-batch order and MMD samples.  Two details
 * make it so: (1) mini-batch: the shuffle of epoch e is drawn when epoch e
 * + 1 is trained, so the end state's shuffle counter is the one after a
 * permutations; (2) full batch: the pass that reports epoch e's train MSE
 * is also epoch e + 1's gradient and, with MMD, draws that step's N(0, I)
 * sample before the run stops at e = epochs; the end state records the MMD
 * counter from before that draw, so the continuation draws the same sample
 * again and that pass is simply recomputed. */
typedef struct {
    int epoch;            /* optimiser epochs trained */
    uint64_t shuffle_ctr; /* outputs drawn from rng_stream(cfg->shuffle_key) */
    uint64_t mmd_ctr;     /* outputs drawn from rng_stream(cfg->mmd_key) */
} train_pos_t;

/* train_run continuing from *start (NULL: a fresh start; m then holds the
 * model after start->epoch epochs) to cfg->epochs >= start->epoch; on
 * TRAIN_OK *end (if not NULL) gets the end state.  Checkpoints and curve
 * points before start->epoch belong to the earlier call: they are passed
 * over without a callback and counted in *nreported as if reported, so
 * that the checkpoints from *nreported on are the ones not reached. */
int train_run_from(model_t *m, train_ws_t *tw, const float *X, size_t n, const train_cfg_t *cfg,
                   const train_pos_t *start, train_pos_t *end, train_ckpt_fn ckpt, train_tick_fn tick,
                   void *ctx, int *nreported);

#endif
