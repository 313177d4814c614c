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

/* Workspace for up to `rows` rows at once. act[l] is the output of layer
 * l-1 ([rows][dims[l]]); act[0] is unused (the input is passed by pointer). */
typedef struct {
    int rows;
    float *act[MODEL_MAX_LINEAR + 1];
    float *dbuf[3]; /* gradient buffers [rows][max dim]; the third only with skips */
    float *block_;
    /* Fast-kernel scratch (kernel_fast.h), one aligned block: padded copies
     * of W_l [out][pad(in)] and W_l^T [in][pad(out)], the bias [pad(out)] and
     * the bias-gradient accumulator [pad(out)], and the packed 4-row tails of
     * W^T and W ([in][16], [out][16]).  pad() rounds up to the build's
     * vector width. */
    float *fast_;
    float *kf_w[MODEL_MAX_LINEAR];
    float *kf_wt[MODEL_MAX_LINEAR];
    float *kf_b[MODEL_MAX_LINEAR];
    float *kf_db[MODEL_MAX_LINEAR];
    float *kf_tf[MODEL_MAX_LINEAR];
    float *kf_tb[MODEL_MAX_LINEAR];
    /* Fused-step scratch (kernel_lanes.h): one tile of kl_T rows held
     * feature-major, and the per-lane gradient partial sums. */
    float *kl_;
    int kl_T;
    /* Wide-layer path scratch (kernel_gemm.h): the packed blocks. */
    float *gemm_;
    /* The last fused step's hidden (ReLU) units, counted once per tile, and
     * how many of those it skipped as zero on every row of their tile. */
    long kl_units, kl_dead;
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

model_ws_t *model_ws_create(const model_t *m, int rows);
/* Bytes model_ws_create allocates for a model of this shape and `rows`
 * rows (all three blocks), without allocating anything: for memory
 * estimates before any work. */
double model_ws_bytes(const model_arch_t *a, double rows);
void model_ws_free(model_ws_t *ws);

/* Which kernel model_forward / model_backward (and the chunked helpers)
 * use.  MODEL_KERNEL_FAST (the default) is the tiled SIMD kernel of
 * kernel_fast.c; MODEL_KERNEL_BLAS one OpenBLAS sgemm per layer; MODEL_KERNEL_REF
 * the plain-C reference.  Process-wide, for benchmarks and tests; the
 * environment variable AESWEEP_KERNEL=fast|tiled|blas|ref|lanes sets the
 * initial choice.  MODEL_KERNEL_TILED is FAST without the fused training step
 * of model_mse_grad (for A/B timing).  FAST runs a wide model (model_wide)
 * on the wide-layer path (GEMM: one kgemm per product, bias, ReLU and the
 * ReLU' mask fused; AESWEEP_KERNEL=gemm forces it for every model); LANES is
 * FAST without that switch.  Models other than the
 * plain ReLU MLP run on the BLAS path under FAST, TILED and LANES.  Every
 * kernel fills every ws->act[l] row-major, so any backward can follow any
 * forward. */
enum model_kernel {
    MODEL_KERNEL_FAST = 0,
    MODEL_KERNEL_BLAS = 1,
    MODEL_KERNEL_REF = 2,
    MODEL_KERNEL_TILED = 3,
    MODEL_KERNEL_LANES = 4, /* FAST without the wide-layer switch (A/B timing) */
    MODEL_KERNEL_GEMM = 5   /* the wide-layer path (kernel_gemm.h) for every model */
};
void model_set_kernel(int kernel);
int model_get_kernel(void);
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
 * over n <= ws->rows rows of X: overwrites m->grads, returns the MSE.  The
 * fast kernel of an AVX-512 or AVX2 build runs it as one fused
 * rows-in-lanes pass (kernel_lanes.h) and leaves ws->act unwritten;
 * otherwise it is model_forward, model_mse and model_backward. */
double model_mse_grad(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale);
/* The fused step itself, whatever the selected kernel (for tests). */
double model_mse_grad_lanes(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale);
/* One Adam step (PyTorch semantics) on the whole arena. */
void model_adam_step(model_t *m, float lr, float beta1, float beta2, float eps);

/* The kernels behind model_forward / model_backward, callable directly:
 * _fast the tiled SIMD kernel (kernel_fast.h), _blas one sgemm per layer,
 * _gemm one kgemm per product with fused epilogues (kernel_gemm.h),
 * _ref plain C with double accumulation.  The tests hold the others to _ref.
 * Results of _fast depend only on the build, the architecture and n (not on
 * buffer alignment, the caller, the rank or the thread). */
void model_forward_fast(const model_t *m, model_ws_t *ws, const float *X, int n);
void model_backward_fast(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                         const float *dcode);
void model_forward_blas(const model_t *m, model_ws_t *ws, const float *X, int n);
void model_backward_blas(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                         const float *dcode);
void model_forward_gemm(const model_t *m, model_ws_t *ws, const float *X, int n);
void model_backward_gemm(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                         const float *dcode);
void model_forward_ref(const model_t *m, model_ws_t *ws, const float *X, int n);
void model_backward_ref(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                        const float *dcode);

/* Chunked evaluation: MSE of the model on n rows of X, using ws in chunks. */
double model_eval_mse(const model_t *m, model_ws_t *ws, const float *X, size_t n);
/* Encode / reconstruct n rows in chunks; codes [n][bottleneck], recon [n][in]
 * (either may be NULL). */
void model_apply(const model_t *m, model_ws_t *ws, const float *X, size_t n, float *codes,
                 float *recon);
/* Decode n codes ([n][bottleneck]) into out ([n][in]) with the decoder half. */
void model_decode(const model_t *m, model_ws_t *ws, const float *Z, size_t n, float *out);

#endif
