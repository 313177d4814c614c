/* kernel_fast.c - tiled, fused, explicitly vectorised forward/backward for
 * the MLP autoencoder (see kernel_fast.h for what it is and is not for).
 *
 * Layout: row-major everywhere, as model.h defines it (act[l] is [n][dims[l]]),
 * vectors run along the feature axis of a row.  A layer is one of two
 * register-blocked micro-kernels:
 *
 *   axpy form (N > DOT_N outputs):   C[r][:] = init + sum_k A[r][k] * B[k][:]
 *       RB rows x NV vectors of accumulators stay in registers for the whole
 *       k loop; per k: NV vector loads of B, RB broadcasts of A, RB*NV FMAs.
 *       Forward: A = activations [rows][din], B = W^T (padded copy), init = b.
 *       Backward dA = D W: A = D [rows][dout], B = W (padded copy), init = 0.
 *   dot form (N <= DOT_N, the code layer and the 2-wide output of moons):
 *       C[r][j] = init + hsum(sum_v A[r][v] * B[j][v]), B rows padded.
 *
 * Epilogues are fused: forward adds the bias (as the accumulator's start)
 * and applies ReLU; backward adds the code gradient (MMD) and zeroes dA where
 * the activation it flows into was not positive (ReLU'), so dA is written
 * once and is directly the next layer's D.
 *
 * Weight gradients: dW[j][:] += sum_r D[r][j] * A[r][:] with PB rows of dW x
 * NV vectors in registers, accumulated over one tile of rows and then added
 * to the gradient arena; when din is narrow (the first layer, the layer after
 * the code) the roles swap (dW^T[k][:] += A[r][k] D[r][:]) so that vectors run
 * along the wide axis.  db accumulates per tile the same way.
 *
 * Rows go through every layer tile by tile (kfast_tile_rows rows), so the
 * tile's activations and gradients are in cache when the next layer reads
 * them.
 *
 * IEEE semantics: no -ffast-math, no reassociation beyond the fixed order
 * written here.  ReLU is max(0, y) with NaN propagated (like the plain
 * reference); the backward mask is "activation > 0" (like the BLAS path).
 */
#include "aesweep/kernel_fast.h"
#include "aesweep/kernel.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"
#define KF_ISA SIMD_ISA
#define KF_INLINE SIMD_INLINE

#define NVMAX 8   /* vectors per column chunk of a micro-kernel */
#define DOT_N 2   /* outputs up to this width use the dot form */

/* RBn: rows per register block for n vectors (literal constants: they size
 * the accumulator arrays): RBn*n accumulators, n loaded vectors and a
 * broadcast fit the register file. */
#if NREG >= 32
#define RB1 8
#define RB2 6
#define RB3 6
#define RB4 5
#define RB5 4
#define RB6 3
#define RB7 3
#define RB8 2
#else
#define RB1 6
#define RB2 4
#define RB3 3
#define RB4 2
#define RB5 2
#define RB6 2
#define RB7 2
#define RB8 2  /* spills on 16 registers; the portable path is not the fast one */
#endif

const char *kfast_isa(void) { return KF_ISA; }

static inline int pad_to(int x) { return (x + VW - 1) / VW * VW; }

/* ---- workspace scratch --------------------------------------------------- */

/* The kernel's scratch, one aligned block: this header, then per layer the
 * padded copies of W_l [out][pad(in)] and W_l^T [in][pad(out)], the bias
 * [pad(out)] and the bias-gradient accumulator [pad(out)], and the packed
 * 4-row tails of W^T and W ([in][16], [out][16]).  pad() rounds up to the
 * build's vector width; the padding stays zero from creation. */
struct kfast_scratch {
    int no_tail; /* the packed-tail micro-kernels off (model_opts_t.no_tail) */
    float *w[MODEL_MAX_LINEAR];
    float *wt[MODEL_MAX_LINEAR];
    float *b[MODEL_MAX_LINEAR];
    float *db[MODEL_MAX_LINEAR];
    float *tf[MODEL_MAX_LINEAR];
    float *tb[MODEL_MAX_LINEAR];
};

/* the header rounded up to whole 64-byte lines, so the floats stay aligned */
static size_t head_bytes(void) { return (sizeof(kfast_scratch_t) + 63) / 64 * 64; }

size_t kfast_ws_bytes(const model_t *m)
{
    size_t t = 0;
    for (int l = 0; l < m->nlin; l++) {
        int din = m->dims[l], dout = m->dims[l + 1];
        t += (size_t)dout * pad_to(din);  /* W padded */
        t += (size_t)din * pad_to(dout);  /* W^T padded */
        t += 2 * (size_t)pad_to(dout);    /* bias, bias-gradient accumulator */
        t += 16 * (size_t)(din + dout);   /* packed tails of W^T and W */
    }
    return head_bytes() + (t * sizeof(float) + 63) / 64 * 64;
}

kfast_scratch_t *kfast_ws_init(const model_t *m, int no_tail, void *mem)
{
    kfast_scratch_t *s = mem;
    s->no_tail = no_tail;
    float *p = (float *)((char *)mem + head_bytes());
    for (int l = 0; l < m->nlin; l++) {
        int din = m->dims[l], dout = m->dims[l + 1];
        s->w[l] = p;
        p += (size_t)dout * pad_to(din);
        s->wt[l] = p;
        p += (size_t)din * pad_to(dout);
        s->b[l] = p;
        p += pad_to(dout);
        s->db[l] = p;
        p += pad_to(dout);
        s->tf[l] = p;
        p += 16 * (size_t)din;
        s->tb[l] = p;
        p += 16 * (size_t)dout;
    }
    return s;
}

