/* model.h - MLP autoencoders (plain or residual), their arenas and kernels.
 *
 * Architecture.  The encoder widths are E = widths[0..nwidths-1] (or the
 * single width `hidden` when nwidths = 0) followed by `layers` more layers
 * of the last width; the code has `bottleneck` units.  With kind MODEL_MLP
 * (the reference study's network, docs/study.md):
 *     encoder  Linear(in,E1) act, Linear(E1,E2) act, ..., Linear(Ek,b)
 *     decoder  Linear(b,Ek) act, Linear(Ek,Ek-1) act, ..., Linear(E1,in)
 * (no activation on the code or the output), so there are L = 2k + 2
 * linear layers, dims = [in, E1..Ek, b, Ek..E1, in]; hidden h with `layers`
 * blocks is E = [h] + layers x [h], L = 2*layers + 4, as before.
 * With kind MODEL_RESNET every transition between two equal hidden widths,
 * Linear(e,e) act, becomes the residual block
 *     h' = h + W2 act(W1 h + b1) + b2          (W1, W2 [e][e], two linear layers)
 * and every transition where the width changes stays the plain projection
 * Linear(e,e') act; the first layer, the code layer and the output layer are
 * plain as in the MLP.  `act` (relu, tanh, elu with alpha = 1) is the same
 * after every hidden linear layer.
 *
 * Per linear layer l the model records dims[l] -> dims[l+1], whether the
 * activation follows it (act_after[l]) and, for the second layer of a
 * block, which activation tensor it adds (skip_src[l]: act[skip_src[l]] is
 * the block's input; -1 for no skip).
 *
 * Storage: one parameter arena per model; per layer l the weight W_l is
 * row-major [out][in] (as nn.Linear.weight) at w_off[l], then the bias b_l
 * at b_off[l].  Gradients and the two Adam moments live in arenas of the
 * same shape, so the optimiser is a single flat loop and saving, loading or
 * sending a model is one memcpy of the arena.
 *
 * Kernels never allocate: every buffer lives in a model_ws_t sized once for
 * a maximum number of rows.  Not thread-safe per model; use one model per
 * thread (aesweep runs one model per MPI rank at a time).
 */
#ifndef AESWEEP_MODEL_H
#define AESWEEP_MODEL_H
#include <stddef.h>
#include <stdint.h>

#define MODEL_MAX_DEPTH 32  /* max `layers` */
#define MODEL_MAX_WIDTHS 16 /* max entries of an explicit width list */
#define MODEL_MAX_ENC (MODEL_MAX_DEPTH + MODEL_MAX_WIDTHS) /* max encoder widths */
/* a residual encoder of k widths has 2k linear layers (first layer, k - 1
 * blocks of two, code layer), and the decoder as many */
#define MODEL_MAX_LINEAR (4 * MODEL_MAX_ENC)
/* Widest hidden layer from which the default kernel trains with one
 * OpenBLAS sgemm per layer (model_wide; bench/README.md "wide layers"). */
#define MODEL_WIDE_WIDTH 256

enum model_kind { MODEL_MLP = 0, MODEL_RESNET = 1 };
enum model_act { MODEL_RELU = 0, MODEL_TANH = 1, MODEL_ELU = 2 };

typedef struct {
    int in;         /* input (and output) dimension */
    int hidden;     /* width of the hidden layers (nwidths = 0) */
    int layers;     /* extra layers (blocks, resnet) of the last encoder width per side */
    int bottleneck; /* code dimension */
    int nwidths;    /* 0: the encoder starts with `hidden`; else widths[0..nwidths-1] */
    int widths[MODEL_MAX_WIDTHS];
    int kind;       /* enum model_kind */
    int act;        /* enum model_act */
} model_arch_t;

