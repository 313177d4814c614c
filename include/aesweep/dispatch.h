/* dispatch.h - running a stage's tasks on every rank and gathering the
 * results on rank 0.
 *
 * A stage runs in one or more rounds.  A round is a set of the stage's
 * tasks (any subset: what a resumed stage has left, or one rung of a
 * successive-halving search): rank 0 partitions it by predicted cost
 * (plan_partition_subset, longest first onto the least-loaded rank),
 * scatters each rank its list, every rank (rank 0 too) trains its list
 * largest first, and rank 0 gathers the results (wire.h) as they come,
 * storing each in the plan's cube, appending it to the journal and
 * advancing the progress line.  dispatch_round returns on every rank once
 * every rank has finished its list (or stopped), with one agreed outcome.
 *
 * Result messages are batched: a worker whose tasks finish faster than a
 * bound (dispatch_batch_seconds: 50 ms, more with many ranks) puts
 * several records in one message, so that rank 0 takes at most a few
 * thousand messages a second however many ranks there are.  A task that
 * took longer than the bound is sent at once with whatever waits; a held
 * record is sent once it is that old (checked between epochs), at the end
 * of the worker's list, and before the worker stops.  The journal still
 * gets one record per task, and nothing in the result file changes.
 *
 * Carried states (successive halving, plan_t.search & PLAN_HALVING; issue
 * 16).  Every halving task ships its end state in its result record
 * (wire.h), so the journal holds it.  Rank 0 keeps a state (d->state) only
 * while some task may continue from it: from its record until the
 * continuation's record is stored or dispatch_drop_state (an unpromoted
 * trial; search.c calls it); a bracket's last rung keeps none, and a
 * replay keeps only the states a task still to run may need.  When a round
 * holds a task with prev_task >= 0, rank 0 first checks that it holds that
 * state (at the task's start_epoch; else the round fails on every rank
 * with one line), then, right after the scatter, sends each worker the
 * states of its list (WIRE_TAG_STATE); its own tasks read d->state
 * directly.  A worker holds the states of its list for the round (freed
 * task by task as they train), never more than rank 0 holds.  The
 * metrics do not depend on where a continuation runs: task_run_from is
 * exact (train.h).
 *
 * The per-epoch callback (dispatch_tick), its contract.  task_run_curve
 * calls it (train.c -> task.c on_tick -> dispatch_tick) after every epoch
 * of every task, on every rank:
 * - It returns nonzero to stop the task after this epoch (a signal, a STOP
 *   from rank 0, or on rank 0 a failed journal write); the task then
 *   reports TRAIN_INTERRUPTED and is not recorded (it is redone on resume).
 * - It polls MPI at most every DISPATCH_POLL_S seconds (an MPI_Iprobe costs
 *   about a microsecond; epochs of tiny tasks take less): rank 0 then
 *   receives every waiting result message (root_drain), which stores into
 *   the cube, appends to the journal and updates the progress line; a
 *   worker checks for STOP and sends a batch that has waited long enough.
 * - What it may touch: the plan's result arrays (metrics, status, seconds,
 *   curves, task_done), the journal, the progress line and the dispatch
 *   state.  It never touches the task being trained (its model, workspace
 *   or result record), the task table or the study data, which are
 *   read-only while a stage runs, so the running task is unaffected.
 * - It is not re-entrant and never re-entered: nothing it calls trains,
 *   and the signal handler only sets a flag (signals.h).  It is only ever
 *   called from the thread running dispatch_round.
 * - A result arriving during rank 0's own task is journaled then, not when
 *   the task ends; how late depends on the epoch length of rank 0's task
 *   (a long epoch delays the gathering by at most that epoch).
 */
#ifndef AESWEEP_DISPATCH_H
#define AESWEEP_DISPATCH_H
#include "aesweep/journal.h"
#include "aesweep/plan.h"
#include "aesweep/progress.h"
#include "aesweep/task.h"
#include <stddef.h>