/* Padded copies of W_l (and W_l^T); the padding stays zero from creation. */
static void prep_w(const model_t *m, kfast_scratch_t *ks, int l)
{
    int din = m->dims[l], dout = m->dims[l + 1], ld = pad_to(din);
    const float *W = m->params + m->w_off[l];
    for (int j = 0; j < dout; j++) memcpy(ks->w[l] + (size_t)j * ld, W + (size_t)j * din, din * sizeof(float));
}

static void prep_wt(const model_t *m, kfast_scratch_t *ks, int l)
{
    int din = m->dims[l], dout = m->dims[l + 1], ld = pad_to(dout);
    const float *W = m->params + m->w_off[l];
    float *T = ks->wt[l];
    for (int j = 0; j < dout; j++)
        for (int k = 0; k < din; k++) T[(size_t)k * ld + j] = W[(size_t)j * din + k];
}

/* ---- layer micro-kernels ------------------------------------------------- */

typedef struct {
    const float *A;
    int lda;             /* A [rows][K] */
    int K, N;
    const float *B;
    int ldb;             /* axpy: [K][ldb]; dot: [N][ldb]; zero padded to ldb */
    const float *bias;   /* padded to ldb (axpy) / [N] (dot), or NULL */
    int relu;
    const float *add;    /* [rows][N] added to the result, or NULL */
    const float *mask;   /* [rows][N]: result zeroed where mask <= 0, or NULL */
    float *C;            /* [rows][N], leading dimension N */
} lop_t;

/* Weight-gradient operands (see the rank-update kernels below). */
typedef struct {
    const float *X;
    int ldx, P;  /* X [rows][P]: broadcast operand */
    const float *Y;
    int ldy, Q;  /* Y [rows][Q]: vector operand */
    float *out;  /* trans = 0: out[p][q] += ..., ld Q; trans = 1: out[q][p] += ..., ld P */
    int trans;
} rk_t;

/* RB rows starting at r, columns c0 .. c0 + NV*VW (the last vector has
 * nlast valid lanes).  RB_ and NV_ are literal constants, so the accumulator
 * array has a fixed size and, fully unrolled, lives in registers. */
#define UNROLL _Pragma("GCC unroll 16")
#define AXPY_FN(RB_, NV_)                                                                  \
    static void axpy_##RB_##_##NV_(const lop_t *o, int r, int c0, int nlast)              \
    {                                                                                      \
        vf acc[RB_][NV_];                                                                  \
        UNROLL for (int v = 0; v < NV_; v++)                                               \
        {                                                                                  \
            vf b0 = o->bias ? vload(o->bias + c0 + v * VW) : vzero();                      \
            UNROLL for (int i = 0; i < RB_; i++) acc[i][v] = b0;                           \
        }                                                                                  \
        const float *A = o->A + (size_t)r * o->lda;                                        \
        const float *B = o->B + c0;                                                        \
        const int K = o->K, lda = o->lda, ldb = o->ldb;                                    \
        for (int k = 0; k < K; k++) {                                                      \
            vf b[NV_];                                                                     \
            UNROLL for (int v = 0; v < NV_; v++) b[v] = vload(B + (size_t)k * ldb + v * VW); \
            UNROLL for (int i = 0; i < RB_; i++)                                           \
            {                                                                              \
                vf a = vbcast(A[(size_t)i * lda + k]);                                     \
                UNROLL for (int v = 0; v < NV_; v++) acc[i][v] = vfma(a, b[v], acc[i][v]); \
            }                                                                              \
        }                                                                                  \
        const int N = o->N;                                                                \
        UNROLL for (int i = 0; i < RB_; i++)                                               \
        {                                                                                  \
            size_t row = (size_t)(r + i) * N + c0;                                         \
            UNROLL for (int v = 0; v < NV_; v++)                                           \
            {                                                                              \
                int nv = v == NV_ - 1 ? nlast : VW;                                        \
                vf x = acc[i][v];                                                          \
                if (o->add) x = vadd(x, vloadn(o->add + row + v * VW, nv));                \
                if (o->mask) x = vkeep_pos(x, vloadn(o->mask + row + v * VW, nv));         \
                if (o->relu) x = vrelu(x);                                                 \
                vstoren(o->C + row + v * VW, x, nv);                                       \
            }                                                                              \
        }                                                                                  \
    }

typedef void (*axpy_fn)(const lop_t *, int, int, int);
/* All block heights 1..RBn for n vectors: a row range splits into nearly equal
 * blocks, so no rows are left to a latency-bound one-row kernel. */
#define AXPY_ALL(NV_) AXPY_FN(1, NV_) AXPY_FN(2, NV_) AXPY_FN(3, NV_) AXPY_FN(4, NV_) \
    AXPY_FN(5, NV_) AXPY_FN(6, NV_) AXPY_FN(7, NV_) AXPY_FN(8, NV_)
