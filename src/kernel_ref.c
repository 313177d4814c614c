/* kernel_ref.c - the plain-C reference kernel: every product summed in
 * double precision, no blocking, no SIMD.  What it is for: the yardstick
 * the tests hold every other kernel to (and AESWEEP_KERNEL=ref).  What it is
 * not: fast.
 *
 * A layer computes Y = act(A W^T + b) (+ the block's input for the second
 * layer of a residual block) with A [n][in], W [out][in], Y [n][out].
 * Backward, with D = dL/dZ [n][out] (Z the pre-activation):
 *     dW = D^T A   [out][in]      db = sum_rows D      dA = D W   [n][in].
 */
#include "aesweep/kernel.h"
#include "kernel_util.h"

static void ref_forward(const model_t *m, model_ws_t *ws, void *ks, const float *X, int n, int l0, int l1)
{
    (void)ks;
    const float *A = X;
    for (int l = l0; l < l1; l++) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
        float *Y = ws->act[l + 1];
        const float *S = m->skip_src[l] >= 0 ? ku_layer_input(ws, X, m->skip_src[l], l0) : NULL;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < dout; j++) {
                double s = b[j];
                for (int k = 0; k < din; k++) s += (double)A[(size_t)i * din + k] * W[(size_t)j * din + k];
                float y = (float)s;
                if (m->act_after[l]) ku_act_forward(m->arch.act, &y, 1);
                if (S) y += S[(size_t)i * dout + j];
                Y[(size_t)i * dout + j] = y;
            }
        A = Y;
    }
}

/* D holds dL/d(output of layer l); a residual block's second layer also
 * passes its D to the block's input (pend, added when the pass reaches
 * act[pend_at]: d(h + F(h))/dh = 1 + dF/dh). */
static void ref_backward(model_t *m, model_ws_t *ws, void *ks, const float *X, int n, float mse_scale,
                         const float *dcode)
{
    (void)ks;
    float *D = ws->dbuf[0];
    const float *pend = NULL;
    int pend_at = -1;
    ku_mse_grad(m, ws, X, n, mse_scale, D);
    for (int l = m->nlin - 1; l >= 0; l--) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *A = l ? ws->act[l] : X;
        const float *Y = ws->act[l + 1];
        const float *W = m->params + m->w_off[l];
        float *dW = m->grads + m->w_off[l], *db = m->grads + m->b_off[l];
        if (m->act_after[l]) ku_act_backward(m->arch.act, Y, D, (size_t)n * dout);
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
        float *dA = ku_free_dbuf(ws, D, pend);
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

const kernel_ops_t kernel_ref = {
    .name = "ref",
    .ws_bytes = NULL,
    .ws_init = NULL,
    .forward = ref_forward,
    .backward = ref_backward,
    .step = NULL,
};
