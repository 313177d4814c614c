/* sweep.h - the distributed study: `aesweep run` (`validate`: validate.h).
 *
 * Exit codes (also the documented CLI codes):
 *   0  complete;  2  bad command line or bad input (nothing written);
 *   3  runtime failure (I/O, memory);  75 (EX_TEMPFAIL)  interrupted by
 *   SIGTERM/SIGINT/SIGUSR1 with all finished tasks persisted: rerun with --resume.
 */
#ifndef AESWEEP_SWEEP_H
#define AESWEEP_SWEEP_H
#include "aesweep/options.h"

enum { AES_EXIT_OK = 0, AES_EXIT_USAGE = 2, AES_EXIT_RUNTIME = 3, AES_EXIT_INTERRUPTED = 75 };

typedef struct {
    const char *spec_path;
    const char *output;  /* overrides the spec's output; NULL = spec's */
    int resume;          /* continue from the journal */
    int fresh;           /* discard an existing journal */
    int quiet;           /* no progress lines */
    int predict_ranks;   /* validate: makespan at this many ranks */
    double max_mem_gb;   /* per-rank memory limit for the up-front check */
    /* A singleton run's study and output, opened and admitted before
     * MPI_Init (cli.c, so that a refused run never starts MPI); sweep_run
     * uses them when MPI_COMM_WORLD has one rank and leaves closing them to
     * the caller.  NULL: sweep_run opens and admits them itself. */
    struct study_ctx *opened;
    struct outdir *admitted;
    options_t opt;       /* run-time options, read once by cli_main (options.h) */
} sweep_opts_t;

/* Under MPI (MPI_Init already called). Returns an exit code, same on all ranks. */
int sweep_run(const sweep_opts_t *o);

#endif