AXPY_ALL(1) AXPY_ALL(2) AXPY_ALL(3) AXPY_ALL(4) AXPY_ALL(5) AXPY_ALL(6) AXPY_ALL(7) AXPY_ALL(8)
#define AXPY_ROW(NV_) {axpy_1_##NV_, axpy_2_##NV_, axpy_3_##NV_, axpy_4_##NV_, axpy_5_##NV_, \
                       axpy_6_##NV_, axpy_7_##NV_, axpy_8_##NV_}
static const axpy_fn axpy_tab[8][8] = {AXPY_ROW(1), AXPY_ROW(2), AXPY_ROW(3), AXPY_ROW(4),
                                       AXPY_ROW(5), AXPY_ROW(6), AXPY_ROW(7), AXPY_ROW(8)};
static const int rb_max[9] = {0, RB1, RB2, RB3, RB4, RB5, RB6, RB7, RB8};

/* Split `total` into ceil(total / maxb) nearly equal blocks; block b gets
 * rows [*start, *start + size). */
static inline int nblocks(int total, int maxb) { return (total + maxb - 1) / maxb; }
static inline int block_size(int total, int nb, int b) { return total / nb + (b < total % nb); }

#if VW == 16
/* ---- packed 4-column tails (AVX-512) -------------------------------------
 * A width N = 16 (NV-1) + t with t <= 4 (20, 36, 50, 100, ...) leaves a last
 * vector with t of 16 lanes busy, so a row costs NV FMAs for N outputs.  Here
 * the tails of 4 consecutive rows share one vector: lane 4i + c holds row i,
 * tail column c.  Per k the 4 rows' broadcasts (already in registers for the
 * main part) are blended into [a0 a0 a0 a0 a1 .. a3] and multiplied by the
 * tail of B[k] repeated 4 times (BT, prepared per layer).  Same operations
 * per output element as the plain kernel, in the same k order. */
typedef struct {
    const float *BT; /* [K][16]: lanes 4i + c = B[k][16 (NV-1) + c] (0 for c >= t) */
} tail_t;

static inline float *lane_ptr(float *p, int i) { return (float *)((uintptr_t)p - (uintptr_t)(16 * i)); }
static inline const float *lane_cptr(const float *p, int i) { return (const float *)((uintptr_t)p - (uintptr_t)(16 * i)); }

/* Load the 4-column tails of rows r..r+3 of M [.][ld] at column c into lanes
 * 4i + c' (zero beyond t). */
static inline vf load_tails(const float *M, size_t ld, int r, int c, int t)
{
    vf x = _mm512_setzero_ps();
    for (int i = 0; i < 4; i++)
        x = _mm512_mask_loadu_ps(x, (__mmask16)(((1u << t) - 1u) << (4 * i)), lane_cptr(M + (size_t)(r + i) * ld + c, i));
    return x;
}

static inline void store_tails(float *M, size_t ld, int r, int c, int t, vf x)
{
    for (int i = 0; i < 4; i++)
        _mm512_mask_storeu_ps(lane_ptr(M + (size_t)(r + i) * ld + c, i), (__mmask16)(((1u << t) - 1u) << (4 * i)), x);
}

#define AXPYT_FN(G_, NM_)                                                                       \
    static void axpyt_##G_##_##NM_(const lop_t *o, const float *BT, int r, int t)             \
    {                                                                                           \
        vf acc[4 * G_][NM_ > 0 ? NM_ : 1], at[G_];                                              \
        const int ct = 16 * NM_;                                                                \
        UNROLL for (int v = 0; v < NM_; v++)                                                    \
        {                                                                                       \
            vf b0 = o->bias ? vload(o->bias + v * VW) : vzero();                                \
            UNROLL for (int i = 0; i < 4 * G_; i++) acc[i][v] = b0;                             \
        }                                                                                       \
        {                                                                                       \
            vf bt0 = vzero();                                                                   \
            if (o->bias) {                                                                      \
                __m128 b4 = _mm_maskz_loadu_ps((__mmask8)((1u << t) - 1u), o->bias + ct);       \
                bt0 = _mm512_broadcast_f32x4(b4);                                               \
            }                                                                                   \
            UNROLL for (int g = 0; g < G_; g++) at[g] = bt0;                                    \
        }                                                                                       \
        const float *A = o->A + (size_t)r * o->lda;                                             \
        const int K = o->K, lda = o->lda, ldb = o->ldb;                                         \
        for (int k = 0; k < K; k++) {                                                           \
            vf b[NM_ > 0 ? NM_ : 1];                                                            \
            UNROLL for (int v = 0; v < NM_; v++) b[v] = vload(o->B + (size_t)k * ldb + v * VW); \
            vf bt = vload(BT + (size_t)k * 16);                                                 \
            UNROLL for (int g = 0; g < G_; g++)                                                 \
            {                                                                                   \
                vf a[4];                                                                        \
                UNROLL for (int i = 0; i < 4; i++)                                              \
                {                                                                               \
                    a[i] = vbcast(A[(size_t)(4 * g + i) * lda + k]);                            \
                    UNROLL for (int v = 0; v < NM_; v++) acc[4 * g + i][v] = vfma(a[i], b[v], acc[4 * g + i][v]); \
                }                                                                               \
                vf ab = _mm512_mask_mov_ps(a[0], 0x00F0, a[1]);                                 \
                ab = _mm512_mask_mov_ps(ab, 0x0F00, a[2]);                                      \
                ab = _mm512_mask_mov_ps(ab, 0xF000, a[3]);                                      \
                at[g] = vfma(ab, bt, at[g]);                                                    \
            }                                                                                   \
        }                                                                                       \
        const int N = o->N;                                                                     \
        UNROLL for (int i = 0; i < 4 * G_; i++)                                                 \
        {                                                                                       \
            size_t row = (size_t)(r + i) * N;                                                   \
            UNROLL for (int v = 0; v < NM_; v++)                                                \
            {                                                                                   \
                vf x = acc[i][v];                                                               \
                if (o->add) x = vadd(x, vload(o->add + row + v * VW));                          \
                if (o->mask) x = vkeep_pos(x, vload(o->mask + row + v * VW));                   \
                if (o->relu) x = vrelu(x);                                                      \
                _mm512_storeu_ps(o->C + row + v * VW, x);                                       \
            }                                                                                   \
        }                                                                                       \
        UNROLL for (int g = 0; g < G_; g++)                                                     \
        {                                                                                       \
            vf x = at[g];                                                                       \
            if (o->add) x = vadd(x, load_tails(o->add, N, r + 4 * g, ct, t));                   \
            if (o->mask) x = vkeep_pos(x, load_tails(o->mask, N, r + 4 * g, ct, t));            \
            if (o->relu) x = vrelu(x);                                                          \
            store_tails(o->C, N, r + 4 * g, ct, t, x);                                          \
        }                                                                                       \
    }
