/* kernel_lanes.c - fused, rows-in-lanes training step (see kernel_lanes.h).
 *
 * Why another kernel.  kernel_fast.c runs vectors along the feature axis of
 * a row; a 20-wide layer then fills 20 of 32 lanes (two 16-lane vectors),
 * and full-batch training stores every activation of all n rows in a forward
 * pass that the backward pass reads back from L3.  Here:
 *
 *   - rows run along the lanes.  A tile of T rows is held feature-major,
 *     act[f][T], so one vector is one feature of LW rows (16 with AVX-512,
 *     8 with AVX2) and every lane does useful work whatever the layer
 *     widths are;
 *   - one tile goes forward through all layers, gets its loss gradient and
 *     goes backward through all layers before the next tile is touched, so a
 *     training step reads the data once and its activations never leave L2.
 *
 * The math per layer l (W [out][in] row-major, rows r in lanes):
 *   forward   Z[j][r] = b[j] + sum_k W[j][k] A[k][r],  A' = ReLU(Z) (or Z)
 *   output    D[c][r] = 2 s (Y[c][r] - X[c][r]) / (n in)   (loss s*MSE)
 *   backward  dW[j][k] += sum_r D[j][r] A[k][r],  db[j] += sum_r D[j][r]
 *             dA[k][r]  = sum_j W[j][k] D[j][r],  zeroed where A[k][r] <= 0
 *                                                  (ReLU' of the layer below)
 * Forward and dA are one micro-kernel C[o][r] = init + sum_i M(o,i) B[i][r]
 * with M(o,i) = W[o*so + i] (forward: so = in on W; backward: so = out on a
 * copy of W^T made once per step): JB outputs x RB row-vectors of accumulators stay in registers
 * for the whole i loop; per i: RB vector loads, JB broadcasts, JB*RB FMAs.
 *
 * dW is a reduction over rows, i.e. over lanes.  Each lane keeps its own
 * partial sum in a [out][in][LW] accumulator (registers for a JBxKB block
 * during a tile, memory between tiles); the LW lanes are added once per
 * step (sixteen parameters at a time with AVX-512).  Row r always lands in lane r % LW and is added after row r - LW, so
 * every weight gradient is the same sequence of float operations whatever
 * the tile size: results depend on the build and n only.  The loss is summed
 * per lane in double the same way.
 *
 * Rows past n in the last vector are padding: their input is 0 and their
 * output gradient is exactly 0, so they add exact zeros to every gradient.
 *
 * IEEE semantics: explicit FMAs only (intrinsics, or fmaf lane by lane in
 * the portable path; a multiply and an add where the target has no FMA
 * instruction); the file is compiled with -ffp-contract=off so the compiler
 * fuses nothing else; no reassociation.
 */
#include "aesweep/kernel_lanes.h"
#include "aesweep/kernel.h"
#include "aesweep/kernel_fast.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

#define KL_INLINE SIMD_INLINE
#define KL_ISA SIMD_ISA
/* LW: rows per vector (the vector width of simd.h: 16 with AVX-512, 8 with
 * AVX2, 4 portable).  Register blocks (outputs x row-vectors of
 * accumulators) sized to the register file. */
#define LW VW
#if NREG >= 32
#define LMM_MJ 6 /* forward/dA: outputs per block */
#define LMM_MR 4 /*             row-vectors per block */
#define LDW_MJ 4 /* dW: outputs per block */
#define LDW_MK 5 /*     inputs per block */
#else
#define LMM_MJ 4
#define LMM_MR 3
#define LDW_MJ 3
#define LDW_MK 3
#endif

/* KL_REG(x): an empty asm that takes x in a vector register, so the value
 * is materialised there (no rematerialisation as a memory operand).
 * vfirst(x, nl): x in the first nl lanes, 0 elsewhere.
 * vd, dzero, dacc_sq(acc, x): acc += the squares of x's lanes in double;
 * dsum: the sum of acc's lanes in a fixed order. */
#if defined(SIMD_AVX512)
#define KL_REG(x) __asm__("" : "+v"(x))
KL_INLINE vf vfirst(vf x, int nl) { return _mm512_maskz_mov_ps(kmask(nl), x); }
typedef __m512d vd;
KL_INLINE vd dzero(void) { return _mm512_setzero_pd(); }
KL_INLINE vd dacc_sq(vd acc, vf x)
{
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
    __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1));
    acc = _mm512_fmadd_pd(lo, lo, acc);
    return _mm512_fmadd_pd(hi, hi, acc);
}
/* ((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7)) in registers.  Not
 * through a double[8] on the stack: GCC 12's AddressSanitizer with
 * detect_stack_use_after_return moves such arrays to "fake stack" frames
 * that are not 64-byte aligned, while the compiler stores a zmm there with
 * an aligned move (a SIGSEGV, fixed in LLVM's runtime only in 2025). */