typedef struct {
    model_arch_t arch;
    int nlin;                          /* number of linear layers L */
    int code_layer;                    /* index of the linear layer producing the code */
    int dims[MODEL_MAX_LINEAR + 1];    /* dims[l] -> dims[l+1] */
    int act_after[MODEL_MAX_LINEAR];   /* 1: the activation follows layer l */
    int skip_src[MODEL_MAX_LINEAR];    /* >= 0: layer l's output adds act[skip_src[l]] */
    int nskip;                         /* residual blocks in all */
    size_t w_off[MODEL_MAX_LINEAR];    /* offset of W_l in the arena */
    size_t b_off[MODEL_MAX_LINEAR];    /* offset of b_l in the arena */
    size_t nparams;                    /* arena length in floats */
    float *params;                     /* [nparams] */
    float *grads;                      /* [nparams] d loss / d params */
    float *adam_m;                     /* [nparams] first moment */
    float *adam_v;                     /* [nparams] second moment */
    long adam_t;                       /* Adam steps taken */
    float *block_;                     /* the single allocation behind the four arenas */
} model_t;

/* Which kernel trains a model (the table of operations in kernel.h).
 * MODEL_KERNEL_FAST (the default) is a policy, not a kernel: per model it
 * picks the fused rows-in-lanes step with the tiled forward/backward
 * (kernel_lanes.c, kernel_fast.c) for the narrow plain ReLU MLP on AVX-512 and
 * AVX2 builds (the tiled kernel alone elsewhere), the GEMM path
 * (kernel_gemm.c) for any model with a layer >= MODEL_WIDE_WIDTH wide, and the
 * BLAS path for the other narrow models (residual, tanh, ELU).  The others
 * force one kernel (for A/B timing and tests): TILED kernel_fast.c without
 * the fused step, LANES the fused step whatever the width or the build, GEMM
 * the GEMM path, BLAS the layer path on OpenBLAS, REF plain C.  TILED and
 * LANES run the plain ReLU MLP only (others: the BLAS path).  Every kernel
 * fills every ws->act[l] row-major in its forward, so any backward can
 * follow any forward. */
enum model_kernel {
    MODEL_KERNEL_FAST = 0,
    MODEL_KERNEL_BLAS = 1,
    MODEL_KERNEL_REF = 2,
    MODEL_KERNEL_TILED = 3,
    MODEL_KERNEL_LANES = 4,
    MODEL_KERNEL_GEMM = 5
};

/* The kernel's run-time options, chosen once per process at the command line
 * (options.h) and handed to every workspace.  Zero-initialised (or a NULL
 * pointer where one is taken) means the defaults. */
typedef struct {
    int kernel;      /* enum model_kernel (AESWEEP_KERNEL) */
    int gemm_packed; /* 1: the GEMM path's products on the packed AVX-512 micro-kernel
                      * of kernel_gemm.c (AESWEEP_GEMM=packed; AVX-512 builds) */
    int no_tail;     /* 1: the tiled kernel's packed-tail micro-kernels off (same bits) */
    int keep_dead;   /* 1: the fused step computes ReLU units dead on a whole tile (same bits) */
} model_opts_t;

struct kernel_ops; /* kernel.h */

/* Workspace for up to `rows` rows at once, for one kernel chosen at creation.
 * act[l] is the output of layer l-1 ([rows][dims[l]]); act[0] is unused (the
 * input is passed by pointer). */
typedef struct {
    int rows;
    float *act[MODEL_MAX_LINEAR + 1];
    float *dbuf[3]; /* gradient buffers [rows][max dim]; the third only with skips */
    const struct kernel_ops *kernel; /* the kernel that runs this workspace */
    void *scratch;  /* the kernel's own scratch (opaque; NULL if it has none) */
    /* The last fused step's hidden ReLU units, counted once per tile, and how
     * many of those it skipped as zero on every row of their tile (0, 0 for
     * kernels without the skip). */
    long units, dead;
    float *block_;
} model_ws_t;

/* Returns 0 and fills *err (static string) on a bad architecture. */
int model_arch_check(const model_arch_t *a, const char **err);
size_t model_param_count(const model_arch_t *a);
/* Multiply-adds per row for one forward pass. */
double model_macs_per_row(const model_arch_t *a);

