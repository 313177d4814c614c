/* kernel_util.h - the element-wise pieces the layer-by-layer kernels share
 * (kernel_gemm.c, kernel_ref.c): activations and their derivatives, the MSE
 * gradient, and the bookkeeping of a residual block's pending gradient.
 * Internal to libaesweep; static inline so that no kernel calls another
 * file for them.
 */
#ifndef AESWEEP_KERNEL_UTIL_H
#define AESWEEP_KERNEL_UTIL_H
#include "aesweep/model.h"
#include <math.h>
#include <stddef.h>

/* Y = act(Y) in place over k elements: ReLU max(0, y) (NaN -> 0), tanh,
 * ELU (alpha = 1) y > 0 ? y : e^y - 1. */
static inline void ku_act_forward(int act, float *Y, size_t k)
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
static inline void ku_act_backward(int act, const float *Y, float *D, size_t k)
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

/* dL/dX_hat for L = scale * mean((X_hat - X)^2) over n rows:
 * D = 2 * scale * (X_hat - X) / (n * in), X_hat = ws->act[nlin]. */
static inline void ku_mse_grad(const model_t *m, const model_ws_t *ws, const float *X, int n, float scale,
                               float *D)
{
    const float *Y = ws->act[m->nlin];
    size_t k = (size_t)n * m->arch.in;
    float c = 2.0f * scale / (float)k;
    for (size_t i = 0; i < k; i++) D[i] = c * (Y[i] - X[i]);
}

/* The input of layer l when a pass started at layer l0 on X. */
static inline const float *ku_layer_input(const model_ws_t *ws, const float *X, int l, int l0)
{
    return l == l0 ? X : ws->act[l];
}

/* A gradient buffer of ws that is neither a nor b (three exist whenever a
 * residual block's gradient is pending, model.c). */
static inline float *ku_free_dbuf(model_ws_t *ws, const float *a, const float *b)
{
    for (int i = 0; i < 3; i++)
        if (ws->dbuf[i] && ws->dbuf[i] != a && ws->dbuf[i] != b) return ws->dbuf[i];
    return NULL;
}

#endif