/* NM_ main vectors (N = 16 NM_ + t); G_ groups of 4 rows: 4 G_ NM_ + G_
 * accumulators plus the loads fit in 32 registers up to NM_ = 4. */
AXPYT_FN(6, 0) AXPYT_FN(2, 1) AXPYT_FN(2, 2) AXPYT_FN(2, 3) AXPYT_FN(1, 4)
typedef void (*axpyt_fn)(const lop_t *, const float *, int, int);
static const axpyt_fn axpyt_tab[5] = {axpyt_6_0, axpyt_2_1, axpyt_2_2, axpyt_2_3, axpyt_1_4};
static const int axpyt_g[5] = {6, 2, 2, 2, 1};
#define TAIL_NM_MAX 4

/* out[p0 .. p0+4 PG_) x [0 .. Q) += sum_r X[r][p] Y[r][q] with Q = 16 NM_ + t,
 * the tails of 4 consecutive p packed in one vector (lane 4i + c: p0 + 4g + i,
 * column 16 NM_ + c). */
#define RKT_FN(PG_, NM_)                                                                        \
    static void rkt_##PG_##_##NM_(const rk_t *o, int rows, int p0, int t)                     \
    {                                                                                           \
        vf acc[4 * PG_][NM_ > 0 ? NM_ : 1], at[PG_];                                            \
        const int ct = 16 * NM_;                                                                \
        const __m512i perm = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);  \
        UNROLL for (int i = 0; i < 4 * PG_; i++)                                                \
            UNROLL for (int v = 0; v < NM_; v++) acc[i][v] = vzero();                           \
        UNROLL for (int g = 0; g < PG_; g++) at[g] = vzero();                                   \
        const float *X = o->X + p0, *Y = o->Y;                                                  \
        const int ldx = o->ldx, ldy = o->ldy;                                                   \
        const __mmask8 tm = (__mmask8)((1u << t) - 1u);                                         \
        for (int r = 0; r < rows; r++) {                                                        \
            const float *yr = Y + (size_t)r * ldy, *xr = X + (size_t)r * ldx;                   \
            vf y[NM_ > 0 ? NM_ : 1];                                                            \
            UNROLL for (int v = 0; v < NM_; v++) y[v] = vload(yr + v * VW);                     \
            vf yt = _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(tm, yr + ct));                    \
            UNROLL for (int g = 0; g < PG_; g++)                                                \
            {                                                                                   \
                UNROLL for (int i = 0; i < 4; i++)                                              \
                {                                                                               \
                    vf x = vbcast(xr[4 * g + i]);                                               \
                    UNROLL for (int v = 0; v < NM_; v++) acc[4 * g + i][v] = vfma(x, y[v], acc[4 * g + i][v]); \
                }                                                                               \
                vf xp = _mm512_permutexvar_ps(perm, _mm512_castps128_ps512(_mm_loadu_ps(xr + 4 * g))); \
                at[g] = vfma(xp, yt, at[g]);                                                    \
            }                                                                                   \
        }                                                                                       \
        const int Q = o->Q;                                                                     \
        UNROLL for (int i = 0; i < 4 * PG_; i++)                                                \
        {                                                                                       \
            float *dst = o->out + (size_t)(p0 + i) * Q;                                         \
            UNROLL for (int v = 0; v < NM_; v++) _mm512_storeu_ps(dst + v * VW, vadd(vload(dst + v * VW), acc[i][v])); \
        }                                                                                       \
        UNROLL for (int g = 0; g < PG_; g++)                                                    \
            store_tails(o->out, Q, p0 + 4 * g, ct, t, vadd(load_tails(o->out, Q, p0 + 4 * g, ct, t), at[g])); \
    }
