/* rng.c - SplitMix64 streams; see rng.h for the contract. */
#include "aesweep/rng.h"
#include <math.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL

uint64_t rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a offset basis */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return rng_mix64(h);
}

uint64_t rng_derive(uint64_t parent, uint64_t tag)
{
    return rng_mix64(parent ^ rng_mix64(tag + GOLDEN));
}

uint64_t rng_derive_str(uint64_t parent, const char *tag)
{
    return rng_derive(parent, rng_hash_str(tag));
}

rng_t rng_stream(uint64_t key)
{
    rng_t r = {key, 0};
    return r;
}

uint64_t rng_u64(rng_t *r)
{
    r->ctr++;
    return rng_mix64(r->key + r->ctr * GOLDEN);
}

float rng_uniform_f(rng_t *r)
{
    return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

double rng_uniform_d(rng_t *r)
{
    return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double rng_normal(rng_t *r)
{
    /* Box-Muller: u1 in (0, 1] so log(u1) is finite.  One normal per call
     * (the sine partner is discarded) keeps the stream stateless beyond ctr,
     * which is what makes "the n-th draw" well defined. */
    double u1 = 1.0 - rng_uniform_d(r);
    double u2 = rng_uniform_d(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t rng_below(rng_t *r, uint64_t n)
{
    /* Lemire (2019): x * n >> 64, rejecting the biased low zone. */
    uint64_t x = rng_u64(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = (0 - n) % n;
        while (lo < t) {
            x = rng_u64(r);
            m = (__uint128_t)x * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void rng_shuffle_sz(rng_t *r, size_t n, size_t *a)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void rng_permutation(rng_t *r, size_t n, size_t *perm)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    rng_shuffle_sz(r, n, perm);
}
