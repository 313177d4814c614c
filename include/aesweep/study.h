/* study.h - open a study once: read its spec, build its data, and check the
 * two against each other.  `run` (every rank), `validate` and `train` all
 * open a study through here, so a spec is refused with the same message
 * whichever command reads it.
 *
 * What it is not: the output file, the journal and the resume decision
 * (outdir.h), memory and cost admission (budget.h), the tasks (task.h).
 *
 * Contract (as sqlite's open/close pairs): study_open* fill a study_ctx_t
 * the caller owns; whatever they return, study_close() frees it, and
 * study_close() of a zeroed or already closed ctx is harmless.  Failures
 * return -1 with one line in err (SPEC_ERR_LEN bytes, no "aesweep: "
 * prefix); every failure here is bad input (exit 2), including running out
 * of memory while building the data (the spec asks for too much).  The ctx
 * must not be copied: its data points at its spec (sd.s == &s).
 */
#ifndef AESWEEP_STUDY_H
#define AESWEEP_STUDY_H
#include "aesweep/data.h"
#include "aesweep/model.h"
#include "aesweep/spec.h"
#include <stddef.h>

/* A study's data: the training pool and the test sets, unscaled. */
typedef struct {
    const study_t *s;
    int in_dim;
    dataset_t pool;                       /* moons pool, or the training split of a file */
    int ntests;
    dataset_t tests[SPEC_MAX_TESTS];      /* unscaled */
    size_t *split;                        /* files: permutation of the file's rows */
    size_t nsplit_train;
    size_t file_rows;
    dataset_t alt_pool;                   /* last stage pool_noise pool */
    double alt_noise;
    int have_alt;
    model_opts_t kernel;                  /* run-time kernel options (options.h) for every
                                           * workspace of this study's tasks; zero: the defaults */
} study_data_t;

/* Build the data of spec s (generate moons, or load and split the files).
 * 0, or -1 with err (DATA_ERR_LEN) naming the file and the fix. */
int study_data_load(study_data_t *sd, const study_t *s, char *err);
void study_data_free(study_data_t *sd);

/* An open study: the parsed spec and its data (s.in_dim is set). */
typedef struct study_ctx {
    study_t s;
    study_data_t sd;
} study_ctx_t;

/* Where the spec comes from and which checks to make. */
typedef struct {
    const char *spec_path;  /* the file read, and the name in messages */
    const char *text;       /* NULL: read spec_path; else parse this text (named spec_path) */
    const char *data_label; /* prefix of a data error ("--data"); NULL: "<spec_path>: data"; "": none */
    double mem_limit;       /* bytes a rank may use: generated data over it is refused; 0: no check */
    int check_data;         /* check the spec against the data's shape (spec_check_data) */
    const model_opts_t *kernel; /* run-time kernel options (options.h) into sd.kernel; NULL: defaults */
} study_source_t;

/* One process: spec, the memory the generated data needs, data, in_dim,
 * then (if src->check_data) spec_check_data.  0 or -1 with err. */
int study_open(study_ctx_t *c, const study_source_t *src, char *err);

/* Every rank of MPI_COMM_WORLD (after MPI_Init): rank 0 reads the spec
 * file; when it is good its text is broadcast and every other rank parses
 * that same text (so an edit of the file mid-start cannot split the ranks);
 * then every rank builds the data, and rank 0 alone checks the spec
 * against the data.  src->text and src->check_data are ignored.  Returns
 * the same 0 or -1 on every rank; err is set on the ranks that failed and
 * "" on the others (rank 0's message is the one to print when it has one).
 * A rank that cannot allocate the broadcast text cannot join it: it stops
 * the job with MPI_Abort (exit 3) rather than leave the others waiting. */
int study_open_all(study_ctx_t *c, const study_source_t *src, int rank, char *err);

void study_close(study_ctx_t *c);

/* The worst of every rank's rc (MPI_MAX over MPI_COMM_WORLD): a collective,
 * so that all ranks take the same branch after a step that may fail on some. */
int study_agree(int rc);

#endif
