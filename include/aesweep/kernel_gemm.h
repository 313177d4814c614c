/* kernel_gemm.h - the packed GEMM behind the wide-layer path of model.c
 * (src/kernel_gemm.c).  Internal to libaesweep: model.c is its only caller
 * in the program; tests and bench/ call it directly.
 *
 * What it is for: the three products of a wide linear layer (hundreds of
 * units) on a mini-batch or a full batch, one thread:
 *     forward  Y[n][out] = b + A[n][in] W^T          (+ ReLU)
 *     backward dA[n][in] = D[n][out] W               (x ReLU'(act) mask)
 *              dW[out][in] = D^T A
 * with the bias as C's starting value and the ReLU / ReLU' mask fused into
 * the last store of each output tile, and no allocation (the packing
 * scratch is the caller's, sized by kgemm_pack_floats).
 *
 * What it is not: a general BLAS (no alpha, no threads), or the kernel of
 * the narrow shapes (kernel_fast.c, kernel_lanes.c win there; bench/).
 *
 * Operands are given by strides, so a transposed operand needs no copy:
 * element (i, k) of A is A[i * ars + k * acs], element (k, j) of B is
 * B[k * brs + j * bcs].  Results depend only on the build and the shape
 * (M, N, K): the blocking is fixed, every element is summed in k order
 * within a KC block and the blocks are added in order.
 */
#ifndef AESWEEP_KERNEL_GEMM_H
#define AESWEEP_KERNEL_GEMM_H
#include <stddef.h>

/* Floats of packing scratch kgemm needs (any shape). */
size_t kgemm_pack_floats(void);

/* C[M][N] (leading dimension ldc) = (beta ? C : 0) + A B, then, if relu,
 * C = max(0, C); then, if mask, C = mask > 0 ? C : 0 (mask [M][ldm]).
 * pack: kgemm_pack_floats() floats, 64-byte aligned. */
void kgemm(int M, int N, int K, const float *A, size_t ars, size_t acs, const float *B, size_t brs,
           size_t bcs, float *C, size_t ldc, int beta, int relu, const float *mask, size_t ldm,
           float *pack);

/* Which implementation kgemm runs: 1 the packed AVX-512 micro-kernel, 0
 * OpenBLAS sgemm with the epilogue as a second pass (always on builds
 * without AVX-512).  Initially from AESWEEP_GEMM (blas | packed, default
 * blas: it measured faster, bench/README.md); process-wide, for benchmarks
 * and tests. */
int kgemm_packed(void);
void kgemm_set_packed(int on);
/* "avx512" (packed) or "blas". */
const char *kgemm_isa(void);

#endif
