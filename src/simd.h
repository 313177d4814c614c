/* simd.h - the vector layer of the SIMD kernels (kernel_fast.c,
 * kernel_lanes.c): one vector type vf of VW floats and the few operations
 * they use, for AVX-512F (16 lanes, 32 registers), AVX2 + FMA (8 lanes, 16
 * registers) or, without either (or with -DAESWEEP_PORTABLE), GCC/Clang
 * vector extensions of 4 lanes.  Internal to libaesweep.
 *
 * Semantics every path keeps: vfma is one fused multiply-add per lane (the
 * kernels are compiled with -ffp-contract=off, so nothing else is fused;
 * on targets without an FMA instruction, a multiply and an add);
 * vrelu(x) = max(0, x) with NaN propagated (as the plain reference);
 * vkeep_pos(x, m) = m > 0 ? x : 0 (the ReLU' mask; NaN in m gives 0, as the
 * BLAS path); loads and stores are unaligned; vloadn/vstoren touch only the
 * first n lanes; vhsum adds the lanes in a fixed order; vor is a bitwise or
 * and vnz_any(x) is 1 when some lane is not +-0 (NaN and inf count): with
 * them the fused step learns which ReLU units are zero on a whole tile.
 */
#ifndef AESWEEP_SIMD_H
#define AESWEEP_SIMD_H
#include <stdint.h>
#include <string.h>

/* SIMD_FMA: the target has a fused multiply-add instruction, so fmaf is one
 * instruction (GCC says so with __FP_FAST_FMAF; Clang does not define it,
 * hence also __FMA__ on x86 and __ARM_FEATURE_FMA on Arm). */
#if defined(__FP_FAST_FMAF) || defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define SIMD_FMA 1
#else
#define SIMD_FMA 0
#endif

