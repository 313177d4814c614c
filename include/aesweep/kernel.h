/* kernel.h - the table of operations every training kernel provides, and
 * the kernels there are.  Internal to libaesweep: model.c chooses one table
 * per workspace (model_ws_create) and calls through it; tests and bench/
 * reach the kernels through model.h.
 *
 * Layering: model.c calls the kernels, never the reverse.  A kernel reads
 * the model's shape and arenas (model_t fields, model.h) and the workspace's
 * activations and gradient buffers (model_ws_t), and keeps whatever else it
 * needs (padded weight copies, packing blocks, lane partial sums) in its own
 * scratch: ws_bytes says how much for a model and a row count, ws_init lays
 * it out in one zeroed, 64-byte aligned block that model.c allocates once
 * and hands back to every call as `ks`.  Forward, backward and the fused
 * step never allocate.
 *
 * Contract of each operation (n <= ws->rows rows, X [n][dims[l0]]):
 *   forward   layers l0 .. l1-1; layer l's output in ws->act[l+1] row-major
 *   backward  after forward(0, nlin) on the same X: m->grads (overwritten) =
 *             d/dparams of scale * MSE(act[nlin], X), plus the code gradient
 *             dcode [n][bottleneck] where given (added to dL/dcode as is)
 *   step      forward, loss and backward in one pass; returns the MSE; may
 *             leave ws->act unwritten; NULL: model.c runs forward, MSE and
 *             backward instead
 */
#ifndef AESWEEP_KERNEL_H
#define AESWEEP_KERNEL_H
#include "aesweep/model.h"
#include <stddef.h>

typedef struct kernel_ops {
    const char *name;
    /* bytes of scratch for model m (its shape; the arenas may be absent) and
     * `rows` rows; 0: none */
    size_t (*ws_bytes)(const model_t *m, int rows, const model_opts_t *o);
    /* lay the scratch out in mem (ws_bytes(m, rows, o) zeroed bytes) */
    void (*ws_init)(const model_t *m, int rows, const model_opts_t *o, void *mem);
    void (*forward)(const model_t *m, model_ws_t *ws, void *ks, const float *X, int n, int l0, int l1);
    void (*backward)(model_t *m, model_ws_t *ws, void *ks, const float *X, int n, float mse_scale,
                     const float *dcode);
    double (*step)(model_t *m, model_ws_t *ws, void *ks, const float *X, int n, float mse_scale);
} kernel_ops_t;

extern const kernel_ops_t kernel_tiled;  /* kernel_fast.c: tiled SIMD forward/backward */
extern const kernel_ops_t kernel_lanes;  /* kernel_lanes.c: the tiled kernel + the fused step */
extern const kernel_ops_t kernel_gemm;        /* kernel_gemm.c: one GEMM per product (OpenBLAS), epilogues fused */
extern const kernel_ops_t kernel_gemm_packed; /* kernel_gemm.c: the same on the packed AVX-512 micro-kernel */
extern const kernel_ops_t kernel_blas;   /* kernel_gemm.c: the same layer path on OpenBLAS only */
extern const kernel_ops_t kernel_ref;    /* kernel_ref.c: plain C, double accumulation */

#endif
