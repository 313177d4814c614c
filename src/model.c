/* model.c - the model: layout, arenas, initialisation, workspaces, the
 * choice of kernel, the loss, Adam and the chunked helpers.  The forward and
 * backward passes are the kernels' (kernel.h): model.c picks one table of
 * operations per workspace and calls through it; no kernel calls back here.
 *
 * Conventions: row-major throughout; a layer computes Y = A W^T + b with
 * A [n][in], W [out][in], Y [n][out].  Backward, with D = dL/dZ [n][out]
 * (Z the pre-activation), is the usual pair
 *     dW = D^T A   [out][in]      db = sum_rows D      dA = D W   [n][in].
 */
#include "aesweep/model.h"
#include "aesweep/kernel.h"
#include "aesweep/kernel_fast.h"
#include "aesweep/kernel_gemm.h"
#include "aesweep/kernel_lanes.h"
#include "aesweep/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int model_arch_check(const model_arch_t *a, const char **err)
{
    if (a->in < 1) { *err = "input dimension must be >= 1"; return 0; }
    if (a->nwidths < 0 || a->nwidths > MODEL_MAX_WIDTHS) { *err = "at most 16 hidden widths"; return 0; }
    if (a->nwidths == 0 && a->hidden < 1) { *err = "hidden must be >= 1"; return 0; }
    for (int i = 0; i < a->nwidths; i++)
        if (a->widths[i] < 1) { *err = "hidden widths must be >= 1"; return 0; }
    if (a->bottleneck < 1) { *err = "bottleneck must be >= 1"; return 0; }
    if (a->layers < 0 || a->layers > MODEL_MAX_DEPTH) {
        *err = "layers must be in 0..32";
        return 0;
    }
    int big = a->in > 1000000 || a->hidden > 1000000 || a->bottleneck > 1000000;
    for (int i = 0; i < a->nwidths; i++) big |= a->widths[i] > 1000000;
    if (big) {
        *err = "layer width above 1,000,000";
        return 0;
    }
    if (a->kind != MODEL_MLP && a->kind != MODEL_RESNET) { *err = "arch must be mlp or resnet"; return 0; }
    if (a->act < MODEL_RELU || a->act > MODEL_ELU) { *err = "activation must be relu, tanh or elu"; return 0; }
    return 1;
}

int model_encoder_widths(const model_arch_t *a, int *e)
{
    int k = 0;
    if (a->nwidths > 0)
        for (int i = 0; i < a->nwidths && i < MODEL_MAX_WIDTHS; i++) e[k++] = a->widths[i];
    else
        e[k++] = a->hidden;
    int last = e[k - 1];
    for (int i = 0; i < a->layers && k < MODEL_MAX_ENC; i++) e[k++] = last;
    return k;
}

void model_arch_describe(const model_arch_t *a, char *buf, size_t len)
{
    int e[MODEL_MAX_ENC], k = model_encoder_widths(a, e);
    size_t n = (size_t)snprintf(buf, len, "%d", a->in);
    for (int i = 0; i < k && n < len; i++) n += (size_t)snprintf(buf + n, len - n, "-%d", e[i]);
    if (n < len) n += (size_t)snprintf(buf + n, len - n, "-%d", a->bottleneck);
    if (n < len && a->kind == MODEL_RESNET) n += (size_t)snprintf(buf + n, len - n, " resnet");
    if (n < len && a->act != MODEL_RELU)
        snprintf(buf + n, len - n, " %s", a->act == MODEL_TANH ? "tanh" : "elu");
}

/* The layer list of an architecture (model.h): dims, activations, skips.
 * Fills the shape fields of m (nlin, code_layer, dims, act_after, skip_src,
 * nskip); returns nlin. */
static int fill_layout(const model_arch_t *a, model_t *m)
{
    int e[MODEL_MAX_ENC], k = model_encoder_widths(a, e), L = 0;
    int res = a->kind == MODEL_RESNET;
    m->dims[0] = a->in;
    m->nskip = 0;
    /* LIN(w, act): one linear layer dims[L] -> w, the activation after it or not */
#define LIN(w, act) (m->act_after[L] = (act), m->skip_src[L] = -1, m->dims[++L] = (w))
    /* a transition between hidden widths: the residual block
     * h + W2 act(W1 h + b1) + b2 between equal widths, else Linear act */
#define STEP(from, to)                                                   \
    do {                                                                 \
        if (res && (from) == (to)) {                                     \
            LIN(to, 1);                                                  \
            LIN(to, 0);                                                  \
            m->skip_src[L - 1] = L - 2;                                  \
            m->nskip++;                                                  \
        } else                                                           \
            LIN(to, 1);                                                  \
    } while (0)
    LIN(e[0], 1);
    for (int i = 1; i < k; i++) STEP(e[i - 1], e[i]);
    m->code_layer = L;
    LIN(a->bottleneck, 0);
    LIN(e[k - 1], 1);
    for (int i = k - 1; i >= 1; i--) STEP(e[i], e[i - 1]);
    LIN(a->in, 0);
#undef STEP
#undef LIN
    m->nlin = L;
    return L;
}

