/* benchutil.h - clocks and a median helper shared by the bench programs. */
#ifndef AESWEEP_BENCHUTIL_H
#define AESWEEP_BENCHUTIL_H
#include <time.h>

static inline double now_s(void) /* wall clock */
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline double cpu_s(void) /* this process's CPU time */
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int cmp_d(const void *a, const void *b) /* qsort ascending doubles */
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
