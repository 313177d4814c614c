/* fuzz_csv.c - libFuzzer harness for the CSV loader.
 *
 * The first byte picks the options (bit 0: header line; bits 1-2: label
 * column -2, -1, 0 or 1); the rest is written to a temporary file (gzip
 * inputs are read through zlib like real .csv.gz files) and loaded with
 * data_load_csv.  Besides crashes and sanitizer reports, the harness aborts
 * when a loaded dataset breaks its contract (rows and columns >= 1, every
 * value finite) or a refusal is not one non-empty line.
 * Build and run: tests/fuzz/run_fuzz.sh.
 */
#include "aesweep/data.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[256];

static void cleanup(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/aesweep-fuzz-csv-%d.csv", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        atexit(cleanup);
    }
    if (size < 1 || size > 1 << 20) return 0;
    int header = data[0] & 1;
    int label = ((data[0] >> 1) & 3) - 2; /* -2 last, -1 none, 0, 1 */
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) abort();
    fclose(f);
    dataset_t d;
    char err[DATA_ERR_LEN];
    if (data_load_csv(&d, path, header, label, err) == 0) {
        if (d.n < 1 || d.d < 1 || d.d > 4096 || !d.x) abort();
        if (label != -1 && !d.labels) abort();
        for (size_t i = 0; i < d.n * (size_t)d.d; i++)
            if (!isfinite(d.x[i])) abort();
        data_free(&d);
    } else {
        size_t n = strnlen(err, DATA_ERR_LEN);
        if (n == 0 || n == DATA_ERR_LEN) abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)err[i] < 32) {
                fprintf(stderr, "message is not one line: %s\n", err);
                abort();
            }
    }
    return 0;
}