KL_INLINE double dsum(vd a)
{
    __m256d q = _mm512_castpd512_pd256(a), r = _mm512_extractf64x4_pd(a, 1);
    __m128d p0 = _mm_hadd_pd(_mm256_castpd256_pd128(q), _mm256_extractf128_pd(q, 1)); /* t0+t1, t2+t3 */
    __m128d p1 = _mm_hadd_pd(_mm256_castpd256_pd128(r), _mm256_extractf128_pd(r, 1)); /* t4+t5, t6+t7 */
    return _mm_cvtsd_f64(_mm_hadd_pd(p0, p0)) + _mm_cvtsd_f64(_mm_hadd_pd(p1, p1));
}
#elif defined(SIMD_AVX2)
#define KL_REG(x) __asm__("" : "+x"(x))
KL_INLINE vf vfirst(vf x, int nl) { return _mm256_and_ps(x, _mm256_castsi256_ps(kmask(nl))); }
typedef __m256d vd;
KL_INLINE vd dzero(void) { return _mm256_setzero_pd(); }
KL_INLINE vd dacc_sq(vd acc, vf x)
{
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    acc = _mm256_fmadd_pd(lo, lo, acc);
    return _mm256_fmadd_pd(hi, hi, acc);
}
KL_INLINE double dsum(vd a) /* (t0 + t1) + (t2 + t3), in registers as above */
{
    __m128d p = _mm_hadd_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_hadd_pd(p, p));
}
#else
#define KL_REG(x) ((void)0)
KL_INLINE vf vfirst(vf x, int nl)
{
    vf r = vzero();
    for (int i = 0; i < nl; i++) r[i] = x[i];
    return r;
}
typedef struct {
    double d[4]; /* a struct, not a vector type: no ABI change without AVX */
} vd;
KL_INLINE vd dzero(void) { return (vd){{0.0, 0.0, 0.0, 0.0}}; }
KL_INLINE vd dacc_sq(vd acc, vf x)
{
#if SIMD_FMA
    for (int i = 0; i < 4; i++) acc.d[i] = __builtin_fma((double)x[i], (double)x[i], acc.d[i]);
#else /* no FMA instruction: see vfma in simd.h */
    for (int i = 0; i < 4; i++) acc.d[i] = (double)x[i] * (double)x[i] + acc.d[i];
#endif
    return acc;
}
KL_INLINE double dsum(vd a) { return (a.d[0] + a.d[1]) + (a.d[2] + a.d[3]); }
#endif

/* Sum of the LW lanes in a fixed order (pairwise): h[i] += h[i + w] for
 * w = LW/2, ..., 1. */
static inline float lanes_sum(const float *p)
{
    float h[LW];
    for (int i = 0; i < LW; i++) h[i] = p[i];
    for (int w = LW / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) h[i] = h[i] + h[i + w];
    return h[0];
}

/* out[q] = lanes_sum(p + q * LW) for q < cnt.  With AVX-512, sixteen sums at
 * a time as a transposing tree: each level adds the two halves of every
 * partial sum (lanes i and i + w, as lanes_sum does; a + b == b + a in IEEE
 * arithmetic, so the bits are the same) while packing two vectors into
 * one, and after four levels lane 4c + q holds the sum of vector 4q + c. */
void klanes_lane_sums(const float *p, size_t cnt, float *out)
{
    size_t q = 0;
#if defined(SIMD_AVX512)
    const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    for (; q + 16 <= cnt; q += 16) {
        const float *b = p + q * LW;
        __m512 t[8], u[4], w[2];
        for (int k = 0; k < 8; k++) { /* [x0..7 | y0..7] + [x8..15 | y8..15] */
            __m512 x = _mm512_loadu_ps(b + (2 * k) * LW), y = _mm512_loadu_ps(b + (2 * k + 1) * LW);
            t[k] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x44), _mm512_shuffle_f32x4(x, y, 0xEE));
        }
        for (int k = 0; k < 4; k++) /* 128-bit chunks: [x0-3 y0-3 z0-3 v0-3] + [x4-7 ...] */
            u[k] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * k], t[2 * k + 1], 0x88),
                                 _mm512_shuffle_f32x4(t[2 * k], t[2 * k + 1], 0xDD));
        for (int k = 0; k < 2; k++) /* within chunks: lanes (0,1) + (2,3) */
            w[k] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * k], u[2 * k + 1], 0x44),
                                 _mm512_shuffle_ps(u[2 * k], u[2 * k + 1], 0xEE));
        __m512 r = _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xDD));
        _mm512_storeu_ps(out + q, _mm512_permutexvar_ps(perm, r));
    }
#endif
    for (; q < cnt; q++) out[q] = lanes_sum(p + q * LW);
}

const char *klanes_isa(void) { return KL_ISA; }

int klanes_lane_width(void) { return LW; }

int klanes_fma(void) { return SIMD_FMA; }

int klanes_preferred(void) { return strcmp(KL_ISA, "generic") != 0; }

/* ---- scratch ------------------------------------------------------------- */