RKT_FN(1, 0) RKT_FN(6, 0) RKT_FN(1, 1) RKT_FN(4, 1) RKT_FN(1, 2) RKT_FN(2, 2) RKT_FN(1, 3) RKT_FN(2, 3) RKT_FN(1, 4)
typedef void (*rkt_fn)(const rk_t *, int, int, int);
static const rkt_fn rkt_big[5] = {rkt_6_0, rkt_4_1, rkt_2_2, rkt_2_3, rkt_1_4};
static const rkt_fn rkt_one[5] = {rkt_1_0, rkt_1_1, rkt_1_2, rkt_1_3, rkt_1_4};
static const int rkt_pg[5] = {6, 4, 2, 2, 1};

static inline int tail_ok(int n, int no_tail)
{
    return !no_tail && n % 16 >= 1 && n % 16 <= 4 && n / 16 <= TAIL_NM_MAX;
}
#else
static inline int tail_ok(int n, int no_tail) { (void)n, (void)no_tail; return 0; }
#endif

/* BT [K][16] for a B [K][ldb] whose N columns end in a tail of t = N % 16 <= 4
 * at column ct = N - t: lane 4i + c = B[k][ct + c] (0 for c >= t). */
static void prep_tail(const float *B, int K, int ldb, int N, float *BT)
{
    int t = N % 16, ct = N - t;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 4; c++) BT[(size_t)k * 16 + 4 * i + c] = c < t ? B[(size_t)k * ldb + ct + c] : 0.0f;
}

/* BT: the packed tail of B (prep_tail) when N % 16 is 1..4 and N <= 8 * 16
 * (AVX-512 builds), else NULL. */
static void run_axpy(const lop_t *o, int rows, const float *BT)
{
#if VW == 16
    if (BT && rows >= 4) {
        int nm = o->N / 16, t = o->N - 16 * nm, blk = 4 * axpyt_g[nm], r = 0;
        for (; r + blk <= rows; r += blk) axpyt_tab[nm](o, BT, r, t);
        if (r < rows) {
            lop_t q = *o;
            q.A = o->A + (size_t)r * o->lda;
            q.C = o->C + (size_t)r * o->N;
            if (o->add) q.add = o->add + (size_t)r * o->N;
            if (o->mask) q.mask = o->mask + (size_t)r * o->N;
            run_axpy(&q, rows - r, NULL);
        }
        return;
    }
#else
    (void)BT;
#endif
    for (int c0 = 0; c0 < o->N; c0 += NVMAX * VW) {
        int nc = o->N - c0 < NVMAX * VW ? o->N - c0 : NVMAX * VW;
        int nv = (nc + VW - 1) / VW, nlast = nc - (nv - 1) * VW;
        int nb = nblocks(rows, rb_max[nv]);
        for (int b = 0, r = 0; b < nb; b++) {
            int h = block_size(rows, nb, b);
            axpy_tab[nv - 1][h - 1](o, r, c0, nlast);
            r += h;
        }
    }
}

/* Narrow outputs: per row and output a vector dot product over K. */
KF_INLINE float dot_epilogue(const lop_t *o, int r, int j, float y)
{
    size_t idx = (size_t)r * o->N + j;
    if (o->bias) y += o->bias[j];
    if (o->add) y += o->add[idx];
    if (o->mask && !(o->mask[idx] > 0.0f)) y = 0.0f;
    if (o->relu && y < 0.0f) y = 0.0f;
    return y;
}

KF_INLINE vf dot_row(const lop_t *o, int r, int j)
{
    const float *a = o->A + (size_t)r * o->lda, *b = o->B + (size_t)j * o->ldb;
    const int K = o->K;
    vf s = vzero();
    for (int k0 = 0; k0 < K; k0 += VW) {
        int nk = K - k0 < VW ? K - k0 : VW;
        s = vfma(vloadn(a + k0, nk), vload(b + k0), s);
    }
    return s;
}

#if VW == 16
/* The lane sums of 16 vectors at once: out lane i = sum of the lanes of
 * v[i], by a fixed tree (within each 128-bit block (l0 + l2) + (l1 + l3), then
 * (b0 + b1) + (b2 + b3) over the blocks) in 45 operations instead of 16
 * separate reductions.  A row's sum does not depend on the other 15 vectors
 * (zeros for missing rows), so every row gets the same bits however the
 * rows are grouped. */
KF_INLINE vf hsum16(const vf *v)
{
    vf t[8], u[4];
    for (int i = 0; i < 8; i++)
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[2 * i]), b = _mm512_castps_pd(t[2 * i + 1]);
        u[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    /* u[i] block j: block-j sums of v[4i .. 4i+3] */
    vf x = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x88), _mm512_shuffle_f32x4(u[0], u[1], 0xDD));
    vf y = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x88), _mm512_shuffle_f32x4(u[2], u[3], 0xDD));
    /* x blocks: [v0-3 (b0+b1), v0-3 (b2+b3), v4-7 (b0+b1), v4-7 (b2+b3)] */
    return _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x88), _mm512_shuffle_f32x4(x, y, 0xDD));
}

