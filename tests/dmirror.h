/* dmirror.h - a double-precision mirror of the model's forward pass and
 * central differences taken through it, for the two gradient tests:
 * test_gradcheck.c (loss = s * MSE + sum C * codes) and test_mmd.c
 * (loss = s * MSE + lambda * MMD^2(codes, Z)).  Each supplies the loss on
 * top of the reconstruction and the codes; the forward, the ReLU pattern
 * and the finite differences are shared.  Include after cmocka.h.
 * The mirror follows the model's layer list (model.h): the activation after
 * each layer (ReLU, tanh or ELU, in double), and the residual blocks' skips
 * (a layer's output adds act[skip_src]).  The "pattern" records, for ReLU
 * and ELU units, which side of 0 the pre-activation is on (their kink; ELU
 * with alpha 1 has a continuous slope but a jump in curvature there). */
#ifndef AESWEEP_DMIRROR_H
#define AESWEEP_DMIRROR_H
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "aesweep/model.h"

typedef struct dmirror dmirror_t;
/* The loss from the reconstruction out [n][in] and the codes [n][bottleneck]. */
typedef double (*dm_loss_fn)(const dmirror_t *d, const double *out, const double *codes);

struct dmirror {
    const model_t *m; /* layout only: dims, offsets, code layer */
    int n;
    const double *X; /* [n][in] */
    dm_loss_fn loss;
    const void *ctx; /* the loss's own data */
    double *acts;                    /* every layer's output, [n][dims[l]] at off[l] */
    size_t off[MODEL_MAX_LINEAR + 1];
    double *codes;
    size_t npat; /* rows x ReLU units: one sign per pre-activation */
    unsigned char *pat0, *patp, *patm;
};

/* Layer l is followed by an activation with a kink at 0 (ReLU, ELU). */
static inline int dm_kinked(const model_t *m, int l)
{
    return model_relu_after(m, l) && m->arch.act != MODEL_TANH;
}

static inline void dm_init(dmirror_t *d, const model_t *m, int n, const double *X, dm_loss_fn loss,
                           const void *ctx)
{
    memset(d, 0, sizeof *d);
    d->m = m, d->n = n, d->X = X, d->loss = loss, d->ctx = ctx;
    size_t tot = 0;
    for (int l = 1; l <= m->nlin; l++) {
        d->off[l] = tot;
        tot += (size_t)n * m->dims[l];
    }
    for (int l = 0; l < m->nlin; l++)
        if (dm_kinked(m, l)) d->npat += (size_t)n * m->dims[l + 1];
    d->acts = malloc(tot * sizeof(double));
    d->codes = malloc((size_t)n * m->arch.bottleneck * sizeof(double));
    d->pat0 = malloc(d->npat + 1), d->patp = malloc(d->npat + 1), d->patm = malloc(d->npat + 1);
    assert_true(d->acts && d->codes && d->pat0 && d->patp && d->patm);
}

static inline void dm_free(dmirror_t *d)
{
    free(d->acts), free(d->codes);
    free(d->pat0), free(d->patp), free(d->patm);
}

/* The loss at parameters p ([nparams], the model's arena layout); the ReLU
 * pattern (1 where the pre-activation > 0) goes to pat. */
static inline double dm_forward(dmirror_t *d, const double *p, unsigned char *pat)
{
    const model_t *m = d->m;
    const int n = d->n;
    const double *A = d->X;
    size_t k = 0;
    for (int l = 0; l < m->nlin; l++) {
        int din = m->dims[l], dout = m->dims[l + 1], act = model_relu_after(m, l), kink = dm_kinked(m, l);
        const double *W = p + m->w_off[l], *b = p + m->b_off[l];
        const double *S = m->skip_src[l] > 0 ? d->acts + d->off[m->skip_src[l]] : NULL;
        double *Y = d->acts + d->off[l + 1];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < dout; j++) {
                double z = b[j];
                for (int q = 0; q < din; q++) z += A[(size_t)i * din + q] * W[(size_t)j * din + q];
                if (kink) pat[k++] = z > 0.0;
                if (act) {
                    if (m->arch.act == MODEL_TANH) z = tanh(z);
                    else if (m->arch.act == MODEL_ELU) z = z > 0.0 ? z : expm1(z);
                    else z = z > 0.0 ? z : 0.0;
                }
                if (S) z += S[(size_t)i * dout + j]; /* residual block: + its input */
                Y[(size_t)i * dout + j] = z;
            }
        if (l == m->code_layer) memcpy(d->codes, Y, (size_t)n * dout * sizeof(double));
        A = Y;
    }
    return d->loss(d, A, d->codes);
}

/* Sum of squared reconstruction errors over all n x in elements. */
static inline double dm_sq_error(const dmirror_t *d, const double *out)
{
    double se = 0.0;
    size_t tot = (size_t)d->n * d->m->arch.in;
    for (size_t i = 0; i < tot; i++) {
        double e = out[i] - d->X[i];
        se += e * e;
    }
    return se;
}

/* How many ReLU units of the float forward in ws (model_forward on the same
 * rows) are on the other side of 0 than in pat0: the two forwards must
 * agree before the float gradient can be held to the double differences. */
static inline size_t dm_pattern_mismatches(const dmirror_t *d, const model_ws_t *ws)
{
    const model_t *m = d->m;
    size_t k = 0, mism = 0;
    for (int l = 0; l < m->nlin; l++) {
        if (!dm_kinked(m, l)) continue;
        const float *Y = ws->act[l + 1];
        for (size_t i = 0; i < (size_t)d->n * m->dims[l + 1]; i++, k++) mism += (Y[i] > 0.0f) != d->pat0[k];
    }
    return mism;
}

/* fd[i] = (L(p + h e_i) - L(p - h e_i)) / 2h for every parameter; skip[i] =
 * 1 where either step moves a ReLU unit across its kink (L is not smooth
 * there, so fd is not its derivative).  Needs dm_forward(d, p, d->pat0)
 * first.  Returns the number skipped; p is restored. */
static inline size_t dm_central_diff(dmirror_t *d, double *p, size_t np, double h, double *fd,
                                     unsigned char *skip)
{
    size_t nskip = 0;
    for (size_t i = 0; i < np; i++) {
        double p0 = p[i];
        p[i] = p0 + h;
        double Lp = dm_forward(d, p, d->patp);
        p[i] = p0 - h;
        double Lm = dm_forward(d, p, d->patm);
        p[i] = p0;
        fd[i] = (Lp - Lm) / (2.0 * h);
        skip[i] = memcmp(d->patp, d->pat0, d->npat) || memcmp(d->patm, d->pat0, d->npat);
        nskip += skip[i];
    }
    return nskip;
}
#endif
