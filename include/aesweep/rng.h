/* rng.h - counter-based random streams.
 *
 * Every random number in aesweep is a pure function of (study seed, stream
 * identity, index): nothing depends on the process, the rank, the time or
 * the order in which tasks run.  A stream is a 64-bit key; the n-th output
 * of the stream is splitmix64's finaliser applied to key + n * golden,
 * i.e. the SplitMix64 generator of Steele, Lea & Flood (OOPSLA 2014) started
 * at `key`.  Child streams are derived by hashing the parent key with a tag
 * (rng_derive), so streams for different purposes never overlap in practice.
 *
 * Not for cryptography.
 */
#ifndef AESWEEP_RNG_H
#define AESWEEP_RNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key; /* stream identity */
    uint64_t ctr; /* number of 64-bit outputs drawn so far */
} rng_t;

/* splitmix64 finaliser: a bijective 64-bit mixer. */
uint64_t rng_mix64(uint64_t z);
/* FNV-1a hash of a string, then mixed: turns names into stream tags. */
uint64_t rng_hash_str(const char *s);
/* Key of a child stream: mix(parent ^ mix(tag)). */
uint64_t rng_derive(uint64_t parent, uint64_t tag);
uint64_t rng_derive_str(uint64_t parent, const char *tag);

rng_t rng_stream(uint64_t key);
uint64_t rng_u64(rng_t *r);
/* Uniform in [0, 1) with 24 random bits (exact in float). */
float rng_uniform_f(rng_t *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform_d(rng_t *r);
/* Standard normal by Box-Muller (two uniforms per pair, both used). */
double rng_normal(rng_t *r);
/* Unbiased integer in [0, n) (Lemire's multiply-shift with rejection). */
uint64_t rng_below(rng_t *r, uint64_t n);
/* perm[i] = i, then a Fisher-Yates shuffle driven by r. */
void rng_permutation(rng_t *r, size_t n, size_t *perm);
void rng_shuffle_sz(rng_t *r, size_t n, size_t *a);

#endif
