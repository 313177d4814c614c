/* data.h - data sets: two moons, digits, CSV (plain or gzip), HDF5 datasets,
 * seeded splits and scalers.
 *
 * A dataset is a dense row-major float matrix [n][d] with optional integer
 * labels (kept for analysis only; never used in training).  Loaders return 0
 * on success and -1 with a one-line message in err (naming the file, the line
 * or the dataset, the bad value and the fix).
 */
#ifndef AESWEEP_DATA_H
#define AESWEEP_DATA_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n;    /* rows */
    int d;       /* columns */
    float *x;    /* [n][d] */
    int *labels; /* [n] or NULL */
} dataset_t;

#define DATA_ERR_LEN 512

void data_free(dataset_t *ds);
int data_alloc(dataset_t *ds, size_t n, int d, int with_labels);

/* scikit-learn make_moons: the first n/2 points on the upper half circle
 * (cos t, sin t), the rest on (1 - cos t, 1 - sin t - 0.5), t = linspace(0,
 * pi) per moon, rows shuffled, then N(0, noise^2) added to every coordinate.
 * Labels 0 (upper) and 1 (lower).  The shuffle and the noise come from the
 * stream `key`, so the points equal sklearn's as a set (exactly, noise 0)
 * but not in sklearn's order. */
int data_moons(dataset_t *out, size_t n, double noise, uint64_t key);

/* CSV reader (gzip read transparently): numbers separated by commas,
 * optional header line, label_col = column index holding an integer label
 * (-1: none; -2: the last column).  Rejects ragged rows, non-numeric
 * fields, NaN and infinities with the file and line. */
int data_load_csv(dataset_t *out, const char *path, int header, int label_col, char *err);

/* The innermost message of HDF5's error stack, one line (for err texts). */
const char *data_h5_error(char *out, size_t n);
/* "file.h5:/group/dataset", a rank-2 numeric dataset (read as float). */
int data_load_h5(dataset_t *out, const char *spec, char *err);

/* out = rows idx[0..k) of in (labels too). */
int data_take(dataset_t *out, const dataset_t *in, const size_t *idx, size_t k);
/* out = the first k rows of in (a copy). */
int data_head(dataset_t *out, const dataset_t *in, size_t k);

/* zlib CRC-32 and size of a file's bytes (recorded next to split indices). */
int data_crc32_file(const char *path, uint32_t *crc, uint64_t *size);

enum scaler_kind { SCALER_NONE = 0, SCALER_STANDARD = 1, SCALER_MINMAX = 2 };
/* x_scaled = (x - shift) / scale, per column.  Fitted on training data only. */
typedef struct {
    int kind;
    int d;
    double shift[4096];
    double scale[4096];
} scaler_t;
int scaler_kind_parse(const char *s); /* -1 if unknown */
const char *scaler_kind_name(int kind);
void scaler_fit(scaler_t *s, int kind, const dataset_t *train);
void scaler_apply(const scaler_t *s, float *x, size_t n);   /* in place */
void scaler_invert(const scaler_t *s, float *x, size_t n);  /* in place */

#endif
