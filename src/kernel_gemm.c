/* kernel_gemm.c - packed, register-blocked single-precision GEMM with fused
 * epilogues for wide layers (see kernel_gemm.h for what it is and is not).
 *
 * The classic blocked scheme (Goto; BLIS's five loops), for C += A B:
 *
 *   for jc in N by NC:                  B block  KC x NC  packed once per pc
 *     for pc in K by KC:                 (panels of NR columns, [k][NR])
 *       pack B[pc.., jc..]
 *       for ic in M by MC:              A block  MC x KC  packed (L2)
 *         pack A[ic.., pc..]             (panels of MR rows, [k][MR])
 *         for jr in NC by NR:           B micro-panel KC x NR stays in L1
 *           for ir in MC by MR:
 *             C[MR][NR] += Apanel Bpanel   (micro-kernel: MR x NR/16
 *                                           accumulators in registers; per k
 *                                           NR/16 vector loads of B, MR
 *                                           broadcasts of A, MR*NR/16 FMAs)
 *
 * Packing zero-pads partial panels, so the micro-kernel always runs full
 * tiles and only its stores are masked.  C starts from 0 (or from C when
 * beta: the bias, or the previous KC block); the epilogue (ReLU, ReLU' mask)
 * runs on the registers at the last KC block, so C is written once per KC
 * block and needs no second pass.
 *
 * Sizes for a core with 32 KB L1 and 1 MB L2 (this machine's Zen 5 VM):
 * KC = 128 (a B micro-panel 128 x 32 floats = 16 KB), MC = 192 (an A block
 * 96 KB), NC = 1024 (a B block 512 KB).  MR = 8, NR = 32: 16 accumulators hide the FMA latency
 * (4 cycles x 2 pipes) and every width in the study's wide shapes (64..1024,
 * multiples of 8) fills whole row tiles.
 */
#include "aesweep/kernel_gemm.h"
#include "aesweep/kernel.h"
#include "kernel_util.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

#define KC 128
#define MC 192
#define NC 1024
#define MR 8
#define NR 32

size_t kgemm_pack_floats(void) { return (size_t)KC * NC + (size_t)MC * KC; }

/* OpenBLAS, then the epilogue as a second pass: the portable path, and the
 * default on AVX-512 (kgemm with pack = NULL). */
static void kgemm_blas(int M, int N, int K, const float *A, size_t ars, size_t acs, const float *B,
                       size_t brs, size_t bcs, float *C, size_t ldc, int beta, int relu,
                       const float *mask, size_t ldm)
{
    /* an operand R x S with strides (rs, cs) is row-major with ld rs when
     * cs = 1 (and rs >= S, or one row), else transposed with ld cs; a
     * leading dimension below the row length is invalid even where unused */
    int ta = !(acs == 1 && (ars >= (size_t)K || M == 1)), tb = !(bcs == 1 && (brs >= (size_t)N || K == 1));
    size_t lda = ta ? (acs > (size_t)M ? acs : (size_t)M) : (ars > (size_t)K ? ars : (size_t)K);
    size_t ldb = tb ? (bcs > (size_t)K ? bcs : (size_t)K) : (brs > (size_t)N ? brs : (size_t)N);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                1.0f, A, (int)lda, B, (int)ldb, beta ? 1.0f : 0.0f, C, (int)ldc);
    if (!relu && !mask) return;
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (relu)
            for (int j = 0; j < N; j++) c[j] = c[j] > 0.0f || c[j] != c[j] ? c[j] : 0.0f;
        if (mask) {
            const float *mr = mask + (size_t)i * ldm;
            for (int j = 0; j < N; j++) c[j] = mr[j] > 0.0f ? c[j] : 0.0f;
        }
    }
}

#if defined(SIMD_AVX512)
/* A[i0 .. i0+mc) x [k0 .. k0+kc) into panels of MR rows: pa[p][k][MR]. */
static void pack_a(const float *A, size_t ars, size_t acs, int i0, int mc, int k0, int kc, float *pa)
{
    for (int p = 0; p < mc; p += MR) {
        float *dst = pa + (size_t)p * kc;
        int rows = mc - p < MR ? mc - p : MR;
        for (int i = 0; i < MR; i++) {
            if (i >= rows) {
                for (int k = 0; k < kc; k++) dst[(size_t)k * MR + i] = 0.0f;
                continue;
            }
            const float *src = A + (size_t)(i0 + p + i) * ars + (size_t)k0 * acs;
            if (acs == 1)
                for (int k = 0; k < kc; k++) dst[(size_t)k * MR + i] = src[k];
            else
                for (int k = 0; k < kc; k++) dst[(size_t)k * MR + i] = src[(size_t)k * acs];
        }
    }
}

