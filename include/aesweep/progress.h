/* progress.h - rank 0's progress line: tasks done of total, rate, ETA.
 * In a terminal a live line redrawn in place; in a log (Slurm) a plain
 * line every AESWEEP_PROGRESS_SECONDS seconds (default 10). */
#ifndef AESWEEP_PROGRESS_H
#define AESWEEP_PROGRESS_H
/* Seconds between progress lines: on a terminal (the line redraws in place), and in a log
 * (AESWEEP_PROGRESS_SECONDS overrides it). */
#define PROGRESS_TTY_SECONDS 0.5
#define PROGRESS_LOG_SECONDS 10.0
#include <stddef.h>

typedef struct {
    char stage[64];
    size_t total, done, done_at_start;
    double cost_total, cost_done;
    double t0, last;
    double interval;
    int tty;
    int quiet;
    double best;        /* search stages: the best ranking metric seen so far (NaN: none, not shown) */
} progress_t;

/* interval: seconds between lines when stderr is not a terminal (options_t.progress_seconds;
 * <= 0: PROGRESS_LOG_SECONDS); on a terminal the line is redrawn every PROGRESS_TTY_SECONDS. */
void progress_start(progress_t *p, const char *stage, size_t total, size_t already_done,
                    double cost_total, double cost_done, int quiet, double interval);
void progress_update(progress_t *p, size_t done_inc, double cost_inc);
/* A ranking-metric value seen (a result or an interim report): the line
 * shows "best X" once one is finite, the lowest so far. */
void progress_best(progress_t *p, double value);
void progress_finish(progress_t *p, const char *extra);
double progress_now(void);
/* A duration as M:SS or H:MM:SS ("--:--" when unknown or beyond ~115 days); the progress line and
 * `aesweep status` print durations the same way. */
void progress_format_duration(char *out, size_t n, double seconds);

#endif
