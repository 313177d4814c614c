/* model.c - arenas, initialisation, forward/backward (fast SIMD, OpenBLAS and
 * plain C), Adam.  The fast kernel itself is in kernel_fast.c.
 *
 * Conventions: row-major throughout; a layer computes Y = A W^T + b with
 * A [n][in], W [out][in], Y [n][out].  Backward, with D = dL/dZ [n][out]
 * (Z the pre-activation), is the usual pair
 *     dW = D^T A   [out][in]      db = sum_rows D      dA = D W   [n][in].
 */
#include "aesweep/model.h"
#include "aesweep/kernel_fast.h"
#include "aesweep/kernel_gemm.h"
#include "aesweep/kernel_lanes.h"
#include "aesweep/rng.h"
#include <cblas.h>
#include <math.h>
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

/* The fused step's scratch is allocated only where model_mse_grad can use
 * it: it holds every weight gradient once per vector lane (16 copies of the
 * arena with AVX-512), which is small for the narrow shapes it is for and
 * large for wide layers, where the BLAS path trains. */
static int ws_wants_lanes(const model_t *m)
{
    return model_plain_relu(m) && (!model_wide(m) || model_get_kernel() == MODEL_KERNEL_LANES);
}

static int max_dim(const model_t *m)
{
    int d = 0;
    for (int l = 0; l <= m->nlin; l++)
        if (m->dims[l] > d) d = m->dims[l];
    return d;
}

/* Floats per row of a workspace's block_: every layer's output and the two
 * gradient buffers. */
static size_t ws_floats_per_row(const model_t *m)
{
    size_t f = (m->nskip ? 3 : 2) * (size_t)max_dim(m);
    for (int l = 1; l <= m->nlin; l++) f += (size_t)m->dims[l];
    return f;
}

double model_ws_bytes(const model_arch_t *a, double rows)
{
    model_t shape, *m = &shape; /* the shape only: no arena */
    memset(m, 0, sizeof *m);
    m->arch = *a;
    fill_layout(a, m);
    double f = rows * (double)ws_floats_per_row(m) + 16 + (double)kgemm_pack_floats();
    if (model_plain_relu(m)) f += (double)kfast_ws_floats(m);
    /* the fused step's scratch grows with rows only up to one tile */
    if (ws_wants_lanes(m)) f += (double)klanes_ws_floats(m, rows < 1048576 ? (int)rows : 1048576);
    return 4.0 * f;
}

model_ws_t *model_ws_create(const model_t *m, int rows)
{
    if (rows < 1) return NULL;
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
    /* the wide-layer path's packing blocks (~1.1 MB), for any model: the
     * kernel can be switched to it at run time (AESWEEP_KERNEL=gemm) */
    ws->gemm_ = aligned_alloc(64, kgemm_pack_floats() * sizeof(float));
    if (!ws->gemm_) {
        model_ws_free(ws);
        return NULL;
    }
    if (!model_plain_relu(m)) return ws; /* only the BLAS, GEMM and reference paths run it */
    /* 64-byte aligned so the padded weight rows start on a cache line; the
     * kernel's arithmetic does not depend on it (unaligned loads throughout). */
    size_t nf = kfast_ws_floats(m);
    size_t bytes = (nf * sizeof(float) + 63) / 64 * 64;
    ws->fast_ = aligned_alloc(64, bytes ? bytes : 64);
    if (!ws->fast_) {
        free(ws->block_);
        free(ws);
        return NULL;
    }
    memset(ws->fast_, 0, bytes);
    kfast_ws_init(m, ws);
    if (!ws_wants_lanes(m)) return ws;
    ws->kl_T = klanes_tile_rows(m, rows);
    ws->kl_ = aligned_alloc(64, klanes_ws_floats(m, rows) * sizeof(float));
    if (!ws->kl_) {
        model_ws_free(ws);
        return NULL;
    }
    return ws;
}

void model_ws_free(model_ws_t *ws)
{
    if (!ws) return;
    free(ws->block_);
    free(ws->fast_);
    free(ws->kl_);
    free(ws->gemm_);
    free(ws);
}

/* ---- kernel selection ----------------------------------------------------- */

static int g_kernel = -1; /* -1: not yet read from AESWEEP_KERNEL */

