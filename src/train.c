/* train.c - full-batch and mini-batch Adam training with checkpoints. */
#include "aesweep/train.h"
#include "aesweep/mmd.h"
#include "aesweep/rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *train_status_name(int s)
{
    switch (s) {
    case TRAIN_OK: return "ok";
    case TRAIN_DIVERGED: return "diverged";
    case TRAIN_INTERRUPTED: return "interrupted";
    default: return "not_run";
    }
}

train_cfg_t train_cfg_default(void)
{
    train_cfg_t c;
    memset(&c, 0, sizeof c);
    c.epochs = TRAIN_DEFAULT_EPOCHS;
    c.lr = (float)TRAIN_DEFAULT_LR;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    return c;
}

train_ws_t *train_ws_create(const model_t *m, size_t n, int batch_size, const struct mmd_cfg *mmd,
                            const model_opts_t *kopt)
{
    train_ws_t *tw = calloc(1, sizeof *tw);
    if (!tw) return NULL;
    int full = batch_size <= 0 || (size_t)batch_size >= n;
    tw->n = n;
    tw->rows = full ? (int)n : batch_size;
    tw->ws = model_ws_create(m, tw->rows, kopt);
    if (!tw->ws) goto fail;
    if (!full) {
        tw->perm = malloc(n * sizeof *tw->perm);
        tw->batch = malloc((size_t)tw->rows * m->arch.in * sizeof(float));
        if (!tw->perm || !tw->batch) goto fail;
    }
    if (mmd) {
        tw->mmd_buf = malloc(mmd_scratch_floats(mmd, tw->rows, m->arch.bottleneck) * sizeof(float));
        if (!tw->mmd_buf) goto fail;
    }
    return tw;
fail:
    train_ws_free(tw);
    return NULL;
}

void train_ws_free(train_ws_t *tw)
{
    if (!tw) return;
    model_ws_free(tw->ws);
    free(tw->perm);
    free(tw->batch);
    free(tw->mmd_buf);
    free(tw);
}

/* One gradient computation on rows B [nb][in]; returns the loss. */
static double step_grad(model_t *m, train_ws_t *tw, const float *B, int nb, const train_cfg_t *cfg,
                        rng_t *zr, double *mse_out)
{
    if (!cfg->mmd) {
        double mse = model_mse_grad(m, tw->ws, B, nb, 1.0f);
        *mse_out = mse;
        return mse;
    }
    model_forward(m, tw->ws, B, nb);
    double mse = model_mse(m, tw->ws, B, nb);
    *mse_out = mse;
    /* loss = (1 - lambda) MSE + lambda MMD^2(codes, z) */
    float lam = cfg->mmd->lambda;
    const float *codes = tw->ws->act[m->code_layer + 1];
    float *dcode = tw->mmd_buf;
    double mmd = mmd_loss_grad(cfg->mmd, codes, nb, m->arch.bottleneck, zr, lam, dcode,
                               tw->mmd_buf + (size_t)nb * m->arch.bottleneck);
    model_backward(m, tw->ws, B, nb, 1.0f - lam, dcode);
    return (1.0 - lam) * mse + lam * mmd;
}

/* Report every checkpoint at epoch e (a full-batch step's MSE or the
 * mini-batch evaluation); returns the next checkpoint index. */
static int report_ckpts(const train_cfg_t *cfg, int ci, int e, const model_t *m, double train_mse,
                        train_ckpt_fn ckpt, void *ctx)
{
    while (ci < cfg->ncheck && cfg->checkpoints[ci] == e) {
        if (ckpt) ckpt(ctx, ci, e, m, train_mse);
        ci++;
    }
    return ci;
}

/* One mini-batch epoch: a fresh order from the task's own stream, then a
 * step per batch.  0, or -1 when a loss is not finite. */
