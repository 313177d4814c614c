/* status.h - watching a study: `aesweep status`, `aesweep info`, snapshots.
 *
 * A running study leaves three things beside its output OUT.h5: the journal
 * OUT.h5.journal (the spec and every finished task, journal.h), the lock
 * OUT.h5.lock (held by rank 0, with a line about the run) and the
 * temporary result OUT.h5.tmp (not readable while it is written).  status
 * rebuilds each stage's plan from the journal's spec, stores the journaled
 * results into it exactly as a resumed run would, and reports per stage
 * tasks done/total, diverged cells, the best cell so far, rate and ETA;
 * the lock tells whether the run is alive.  After the run, the journal is
 * gone and the complete result file answers.
 *
 * Exit codes: 0; 2 bad command line or no study at the path; 3 I/O.
 */
#ifndef AESWEEP_STATUS_H
#define AESWEEP_STATUS_H
/* `aesweep status --watch`: seconds between reads of the journal and lock when none are given. */
#define STATUS_WATCH_SECONDS 2.0

/* aesweep status OUT.h5 [--json] [--watch [SECONDS]] [--snapshot SNAP.h5] */
int status_main(int argc, char **argv);
/* aesweep info [--json] RESULT.h5 */
int status_info_main(int argc, char **argv);
/* aesweep export RESULT.h5 [--stage S] --csv OUT.csv (export.c) */
int export_main(int argc, char **argv);

#endif
