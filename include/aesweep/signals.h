/* signals.h - the stop request of a run: SIGTERM (Slurm's time limit,
 * scancel, mpirun passing on a kill), SIGINT (Ctrl-C) and SIGUSR1 (sbatch
 * --signal) set a flag and do nothing else; the trainer's per-epoch
 * callback reads it (dispatch.c), so a run stops after the current epoch
 * with every finished task journaled, and exits 75 (EX_TEMPFAIL).
 */
#ifndef AESWEEP_SIGNALS_H
#define AESWEEP_SIGNALS_H

/* Install the handlers (idempotent; before MPI_Init, which may start
 * threads, so that every thread inherits them). */
void signals_install(void);
/* The signal that asked to stop, 0 if none.  Async-signal-safe to set,
 * cheap to read: called every epoch. */
int signals_caught(void);

#endif