const char *model_kernel_name(int k)
{
    return k == MODEL_KERNEL_BLAS    ? "blas"
           : k == MODEL_KERNEL_REF   ? "ref"
           : k == MODEL_KERNEL_TILED ? "tiled"
           : k == MODEL_KERNEL_LANES ? "lanes"
           : k == MODEL_KERNEL_GEMM  ? "gemm"
                                     : "fast";
}

void model_set_kernel(int k)
{
    g_kernel = (k == MODEL_KERNEL_BLAS || k == MODEL_KERNEL_REF || k == MODEL_KERNEL_TILED ||
                k == MODEL_KERNEL_LANES || k == MODEL_KERNEL_GEMM)
                   ? k
                   : MODEL_KERNEL_FAST;
}

int model_get_kernel(void)
{
    if (g_kernel < 0) {
        const char *e = getenv("AESWEEP_KERNEL");
        g_kernel = MODEL_KERNEL_FAST;
        if (e && !strcmp(e, "blas")) g_kernel = MODEL_KERNEL_BLAS;
        else if (e && !strcmp(e, "ref")) g_kernel = MODEL_KERNEL_REF;
        else if (e && !strcmp(e, "tiled")) g_kernel = MODEL_KERNEL_TILED;
        else if (e && !strcmp(e, "lanes")) g_kernel = MODEL_KERNEL_LANES;
        else if (e && !strcmp(e, "gemm")) g_kernel = MODEL_KERNEL_GEMM;
    }
    return g_kernel;
}

/* The kernel that runs model m: the selected one, except that the default
 * (FAST) hands wide models to the wide-layer path, which wins there
 * (bench/README.md), and that the fast, tiled and fused kernels handle the
 * plain ReLU MLP only (others narrow: the BLAS path). */
static int kernel_for(const model_t *m)
{
    int k = model_get_kernel();
    if (k == MODEL_KERNEL_BLAS || k == MODEL_KERNEL_REF || k == MODEL_KERNEL_GEMM) return k;
    if (k == MODEL_KERNEL_FAST && model_wide(m)) return MODEL_KERNEL_GEMM;
    if (!model_plain_relu(m)) return MODEL_KERNEL_BLAS;
    return k == MODEL_KERNEL_LANES ? MODEL_KERNEL_FAST : k;
}

const char *model_fast_isa(void) { return kfast_isa(); }

/* ---- activations -------------------------------------------------------- */

/* Y = act(Y) in place over k elements: ReLU max(0, y) (NaN -> 0, as the
 * BLAS path always did), tanh, ELU (alpha = 1) y > 0 ? y : e^y - 1. */
static void act_forward(int act, float *Y, size_t k)
{
    switch (act) {
    case MODEL_TANH:
        for (size_t i = 0; i < k; i++) Y[i] = tanhf(Y[i]);
        break;
    case MODEL_ELU:
        for (size_t i = 0; i < k; i++) Y[i] = Y[i] > 0.0f ? Y[i] : expm1f(Y[i]);
        break;
    default:
        for (size_t i = 0; i < k; i++) Y[i] = Y[i] > 0.0f ? Y[i] : 0.0f;
    }
}

/* dZ = dY * act'(Z) in place, from the activation's output Y = act(Z):
 *   ReLU 1[Y > 0];  tanh 1 - Y^2;  ELU Y > 0 ? 1 : Y + 1 (= e^Z there). */
static void act_backward(int act, const float *Y, float *D, size_t k)
{
    switch (act) {
    case MODEL_TANH:
        for (size_t i = 0; i < k; i++) D[i] = D[i] * (1.0f - Y[i] * Y[i]);
        break;
    case MODEL_ELU:
        for (size_t i = 0; i < k; i++) D[i] = Y[i] > 0.0f ? D[i] : D[i] * (Y[i] + 1.0f);
        break;
    default:
        for (size_t i = 0; i < k; i++) D[i] = Y[i] > 0.0f ? D[i] : 0.0f;
    }
}

/* The input of layer l when a pass started at layer l0 on X. */
static inline const float *layer_input(const model_ws_t *ws, const float *X, int l, int l0)
{
    return l == l0 ? X : ws->act[l];
}

/* A gradient buffer that is neither a nor b. */
static float *free_dbuf(model_ws_t *ws, const float *a, const float *b)
{
    for (int i = 0; i < 3; i++)
        if (ws->dbuf[i] && ws->dbuf[i] != a && ws->dbuf[i] != b) return ws->dbuf[i];
    return NULL; /* not reached: three buffers whenever a skip is pending */
}

