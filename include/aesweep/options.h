/* options.h - the run-time options of one aesweep process: read once, at the command line, and
 * passed down.
 *
 * What it is for: every switch that is not part of a study (which kernel trains, where the shipped
 * data is, how often progress is printed, ...).  cli_main fills one options_t from the environment
 * (options_from_env, the only place the library reads an environment variable for an option) and
 * hands the parts down: the kernel options to every workspace (model_ws_create, through
 * study_data_t.kernel and train_ws_create), the data folder to paths.c, the progress interval and
 * the rank-0 statistics to the study driver (sweep_opts_t.opt).  Nothing below the command line
 * reads the environment, so a program calling the library sees the same behaviour for the same
 * struct, and a test can set an option without touching the process environment.
 *
 * What it is not: the study (spec.h) or the command's flags (cli.c).  Zero-initialised, every
 * field means its default (options_default spells them out).
 *
 * Variables (README "Environment"):
 *   AESWEEP_KERNEL=fast|tiled|lanes|gemm|blas|ref   model.kernel (model.h)
 *   AESWEEP_GEMM=blas|packed                        model.gemm_packed
 *   AESWEEP_KF_NOTAIL=1                             model.no_tail
 *   AESWEEP_SKIP_DEAD=0                             model.keep_dead
 *   AESWEEP_DATA=DIR                                data_dir
 *   AESWEEP_PROGRESS_SECONDS=S                      progress_seconds
 *   AESWEEP_RANK0_STATS=1                           rank0_stats
 *   AESWEEP_RESULT_BATCH_SECONDS=S                  result_batch_seconds, result_batch_off (S = 0)
 *   AESWEEP_MPI_DEFAULTS=0                          mpi_defaults
 *   AESWEEP_STARTED_FILE=PATH                       started_file
 */
#ifndef AESWEEP_OPTIONS_H
#define AESWEEP_OPTIONS_H
#include "aesweep/model.h"
#include <stddef.h>

#define OPTIONS_PATH_LEN 4096

typedef struct {
    model_opts_t model;             /* kernel choice and kernel switches (model.h) */
    char data_dir[OPTIONS_PATH_LEN]; /* "" or the first folder searched for shipped data (paths.h) */
    double progress_seconds;        /* progress line interval off a terminal; 0 = 10 s */
    int rank0_stats;                /* 1: rank 0 prints its message statistics per stage */
    double result_batch_seconds;    /* > 0: workers hold results up to this long; 0 = automatic (dispatch.h) */
    int result_batch_off;           /* 1: one message per result (AESWEEP_RESULT_BATCH_SECONDS=0) */
    int mpi_defaults;               /* 1 (default): Open MPI's ob1 PML unless the user chose one */
    char started_file[OPTIONS_PATH_LEN]; /* "" or a file rank 0 creates once every rank is past MPI_Init */
} options_t;

/* The defaults (the same as a zeroed struct, except mpi_defaults = 1). */
void options_default(options_t *o);

/* Fill *o from the environment variables above; 0, or -1 with one line in err[len] naming the
 * variable, its bad value and the values it takes (a bad value is a bad input, exit 2). */
int options_from_env(options_t *o, char *err, size_t len);

#endif
