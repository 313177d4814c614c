/* fuzz_array.c - libFuzzer harness for the IDX and .npy loaders.
 *
 * The first byte picks the options (bit 0: .npy instead of IDX; bits 1-2:
 * pixels auto, unit, raw; bit 3: keep only the first 2 rows; bit 4: gzip,
 * i.e. the rest is compressed before it is written, as real .gz files are
 * read through zlib); the rest is written to a temporary file and loaded.
 * Besides crashes and sanitizer reports, the harness aborts when a loaded
 * dataset breaks its contract (rows and columns >= 1, columns <= 4096, every
 * value finite, uint8 pixels in [0, 1] with "unit") or a refusal is not one
 * non-empty line.  Build and run: tests/fuzz/run_fuzz.sh.
 */
#include "aesweep/data.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char path[256];

static void cleanup(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/aesweep-fuzz-array-%d.bin", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        atexit(cleanup);
    }
    if (size < 1 || size > 1 << 20) return 0;
    int npy = data[0] & 1, px = (data[0] >> 1) & 3, first2 = (data[0] >> 3) & 1, gz = (data[0] >> 4) & 1;
    int pixels = px == 1 ? DATA_PIXELS_UNIT : px == 2 ? DATA_PIXELS_RAW : DATA_PIXELS_AUTO;
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g) abort();
        if (size > 1 && gzwrite(g, data + 1, (unsigned)(size - 1)) != (int)(size - 1)) abort();
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) abort();
        if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) abort();
        fclose(f);
    }
    dataset_t d;
    char err[DATA_ERR_LEN];
    int rc = npy ? data_load_npy(&d, path, NULL, pixels, first2 ? 2 : 0, err)
                 : data_load_idx(&d, path, NULL, pixels, first2 ? 2 : 0, err);
    if (rc == 0) {
        if (d.n < 1 || d.d < 1 || d.d > 4096 || !d.x || (first2 && d.n > 2)) abort();
        for (size_t i = 0; i < d.n * (size_t)d.d; i++) {
            if (!isfinite(d.x[i])) abort();
            if (pixels == DATA_PIXELS_UNIT && (d.x[i] < 0.0f || d.x[i] > 1.0f)) abort();
        }
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