/* Rows per tile for m.  Two costs pull apart: the tile's buffers (input,
 * every layer's output, two gradient buffers) should stay in a 1 MB L2, and
 * the lane partial sums of dW ([out][in][16] floats, 64 bytes a parameter)
 * are read and written once per tile.  Measured on the study's shapes (Zen
 * 5): the best tile holds about max(224 KB, 1.5 x the partial sums) of
 * buffers (2-20x3-1: 256 rows, 2-50x4-1: 384, 64-100x2-8: 1024).  A
 * multiple of LMM_MR x LW (whole blocks of the micro-kernel) when above
 * it, LW .. 1024.  Any value gives the same bits (see the top of the file), so this
 * is tuning only. */
static int tile_rows_arch(const model_t *m)
{
    long per_row = m->dims[0], partial = 0;
    int maxd = 1;
    for (int l = 1; l <= m->nlin; l++) per_row += m->dims[l];
    for (int l = 0; l <= m->nlin; l++)
        if (m->dims[l] > maxd) maxd = m->dims[l];
    for (int l = 0; l < m->nlin; l++) partial += (long)m->dims[l + 1] * (m->dims[l] + 1) * LW * 4;
    per_row = (per_row + 2L * maxd) * 4;
    long budget = 224L * 1024;
    if (partial + partial / 2 > budget) budget = partial + partial / 2;
    long t = budget / per_row;
    t = t >= LMM_MR * LW ? t / (LMM_MR * LW) * (LMM_MR * LW) : t / LW * LW; /* whole blocks */
    if (t < LW) t = LW;
    if (t > 1024) t = 1024;
    return (int)t;
}

static int tile_rows(const model_t *m, int rows)
{
    int t = tile_rows_arch(m);
    int need = (rows + LW - 1) / LW * LW;
    return need < t ? need : t;
}

size_t klanes_ws_floats(const model_t *m, int rows)
{
    const int T = tile_rows(m, rows);
    size_t f = 0;
    int maxd = 1;
    for (int l = 0; l <= m->nlin; l++) {
        f += (size_t)m->dims[l] * T; /* X^T and every layer's output */
        if (m->dims[l] > maxd) maxd = m->dims[l];
    }
    f += 2 * (size_t)maxd * T; /* gradient ping-pong */
    for (int l = 0; l < m->nlin; l++)
        f += (size_t)m->dims[l + 1] * (m->dims[l] + 1) * LW  /* lane partials of dW, db */
             + (l ? (size_t)m->dims[l + 1] * m->dims[l] : 0); /* W^T for dA (none below layer 0) */
    /* ints, one float slot each: the live units of every layer, the live
     * flags of one layer, the identity list */
    for (int l = 0; l <= m->nlin; l++) f += (size_t)m->dims[l];
    f += 2 * (size_t)maxd;
    return (f + 15) / 16 * 16; /* whole 64-byte lines: aligned_alloc needs a multiple */
}

/* ---- micro-kernels ------------------------------------------------------- */

/* C[o][r] = init[o] + sum_i W[o*so + i] * B[i][r] for JB outputs from o0
 * and RB row-vectors from v0; the epilogue is a compile-time MODE:
 *   LMM_BIAS       init = bias                  (linear layer, forward)
 *   LMM_BIAS_RELU  init = bias, then ReLU       (hidden layer, forward)
 *   LMM_MASK       init = 0, zeroed where mask <= 0 (dA with ReLU' below)
 *   LMM_PLAIN      init = 0                     (dA of the code layer)
 * One instantiation per mode keeps the loop free of run-time tests. */
enum { LMM_BIAS, LMM_BIAS_RELU, LMM_MASK, LMM_PLAIN, LMM_NMODES };
typedef struct {
    const float *W;
    ptrdiff_t so;
    const float *B; /* [*][T] */
    const int *ii;  /* the inputs summed over: B rows ii[0 .. ni-1] */
    int ni, T;
    const int *oi;     /* dA modes: output o is unit oi[o] of C, mask, W (the
                        * forward modes compute every unit, o itself) */
    float *C;          /* [*][T] */
    const float *bias; /* [*] (LMM_BIAS*) */
    const float *mask; /* [*][T] (LMM_MASK) */
    int *live;         /* LMM_BIAS_RELU: live[unit] = 1 if some output is not +-0 */
    int mode;
} lmm_t;

