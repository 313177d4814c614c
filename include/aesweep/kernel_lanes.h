/* kernel_lanes.h - the fused rows-in-lanes training step behind
 * model_mse_grad (src/kernel_lanes.c).  Internal to libaesweep: model.c
 * reaches it through its table of operations (kernel.h); tests reach it
 * through model.h (AESWEEP_KERNEL=lanes), and use the lane-sum helpers
 * below.
 *
 * What it is for: full-batch (or mini-batch) training steps with the MSE
 * loss on the narrow shapes of the reference study.  Rows run along the
 * vector lanes, so a layer of any width uses every lane, and each tile of
 * rows goes forward, gets its loss gradient and goes backward before the
 * next one, so activations stay in cache.
 *
 * What it is not: a forward-only path (model_forward keeps kernel_fast.c,
 * whose act[] layout the rest of the program reads) or an MMD step (the MMD
 * gradient couples all rows of a batch; model_backward handles it).
 *
 * Reproducibility: every result depends only on the build and n, not on the
 * tile size, buffer addresses, caller, rank or thread (see kernel_lanes.c),
 * nor on whether the ReLU units a tile leaves at zero are skipped.
 */
#ifndef AESWEEP_KERNEL_LANES_H
#define AESWEEP_KERNEL_LANES_H
#include "aesweep/model.h"
#include <stddef.h>

/* Floats of scratch a workspace of `rows` rows needs (64-byte aligned). */
size_t klanes_ws_floats(const model_t *m, int rows);
/* Rows per tile for a workspace of `rows` rows (a multiple of the lanes per
 * vector: 16 with AVX-512, 8 with AVX2). */
int klanes_tile_rows(const model_t *m, int rows);
/* The step itself is the table kernel_lanes (kernel.h): its step operation
 * puts the gradient of scale * MSE(X_hat, X) over n <= ws->rows rows of X
 * into m->grads (overwritten) and returns the MSE (unscaled), without
 * writing ws->act; its forward and backward are the tiled kernel's.  It
 * skips, per tile, the ReLU units that are zero on all its rows unless
 * model_opts_t.keep_dead (AESWEEP_SKIP_DEAD=0); the gradients are the same
 * bits either way (kernel_lanes.c says when they are not). */
/* For tests, on a workspace of the lanes kernel (others: no effect, 0):
 * its rows per tile; lower them to T (a multiple of the lane width, at most
 * the tile it was made with: a smaller tile fits the scratch of a larger
 * one); fill its fused-step scratch with NaN (it must be written before it
 * is read). */
int klanes_ws_tile(const model_ws_t *ws);
void klanes_ws_set_tile(model_ws_t *ws, int T);
void klanes_ws_poison(model_ws_t *ws, const model_t *m);
/* Rows per vector: 16 with AVX-512, 8 with AVX2, 4 portable. */
int klanes_lane_width(void);
/* out[q] = the sum of p[q * W .. q * W + W - 1] (W = klanes_lane_width())
 * for q < cnt, in the fixed pairwise order h[i] += h[i + w] for w = W/2,
 * ..., 1: how the per-lane partial sums become gradients (exposed for its
 * test; sixteen at a time with AVX-512). */
void klanes_lane_sums(const float *p, size_t cnt, float *out);
/* 1 when this build's kernels fuse multiply-adds (an FMA instruction);
 * 0 where they multiply and add (e.g. the x86-64 baseline). */
int klanes_fma(void);
/* "avx512", "avx2" or "generic" */
const char *klanes_isa(void);
/* 1 when this build's fused step beats the tiled kernel (AVX-512 and AVX2
 * builds, whose register blocks fit the register file; measured 1.6x and
 * 1.7x on 2-20x3-1); model_mse_grad uses it only then. */
int klanes_preferred(void);

#endif