/* B[k0 .. k0+kc) x [j0 .. j0+nc) into panels of NR columns: pb[p][k][NR]. */
static void pack_b(const float *B, size_t brs, size_t bcs, int k0, int kc, int j0, int nc, float *pb)
{
    for (int p = 0; p < nc; p += NR) {
        float *dst = pb + (size_t)p * kc;
        int cols = nc - p < NR ? nc - p : NR;
        if (bcs == 1) { /* rows of B are contiguous: copy NR floats per k */
            for (int k = 0; k < kc; k++) {
                const float *src = B + (size_t)(k0 + k) * brs + (size_t)(j0 + p);
                float *d = dst + (size_t)k * NR;
                memcpy(d, src, (size_t)cols * sizeof(float));
                for (int j = cols; j < NR; j++) d[j] = 0.0f;
            }
        } else { /* columns of B are contiguous (B = W^T): read along them */
            for (int j = 0; j < NR; j++) {
                if (j >= cols) {
                    for (int k = 0; k < kc; k++) dst[(size_t)k * NR + j] = 0.0f;
                    continue;
                }
                const float *src = B + (size_t)(j0 + p + j) * bcs + (size_t)k0 * brs;
                for (int k = 0; k < kc; k++) dst[(size_t)k * NR + j] = src[(size_t)k * brs];
            }
        }
    }
}

typedef struct {
    int first, last; /* first KC block without beta: C = acc; last: run the epilogue */
    int relu;
    const float *mask; /* already offset to the tile */
    size_t ldm;
} tile_epi_t;

/* C[rows][cols] tile (rows <= MR, cols <= NR) += pa pb over kc. */
static void micro(int kc, const float *restrict pa, const float *restrict pb, float *C, size_t ldc,
                  int rows, int cols, const tile_epi_t *e)
{
    __m512 c0[MR], c1[MR];
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)
        {
            __m512 a = _mm512_set1_ps(pa[i]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
        pa += MR;
        pb += NR;
    }
    __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1u);
    __mmask16 m1 = cols >= 32 ? 0xFFFF : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1u) : 0;
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < rows; i++) {
        float *r = C + (size_t)i * ldc;
        __m512 x0 = c0[i], x1 = c1[i];
        if (!e->first) {
            x0 = _mm512_add_ps(x0, _mm512_maskz_loadu_ps(m0, r));
            x1 = _mm512_add_ps(x1, _mm512_maskz_loadu_ps(m1, r + 16));
        }
        if (e->last) {
            if (e->relu) { /* max(0, x) with NaN propagated, as kernel_fast */
                x0 = _mm512_max_ps(zero, x0);
                x1 = _mm512_max_ps(zero, x1);
            }
            if (e->mask) { /* ReLU': keep where the activation is > 0 */
                const float *mr = e->mask + (size_t)i * e->ldm;
                x0 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m0, mr), zero, _CMP_GT_OQ), x0);
                x1 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m1, mr + 16), zero, _CMP_GT_OQ), x1);
            }
        }
        _mm512_mask_storeu_ps(r, m0, x0);
        _mm512_mask_storeu_ps(r + 16, m1, x1);
    }
}

void kgemm(int M, int N, int K, const float *A, size_t ars, size_t acs, const float *B, size_t brs,
           size_t bcs, float *C, size_t ldc, int beta, int relu, const float *mask, size_t ldm,
           float *pack)
{
    if (!pack) {
        kgemm_blas(M, N, K, A, ars, acs, B, brs, bcs, C, ldc, beta, relu, mask, ldm);
        return;
    }
    float *pb = pack, *pa = pack + (size_t)KC * NC;
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            pack_b(B, brs, bcs, pc, kc, jc, nc, pb);
            tile_epi_t e = {.first = pc == 0 && !beta, .last = pc + kc >= K, .relu = relu, .ldm = ldm};
            for (int ic = 0; ic < M; ic += MC) {
                int mc = M - ic < MC ? M - ic : MC;
                pack_a(A, ars, acs, ic, mc, pc, kc, pa);
                for (int jr = 0; jr < nc; jr += NR) {
                    int cols = nc - jr < NR ? nc - jr : NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int rows = mc - ir < MR ? mc - ir : MR;
                        size_t r0 = (size_t)(ic + ir), c0 = (size_t)(jc + jr);
                        e.mask = mask ? mask + r0 * ldm + c0 : NULL;
                        micro(kc, pa + (size_t)ir * kc, pb + (size_t)jr * kc, C + r0 * ldc + c0, ldc,
                              rows, cols, &e);
                    }
                }
            }
        }
    }
}

#else
void kgemm(int M, int N, int K, const float *A, size_t ars, size_t acs, const float *B, size_t brs,
           size_t bcs, float *C, size_t ldc, int beta, int relu, const float *mask, size_t ldm,
           float *pack)
{
    (void)pack;
    kgemm_blas(M, N, K, A, ars, acs, B, brs, bcs, C, ldc, beta, relu, mask, ldm);
}
#endif