KL_INLINE void lmm_kern(const lmm_t *p, int o0, int v0, const int JB, const int RB, const int MODE)
{
    vf acc[LMM_MJ][LMM_MR];
    const float *w[LMM_MJ];
    int u[LMM_MJ];
    const int T = p->T;
    const int has_bias = MODE == LMM_BIAS || MODE == LMM_BIAS_RELU;
    const ptrdiff_t so = p->so;
#pragma GCC unroll 6
    for (int j = 0; j < JB; j++) {
        u[j] = has_bias ? o0 + j : p->oi[o0 + j]; /* known at compile time: no load in the forward */
        w[j] = p->W + u[j] * so;
        vf init = has_bias ? vbcast(p->bias[u[j]]) : vzero();
#pragma GCC unroll 4
        for (int r = 0; r < RB; r++) acc[j][r] = init;
    }
    const float *b = p->B + (size_t)v0 * LW;
    const int *ii = p->ii;
    for (int q = 0; q < p->ni; q++) {
        const int i = ii[q];
        const float *bi = b + (size_t)i * T;
        vf x[LMM_MR];
#pragma GCC unroll 4
        for (int r = 0; r < RB; r++) x[r] = vload(bi + r * LW);
#pragma GCC unroll 6
        for (int j = 0; j < JB; j++) {
            vf wv = vbcast(w[j][i]);
#pragma GCC unroll 4
            for (int r = 0; r < RB; r++) acc[j][r] = vfma(wv, x[r], acc[j][r]);
        }
    }
    /* everything the stores need in locals: a vector store may alias any
     * memory, so p->... would be reloaded after each one */
    float *const C = p->C;
    const float *const mask = p->mask;
    int *const live = p->live;
    size_t off[LMM_MJ];
#pragma GCC unroll 6
    for (int j = 0; j < JB; j++) off[j] = (size_t)u[j] * T + (size_t)v0 * LW;
#pragma GCC unroll 6
    for (int j = 0; j < JB; j++) {
        float *c = C + off[j];
        vf any = vzero();
#pragma GCC unroll 4
        for (int r = 0; r < RB; r++) {
            vf y = acc[j][r];
            if (MODE == LMM_BIAS_RELU) {
                y = vrelu(y);
                any = vor(any, y);
            }
            if (MODE == LMM_MASK) y = vkeep_pos(y, vload(mask + off[j] + r * LW));
            vstore(c + r * LW, y);
        }
        if (MODE == LMM_BIAS_RELU && vnz_any(any)) live[u[j]] = 1;
    }
}

typedef void (*lmm_fn)(const lmm_t *, int, int);
#define LMM_FN1(J, R, M, MN) \
    static void lmm_##J##_##R##_##MN(const lmm_t *p, int o0, int v0) { lmm_kern(p, o0, v0, J, R, M); }
#define LMM_FN(J, R) \
    LMM_FN1(J, R, LMM_BIAS, b) LMM_FN1(J, R, LMM_BIAS_RELU, br) LMM_FN1(J, R, LMM_MASK, m) LMM_FN1(J, R, LMM_PLAIN, p)
#define LMM_MODES(J, R) {lmm_##J##_##R##_b, lmm_##J##_##R##_br, lmm_##J##_##R##_m, lmm_##J##_##R##_p}
#if LMM_MJ == 6 && LMM_MR == 4
#define LMM_ROW(J) LMM_FN(J, 1) LMM_FN(J, 2) LMM_FN(J, 3) LMM_FN(J, 4)
LMM_ROW(1) LMM_ROW(2) LMM_ROW(3) LMM_ROW(4) LMM_ROW(5) LMM_ROW(6)
#define LMM_TROW(J) {{NULL}, LMM_MODES(J, 1), LMM_MODES(J, 2), LMM_MODES(J, 3), LMM_MODES(J, 4)}
static const lmm_fn lmm_tab[LMM_MJ + 1][LMM_MR + 1][LMM_NMODES] = {
    {{NULL}}, LMM_TROW(1), LMM_TROW(2), LMM_TROW(3), LMM_TROW(4), LMM_TROW(5), LMM_TROW(6)};
#elif LMM_MJ == 4 && LMM_MR == 3
#define LMM_ROW(J) LMM_FN(J, 1) LMM_FN(J, 2) LMM_FN(J, 3)
LMM_ROW(1) LMM_ROW(2) LMM_ROW(3) LMM_ROW(4)
#define LMM_TROW(J) {{NULL}, LMM_MODES(J, 1), LMM_MODES(J, 2), LMM_MODES(J, 3)}
static const lmm_fn lmm_tab[LMM_MJ + 1][LMM_MR + 1][LMM_NMODES] = {
    {{NULL}}, LMM_TROW(1), LMM_TROW(2), LMM_TROW(3), LMM_TROW(4)};
#else
#error "no micro-kernel table for these LMM_MJ x LMM_MR"
#endif

static inline int nblocks(int total, int maxb) { return (total + maxb - 1) / maxb; }
static inline int block_size(int total, int nb, int b) { return total / nb + (b < total % nb); }

/* The whole [no] x [nv row-vectors] output, in blocks of JB <= LMM_MJ
 * outputs (of equal size) x LMM_MR row-vectors (and a remainder). */
static void lmm_run(const lmm_t *p, int no, int nv)
{
    const int nb = nblocks(no, LMM_MJ);
    int o0 = 0;
    for (int b = 0; b < nb; b++) {
        int jb = block_size(no, nb, b);
        int v = 0;
        for (; v + LMM_MR <= nv; v += LMM_MR) lmm_tab[jb][LMM_MR][p->mode](p, o0, v);
        if (v < nv) lmm_tab[jb][nv - v][p->mode](p, o0, v);
        o0 += jb;
    }
}