static int fill_dims(const model_arch_t *a, int *dims)
{
    model_t t; /* the shape only (~4 KB) */
    int L = fill_layout(a, &t);
    memcpy(dims, t.dims, (size_t)(L + 1) * sizeof(int));
    return L;
}

size_t model_param_count(const model_arch_t *a)
{
    int dims[MODEL_MAX_LINEAR + 1];
    int L = fill_dims(a, dims);
    size_t n = 0;
    for (int l = 0; l < L; l++) n += (size_t)dims[l + 1] * dims[l] + dims[l + 1];
    return n;
}

double model_macs_per_row(const model_arch_t *a)
{
    int dims[MODEL_MAX_LINEAR + 1];
    int L = fill_dims(a, dims);
    double s = 0;
    for (int l = 0; l < L; l++) s += (double)dims[l] * dims[l + 1];
    return s;
}

model_t *model_create(const model_arch_t *a)
{
    const char *err;
    if (!model_arch_check(a, &err)) return NULL;
    model_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->arch = *a;
    fill_layout(a, m);
    size_t off = 0;
    for (int l = 0; l < m->nlin; l++) {
        m->w_off[l] = off;
        off += (size_t)m->dims[l + 1] * m->dims[l];
        m->b_off[l] = off;
        off += m->dims[l + 1];
    }
    m->nparams = off;
    m->block_ = calloc(4 * off, sizeof(float));
    if (!m->block_) { free(m); return NULL; }
    m->params = m->block_;
    m->grads = m->block_ + off;
    m->adam_m = m->block_ + 2 * off;
    m->adam_v = m->block_ + 3 * off;
    return m;
}

void model_free(model_t *m)
{
    if (!m) return;
    free(m->block_);
    free(m);
}

void model_reset_adam(model_t *m)
{
    memset(m->adam_m, 0, m->nparams * sizeof(float));
    memset(m->adam_v, 0, m->nparams * sizeof(float));
    m->adam_t = 0;
}

void model_init(model_t *m, uint64_t key)
{
    /* nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) on W gives
     * bound = gain*sqrt(3/fan_in) with gain = sqrt(2/(1+5)), i.e. exactly
     * 1/sqrt(fan_in); the bias uses the same bound. */
    rng_t r = rng_stream(key);
    for (int l = 0; l < m->nlin; l++) {
        float bound = (float)(1.0 / sqrt((double)m->dims[l]));
        size_t nw = (size_t)m->dims[l + 1] * m->dims[l];
        float *w = m->params + m->w_off[l], *b = m->params + m->b_off[l];
        for (size_t i = 0; i < nw; i++) w[i] = bound * (2.0f * rng_uniform_f(&r) - 1.0f);
        for (int i = 0; i < m->dims[l + 1]; i++) b[i] = bound * (2.0f * rng_uniform_f(&r) - 1.0f);
    }
    memset(m->grads, 0, m->nparams * sizeof(float));
    model_reset_adam(m);
}

int model_relu_after(const model_t *m, int l)
{
    return m->act_after[l];
}

int model_plain_relu(const model_t *m)
{
    return m->nskip == 0 && m->arch.act == MODEL_RELU;
}

int model_wide(const model_t *m)
{
    for (int l = 0; l <= m->nlin; l++)
        if (m->dims[l] >= MODEL_WIDE_WIDTH) return 1;
    return 0;
}

/* ---- kernel selection ----------------------------------------------------- */

static const char *const kernel_names[] = {"fast", "blas", "ref", "tiled", "lanes", "gemm"};

const char *model_kernel_name(int k)
{
    return k >= 0 && k < (int)(sizeof kernel_names / sizeof kernel_names[0]) ? kernel_names[k] : "fast";
}

int model_kernel_parse(const char *name)
{
    for (int k = 0; k < (int)(sizeof kernel_names / sizeof kernel_names[0]); k++)
        if (!strcmp(name, kernel_names[k])) return k;
    return -1;
}

const char *model_fast_isa(void) { return kfast_isa(); }