#define DISPATCH_POLL_S 0.005          /* MPI polling interval between epochs */
/* Batching bound: a worker holds results up to dispatch_batch_seconds(R) =
 * R / DISPATCH_RANK0_MSG_RATE seconds, at least DISPATCH_BATCH_MIN_S and
 * at most DISPATCH_BATCH_MAX_S, so that rank 0 takes at most about
 * DISPATCH_RANK0_MSG_RATE messages a second from R ranks (it spends a few
 * microseconds of CPU on each, bench/README.md). */
#define DISPATCH_BATCH_MIN_S 0.05
#define DISPATCH_BATCH_MAX_S 1.0
#define DISPATCH_RANK0_MSG_RATE 8000.0
#define DISPATCH_SHIP_CAP_BYTES (256.0 * 1048576.0) /* best-candidate weights kept on rank 0 */

typedef struct {
    int quiet;            /* no progress line */
    int stats;            /* rank 0 prints its message statistics per stage */
    double batch_seconds; /* hold results up to this long (< 0: automatic; 0: one message per result) */
    double progress_seconds; /* progress line interval off a terminal (options.h; 0: the default) */
} dispatch_opts_t;

struct dispatch_io; /* MPI requests and buffers (dispatch.c) */

typedef struct {
    int rank, nranks;
    plan_t *p;
    study_data_t *sd;
    journal_t *j;          /* rank 0: where results are journaled, NULL: nowhere */
    dispatch_opts_t opt;
    /* outcome so far, over the stage's rounds (rank 0) */
    double *busy;          /* [nranks] seconds each rank spent in its tasks */
    double predicted;      /* sum of the rounds' predicted makespans (cost units) */
    int failed;            /* a rank could not run a task (out of memory) */
    int interrupted;       /* a round ended before all its tasks were gathered */
    int journal_failed;    /* rank 0: a journal write failed; the run stops */
    float **cell_params;   /* rank 0: [ntasks] weights a task shipped, [nslots][nparams] */
    size_t *cell_nparams;  /* rank 0: [ntasks] nparams of those */
    /* rank 0, halving stages: [ntasks] the end states kept for continuations
     * (task.h task_state_t; NULL: none, not yet, or dropped).  A state is
     * kept from its task's record (live or journaled) when some task
     * (not absent) continues from it, until that task is stored or
     * dispatch_drop_state; a replay keeps only those a task still to run
     * may need.  So rank 0 holds the live states only: at most one per
     * trial, of the rung it last finished. */
    struct task_state **state;
    size_t nstates;            /* states kept now */
    double state_bytes;        /* their bytes (task_state_bytes) */
    double state_peak_bytes;   /* the most kept at once, over the stage */
    /* rank 0's gathering, for AESWEEP_RANK0_STATS-style reports */
    size_t rx_msgs, rx_records; /* messages received (results and DONE), results stored (rank 0's own too) */
    double rx_seconds;     /* receiving, storing and journaling (not waiting), wall */
    double rx_cpu_seconds; /* the same in rank 0's CPU time (without being descheduled) */
    size_t rx_interims;    /* interim reports taken (rank 0's own too; wire.h WIRE_TAG_INTERIM) */
    double best_seen;      /* search stages: the best ranking metric so far, results and reports (INFINITY: none) */
    progress_t prog;
    int have_prog;
    /* private */
    const struct dispatch_flow *flow; /* rank 0, inside dispatch_flow: its callbacks */
    int flowing, end_sent;     /* every rank: inside dispatch_flow; rank 0: END sent */
    uint8_t *has_succ;     /* halving, every rank: [ntasks] some task (not absent) continues this one */
    int stop, stop_sent, ndone_ranks, keep_best;
    double last_poll, batch_s;
    size_t cur_task;       /* the task this rank is training (its interim reports') */
    double sent_best;      /* the lowest ranking metric this rank reported (it sends only reports below it) */
    struct dispatch_io *io;
} dispatch_t;

/* Prepare to run plan p's tasks (on every rank; rank 0 holds the cube, a
 * worker needs only the task table).  j: rank 0's journal or NULL.
 * 0, or -1 when out of memory. */