/* G[u][i][:] += sum over row-vectors v of D[u][v] * A[i][v], lane by lane,
 * for the JB output units u = oi[o0 ..] and KB input units i = ii[i0 ..]
 * (G starts at 0 each step; see klanes_mse_grad).
 * DB (a compile-time flag): also Gb[o][:] (+)= sum_v D[o][v], the bias
 * gradient, from the D vectors the block loads anyway.  With 32 vector
 * registers the adds are nearly free: they go to the FP add pipes while the
 * FMAs keep the FMA pipes busy, and the separate pass over D that they
 * replace cost ~1.5% of a step (measured on 2-20x3-1, Zen 5).  The sum per
 * lane runs in row order either way, so the bits are the same as ldb_run's. */
typedef struct {
    const float *D, *A; /* [*][T], [*][T] */
    int T, nv;
    const int *oi, *ii; /* the outputs (units oi[0 .. no-1]) and inputs (ii[0 .. ni-1]) */
    int ni, ldg;        /* inputs summed over; inputs of the layer (G's row length) */
    float *G;           /* [*][ldg][LW] */
    float *Gb;          /* [*][LW] */
} ldw_t;

KL_INLINE void ldw_kern(const ldw_t *p, int o0, int i0, int va, int vb, const int JB, const int KB,
                        const int DB)
{
    vf acc[LDW_MJ][LDW_MK], sb[LDW_MJ];
    const float *d[LDW_MJ], *a[LDW_MK];
    float *g[LDW_MJ], *gb[LDW_MJ];
    size_t co[LDW_MK];
    const int T = p->T;
    /* addresses in locals: the stores at the end may alias any memory */
#pragma GCC unroll 4
    for (int j = 0; j < JB; j++) {
        const int u = p->oi[o0 + j];
        d[j] = p->D + (size_t)u * T;
        g[j] = p->G + (size_t)u * p->ldg * LW;
        gb[j] = p->Gb + (size_t)u * LW;
        if (DB) sb[j] = vload(gb[j]);
    }
#pragma GCC unroll 5
    for (int k = 0; k < KB; k++) {
        const int i = p->ii[i0 + k];
        a[k] = p->A + (size_t)i * T;
        co[k] = (size_t)i * LW;
    }
#pragma GCC unroll 4
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 5
        for (int k = 0; k < KB; k++) acc[j][k] = vload(g[j] + co[k]);
    for (int v = va; v < vb; v++) {
        vf dv[LDW_MJ], av[LDW_MK];
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) {
            dv[j] = vload(d[j] + v * LW);
            if (DB) sb[j] = vadd(sb[j], dv[j]);
        }
#pragma GCC unroll 5
        for (int k = 0; k < KB; k++) {
            av[k] = vload(a[k] + v * LW);
            /* Keep it in a register: folding it into the JB FMAs as a memory
             * operand (GCC's choice) costs JB loads and makes the loop
             * load-bound. */
            KL_REG(av[k]);
        }
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++)
#pragma GCC unroll 5
            for (int k = 0; k < KB; k++) acc[j][k] = vfma(dv[j], av[k], acc[j][k]);
    }
#pragma GCC unroll 4
    for (int j = 0; j < JB; j++)
#pragma GCC unroll 5
        for (int k = 0; k < KB; k++) vstore(g[j] + co[k], acc[j][k]);
    if (DB)
#pragma GCC unroll 4
        for (int j = 0; j < JB; j++) vstore(gb[j], sb[j]);
}

typedef void (*ldw_fn)(const ldw_t *, int, int, int, int);
#define LDW_FN(J, K)                                                           \
    static void ldw_##J##_##K(const ldw_t *p, int o0, int i0, int va, int vb)  \
    {                                                                          \
        ldw_kern(p, o0, i0, va, vb, J, K, 0);                                  \
    }                                                                          \
    static void ldwb_##J##_##K(const ldw_t *p, int o0, int i0, int va, int vb) \
    {                                                                          \
        ldw_kern(p, o0, i0, va, vb, J, K, 1);                                  \
    }
#if LDW_MJ == 4 && LDW_MK == 5
#define LDW_ROW(J) LDW_FN(J, 1) LDW_FN(J, 2) LDW_FN(J, 3) LDW_FN(J, 4) LDW_FN(J, 5)
LDW_ROW(1) LDW_ROW(2) LDW_ROW(3) LDW_ROW(4)
#define LDW_TROW(P, J) {NULL, P##_##J##_1, P##_##J##_2, P##_##J##_3, P##_##J##_4, P##_##J##_5}
#define LDW_TAB(P) {{NULL}, LDW_TROW(P, 1), LDW_TROW(P, 2), LDW_TROW(P, 3), LDW_TROW(P, 4)}
#elif LDW_MJ == 3 && LDW_MK == 3
#define LDW_ROW(J) LDW_FN(J, 1) LDW_FN(J, 2) LDW_FN(J, 3)
LDW_ROW(1) LDW_ROW(2) LDW_ROW(3)
#define LDW_TROW(P, J) {NULL, P##_##J##_1, P##_##J##_2, P##_##J##_3}
#define LDW_TAB(P) {{NULL}, LDW_TROW(P, 1), LDW_TROW(P, 2), LDW_TROW(P, 3)}
#else
#error "no micro-kernel table for these LDW_MJ x LDW_MK"
#endif
static const ldw_fn ldw_tab[LDW_MJ + 1][LDW_MK + 1] = LDW_TAB(ldw);
static const ldw_fn ldwb_tab[LDW_MJ + 1][LDW_MK + 1] = LDW_TAB(ldwb);