static void forward_gemm(const model_t *m, model_ws_t *ws, const float *X, int n, int l0, int l1);

/* ---- fast path (kernel_fast.c) -------------------------------------------- */

void model_forward_fast(const model_t *m, model_ws_t *ws, const float *X, int n)
{
    kfast_forward(m, ws, X, n, 0, m->nlin);
}

void model_backward_fast(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                         const float *dcode)
{
    kfast_backward(m, ws, X, n, mse_scale, dcode);
}

/* ---- BLAS path ---------------------------------------------------------- */

static void forward_range(const model_t *m, model_ws_t *ws, const float *X, int n, int l0, int l1)
{
    const float *A = X;
    for (int l = l0; l < l1; l++) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
        float *Y = ws->act[l + 1];
        for (int i = 0; i < n; i++) memcpy(Y + (size_t)i * dout, b, dout * sizeof(float));
        /* Y[n][out] += A[n][in] * W[out][in]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, dout, din, 1.0f, A, din, W, din,
                    1.0f, Y, dout);
        size_t k = (size_t)n * dout;
        if (m->act_after[l]) act_forward(m->arch.act, Y, k);
        if (m->skip_src[l] >= 0) { /* residual block: Y += its input */
            const float *S = layer_input(ws, X, m->skip_src[l], l0);
            for (size_t i = 0; i < k; i++) Y[i] += S[i];
        }
        A = Y;
    }
}

void model_forward_blas(const model_t *m, model_ws_t *ws, const float *X, int n)
{
    forward_range(m, ws, X, n, 0, m->nlin);
}

void model_forward(const model_t *m, model_ws_t *ws, const float *X, int n)
{
    switch (kernel_for(m)) {
    case MODEL_KERNEL_BLAS: forward_range(m, ws, X, n, 0, m->nlin); break;
    case MODEL_KERNEL_GEMM: forward_gemm(m, ws, X, n, 0, m->nlin); break;
    case MODEL_KERNEL_REF: model_forward_ref(m, ws, X, n); break;
    default: kfast_forward(m, ws, X, n, 0, m->nlin); break;
    }
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

/* dL/dX_hat for L = scale * mean((X_hat - X)^2): 2 * scale * (X_hat - X) / (n*in). */
static void mse_grad(const model_t *m, const model_ws_t *ws, const float *X, int n, float scale,
                     float *D)
{
    const float *Y = ws->act[m->nlin];
    size_t k = (size_t)n * m->arch.in;
    float c = 2.0f * scale / (float)k;
    for (size_t i = 0; i < k; i++) D[i] = c * (Y[i] - X[i]);
}

void model_backward(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                    const float *dcode)
{
    switch (kernel_for(m)) {
    case MODEL_KERNEL_BLAS: model_backward_blas(m, ws, X, n, mse_scale, dcode); break;
    case MODEL_KERNEL_GEMM: model_backward_gemm(m, ws, X, n, mse_scale, dcode); break;
    case MODEL_KERNEL_REF: model_backward_ref(m, ws, X, n, mse_scale, dcode); break;
    default: kfast_backward(m, ws, X, n, mse_scale, dcode); break;
    }
}

static double mse_grad_unfused(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale)
{
    model_forward(m, ws, X, n);
    double mse = model_mse(m, ws, X, n);
    model_backward(m, ws, X, n, mse_scale, NULL);
    return mse;
}

double model_mse_grad_lanes(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale)
{
    if (!ws->kl_) return mse_grad_unfused(m, ws, X, n, mse_scale); /* not a narrow ReLU MLP */
    return klanes_mse_grad(m, ws, X, n, mse_scale);
}

double model_mse_grad(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale)
{
    if (kernel_for(m) == MODEL_KERNEL_FAST && ws->kl_ && klanes_preferred())
        return klanes_mse_grad(m, ws, X, n, mse_scale);
    return mse_grad_unfused(m, ws, X, n, mse_scale);
}

/* Backward over the layers, for either the BLAS or the reference kernels of
 * the three per-layer products.  D holds dL/d(output of layer l); a
 * residual block's second layer also passes its D to the block's input
 * (pend, added when the pass reaches act[pend_at]). */
void model_backward_blas(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                         const float *dcode)
{
    float *D = ws->dbuf[0];
    const float *pend = NULL;
    int pend_at = -1;
    mse_grad(m, ws, X, n, mse_scale, D);
    for (int l = m->nlin - 1; l >= 0; l--) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *A = l ? ws->act[l] : X;
        const float *Y = ws->act[l + 1];
        const float *W = m->params + m->w_off[l];
        float *dW = m->grads + m->w_off[l], *db = m->grads + m->b_off[l];
        size_t k = (size_t)n * dout;
        if (m->act_after[l]) act_backward(m->arch.act, Y, D, k); /* dZ = dY * act'(Z) */
        if (m->skip_src[l] >= 0) {
            pend = D;
            pend_at = m->skip_src[l];
        }
        /* dW[out][in] = D[n][out]^T * A[n][in] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dout, din, n, 1.0f, D, dout, A, din,
                    0.0f, dW, din);
        for (int j = 0; j < dout; j++) db[j] = 0.0f;
        for (int i = 0; i < n; i++) {
            const float *d = D + (size_t)i * dout;
            for (int j = 0; j < dout; j++) db[j] += d[j];
        }
        if (l == 0) break;
        float *dA = free_dbuf(ws, D, pend);
        /* dA[n][in] = D[n][out] * W[out][in] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, din, dout, 1.0f, D, dout, W, din,
                    0.0f, dA, din);
        size_t kin = (size_t)n * din;
        if (dcode && l == m->code_layer + 1)
            for (size_t i = 0; i < kin; i++) dA[i] += dcode[i];
        if (pend && pend_at == l) { /* the skip: d(h + F(h))/dh = 1 + dF/dh */
            for (size_t i = 0; i < kin; i++) dA[i] += pend[i];
            pend = NULL;
        }
        D = dA;
    }
}

