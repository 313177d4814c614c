/* paths.c - finding the data files aesweep ships (see paths.h for the order and why). */
#include "aesweep/paths.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef AESWEEP_DATADIR
#define AESWEEP_DATADIR "/usr/local/share/aesweep"
#endif

static int is_file(const char *p) { return access(p, R_OK) == 0; }

void paths_find_data(const char *name, char *out, size_t n)
{
    char cand[PATH_MAX + 64];
    const char *env = getenv("AESWEEP_DATA");
    if (env && *env) {
        snprintf(cand, sizeof cand, "%s/%s", env, name);
        if (is_file(cand)) { snprintf(out, n, "%s", cand); return; }
    }
    snprintf(cand, sizeof cand, "data/%s", name);
    if (is_file(cand)) { snprintf(out, n, "%s", cand); return; }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        static const char *const rel[] = {"../share/aesweep/data", "../data"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(cand, sizeof cand, "%s/%s/%s", exe, rel[i], name);
            if (is_file(cand)) { snprintf(out, n, "%s", cand); return; }
        }
    }
    snprintf(cand, sizeof cand, "%s/data/%s", AESWEEP_DATADIR, name);
    if (is_file(cand)) { snprintf(out, n, "%s", cand); return; }
    snprintf(out, n, "data/%s", name);
}