#if (defined(__AVX512F__) && !defined(AESWEEP_PORTABLE))
/* ---- AVX-512F: 16 lanes, 32 registers, native masks ---------------------- */
#include <immintrin.h>
#define SIMD_AVX512 1
#define SIMD_ISA "avx512"
#define VW 16
#define NREG 32
typedef __m512 vf;
#define SIMD_INLINE static inline __attribute__((always_inline))
SIMD_INLINE __mmask16 kmask(int n) { return (__mmask16)((1u << n) - 1u); }
SIMD_INLINE vf vzero(void) { return _mm512_setzero_ps(); }
SIMD_INLINE vf vload(const float *p) { return _mm512_loadu_ps(p); }
SIMD_INLINE vf vloadn(const float *p, int n) { return _mm512_maskz_loadu_ps(kmask(n), p); }
SIMD_INLINE void vstoren(float *p, vf v, int n) { _mm512_mask_storeu_ps(p, kmask(n), v); }
SIMD_INLINE vf vbcast(float x) { return _mm512_set1_ps(x); }
SIMD_INLINE vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
SIMD_INLINE vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
SIMD_INLINE vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
SIMD_INLINE vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
SIMD_INLINE void vstore(float *p, vf v) { _mm512_storeu_ps(p, v); }
/* vmaxps returns its second operand when either is NaN: max(0, NaN) = NaN. */
SIMD_INLINE vf vrelu(vf x) { return _mm512_max_ps(_mm512_setzero_ps(), x); }
SIMD_INLINE vf vkeep_pos(vf x, vf m)
{
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ), x);
}
SIMD_INLINE vf vor(vf a, vf b)
{
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
SIMD_INLINE int vnz_any(vf x)
{
    return _mm512_test_epi32_mask(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)) != 0;
}
SIMD_INLINE float vhsum(vf x)
{
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps(x, 1));
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}
#elif (defined(__AVX2__) && defined(__FMA__) && !defined(AESWEEP_PORTABLE))
/* ---- AVX2 + FMA: 8 lanes, 16 registers ----------------------------------- */
#include <immintrin.h>
#define SIMD_AVX2 1
#define SIMD_ISA "avx2"
#define VW 8
#define NREG 16
typedef __m256 vf;
#define SIMD_INLINE static inline __attribute__((always_inline))
static const int32_t simd_masktab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
SIMD_INLINE __m256i kmask(int n) { return _mm256_loadu_si256((const __m256i *)(simd_masktab + 8 - n)); }
SIMD_INLINE vf vzero(void) { return _mm256_setzero_ps(); }
SIMD_INLINE vf vload(const float *p) { return _mm256_loadu_ps(p); }
SIMD_INLINE vf vloadn(const float *p, int n) { return n == VW ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, kmask(n)); }
SIMD_INLINE void vstoren(float *p, vf v, int n)
{
    if (n == VW) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, kmask(n), v);
}
SIMD_INLINE vf vbcast(float x) { return _mm256_set1_ps(x); }
SIMD_INLINE vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
SIMD_INLINE vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
SIMD_INLINE vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
SIMD_INLINE vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
SIMD_INLINE void vstore(float *p, vf v) { _mm256_storeu_ps(p, v); }
SIMD_INLINE vf vrelu(vf x) { return _mm256_max_ps(_mm256_setzero_ps(), x); }
SIMD_INLINE vf vkeep_pos(vf x, vf m) { return _mm256_and_ps(x, _mm256_cmp_ps(m, _mm256_setzero_ps(), _CMP_GT_OQ)); }
SIMD_INLINE vf vor(vf a, vf b) { return _mm256_or_ps(a, b); }
SIMD_INLINE int vnz_any(vf x)
{
    return !_mm256_testz_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff));
}
SIMD_INLINE float vhsum(vf x)
{
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}
#else
/* ---- portable: GCC/Clang vector extensions, 4 lanes ---------------------- */
#define SIMD_ISA "generic"
#define VW 4
#define NREG 16
typedef float vf __attribute__((vector_size(16)));
typedef int32_t vi __attribute__((vector_size(16)));
#define SIMD_INLINE static inline __attribute__((always_inline))
SIMD_INLINE vf vzero(void) { return (vf){0.0f, 0.0f, 0.0f, 0.0f}; }
SIMD_INLINE vf vload(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
SIMD_INLINE vf vloadn(const float *p, int n)
{
    vf v = vzero();
    for (int i = 0; i < n; i++) v[i] = p[i];
    return v;
}
SIMD_INLINE void vstoren(float *p, vf v, int n)
{
    for (int i = 0; i < n; i++) p[i] = v[i];
}
SIMD_INLINE vf vbcast(float x) { return (vf){x, x, x, x}; }
/* fma(a, b, c) lane by lane, always fused where the target has an FMA
 * instruction (SIMD_FMA): the kernels
 * are compiled with -ffp-contract=off, so the compiler fuses nothing on its
 * own and every output gets the same operations wherever it is computed (a
 * contracted a*b+c could be fused in one inlined copy and not in another).
 * Without one (e.g. the x86-64 baseline), fmaf is a library call per lane,
 * which measured 11x slower than the multiply-add it replaces (2-20x3-1,
 * 9,000 points, 300 epochs at -march=x86-64-v2: 27.7 s against 2.5 s):
 * there it is a multiply and an add, two roundings, still the same for
 * every output. */
SIMD_INLINE vf vfma(vf a, vf b, vf c)
{
#if SIMD_FMA
    vf r;
    for (int i = 0; i < 4; i++) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
    return r;
#else
    return a * b + c;
#endif
}
SIMD_INLINE vf vadd(vf a, vf b) { return a + b; }
SIMD_INLINE vf vsub(vf a, vf b) { return a - b; }
SIMD_INLINE vf vmul(vf a, vf b) { return a * b; }
SIMD_INLINE void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }
SIMD_INLINE vf vrelu(vf x)
{
    vi neg = x < vzero(); /* NaN compares false: kept */
    vi bits;
    memcpy(&bits, &x, sizeof bits);
    bits &= ~neg;
    memcpy(&x, &bits, sizeof x);
    return x;
}
SIMD_INLINE vf vkeep_pos(vf x, vf m)
{
    vi pos = m > vzero();
    vi bits;
    memcpy(&bits, &x, sizeof bits);
    bits &= pos;
    memcpy(&x, &bits, sizeof x);
    return x;
}
SIMD_INLINE float vhsum(vf x) { return (x[0] + x[2]) + (x[1] + x[3]); }
SIMD_INLINE vf vor(vf a, vf b)
{
    vi x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    x |= y;
    memcpy(&a, &x, sizeof a);
    return a;
}
SIMD_INLINE int vnz_any(vf x)
{
    vi b;
    memcpy(&b, &x, sizeof b);
    b &= 0x7fffffff;
    return (b[0] | b[1] | b[2] | b[3]) != 0;
}
#endif

#endif