/* Gb[o][:] (+)= sum_v D[o][v] lane by lane; four outputs at a time so that
 * four independent add chains hide the add latency (each output's own sum
 * stays in row order).  Used where ldw does not fold the sum in (below). */
static void ldb_run(const float *D, int T, int nv, const int *oi, int no, float *Gb)
{
    int o = 0;
    for (; o + 4 <= no; o += 4) {
        float *g0 = Gb + (size_t)oi[o] * LW, *g1 = Gb + (size_t)oi[o + 1] * LW;
        float *g2 = Gb + (size_t)oi[o + 2] * LW, *g3 = Gb + (size_t)oi[o + 3] * LW;
        const float *d0 = D + (size_t)oi[o] * T, *d1 = D + (size_t)oi[o + 1] * T;
        const float *d2 = D + (size_t)oi[o + 2] * T, *d3 = D + (size_t)oi[o + 3] * T;
        vf s0 = vload(g0), s1 = vload(g1), s2 = vload(g2), s3 = vload(g3);
        for (int v = 0; v < nv; v++) {
            s0 = vadd(s0, vload(d0 + v * LW));
            s1 = vadd(s1, vload(d1 + v * LW));
            s2 = vadd(s2, vload(d2 + v * LW));
            s3 = vadd(s3, vload(d3 + v * LW));
        }
        vstore(g0, s0);
        vstore(g1, s1);
        vstore(g2, s2);
        vstore(g3, s3);
    }
    for (; o < no; o++) {
        float *g = Gb + (size_t)oi[o] * LW;
        const float *d = D + (size_t)oi[o] * T;
        vf s = vload(g);
        for (int v = 0; v < nv; v++) s = vadd(s, vload(d + v * LW));
        vstore(g, s);
    }
}

/* dW and db of one layer for the tile.  With 32 vector registers the first
 * input block of every output block also sums db (ldwb_*; one D vector then
 * becomes a memory operand, which measured cheaper than smaller blocks);
 * with 16 there is no room and ldb_run makes its own pass over D. */
#define LDW_FOLD_DB (NREG >= 32)
static void ldw_run(const ldw_t *p, int no)
{
    const int nbo = nblocks(no, LDW_MJ), nbi = nblocks(p->ni, LDW_MK);
    int o0 = 0;
    for (int bo = 0; bo < nbo; bo++) {
        int jb = block_size(no, nbo, bo);
        int i0 = 0;
        for (int bi = 0; bi < nbi; bi++) {
            int kb = block_size(p->ni, nbi, bi);
            (LDW_FOLD_DB && bi == 0 ? ldwb_tab : ldw_tab)[jb][kb](p, o0, i0, 0, p->nv);
            i0 += kb;
        }
        o0 += jb;
    }
    /* without the fold, or with no input live in this tile (no dW block to
     * fold db into), db gets its own pass */
    if (!LDW_FOLD_DB || nbi == 0) ldb_run(p->D, p->T, p->nv, p->oi, no, p->Gb);
}

/* ---- the step ------------------------------------------------------------ */

/* The kernel's scratch: this header, the tiled kernel's scratch (for the
 * forward and backward of this table, kernel_fast.h), then the fused step's
 * floats (klanes_ws_floats). */
typedef struct {
    kfast_scratch_t *fast;
    float *kl;  /* klanes_ws_floats(m, rows) floats */
    int T;      /* rows per tile */
    int skip;   /* skip dead units (model_opts_t.keep_dead == 0) */
} lanes_scratch_t;

/* Dead units.  A ReLU unit whose output is +-0 on every row of a tile adds
 * nothing to that tile's sums: W[j][k] * 0 leaves the forward sum of the
 * layer above as it is, the unit's output gradient is masked to exactly 0
 * (so its row of dW, its db and its share of dA below are sums of zeros),
 * and its own dA is masked away.  Trained on the study's shapes, a quarter
 * to a third of the hidden units are dead on every row (2-20x3-1 on moons:
 * 31-56 of 160 across the M1 trajectories), so the step keeps, per tile and
 * layer, the list of live units and runs every sum over live units only.
 * Leaving out an addend that is an exact zero gives the same float (x + 0 =
 * x, and fma(w, 0, x) = x), so the gradients are bit for bit those of the
 * dense step; the exceptions are the sign of a sum that is exactly zero
 * (-0 + 0 = +0) and a non-finite weight times a dead unit (inf * 0 = NaN),
 * which only a run that has already diverged has.  A lane holding NaN or
 * inf counts as live, so non-finite activations still propagate. */