/* ---- wide-layer path (kernel_gemm.c) ----------------------------------------
 * The BLAS path's products with the bias as the GEMM's starting value, the
 * ReLU in the forward GEMM's last store and the ReLU' mask of the layer below
 * in the dA GEMM's last store, so each activation and each input gradient is
 * written once.  Other activations and the residual adds are separate passes. */

static void forward_gemm(const model_t *m, model_ws_t *ws, const float *X, int n, int l0, int l1)
{
    const float *A = X;
    for (int l = l0; l < l1; l++) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
        float *Y = ws->act[l + 1];
        int relu = m->act_after[l] && m->arch.act == MODEL_RELU;
        for (int i = 0; i < n; i++) memcpy(Y + (size_t)i * dout, b, dout * sizeof(float));
        /* Y[n][out] = b + A[n][in] W^T  (B = W^T: element (k, j) at W[j * in + k]), ReLU fused */
        kgemm(n, dout, din, A, din, 1, W, 1, din, Y, dout, 1, relu, NULL, 0, ws->gemm_);
        size_t k = (size_t)n * dout;
        if (m->act_after[l] && !relu) act_forward(m->arch.act, Y, k);
        if (m->skip_src[l] >= 0) {
            const float *S = layer_input(ws, X, m->skip_src[l], l0);
            for (size_t i = 0; i < k; i++) Y[i] += S[i];
        }
        A = Y;
    }
}

void model_forward_gemm(const model_t *m, model_ws_t *ws, const float *X, int n)
{
    forward_gemm(m, ws, X, n, 0, m->nlin);
}

