/* paths.c - finding the data files aesweep ships (see paths.h for the order and why). */
#include "aesweep/paths.h"
#include "aesweep/options.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef AESWEEP_DATADIR
#define AESWEEP_DATADIR "/usr/local/share/aesweep"
#endif

static int is_file(const char *p) { return access(p, R_OK) == 0; }

/* The folder of options_t.data_dir (AESWEEP_DATA), set once by cli_main. */
static char g_data_dir[OPTIONS_PATH_LEN];

void paths_set_data_dir(const char *dir)
{
    snprintf(g_data_dir, sizeof g_data_dir, "%s", dir ? dir : "");
}

void paths_find_data(const char *name, char *out, size_t n)
{
    char cand[PATH_MAX + 64];
    if (g_data_dir[0]) {
        snprintf(cand, sizeof cand, "%s/%s", g_data_dir, name);
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