static double klanes_mse_grad(model_t *m, model_ws_t *ws, const lanes_scratch_t *ks, const float *X, int n,
                             float mse_scale)
{
    const int L = m->nlin, in = m->arch.in;
    const int T = ks->T;
    const int skip = ks->skip;
    /* carve the scratch: Xt, act[1..L], two gradient buffers, lane partials */
    float *p = ks->kl;
    float *act[MODEL_MAX_LINEAR + 1];
    int maxd = 1;
    for (int l = 0; l <= L; l++) {
        act[l] = p;
        p += (size_t)m->dims[l] * T;
        if (m->dims[l] > maxd) maxd = m->dims[l];
    }
    float *gbuf[2] = {p, p + (size_t)maxd * T};
    p += 2 * (size_t)maxd * T;
    float *gw[MODEL_MAX_LINEAR], *gb[MODEL_MAX_LINEAR], *wt[MODEL_MAX_LINEAR];
    float *const part = p;
    for (int l = 0; l < L; l++) {
        gw[l] = p;
        p += (size_t)m->dims[l + 1] * m->dims[l] * LW;
        gb[l] = p;
        p += (size_t)m->dims[l + 1] * LW;
    }
    /* Every partial sum starts at 0 here rather than at the first tile's
     * first product: a pair that is dead in the first tile is then still a
     * sum (of nothing so far).  0 + x = x, so the bits are the same. */
    memset(part, 0, (size_t)(p - part) * sizeof(float));
    /* W^T [in][out] of every layer but the first, for dA = W^T D: the
     * micro-kernel then broadcasts along a row (M(o, i) at o*out + i), which
     * measured ~4% faster than striding down W's columns (Zen 5) */
    for (int l = 1; l < L; l++) {
        const int din = m->dims[l], dout = m->dims[l + 1];
        const float *w = m->params + m->w_off[l];
        wt[l] = p;
        p += (size_t)din * dout;
        for (int j = 0; j < dout; j++)
            for (int k = 0; k < din; k++) wt[l][(size_t)k * dout + j] = w[(size_t)j * din + k];
    }
    /* live unit lists: lv[l][0 .. nl[l]-1] are the units of act[l] that are
     * not zero on every row of the tile (all of them for the input and for
     * layers without ReLU) */
    int *lv[MODEL_MAX_LINEAR + 1], nl[MODEL_MAX_LINEAR + 1];
    _Static_assert(sizeof(int) == sizeof(float), "the unit lists take one float slot per int");
    int *ip = (int *)p;
    for (int l = 0; l <= L; l++) {
        lv[l] = ip;
        ip += m->dims[l];
    }
    int *flag = ip, *ident = ip + maxd;
    for (int k = 0; k < maxd; k++) ident[k] = k;

    long units = 0, dead = 0;
    const float coef = 2.0f * mse_scale / (float)((size_t)n * in);
    const vf vcoef = vbcast(coef);
    vd sq = dzero();
    for (int r0 = 0; r0 < n; r0 += T) {
        const int nr = n - r0 < T ? n - r0 : T;
        const int nv = (nr + LW - 1) / LW;
        /* X^T of the tile; the padding rows of the last vector are 0. */
        {
            float *xt = act[0];
            const float *x = X + (size_t)r0 * in;
            for (int c = 0; c < in; c++) {
                float *row = xt + (size_t)c * T;
                for (int r = 0; r < nr; r++) row[r] = x[(size_t)r * in + c];
                for (int r = nr; r < nv * LW; r++) row[r] = 0.0f;
            }
        }
        /* forward: every output unit, summed over the live inputs */
        lv[0] = ident;
        nl[0] = in;
        for (int l = 0; l < L; l++) {
            const int dout = m->dims[l + 1], relu = m->act_after[l];
            lmm_t f = {.W = m->params + m->w_off[l], .so = m->dims[l], .B = act[l], .ii = lv[l],
                       .ni = nl[l], .T = T, .oi = NULL, .C = act[l + 1],
                       .bias = m->params + m->b_off[l], .live = flag,
                       .mode = relu ? LMM_BIAS_RELU : LMM_BIAS};
            if (relu) memset(flag, 0, (size_t)dout * sizeof *flag);
            lmm_run(&f, dout, nv);
            units += relu ? dout : 0;
            if (relu && skip) {
                int c = 0;
                for (int k = 0; k < dout; k++)
                    if (flag[k]) lv[l + 1][c++] = k;
                nl[l + 1] = c;
                dead += dout - c;
            } else {
                lv[l + 1] = ident;
                nl[l + 1] = dout;
            }
        }
        /* loss and its gradient; padding lanes get exactly 0.  Row-vectors
         * outermost, so the squares are summed in the same order whatever
         * the tile size. */
        float *D = gbuf[0];
        for (int v = 0; v < nv; v++) {
            const int left = nr - v * LW;
            for (int c = 0; c < in; c++) {
                size_t o = (size_t)c * T + (size_t)v * LW;
                vf e = vsub(vload(act[L] + o), vload(act[0] + o));
                if (left < LW) e = vfirst(e, left);
                sq = dacc_sq(sq, e);
                vstore(D + o, vmul(vcoef, e));
            }
        }
        /* backward over live units: D holds the output gradient of the live
         * units of act[l+1] (the rows of dead units are not written) */
        int cur = 0;
        for (int l = L - 1; l >= 0; l--) {
            const int din = m->dims[l], dout = m->dims[l + 1];
            ldw_t g = {.D = D, .A = act[l], .T = T, .nv = nv, .oi = lv[l + 1], .ii = lv[l],
                       .ni = nl[l], .ldg = din, .G = gw[l], .Gb = gb[l]};
            ldw_run(&g, nl[l + 1]); /* dW and db */
            if (l == 0) break;
            float *dA = gbuf[cur ^ 1];
            const int relu_below = m->act_after[l - 1];
            lmm_t b = {.W = wt[l], .so = dout, .B = D, .ii = lv[l + 1], .ni = nl[l + 1], .T = T,
                       .oi = lv[l], .C = dA, .mask = relu_below ? act[l] : NULL,
                       .mode = relu_below ? LMM_MASK : LMM_PLAIN};
            lmm_run(&b, nl[l], nv);
            cur ^= 1;
            D = dA;
        }
    }
    /* the LW lanes of every partial sum, in a fixed order */
    for (int l = 0; l < L; l++) {
        float *dW = m->grads + m->w_off[l], *db = m->grads + m->b_off[l];
        size_t nw = (size_t)m->dims[l + 1] * m->dims[l];
        klanes_lane_sums(gw[l], nw, dW);
        klanes_lane_sums(gb[l], (size_t)m->dims[l + 1], db);
    }
    ws->units = units;
    ws->dead = dead;
    return dsum(sq) / (double)((size_t)n * in);
}

