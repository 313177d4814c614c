/* sample.h - sampled configurations: random, scrambled Sobol and Latin
 * hypercube designs over a space of per-parameter distributions.
 *
 * Every sample is a pure function of (study seed, stage index, sample index):
 * no state, no rank, no order of calls.  Sample i of stage k at 1 rank is the
 * same bits as at 4,096 ranks, and a resumed run redraws exactly what it drew.
 * All randomness comes from rng.h's counter-based streams keyed by the
 * sample (the configuration), never by the process.
 *
 * The design works on the unit cube: sample_unit gives u in [0,1)^d (one
 * coordinate per parameter of the space, in the space's order), and
 * sample_map turns a coordinate into a parameter value by its distribution.
 * The split lets the tests check the design (Sobol digits, LHS strata) and
 * the distributions separately.
 *
 * Designs:
 *   random  u_j = the j-th uniform of the stream keyed by (seed, stage, i).
 *   sobol   the Sobol sequence in Gray-code order (Antonov & Saleev 1979), the
 *           order scipy.stats.qmc.Sobol uses, with Joe & Kuo's direction
 *           numbers (new-joe-kuo-6.21201; dimension 1 is van der Corput and
 *           the table holds dimensions 2..SAMPLE_SOBOL_DIMS), 32 bits, then
 *           Owen's nested uniform scrambling (Owen 1995) of all 32 digits and
 *           uniform random digits below them.  Scrambled points keep the net
 *           property: the first 2^m points of one dimension hold exactly one
 *           point in each interval [k/2^m, (k+1)/2^m).
 *   lhs     Latin hypercube of n points (McKay, Beckman & Conover 1979): in
 *           dimension j sample i falls in stratum pi_j(i) of n, pi_j a random
 *           permutation of 0..n-1 computed pointwise (a keyed Feistel
 *           bijection with cycle walking), uniform inside its stratum.
 *
 * Not for: parsing the spec (spec.c), running trials (dispatch), model-based
 * proposals (tpe.h).
 */
#ifndef AESWEEP_SAMPLE_H
#define AESWEEP_SAMPLE_H
#include <stddef.h>
#include <stdint.h>

enum sample_method { SAMPLE_RANDOM = 0, SAMPLE_SOBOL, SAMPLE_LHS, SAMPLE_METHOD_COUNT };
extern const char *const sample_method_names[SAMPLE_METHOD_COUNT]; /* "random", "sobol", "lhs" */

enum sample_dist {
    DIST_UNIFORM = 0, /* lo + u (hi - lo), real */
    DIST_LOG_UNIFORM, /* lo (hi/lo)^u = exp(log lo + u (log hi - log lo)), real, 0 < lo */
    DIST_INT,         /* lo + floor(u (hi - lo + 1)): every integer of [lo, hi] equally likely */
    DIST_LOG_INT,     /* round(exp(.)) over [lo - 1/2, hi + 1/2] on a log scale, 1 <= lo (Optuna's
                         IntDistribution(log=True) does the same) */
    DIST_CHOICE,      /* choices[floor(u k)]: a list, numbers or a categorical's codes */
    DIST_COUNT
};
extern const char *const sample_dist_names[DIST_COUNT];

#define SAMPLE_SOBOL_DIMS 32   /* Joe-Kuo rows held: every parameter of spec.h fits (P_COUNT = 13) */
#define SAMPLE_MAX_PARAMS 16   /* parameters of one space */
#define SAMPLE_MAX_CHOICES 64  /* values of one choice list */

typedef struct {
    int param;          /* enum param_id (spec.h) */
    int dist;           /* enum sample_dist */
    double lo, hi;      /* uniform, log_uniform, int, log_int: inclusive bounds */
    int nchoices;       /* choice */
    double choices[SAMPLE_MAX_CHOICES]; /* in spec order; categoricals as spec.c encodes them */
} sample_param_t;

typedef struct {
    int method;         /* enum sample_method */
    long n;             /* number of samples of the stage (LHS strata) */
    int nparams;
    sample_param_t params[SAMPLE_MAX_PARAMS];
} sample_space_t;

/* 0, or -1 with one line in err (naming the parameter, the bad value and
 * the fix): bounds in order, log bounds positive, integer bounds whole,
 * integer and categorical parameters only with int/log_int/choice, no
 * parameter twice, n >= 1 (and below 2^32 for sobol). */
int sample_space_check(const sample_space_t *sp, char *err, size_t errlen);

/* u[0..nparams-1] in [0,1): sample `index` (0 <= index < n) of the design. */
void sample_unit(const sample_space_t *sp, uint64_t seed, int stage, long index, double *u);
/* The value of one parameter for coordinate u in [0,1). */
double sample_map(const sample_param_t *p, double u);
/* values[j] = sample_map(params[j], u_j) for sample `index`. */
void sample_draw(const sample_space_t *sp, uint64_t seed, int stage, long index, double *values);

/* Building blocks, exposed for the tests. */
/* The unscrambled Sobol point `index` (Gray-code order) of dimension dim
 * (0-based, < SAMPLE_SOBOL_DIMS) as a 32-bit fraction: u = x / 2^32. */
uint32_t sample_sobol_u32(int dim, uint32_t index);
/* Owen scrambling of x's 32 digits, keyed by key (one key per dimension). */
uint32_t sample_owen_u32(uint64_t key, uint32_t x);
/* pi(i) for a keyed random permutation pi of 0..n-1 (n >= 1, 0 <= i < n). */
long sample_permute(uint64_t key, long n, long i);

#endif