/* Create a model (arenas zeroed). NULL on bad arch or out of memory. */
model_t *model_create(const model_arch_t *a);
void model_free(model_t *m); /* model_free(NULL) is harmless */
/* PyTorch nn.Linear default init: W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * drawn from the stream `key` layer by layer, W row-major then b. Resets Adam. */
void model_init(model_t *m, uint64_t key);
void model_reset_adam(model_t *m);
int model_relu_after(const model_t *m, int l); /* the activation follows layer l? */
/* 1 for the reference study's network (MLP with ReLU), the only one the
 * fast, tiled and fused kernels handle; the others train on the BLAS path. */
int model_plain_relu(const model_t *m);
/* 1 when some layer has >= MODEL_WIDE_WIDTH units: the default kernel then
 * uses the wide-layer path (kernel_gemm.h). */
int model_wide(const model_t *m);
/* Encoder widths E of an architecture (see above) into e[MODEL_MAX_ENC];
 * returns k = |E|. */
int model_encoder_widths(const model_arch_t *a, int *e);
/* "in-512-256-32 resnet tanh"-style description into buf. */
void model_arch_describe(const model_arch_t *a, char *buf, size_t len);

/* A workspace for up to `rows` rows, for the kernel `o` selects for m
 * (o = NULL: the defaults); the kernel's scratch is allocated here, once.
 * NULL on rows < 1 or out of memory. */
model_ws_t *model_ws_create(const model_t *m, int rows, const model_opts_t *o);
/* Bytes model_ws_create allocates for a model of this shape and `rows`
 * rows (activations, gradients and the kernel's scratch), without
 * allocating anything: for memory estimates before any work. */
double model_ws_bytes(const model_arch_t *a, double rows, const model_opts_t *o);
void model_ws_free(model_ws_t *ws);
/* The name of the kernel a workspace runs: "lanes", "tiled", "gemm",
 * "gemm-packed", "blas" or "ref" (kernel.h). */
const char *model_ws_kernel_name(const model_ws_t *ws);

/* enum model_kernel from its name (fast, tiled, lanes, gemm, blas, ref); -1 if unknown. */
int model_kernel_parse(const char *name);
const char *model_kernel_name(int kernel);
/* SIMD flavour of the fast kernel in this build: "avx512", "avx2" or "generic". */
const char *model_fast_isa(void);

/* Forward pass of n <= ws->rows rows of X ([n][in]).  Output reconstruction
 * in ws->act[nlin], codes in ws->act[code_layer + 1], every other layer's
 * output in its act[l] too. */
void model_forward(const model_t *m, model_ws_t *ws, const float *X, int n);
/* Mean squared error between the reconstruction in ws and X, over n*in elements. */
double model_mse(const model_t *m, const model_ws_t *ws, const float *X, int n);
/* Backward pass after model_forward on the same X, for loss
 * scale * MSE(X_hat, X) (+ a code gradient dcode [n][bottleneck] if non-NULL,
 * added as is).  Overwrites m->grads. */
void model_backward(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                    const float *dcode);
/* Forward, loss and backward in one call for loss scale * MSE(X_hat, X)
 * over n <= ws->rows rows of X: overwrites m->grads, returns the MSE.  A
 * kernel with a fused step (the lanes kernel, kernel_lanes.h) runs it as
 * one pass and leaves ws->act unwritten; otherwise it is model_forward,
 * model_mse and model_backward. */
double model_mse_grad(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale);
/* One Adam step (PyTorch semantics) on the whole arena. */
void model_adam_step(model_t *m, float lr, float beta1, float beta2, float eps);

/* Chunked evaluation: MSE of the model on n rows of X, using ws in chunks. */
double model_eval_mse(const model_t *m, model_ws_t *ws, const float *X, size_t n);
/* Encode / reconstruct n rows in chunks; codes [n][bottleneck], recon [n][in]
 * (either may be NULL). */
void model_apply(const model_t *m, model_ws_t *ws, const float *X, size_t n, float *codes,
                 float *recon);
/* Decode n codes ([n][bottleneck]) into out ([n][in]) with the decoder half. */
void model_decode(const model_t *m, model_ws_t *ws, const float *Z, size_t n, float *out);

#endif
