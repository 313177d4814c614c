/* kernel_gemm.h - the packed GEMM behind the GEMM path (src/kernel_gemm.c,
 * whose tables kernel_gemm, kernel_gemm_packed and kernel_blas in kernel.h
 * run a model layer by layer on it).  Internal to libaesweep: those tables
 * are its only callers in the program; tests and bench/ call it directly.
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
 * pack: kgemm_pack_floats() floats, 64-byte aligned, for the packed AVX-512
 * micro-kernel; NULL: OpenBLAS sgemm with the epilogue as a second pass (the
 * default: it measured faster here, bench/README.md). */
void kgemm(int M, int N, int K, const float *A, size_t ars, size_t acs, const float *B, size_t brs,
           size_t bcs, float *C, size_t ldc, int beta, int relu, const float *mask, size_t ldm,
           float *pack);

/* 1 when this build has the packed micro-kernel (AVX-512); without it kgemm
 * runs OpenBLAS whatever pack is. */
int kgemm_packed_available(void);

#endif