/* The kernel that trains model m under options o (model.h, enum
 * model_kernel): the default hands wide models to the GEMM path, which wins
 * there, and narrow plain ReLU MLPs to the fused step where this build's
 * beats the tiled kernel (klanes_preferred: AVX-512, AVX2), else to the
 * tiled kernel (bench/README.md "Which kernel").  The tiled and fused
 * kernels handle the plain ReLU MLP only; other narrow models run on the
 * BLAS path.  Why the fused step is not for wide layers: its scratch holds
 * every weight gradient once per vector lane (16 copies of the arena with
 * AVX-512), small for the narrow shapes it is for, large for wide ones. */
static const kernel_ops_t *kernel_select(const model_t *m, const model_opts_t *o)
{
    const kernel_ops_t *gemm = o->gemm_packed && kgemm_packed_available() ? &kernel_gemm_packed : &kernel_gemm;
    switch (o->kernel) {
    case MODEL_KERNEL_REF: return &kernel_ref;
    case MODEL_KERNEL_BLAS: return &kernel_blas;
    case MODEL_KERNEL_GEMM: return gemm;
    case MODEL_KERNEL_TILED: return model_plain_relu(m) ? &kernel_tiled : &kernel_blas;
    case MODEL_KERNEL_LANES: return model_plain_relu(m) ? &kernel_lanes : &kernel_blas;
    default:
        if (model_wide(m)) return gemm;
        if (!model_plain_relu(m)) return &kernel_blas;
        return klanes_preferred() ? &kernel_lanes : &kernel_tiled;
    }
}

const char *model_ws_kernel_name(const model_ws_t *ws) { return ws->kernel->name; }

/* ---- workspaces --------------------------------------------------------------- */

static int max_dim(const model_t *m)
{
    int d = 0;
    for (int l = 0; l <= m->nlin; l++)
        if (m->dims[l] > d) d = m->dims[l];
    return d;
}

/* Floats per row of a workspace's block_: every layer's output and the two
 * gradient buffers (three with residual blocks). */
static size_t ws_floats_per_row(const model_t *m)
{
    size_t f = (m->nskip ? 3 : 2) * (size_t)max_dim(m);
    for (int l = 1; l <= m->nlin; l++) f += (size_t)m->dims[l];
    return f;
}

static const model_opts_t default_opts; /* zero: the defaults */

/* bytes of the kernel's scratch, rounded up to 64-byte lines (aligned_alloc) */
static size_t scratch_bytes(const kernel_ops_t *k, const model_t *m, int rows, const model_opts_t *o)
{
    size_t b = k->ws_bytes ? k->ws_bytes(m, rows, o) : 0;
    return (b + 63) / 64 * 64;
}

double model_ws_bytes(const model_arch_t *a, double rows, const model_opts_t *o)
{
    model_t shape, *m = &shape; /* the shape only: no arena */
    memset(m, 0, sizeof *m);
    m->arch = *a;
    fill_layout(a, m);
    if (!o) o = &default_opts;
    /* the scratch grows with rows at most up to one tile (the fused step) */
    int r = rows < 1048576 ? (int)rows : 1048576;
    return 4.0 * (rows * (double)ws_floats_per_row(m)) + 64.0 +
           (double)scratch_bytes(kernel_select(m, o), m, r < 1 ? 1 : r, o);
}

model_ws_t *model_ws_create(const model_t *m, int rows, const model_opts_t *o)
{
    if (rows < 1) return NULL;
    if (!o) o = &default_opts;
    model_ws_t *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    size_t tot = (size_t)rows * ws_floats_per_row(m);
    ws->block_ = malloc(tot * sizeof(float));
    if (!ws->block_) { free(ws); return NULL; }
    ws->rows = rows;
    float *p = ws->block_;
    for (int l = 1; l <= m->nlin; l++) {
        ws->act[l] = p;
        p += (size_t)rows * m->dims[l];
    }
    ws->dbuf[0] = p;
    p += (size_t)rows * max_dim(m);
    ws->dbuf[1] = p;
    if (m->nskip) {
        p += (size_t)rows * max_dim(m);
        ws->dbuf[2] = p;
    }
    /* the kernel's own scratch, zeroed (padding stays zero), 64-byte aligned
     * (a cache line; no kernel's arithmetic depends on it) */
    ws->kernel = kernel_select(m, o);
    size_t sb = scratch_bytes(ws->kernel, m, rows, o);
    if (sb) {
        ws->scratch = aligned_alloc(64, sb);
        if (!ws->scratch) {
            model_ws_free(ws);
            return NULL;
        }
        memset(ws->scratch, 0, sb);
        if (ws->kernel->ws_init) ws->kernel->ws_init(m, rows, o, ws->scratch);
    }
    return ws;
}

