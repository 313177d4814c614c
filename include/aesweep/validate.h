/* validate.h - `aesweep validate`: open the study as run would (study.h),
 * make every check run makes before it writes (budget.h, outdir.h), and
 * print each stage's cells, tasks, cost and makespan at --ranks ranks with
 * the seconds they predict (an upper bound: later stages are planned with
 * the inherited values that make them costliest).  No MPI; writes nothing. */
#ifndef AESWEEP_VALIDATE_H
#define AESWEEP_VALIDATE_H
#include "aesweep/sweep.h"

/* Prints the report to stdout, a refusal as one line to stderr; returns
 * the exit code (0, or 2 for bad input). */
int validate_study(const sweep_opts_t *o);

#endif
