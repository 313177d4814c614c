/* results.h - the HDF5 result file (layout: docs/results-format.md).
 *
 * Written by rank 0 only, under "<final>.tmp"; results_close() flushes,
 * closes and renames it into place, so the final path never holds a
 * half-written file.  Every writer returns 0 or -1 with a one-line message
 * in err: the first failure (what failed, where in the file, HDF5's
 * innermost message), that the final path is untouched, and what to do.
 * After a failure every later writer call does nothing and fails again;
 * results_abort() then closes the file and removes the temporary.
 */
#ifndef AESWEEP_RESULTS_H
#define AESWEEP_RESULTS_H
#include "aesweep/model.h"
#include "aesweep/plan.h"
#include "aesweep/spec.h"
#include "aesweep/task.h"

typedef struct results results_t;

results_t *results_open(const char *final_path, const study_t *s, const study_data_t *sd,
                        int nranks, const char *start_time, char *err);
int results_write_stage(results_t *r, const plan_t *p, const double *busy, int nranks,
                        double predicted_makespan, char *err);
/* One stored model as saved.c hands it to the writer: the weights and
 * scaler, where it sits in the cube, and what saved.c computed from it. */
typedef struct {
    char base[SPEC_NAME_LEN + 8];  /* dataset prefix: "train" or "test_<name>" */
    char what[SPEC_NAME_LEN + 32]; /* for long_name: "its training set", "test set <name>" */
    const dataset_t *data;         /* the rows, data units ("train": stored too, as train_x) */
    float *codes;                  /* [data->n][bottleneck] */
    float *recon;                  /* [data->n][in], data units */
} results_model_output_t;
typedef struct {
    const model_t *m;
    const scaler_t *sc;
    const double *hp;  /* [P_COUNT] */
    long cell;
    int draw, repeat;
    int weights_only;  /* spec model_data = "weights": no outputs, attribute model_data */
    int nout;          /* the training set first (if any), then each test set */
    results_model_output_t out[1 + SPEC_MAX_TESTS];
} results_model_t;
/* Write models/<stage>/<group>; group: "best" (replaced if present) or
 * "cells/<index>". */
int results_write_model(results_t *r, const plan_t *p, const char *group, const results_model_t *mod, char *err);
int results_close(results_t *r, int complete, size_t done, size_t total, char *err);
void results_abort(results_t *r); /* close and delete the temporary file; NULL harmless */

/* Is path an aesweep result file? 1 yes, 0 no (exists but other), -1 absent. */
int results_is_ours(const char *path);
/* As results_is_ours, and 2: another process holds it open for writing. */
int results_probe(const char *path);
/* Spec text, inputs (see sweep.c; NULL in files without them; caller frees
 * both) and completeness of an existing result file; 0 ok. */
int results_read_state(const char *path, char **spec_text, char **inputs, int *complete);
/* Record the run's inputs (data files' CRCs, shapes) as the "inputs"
 * attribute.  A failure is kept and returned by the next writer call. */
void results_set_inputs(results_t *r, const char *inputs);
/* Print a summary of a result file to stdout. */
int results_info(const char *path, char *err);

/* Did an HDF5 file close fail (then the library must not be closed: see results.c)? */
int results_close_failed(void);
/* A parameter attribute (param_id q) of HDF5 object loc as text, either
 * schema version (v2 stores categories as strings, v1 as codes). */
void results_param_attr(long long loc, const char *name, int q, char *out, size_t n);

/* Attribute readers for other readers of result files (status, export):
 * a string attribute (0 ok, -1 absent or not a string), a number (NaN if
 * absent). loc is an HDF5 hid_t. */
int results_attr_str(long long loc, const char *name, char *out, size_t len);
double results_attr_f64(long long loc, const char *name);
/* Open a result file read-only as results_info does (no HDF5 file lock;
 * check results_probe first); an hid_t, negative on failure. */
long long results_open_readonly(const char *path);

/* ISO 8601 UTC timestamp of now. */
void results_now_iso(char out[32]);

#endif