static void run_dot(const lop_t *o, int rows)
{
    const int N = o->N;
    for (int r0 = 0; r0 < rows; r0 += 16) {
        int nr = rows - r0 < 16 ? rows - r0 : 16;
        for (int j = 0; j < N; j++) {
            vf p[16];
            if (nr == 16) {
                UNROLL for (int i = 0; i < 16; i++) p[i] = dot_row(o, r0 + i, j);
            } else {
                for (int i = 0; i < 16; i++) p[i] = i < nr ? dot_row(o, r0 + i, j) : vzero();
            }
            float tot[16];
            _mm512_storeu_ps(tot, hsum16(p));
            for (int i = 0; i < nr; i++) o->C[(size_t)(r0 + i) * N + j] = dot_epilogue(o, r0 + i, j, tot[i]);
        }
    }
}
#else
static void run_dot(const lop_t *o, int rows)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < o->N; j++) o->C[(size_t)r * o->N + j] = dot_epilogue(o, r, j, vhsum(dot_row(o, r, j)));
}
#endif

/* ---- weight-gradient micro-kernel ---------------------------------------- */


/* out[p0 .. p0+PB) x [c0 .. c0+NV*VW) += sum over the rows of X[r][p] Y[r][q].
 * With few accumulators (PB*NV < 8) the FMA latency would bind, so rows are
 * split over U independent accumulator sets (row r to set r mod U), summed in
 * a fixed order at the end. */
