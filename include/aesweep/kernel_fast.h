/* kernel_fast.h - the tiled forward/backward kernel (src/kernel_fast.c;
 * its table of operations is kernel_tiled in kernel.h).  Internal to
 * libaesweep: model.c reaches it through the table, kernel_lanes.c calls
 * the forward and backward below for its own table; tests reach it through
 * model.h (AESWEEP_KERNEL=tiled).
 *
 * What it is for: the skinny shapes of the reference study (widths 1..~128,
 * thousands of rows, full batch) on one core, one thread.  Rows go through
 * every layer in tiles that stay in cache, bias and ReLU are fused into the
 * layer, the ReLU mask and the code gradient into the backward layer, and
 * weight gradients are accumulated per tile in registers.  Explicit SIMD:
 * AVX-512F, else AVX2+FMA, else GCC vector extensions (any target).
 *
 * What it is not: a general GEMM.  No threads (one model per MPI rank).
 *
 * Reproducibility: every float result depends only on the build, the
 * architecture and the number of rows n, never on buffer addresses (all loads
 * are unaligned loads, no alignment peeling), on the tiling of a forward
 * (each output row is computed alone, in a fixed k order), or on the caller:
 * the tile size of the backward is a function of the architecture only.
 * The packed-tail kernels (AVX-512, widths 16 m + 1..4) perform the same
 * operations per output element in the same order as the plain ones, so
 * they change speed, not bits; model_opts_t.no_tail (AESWEEP_KF_NOTAIL=1)
 * turns them off (for A/B timing).
 */
#ifndef AESWEEP_KERNEL_FAST_H
#define AESWEEP_KERNEL_FAST_H
#include "aesweep/model.h"
#include <stddef.h>

/* The kernel's own scratch (padded weight copies, bias and bias-gradient
 * accumulators, packed tails; kernel_fast.c). */
typedef struct kfast_scratch kfast_scratch_t;
/* Bytes of scratch for model m (64-byte aligned, any row count). */
size_t kfast_ws_bytes(const model_t *m);
/* Lay the scratch out in mem (kfast_ws_bytes(m) zeroed bytes, 64-byte
 * aligned); no_tail: the packed-tail micro-kernels off. */
kfast_scratch_t *kfast_ws_init(const model_t *m, int no_tail, void *mem);

/* Layers l0 .. l1-1 on n rows of X ([n][dims[l0]]); outputs in ws->act[l+1]. */
void kfast_forward(const model_t *m, model_ws_t *ws, kfast_scratch_t *ks, const float *X, int n, int l0,
                   int l1);
/* As model_backward. */
void kfast_backward(model_t *m, model_ws_t *ws, kfast_scratch_t *ks, const float *X, int n, float mse_scale,
                    const float *dcode);

/* Rows per backward tile for m (a function of the architecture only). */
int kfast_tile_rows(const model_t *m);
/* "avx512", "avx2" or "generic" */
const char *kfast_isa(void);

#endif
