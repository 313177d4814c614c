/* util.c - see util.h. */
#include "aesweep/util.h"
#include <time.h>

void util_one_line(char *msg)
{
    for (unsigned char *c = (unsigned char *)msg; *c; c++)
        if (*c < 32 || *c == 127) *c = '?';
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double util_mono_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }
double util_wall_seconds(void) { return clock_seconds(CLOCK_REALTIME); }