#define RK_U(PB_, NV_) ((PB_) * (NV_) >= 8 ? 1 : (PB_) * (NV_) >= 4 ? 2 : 4)
#define RK_FN(PB_, NV_)                                                                     \
    static void rk_##PB_##_##NV_(const rk_t *o, int rows, int p0, int c0, int nlast)      \
    {                                                                                       \
        enum { U = RK_U(PB_, NV_) };                                                        \
        vf acc[U][PB_][NV_];                                                                \
        UNROLL for (int u = 0; u < U; u++)                                                  \
            UNROLL for (int i = 0; i < PB_; i++)                                            \
                UNROLL for (int v = 0; v < NV_; v++) acc[u][i][v] = vzero();                \
        const float *X = o->X + p0, *Y = o->Y + c0;                                         \
        const int ldx = o->ldx, ldy = o->ldy;                                               \
        int r = 0;                                                                          \
        for (; r + U <= rows; r += U) {                                                     \
            UNROLL for (int u = 0; u < U; u++)                                              \
            {                                                                               \
                const float *yr = Y + (size_t)(r + u) * ldy, *xr = X + (size_t)(r + u) * ldx; \
                vf y[NV_];                                                                  \
                UNROLL for (int v = 0; v < NV_ - 1; v++) y[v] = vload(yr + v * VW);         \
                y[NV_ - 1] = vloadn(yr + (NV_ - 1) * VW, nlast);                            \
                UNROLL for (int i = 0; i < PB_; i++)                                        \
                {                                                                           \
                    vf x = vbcast(xr[i]);                                                   \
                    UNROLL for (int v = 0; v < NV_; v++) acc[u][i][v] = vfma(x, y[v], acc[u][i][v]); \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        for (; r < rows; r++) {                                                             \
            const float *yr = Y + (size_t)r * ldy, *xr = X + (size_t)r * ldx;               \
            vf y[NV_];                                                                      \
            UNROLL for (int v = 0; v < NV_ - 1; v++) y[v] = vload(yr + v * VW);             \
            y[NV_ - 1] = vloadn(yr + (NV_ - 1) * VW, nlast);                                \
            UNROLL for (int i = 0; i < PB_; i++)                                            \
            {                                                                               \
                vf x = vbcast(xr[i]);                                                       \
                UNROLL for (int v = 0; v < NV_; v++) acc[0][i][v] = vfma(x, y[v], acc[0][i][v]); \
            }                                                                               \
        }                                                                                   \
        UNROLL for (int u = 1; u < U; u++)                                                  \
            UNROLL for (int i = 0; i < PB_; i++)                                            \
                UNROLL for (int v = 0; v < NV_; v++) acc[0][i][v] = vadd(acc[0][i][v], acc[u][i][v]); \
        if (!o->trans) {                                                                    \
            UNROLL for (int i = 0; i < PB_; i++)                                            \
            {                                                                               \
                float *dst = o->out + (size_t)(p0 + i) * o->Q + c0;                         \
                UNROLL for (int v = 0; v < NV_; v++)                                        \
                {                                                                           \
                    int nv = v == NV_ - 1 ? nlast : VW;                                     \
                    vstoren(dst + v * VW, vadd(vloadn(dst + v * VW, nv), acc[0][i][v]), nv); \
                }                                                                           \
            }                                                                               \
        } else {                                                                            \
            float tmp[PB_][NV_ * VW];                                                       \
            UNROLL for (int i = 0; i < PB_; i++)                                            \
                UNROLL for (int v = 0; v < NV_; v++) vstoren(tmp[i] + v * VW, acc[0][i][v], VW); \
            int nq = (NV_ - 1) * VW + nlast;                                                \
            for (int i = 0; i < PB_; i++)                                                   \
                for (int q = 0; q < nq; q++) o->out[(size_t)(c0 + q) * o->P + p0 + i] += tmp[i][q]; \
        }                                                                                   \
    }

typedef void (*rk_fn)(const rk_t *, int, int, int, int);
#define RK_ALL(NV_) RK_FN(1, NV_) RK_FN(2, NV_) RK_FN(3, NV_) RK_FN(4, NV_) \
    RK_FN(5, NV_) RK_FN(6, NV_) RK_FN(7, NV_) RK_FN(8, NV_)
RK_ALL(1) RK_ALL(2) RK_ALL(3) RK_ALL(4) RK_ALL(5) RK_ALL(6) RK_ALL(7) RK_ALL(8)
#define RK_ROW(NV_) {rk_1_##NV_, rk_2_##NV_, rk_3_##NV_, rk_4_##NV_, rk_5_##NV_, \
                     rk_6_##NV_, rk_7_##NV_, rk_8_##NV_}
static const rk_fn rk_tab[8][8] = {RK_ROW(1), RK_ROW(2), RK_ROW(3), RK_ROW(4),
                                   RK_ROW(5), RK_ROW(6), RK_ROW(7), RK_ROW(8)};

/* Rows p in [pb, P) of the plain kernels. */
static void run_rk_plain(const rk_t *o, int rows, int pb)
{
    int P = o->P - pb;
    if (P <= 0) return;
    for (int c0 = 0; c0 < o->Q; c0 += NVMAX * VW) {
        int nc = o->Q - c0 < NVMAX * VW ? o->Q - c0 : NVMAX * VW;
        int nv = (nc + VW - 1) / VW, nlast = nc - (nv - 1) * VW;
        int nb = nblocks(P, rb_max[nv]);
        for (int b = 0, p = pb; b < nb; b++) {
            int h = block_size(P, nb, b);
            rk_tab[nv - 1][h - 1](o, rows, p, c0, nlast);
            p += h;
        }
    }
}

static void run_rk(const rk_t *o, int rows, int no_tail)
{
#if VW == 16
    if (!o->trans && tail_ok(o->Q, no_tail) && o->P >= 4) {
        int nm = o->Q / 16, t = o->Q - 16 * nm, blk = 4 * rkt_pg[nm], p = 0;
        for (; p + blk <= o->P; p += blk) rkt_big[nm](o, rows, p, t);
        for (; p + 4 <= o->P; p += 4) rkt_one[nm](o, rows, p, t);
        run_rk_plain(o, rows, p);
        return;
    }
#else
    (void)no_tail;
#endif
    run_rk_plain(o, rows, 0);
}

/* acc[0 .. N) += column sums of D [rows][N] (acc padded).  Four partial
 * sums (rows r mod 4) break the add latency chain; fixed order. */
static void colsum_add(const float *D, int rows, int N, float *acc)
{
    for (int c0 = 0; c0 < N; c0 += VW) {
        int nc = N - c0 < VW ? N - c0 : VW;
        vf s0 = vzero(), s1 = vzero(), s2 = vzero(), s3 = vzero();
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            s0 = vadd(s0, vloadn(D + (size_t)r * N + c0, nc));
            s1 = vadd(s1, vloadn(D + (size_t)(r + 1) * N + c0, nc));
            s2 = vadd(s2, vloadn(D + (size_t)(r + 2) * N + c0, nc));
            s3 = vadd(s3, vloadn(D + (size_t)(r + 3) * N + c0, nc));
        }
        for (; r < rows; r++) s0 = vadd(s0, vloadn(D + (size_t)r * N + c0, nc));
        vf s = vadd(vadd(s0, s1), vadd(s2, s3));
        vstoren(acc + c0, vadd(vload(acc + c0), s), VW);
    }
}

/* Vector lanes spent per row on dW = D^T A ([dout][din]) with vectors along
 * din, or along dout (swapped). */
static int rk_swap(int din, int dout)
{
    long plain = (long)dout * ((din + VW - 1) / VW), swapped = (long)din * ((dout + VW - 1) / VW);
    return swapped < plain;
}

/* ---- drivers -------------------------------------------------------------- */

int kfast_tile_rows(const model_t *m)
{
    int w = 1;
    for (int l = 0; l <= m->nlin; l++)
        if (m->dims[l] > w) w = m->dims[l];
    /* ~64 KB per [tile][widest] buffer: a layer's input, output, gradient
     * and mask of one tile stay in L2 and mostly in L1. */
    int t = 16384 / w;
    t = t / 8 * 8;
    if (t < 16) t = 16;
    if (t > 512) t = 512;
    return t;
}

static void forward_layer(const model_t *m, kfast_scratch_t *ks, int l, const float *A, int rows, float *C)
{
    int din = m->dims[l], dout = m->dims[l + 1];
    lop_t o = {.A = A, .lda = din, .K = din, .N = dout, .relu = m->act_after[l], .C = C};
    if (dout <= DOT_N) {
        o.B = ks->w[l];
        o.ldb = pad_to(din);
        o.bias = m->params + m->b_off[l];
        run_dot(&o, rows);
    } else {
        o.B = ks->wt[l];
        o.ldb = pad_to(dout);
        o.bias = ks->b[l];
        run_axpy(&o, rows, tail_ok(dout, ks->no_tail) ? ks->tf[l] : NULL);
    }
}

void kfast_forward(const model_t *m, model_ws_t *ws, kfast_scratch_t *ks, const float *X, int n, int l0, int l1)
{
    for (int l = l0; l < l1; l++) {
        int dout = m->dims[l + 1];
        if (dout <= DOT_N) prep_w(m, ks, l);
        else {
            prep_wt(m, ks, l);
            memcpy(ks->b[l], m->params + m->b_off[l], dout * sizeof(float));
            if (tail_ok(dout, ks->no_tail)) prep_tail(ks->wt[l], m->dims[l], pad_to(dout), dout, ks->tf[l]);
        }
    }
    /* Forward rows are independent: any tiling gives the same bits. */
    const int T = kfast_tile_rows(m);
    for (int r0 = 0; r0 < n; r0 += T) {
        int rows = n - r0 < T ? n - r0 : T;
        const float *A = X + (size_t)r0 * m->dims[l0];
        for (int l = l0; l < l1; l++) {
            float *C = ws->act[l + 1] + (size_t)r0 * m->dims[l + 1];
            forward_layer(m, ks, l, A, rows, C);
            A = C;
        }
    }
}

void kfast_backward(model_t *m, model_ws_t *ws, kfast_scratch_t *ks, const float *X, int n, float mse_scale,
                    const float *dcode)
{
    const int L = m->nlin, in = m->arch.in;
    for (int l = 1; l < L; l++) {
        int din = m->dims[l], dout = m->dims[l + 1];
        if (din <= DOT_N) prep_wt(m, ks, l);
        else {
            prep_w(m, ks, l);
            if (tail_ok(din, ks->no_tail)) prep_tail(ks->w[l], dout, pad_to(din), din, ks->tb[l]);
        }
    }
    memset(m->grads, 0, m->nparams * sizeof(float));
    for (int l = 0; l < L; l++) memset(ks->db[l], 0, pad_to(m->dims[l + 1]) * sizeof(float));
    /* dL/dX_hat = 2 * scale * (X_hat - X) / (n * in), as the BLAS path. */
    const float c = 2.0f * mse_scale / (float)((size_t)n * in);
    const float *Yout = ws->act[L];
    const int T = kfast_tile_rows(m);
    for (int r0 = 0; r0 < n; r0 += T) {
        int rows = n - r0 < T ? n - r0 : T;
        int cur = 0;
        float *D = ws->dbuf[0];
        {
            size_t k = (size_t)rows * in, o = (size_t)r0 * in;
            for (size_t i = 0; i < k; i++) D[i] = c * (Yout[o + i] - X[o + i]);
        }
        for (int l = L - 1; l >= 0; l--) {
            int din = m->dims[l], dout = m->dims[l + 1];
            const float *A = (l ? ws->act[l] : X) + (size_t)r0 * din;
            /* dW_l += D^T A over this tile; db_l += column sums of D */
            rk_t g;
            if (rk_swap(din, dout))
                g = (rk_t){.X = A, .ldx = din, .P = din, .Y = D, .ldy = dout, .Q = dout,
                           .out = m->grads + m->w_off[l], .trans = 1};
            else
                g = (rk_t){.X = D, .ldx = dout, .P = dout, .Y = A, .ldy = din, .Q = din,
                           .out = m->grads + m->w_off[l], .trans = 0};
            run_rk(&g, rows, ks->no_tail);
            colsum_add(D, rows, dout, ks->db[l]);
            if (l == 0) break;
            /* dA = D W (+ dcode), zeroed where act[l] <= 0 when a ReLU made act[l] */
            float *dA = ws->dbuf[cur ^ 1];
            lop_t o = {.A = D, .lda = dout, .K = dout, .N = din, .C = dA};
            if (dcode && l == m->code_layer + 1) o.add = dcode + (size_t)r0 * din;
            if (m->act_after[l - 1]) o.mask = ws->act[l] + (size_t)r0 * din;
            if (din <= DOT_N) {
                o.B = ks->wt[l];
                o.ldb = pad_to(dout);
                run_dot(&o, rows);
            } else {
                o.B = ks->w[l];
                o.ldb = pad_to(din);
                run_axpy(&o, rows, tail_ok(din, ks->no_tail) ? ks->tb[l] : NULL);
            }
            cur ^= 1;
            D = dA;
        }
    }
    for (int l = 0; l < L; l++)
        memcpy(m->grads + m->b_off[l], ks->db[l], m->dims[l + 1] * sizeof(float));
}

/* ---- the table of operations (kernel.h) ----------------------------------- */

static size_t tiled_ws_bytes(const model_t *m, int rows, const model_opts_t *o)
{
    (void)rows, (void)o;
    return kfast_ws_bytes(m);
}

static void tiled_ws_init(const model_t *m, int rows, const model_opts_t *o, void *mem)
{
    (void)rows;
    kfast_ws_init(m, o->no_tail, mem);
}

static void tiled_forward(const model_t *m, model_ws_t *ws, void *ks, const float *X, int n, int l0, int l1)
{
    kfast_forward(m, ws, ks, X, n, l0, l1);
}

static void tiled_backward(model_t *m, model_ws_t *ws, void *ks, const float *X, int n, float mse_scale,
                           const float *dcode)
{
    kfast_backward(m, ws, ks, X, n, mse_scale, dcode);
}

const kernel_ops_t kernel_tiled = {
    .name = "tiled",
    .ws_bytes = tiled_ws_bytes,
    .ws_init = tiled_ws_init,
    .forward = tiled_forward,
    .backward = tiled_backward,
    .step = NULL,
};