static int minibatch_epoch(model_t *m, train_ws_t *tw, const float *X, size_t n, const train_cfg_t *cfg,
                           rng_t *sr, rng_t *zr)
{
    int d = m->arch.in;
    rng_permutation(sr, n, tw->perm);
    for (size_t s = 0; s < n; s += (size_t)tw->rows) {
        int nb = (int)((n - s) < (size_t)tw->rows ? (n - s) : (size_t)tw->rows);
        for (int i = 0; i < nb; i++)
            memcpy(tw->batch + (size_t)i * d, X + tw->perm[s + i] * d, d * sizeof(float));
        double mse;
        double loss = step_grad(m, tw, tw->batch, nb, cfg, zr, &mse);
        if (!isfinite(loss)) return -1;
        model_adam_step(m, cfg->lr, cfg->beta1, cfg->beta2, cfg->eps);
    }
    return 0;
}

int train_run(model_t *m, train_ws_t *tw, const float *X, size_t n, const train_cfg_t *cfg,
              train_ckpt_fn ckpt, train_tick_fn tick, void *ctx, int *nreported)
{
    return train_run_from(m, tw, X, n, cfg, NULL, NULL, ckpt, tick, ctx, nreported);
}

int train_run_from(model_t *m, train_ws_t *tw, const float *X, size_t n, const train_cfg_t *cfg,
                   const train_pos_t *start, train_pos_t *end, train_ckpt_fn ckpt, train_tick_fn tick,
                   void *ctx, int *nreported)
{
    train_pos_t s0 = {0, 0, 0};
    if (!start) start = &s0;
    int ci = 0, cv = 0, status = TRAIN_OK;
    int ncv = cfg->curve_fn ? cfg->ncurve : 0;
    /* what the earlier call reported */
    while (ci < cfg->ncheck && cfg->checkpoints[ci] < start->epoch) ci++;
    while (cv < ncv && cfg->curve[cv] < start->epoch) cv++;
    rng_t zr = rng_stream(cfg->mmd_key), sr = rng_stream(cfg->shuffle_key);
    zr.ctr = start->mmd_ctr;
    sr.ctr = start->shuffle_ctr;
    uint64_t z_at = zr.ctr; /* the MMD counter where epoch e's pass begins */
    int full = tw->rows >= (int)n;
    int e;
    for (e = start->epoch;; e++) {
        double train_mse;
        z_at = zr.ctr;
        if (full) {
            double mse;
            double loss = step_grad(m, tw, X, (int)n, cfg, &zr, &mse);
            if (!isfinite(loss)) { status = TRAIN_DIVERGED; break; }
            train_mse = mse;
            ci = report_ckpts(cfg, ci, e, m, train_mse, ckpt, ctx);
            if (cv < ncv && cfg->curve[cv] == e) cfg->curve_fn(ctx, cv++, e, m, train_mse);
            if (e >= cfg->epochs) break;
            if (tick && tick(ctx, e)) { status = TRAIN_INTERRUPTED; break; }
            model_adam_step(m, cfg->lr, cfg->beta1, cfg->beta2, cfg->eps);
        } else {
            int at_ck = ci < cfg->ncheck && cfg->checkpoints[ci] == e;
            int at_curve = cv < ncv && cfg->curve[cv] == e;
            if (at_ck || at_curve) {
                train_mse = model_eval_mse(m, tw->ws, X, n);
                if (at_ck) {
                    if (!isfinite(train_mse)) { status = TRAIN_DIVERGED; break; }
                    ci = report_ckpts(cfg, ci, e, m, train_mse, ckpt, ctx);
                }
                if (at_curve) cfg->curve_fn(ctx, cv++, e, m, train_mse);
            }
            if (e >= cfg->epochs) break;
            if (tick && tick(ctx, e)) { status = TRAIN_INTERRUPTED; break; }
            if (minibatch_epoch(m, tw, X, n, cfg, &sr, &zr)) { status = TRAIN_DIVERGED; break; }
        }
    }
    if (status == TRAIN_OK && end) {
        end->epoch = e;
        end->shuffle_ctr = sr.ctr;
        end->mmd_ctr = z_at;
    }
    if (nreported) *nreported = ci;
    return status;
}