int kgemm_packed_available(void)
{
#if defined(SIMD_AVX512)
    return 1;
#else
    return 0;
#endif
}

/* ---- the layer path: kernel_gemm, kernel_gemm_packed, kernel_blas ---------
 * Per linear layer one kgemm per product: the bias as the forward GEMM's
 * starting value, the ReLU in its last store, and the ReLU' mask of the layer
 * below in the dA GEMM's last store, so each activation and each input
 * gradient is written once.  Other activations and the residual adds are
 * separate passes.  The products run on OpenBLAS (kernel_gemm, kernel_blas:
 * no scratch) or on the packed micro-kernel above (kernel_gemm_packed: the
 * scratch is its packing blocks, kgemm_pack_floats floats). */

static size_t packed_ws_bytes(const model_t *m, int rows, const model_opts_t *o)
{
    (void)m, (void)rows, (void)o;
    return kgemm_pack_floats() * sizeof(float);
}

static void layers_forward(const model_t *m, model_ws_t *ws, void *ks, const float *X, int n, int l0, int l1)
{
    float *pack = ks;
    const float *A = X;
    for (int l = l0; l < l1; l++) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
        float *Y = ws->act[l + 1];
        int relu = m->act_after[l] && m->arch.act == MODEL_RELU;
        for (int i = 0; i < n; i++) memcpy(Y + (size_t)i * dout, b, dout * sizeof(float));
        /* Y[n][out] = b + A[n][in] W^T  (B = W^T: element (k, j) at W[j * in + k]), ReLU fused */
        kgemm(n, dout, din, A, din, 1, W, 1, din, Y, dout, 1, relu, NULL, 0, pack);
        size_t k = (size_t)n * dout;
        if (m->act_after[l] && !relu) ku_act_forward(m->arch.act, Y, k);
        if (m->skip_src[l] >= 0) { /* residual block: Y += its input */
            const float *S = ku_layer_input(ws, X, m->skip_src[l], l0);
            for (size_t i = 0; i < k; i++) Y[i] += S[i];
        }
        A = Y;
    }
}

/* D holds dL/d(output of layer l); a residual block's second layer also
 * passes its D to the block's input (pend, added when the pass reaches
 * act[pend_at]: d(h + F(h))/dh = 1 + dF/dh). */
static void layers_backward(model_t *m, model_ws_t *ws, void *ks, const float *X, int n, float mse_scale,
                            const float *dcode)
{
    float *pack = ks;
    float *D = ws->dbuf[0];
    const float *pend = NULL;
    int pend_at = -1, masked = 0; /* masked: D already holds dZ (ReLU' fused above) */
    ku_mse_grad(m, ws, X, n, mse_scale, D);
    for (int l = m->nlin - 1; l >= 0; l--) {
        int din = m->dims[l], dout = m->dims[l + 1];
        const float *A = l ? ws->act[l] : X;
        const float *W = m->params + m->w_off[l];
        float *dW = m->grads + m->w_off[l], *db = m->grads + m->b_off[l];
        if (m->act_after[l] && !masked) ku_act_backward(m->arch.act, ws->act[l + 1], D, (size_t)n * dout);
        if (m->skip_src[l] >= 0) {
            pend = D;
            pend_at = m->skip_src[l];
        }
        /* dW[out][in] = D^T A  (element (j, r) of D^T at D[r * out + j]) */
        kgemm(dout, din, n, D, 1, dout, A, din, 1, dW, din, 0, 0, NULL, 0, pack);
        /* db[out] = sum over rows of D */
        for (int j = 0; j < dout; j++) db[j] = 0.0f;
        for (int i = 0; i < n; i++) {
            const float *d = D + (size_t)i * dout;
            for (int j = 0; j < dout; j++) db[j] += d[j];
        }
        if (l == 0) break;
        float *dA = ku_free_dbuf(ws, D, pend);
        int adds = (dcode && l == m->code_layer + 1) || (pend && pend_at == l);
        int fuse = !adds && m->act_after[l - 1] && m->arch.act == MODEL_RELU;
        /* dA[n][in] = D[n][out] W[out][in], x 1[act[l] > 0] when fused */
        kgemm(n, din, dout, D, dout, 1, W, din, 1, dA, din, 0, 0, fuse ? ws->act[l] : NULL, din, pack);
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

const kernel_ops_t kernel_gemm = {
    .name = "gemm",
    .forward = layers_forward,
    .backward = layers_backward,
};

const kernel_ops_t kernel_gemm_packed = {
    .name = "gemm-packed",
    .ws_bytes = packed_ws_bytes,
    .forward = layers_forward,
    .backward = layers_backward,
};

/* AESWEEP_KERNEL=blas: the same path on OpenBLAS whatever the width */
const kernel_ops_t kernel_blas = {
    .name = "blas",
    .forward = layers_forward,
    .backward = layers_backward,
};