void model_backward_gemm(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                         const float *dcode)
{
    float *D = ws->dbuf[0];
    const float *pend = NULL;
    int pend_at = -1, masked = 0; /* masked: D already holds dZ (ReLU' fused above) */
    mse_grad(m, ws, X, n, mse_scale, D);
    for (int l = m->nlin - 1; l >= 0; l--) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *A = l ? ws->act[l] : X;
        const float *W = m->params + m->w_off[l];
        float *dW = m->grads + m->w_off[l], *db = m->grads + m->b_off[l];
        if (m->act_after[l] && !masked) act_backward(m->arch.act, ws->act[l + 1], D, (size_t)n * dout);
        if (m->skip_src[l] >= 0) {
            pend = D;
            pend_at = m->skip_src[l];
        }
        /* dW[out][in] = D^T A  (element (j, r) of D^T at D[r * out + j]) */
        kgemm(dout, din, n, D, 1, dout, A, din, 1, dW, din, 0, 0, NULL, 0, ws->gemm_);
        for (int j = 0; j < dout; j++) db[j] = 0.0f;
        for (int i = 0; i < n; i++) {
            const float *d = D + (size_t)i * dout;
            for (int j = 0; j < dout; j++) db[j] += d[j];
        }
        if (l == 0) break;
        float *dA = free_dbuf(ws, D, pend);
        int adds = (dcode && l == m->code_layer + 1) || (pend && pend_at == l);
        int fuse = !adds && m->act_after[l - 1] && m->arch.act == MODEL_RELU;
        /* dA[n][in] = D[n][out] W[out][in], x 1[act[l] > 0] when fused */
        kgemm(n, din, dout, D, dout, 1, W, din, 1, dA, din, 0, 0, fuse ? ws->act[l] : NULL, din, ws->gemm_);
        size_t kin = (size_t)n * din;
        if (dcode && l == m->code_layer + 1)
            for (size_t i = 0; i < kin; i++) dA[i] += dcode[i];
        if (pend && pend_at == l) {
            for (size_t i = 0; i < kin; i++) dA[i] += pend[i];
            pend = NULL;
        }
        masked = fuse;
        D = dA;
    }
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

/* ---- plain-C reference -------------------------------------------------- */

void model_forward_ref(const model_t *m, model_ws_t *ws, const float *X, int n)
{
    const float *A = X;
    for (int l = 0; l < m->nlin; l++) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
        float *Y = ws->act[l + 1];
        const float *S = m->skip_src[l] >= 0 ? layer_input(ws, X, m->skip_src[l], 0) : NULL;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < dout; j++) {
                double s = b[j];
                for (int k = 0; k < din; k++) s += (double)A[(size_t)i * din + k] * W[(size_t)j * din + k];
                float y = (float)s;
                if (m->act_after[l]) act_forward(m->arch.act, &y, 1);
                if (S) y += S[(size_t)i * dout + j];
                Y[(size_t)i * dout + j] = y;
            }
        A = Y;
    }
}

void model_backward_ref(model_t *m, model_ws_t *ws, const float *X, int n, float mse_scale,
                        const float *dcode)
{
    float *D = ws->dbuf[0];
    const float *pend = NULL;
    int pend_at = -1;
    mse_grad(m, ws, X, n, mse_scale, D);
    for (int l = m->nlin - 1; l >= 0; l--) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *A = l ? ws->act[l] : X;
        const float *Y = ws->act[l + 1];
        const float *W = m->params + m->w_off[l];
        float *dW = m->grads + m->w_off[l], *db = m->grads + m->b_off[l];
        if (m->act_after[l]) act_backward(m->arch.act, Y, D, (size_t)n * dout);
        if (m->skip_src[l] >= 0) {
            pend = D;
            pend_at = m->skip_src[l];
        }
        for (int j = 0; j < dout; j++) {
            double sb = 0;
            for (int i = 0; i < n; i++) sb += D[(size_t)i * dout + j];
            db[j] = (float)sb;
            for (int k = 0; k < din; k++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += (double)D[(size_t)i * dout + j] * A[(size_t)i * din + k];
                dW[(size_t)j * din + k] = (float)s;
            }
        }
        if (l == 0) break;
        float *dA = free_dbuf(ws, D, pend);
        const float *P = pend && pend_at == l ? pend : NULL;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < din; k++) {
                double s = 0;
                for (int j = 0; j < dout; j++) s += (double)D[(size_t)i * dout + j] * W[(size_t)j * din + k];
                if (dcode && l == m->code_layer + 1) s += dcode[(size_t)i * din + k];
                if (P) s += P[(size_t)i * din + k];
                dA[(size_t)i * din + k] = (float)s;
            }
        if (P) pend = NULL;
        D = dA;
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
        int k = kernel_for(m);
        if (k == MODEL_KERNEL_FAST && model_get_kernel() != MODEL_KERNEL_TILED)
            kfast_forward(m, ws, Z + i * b, c, m->code_layer + 1, m->nlin);
        else if (k == MODEL_KERNEL_GEMM)
            forward_gemm(m, ws, Z + i * b, c, m->code_layer + 1, m->nlin);
        else
            forward_range(m, ws, Z + i * b, c, m->code_layer + 1, m->nlin);
        memcpy(out + i * d, ws->act[m->nlin], (size_t)c * d * sizeof(float));
    }
}