int dispatch_open(dispatch_t *d, plan_t *p, study_data_t *sd, journal_t *j, const dispatch_opts_t *o);
/* Rank 0: take the journal's records of this stage (a resumed run). */
void dispatch_replay(dispatch_t *d, const journal_data_t *jd);
/* Rank 0: the tasks not done yet, into ids[ntasks]; returns how many. */
size_t dispatch_pending(const dispatch_t *d, size_t *ids);
/* Rank 0: start the stage's progress line (after replay). */
void dispatch_progress_start(dispatch_t *d);
/* Collective: run one round.  Rank 0 passes the round's task ids (any
 * subset of the plan's tasks, none of them done); other ranks pass NULL, 0.
 * Returns, the same on every rank: 0 (enum wire_done) every task of the
 * round gathered, WIRE_DONE_INTERRUPTED (stop requested: signal, STOP,
 * journal failure) or WIRE_DONE_FAILED (a rank ran out of memory). */
int dispatch_round(dispatch_t *d, const size_t *ids, size_t n);
/* The dataflow of a halving stage (halving.align = "flow", search.c):
 * no rounds.  Rank 0 owns a ready set (the callbacks below) and hands out
 * tasks one at a time, highest priority first, to the ranks as they come
 * free, with the carried state of each continuation (WIRE_TAG_TASK,
 * wire.h); a worker training a short task (predicted under
 * DISPATCH_FLOW_QUEUE_S) also holds the next, so that it does not wait for
 * rank 0 between two (DISPATCH_FLOW_DEPTH tasks at most); rank 0 trains the
 * next ready task itself whenever it is free, and between its own epochs
 * (every epoch while flowing: an MPI_Iprobe is ~1 us) takes the results,
 * whose storing (`stored`) may make a rung ready, and hands out more.  A
 * worker sends each result at once (no batching: a result may be what a
 * promotion waits for).  Ends when `finished` (END to every worker) or on
 * a stop (signal, STOP, a failed rank, a journal failure: as a round).
 * What runs where never changes a metric (task_run_from is exact, every
 * stream keyed by the task), so the datasets are those of any rank count
 * (the timings, idle_share and state_peak_bytes are measurements).
 * Collective; rank 0 passes f, the others NULL.  Returns as dispatch_round. */
#define DISPATCH_FLOW_DEPTH 2
#define DISPATCH_FLOW_QUEUE_S 0.05 /* a second task waits only behind one predicted shorter */
typedef struct dispatch_flow {
    void *ctx;
    long (*next)(void *ctx);                /* a ready task, taken out of the set; -1: none ready now */
    void (*stored)(void *ctx, size_t task); /* a task's live result is stored (first time only) */
    int (*finished)(void *ctx);             /* every task of the stage is stored */
} dispatch_flow_t;
int dispatch_flow(dispatch_t *d, const dispatch_flow_t *f);
/* Convenience: every task not done yet as one round (rank 0 chooses). */
int dispatch_stage(dispatch_t *d);
/* Rank 0: end the progress line with `line` and print the statistics if asked. */
void dispatch_progress_finish(dispatch_t *d, const char *line);
/* Balance of the stage so far: mean busy / max busy (1 when idle). */
double dispatch_balance(const dispatch_t *d);
/* Has a stop been requested (signal, STOP)? */
int dispatch_stopping(const dispatch_t *d);
/* Rank 0: forget the end state of `task` (its trial was not promoted, or
 * its continuation is done); harmless when none is kept, on a worker, out
 * of range or twice.  Call it between rounds, never inside one (a round's
 * continuations read their states while it runs); in a dataflow only for
 * a state no task handed out or ready continues (an unpromoted trial's). */
void dispatch_drop_state(dispatch_t *d, size_t task);
/* Free everything; a worker first takes any STOP still queued for it. */
void dispatch_close(dispatch_t *d);

/* The automatic batching bound at nranks ranks (see above). */
double dispatch_batch_seconds(int nranks);

/* The per-epoch callback (task_tick_fn) with ctx a dispatch_t; see above. */
int dispatch_tick(void *ctx);

#endif
