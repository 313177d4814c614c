/* progress.c - see progress.h.  ETA comes from the predicted cost still to
 * do divided by the cost rate so far, which is steadier than a task rate
 * when task sizes differ by orders of magnitude. */
#include "aesweep/progress.h"
#include "aesweep/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double progress_now(void) { return util_mono_seconds(); }

void progress_format_duration(char *out, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7) { snprintf(out, n, "--:--"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(out, n, "%ld:%02ld", t / 60, t % 60);
}

void progress_start(progress_t *p, const char *stage, size_t total, size_t already_done,
                    double cost_total, double cost_done, int quiet, double interval)
{
    memset(p, 0, sizeof *p);
    snprintf(p->stage, sizeof p->stage, "%s", stage);
    p->total = total;
    p->done = p->done_at_start = already_done;
    p->cost_total = cost_total;
    p->cost_done = cost_done;
    p->t0 = p->last = progress_now();
    p->tty = isatty(2);
    p->interval = p->tty ? PROGRESS_TTY_SECONDS : interval;
    if (p->interval <= 0) p->interval = PROGRESS_LOG_SECONDS;
    p->quiet = quiet;
    p->best = NAN;
}

void progress_best(progress_t *p, double v)
{
    if (isfinite(v) && !(v >= p->best)) p->best = v;
}

static void emit(progress_t *p, int final, const char *extra)
{
    double el = progress_now() - p->t0;
    size_t nd = p->done - p->done_at_start;
    double rate = el > 0 ? nd / el : 0;
    double crate = el > 0 ? (p->cost_done) / el : 0;
    double eta = crate > 0 ? (p->cost_total - p->cost_done) / crate : -1;
    char e1[32], e2[32];
    progress_format_duration(e1, sizeof e1, el);
    progress_format_duration(e2, sizeof e2, final ? 0 : eta);
    double pct = p->total ? 100.0 * p->done / p->total : 100.0;
    char best[40] = "";
    if (isfinite(p->best)) snprintf(best, sizeof best, "  best %.4g", p->best);
    fprintf(stderr, "%s[%s] %zu/%zu tasks (%5.1f%%)  %.1f tasks/s  elapsed %s  %s %s%s%s%s",
            p->tty ? "\r\033[K" : "", p->stage, p->done, p->total, pct, rate, e1,
            final ? "done" : "ETA", final ? "" : e2, best, extra ? "  " : "", extra ? extra : "");
    if (!p->tty || final) fputc('\n', stderr);
    fflush(stderr);
}

void progress_update(progress_t *p, size_t done_inc, double cost_inc)
{
    p->done += done_inc;
    p->cost_done += cost_inc;
    if (p->quiet) return;
    double t = progress_now();
    if (t - p->last >= p->interval) {
        p->last = t;
        emit(p, 0, NULL);
    }
}

void progress_finish(progress_t *p, const char *extra)
{
    if (p->quiet) return;
    emit(p, 1, extra);
}