int klanes_tile_rows(const model_t *m, int rows) { return tile_rows(m, rows); }

/* ---- the table of operations (kernel.h) ----------------------------------- */

static size_t head_bytes(void) { return (sizeof(lanes_scratch_t) + 63) / 64 * 64; }

static size_t lanes_ws_bytes(const model_t *m, int rows, const model_opts_t *o)
{
    (void)o;
    return head_bytes() + kfast_ws_bytes(m) + klanes_ws_floats(m, rows) * sizeof(float);
}

static void lanes_ws_init(const model_t *m, int rows, const model_opts_t *o, void *mem)
{
    lanes_scratch_t *s = mem;
    char *p = (char *)mem + head_bytes();
    s->fast = kfast_ws_init(m, o->no_tail, p);
    s->kl = (float *)(p + kfast_ws_bytes(m)); /* whole 64-byte lines before it */
    s->T = tile_rows(m, rows);
    s->skip = !o->keep_dead;
}

static void lanes_forward(const model_t *m, model_ws_t *ws, void *ks, const float *X, int n, int l0, int l1)
{
    kfast_forward(m, ws, ((lanes_scratch_t *)ks)->fast, X, n, l0, l1);
}

static void lanes_backward(model_t *m, model_ws_t *ws, void *ks, const float *X, int n, float mse_scale,
                           const float *dcode)
{
    kfast_backward(m, ws, ((lanes_scratch_t *)ks)->fast, X, n, mse_scale, dcode);
}

int klanes_ws_tile(const model_ws_t *ws)
{
    return ws->kernel == &kernel_lanes ? ((const lanes_scratch_t *)ws->scratch)->T : 0;
}

void klanes_ws_set_tile(model_ws_t *ws, int T)
{
    lanes_scratch_t *s = ws->kernel == &kernel_lanes ? ws->scratch : NULL;
    if (s && T >= LW && T <= s->T && T % LW == 0) s->T = T;
}

void klanes_ws_poison(model_ws_t *ws, const model_t *m)
{
    lanes_scratch_t *s = ws->kernel == &kernel_lanes ? ws->scratch : NULL;
    size_t nf = s ? klanes_ws_floats(m, ws->rows) : 0;
    for (size_t i = 0; i < nf; i++) s->kl[i] = NAN;
}

static double lanes_step(model_t *m, model_ws_t *ws, void *ks, const float *X, int n, float mse_scale)
{
    return klanes_mse_grad(m, ws, ks, X, n, mse_scale);
}

const kernel_ops_t kernel_lanes = {
    .name = "lanes",
    .ws_bytes = lanes_ws_bytes,
    .ws_init = lanes_ws_init,
    .forward = lanes_forward,
    .backward = lanes_backward,
    .step = lanes_step,
};
