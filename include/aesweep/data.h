/* data.h - data sets: two moons, digits, CSV (plain or gzip), HDF5 datasets,
 * IDX and numpy .npy arrays (plain or gzip), seeded splits and scalers.
 *
 * A dataset is a dense row-major float matrix [n][d] with optional integer
 * labels (kept for analysis only; never used in training).  Loaders return 0
 * on success and -1 with a one-line message in err (naming the file, the line
 * or the dataset, the bad value and the fix).
 */
#ifndef AESWEEP_DATA_H
#define AESWEEP_DATA_H
#include "aesweep/util.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n;    /* rows */
    int d;       /* columns */
    float *x;    /* [n][d] */
    int *labels; /* [n] or NULL */
} dataset_t;

#define DATA_ERR_LEN AES_ERR_LEN /* util.h: one size for every error buffer */

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

/* Binary array files (src/data_array.c), read through zlib so that a
 * gzip-compressed file and a plain one are the same to the caller.
 *   IDX: the MNIST format (magic 00 00 <type> <ndims>, big-endian
 *     dimensions and elements; types uint8, int8, int16, int32, float32,
 *     float64), e.g. train-images-idx3-ubyte.gz.
 *   .npy: numpy's format 1.0-3.0, dtypes float32, float64 and uint8 (either
 *     byte order), C order only.
 * The first dimension is the rows; the others are flattened into features
 * in C order (an image of h x w becomes h*w features, row after row).
 * pixels: DATA_PIXELS_AUTO divides uint8 data by 255 (to [0, 1], as the
 * float32 quotient numpy computes) and keeps other types; UNIT the same but
 * refuses non-uint8 data; RAW keeps uint8 as 0..255.
 * labels_path (NULL or ""): a 1-d integer array, IDX (idx1-ubyte) or .npy,
 * whatever the format of the features, with exactly one label per row of
 * the file.  max_rows > 0 keeps the first max_rows rows (and labels); the
 * whole file is still read, so a truncated file or one with bytes after
 * the declared data is refused whatever max_rows is. */
enum data_pixels { DATA_PIXELS_AUTO = -1, DATA_PIXELS_UNIT = 0, DATA_PIXELS_RAW = 1 };
int data_load_idx(dataset_t *out, const char *path, const char *labels_path, int pixels, size_t max_rows, char *err);
int data_load_npy(dataset_t *out, const char *path, const char *labels_path, int pixels, size_t max_rows, char *err);
int data_pixels_parse(const char *s); /* "unit" / "raw"; -1 if unknown */
const char *data_pixels_name(int p);  /* "unit", "raw", "auto" */

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