void model_ws_free(model_ws_t *ws)
{
    if (!ws) return;
    free(ws->block_);
    free(ws->scratch);
    free(ws);
}

/* ---- forward, loss, backward ----------------------------------------------- */

void model_forward(const model_t *m, model_ws_t *ws, const float *X, int n)
{
    ws->kernel->forward(m, ws, ws->scratch, X, n, 0, m->nlin);
}

double model_mse(const model_t *m, const model_ws_t *ws, const float *X, int n)
{
    const float *Y = ws->act[m->nlin];
    size_t k = (size_t)n * m->arch.in;
    double s = 0.0;
    for (size_t i = 0; i < k; i++) {
        double d = (double)Y[i] - (double)X[i];
        s += d * d;
    }
    return s / (double)k;
}

void model_backward(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                    const float *dcode)
{
    ws->kernel->backward(m, ws, ws->scratch, X, n, mse_scale, dcode);
}

double model_mse_grad(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale)
{
    if (ws->kernel->step) return ws->kernel->step(m, ws, ws->scratch, X, n, mse_scale);
    model_forward(m, ws, X, n);
    double mse = model_mse(m, ws, X, n);
    model_backward(m, ws, X, n, mse_scale, NULL);
    return mse;
}

/* Vectorised by the compiler: model.c is built with -fno-math-errno
 * (CMakeLists.txt), as sqrtf here never sees a negative argument; vsqrtps
 * and vdivps are correctly rounded like their scalar forms. */
void model_adam_step(model_t *m, float lr, float beta1, float beta2, float eps)
{
    /* torch.optim.Adam (foreach=False), per element:
     *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
     *   p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)   */
    m->adam_t++;
    double bc1 = 1.0 - pow((double)beta1, (double)m->adam_t);
    double bc2 = 1.0 - pow((double)beta2, (double)m->adam_t);
    float step = (float)(lr / bc1);
    float bc2s = (float)sqrt(bc2);
    float *restrict p = m->params, *restrict mm = m->adam_m, *restrict vv = m->adam_v;
    const float *restrict g = m->grads;
    size_t n = m->nparams;
    for (size_t i = 0; i < n; i++) {
        mm[i] = beta1 * mm[i] + (1.0f - beta1) * g[i];
        vv[i] = beta2 * vv[i] + (1.0f - beta2) * g[i] * g[i];
        float denom = sqrtf(vv[i]) / bc2s + eps;
        p[i] -= step * (mm[i] / denom);
    }
}

/* ---- chunked helpers ---------------------------------------------------- */

double model_eval_mse(const model_t *m, model_ws_t *ws, const float *X, size_t n)
{
    double s = 0.0;
    int d = m->arch.in;
    for (size_t i = 0; i < n; i += (size_t)ws->rows) {
        int c = (int)((n - i) < (size_t)ws->rows ? (n - i) : (size_t)ws->rows);
        model_forward(m, ws, X + i * d, c);
        s += model_mse(m, ws, X + i * d, c) * (double)c;
    }
    return n ? s / (double)n : NAN;
}

void model_apply(const model_t *m, model_ws_t *ws, const float *X, size_t n, float *codes,
                 float *recon)
{
    int d = m->arch.in, b = m->arch.bottleneck;
    for (size_t i = 0; i < n; i += (size_t)ws->rows) {
        int c = (int)((n - i) < (size_t)ws->rows ? (n - i) : (size_t)ws->rows);
        model_forward(m, ws, X + i * d, c);
        if (codes) memcpy(codes + i * b, ws->act[m->code_layer + 1], (size_t)c * b * sizeof(float));
        if (recon) memcpy(recon + i * d, ws->act[m->nlin], (size_t)c * d * sizeof(float));
    }
}

void model_decode(const model_t *m, model_ws_t *ws, const float *Z, size_t n, float *out)
{
    int d = m->arch.in, b = m->arch.bottleneck;
    for (size_t i = 0; i < n; i += (size_t)ws->rows) {
        int c = (int)((n - i) < (size_t)ws->rows ? (n - i) : (size_t)ws->rows);
        /* the decoder half: layers code_layer + 1 .. nlin - 1 on the codes */
        ws->kernel->forward(m, ws, ws->scratch, Z + i * b, c, m->code_layer + 1, m->nlin);
        memcpy(out + i * d, ws->act[m->nlin], (size_t)c * d * sizeof(float));
    }
}
