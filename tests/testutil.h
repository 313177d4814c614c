/* testutil.h - comparison helpers shared by the kernel tests. */
#ifndef AESWEEP_TESTUTIL_H
#define AESWEEP_TESTUTIL_H
#include <math.h>
#include <stddef.h>

static inline double max_abs(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s = fmax(s, fabs((double)a[i]));
    return s;
}

/* max|x - ref| / max|ref|; NaN anywhere gives +inf. */
static inline double rel_maxdiff(const float *x, const float *ref, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)x[i] - (double)ref[i]);
        if (!(e == e)) return INFINITY;
        d = fmax(d, e);
    }
    return d / fmax(max_abs(ref, n), 1e-30);
}

#endif
