/* wire.h - what travels between ranks and into the journal.
 *
 * One result record per finished task.  Its flat form, an array of doubles,
 * is what a worker sends to rank 0 and what the journal stores (journal.h
 * frames it with a magic, a length and a CRC; it never looks inside):
 *
 *   [0] stage  [1] task  [2] nslots  [3] nmetrics  [4] nparams     (WIRE_HDR)
 *   metrics  [nslots][nmetrics]   the task's metrics at each epochs slot
 *   status   [nslots]             train_status per slot
 *   seconds  [nslots]             wall seconds to reach each slot
 *   params   [nslots][nparams]    shipped weights (float values; nparams 0: none)
 *   curve    [the rest]           learning curve, [ncurve][ncurve_metrics]
 *
 * A task of a successive-halving stage (plan_t.search & PLAN_HALVING;
 * nslots = 1) carries its END STATE in the params section instead of
 * weights: nparams = task_state_len(model parameters) doubles in task.h's
 * serialised form (a header with the epoch, the Adam step and the shuffle
 * and MMD stream counters, then the parameters, Adam m and Adam v), so the
 * journal holds every state a resume needs.  A halving task that did not
 * end TRAIN_OK (diverged) ships none: nparams = 0; nor does one at the last
 * rung of its bracket, which no task continues (unless the stage saves
 * every model's weights: rank 0 takes them from the state).  Journals of
 * earlier 0.4.0 builds hold states at last rungs too, and still resume.
 *
 * The layout is that of aesweep 0.3.0 and 0.4.0 journals (records written
 * before learning curves existed simply have no curve), so journals of those
 * versions still resume.  Integers are exact in a double up to 2^53.
 *
 * Messages (MPI_COMM_WORLD):
 *   WIRE_TAG_RESULTS  worker -> 0: a batch of one or more records, each
 *                     preceded by its length in doubles (wire_batch_*)
 *   WIRE_TAG_DONE     worker -> 0: {busy seconds, enum wire_done} after the
 *                     worker's last result of a round
 *   WIRE_TAG_STOP     0 -> worker: one int, stop after the current epoch
 *                     (1), or, in a dataflow, nothing more comes (0:
 *                     every task is in)
 *   WIRE_TAG_TASK     0 -> worker, dataflow (dispatch_flow): one task
 *                     handed out, {task, 1 if a state follows, that
 *                     state's TASK_STATE_HDR header doubles}, then (if
 *                     one follows) the state's arena as WIRE_TAG_STATE
 *                     (3 x nparams floats).  A worker takes rank 0's
 *                     messages in the order sent (MPI_ANY_TAG from 0):
 *                     its tasks, then one STOP or END, the last.
 *   WIRE_TAG_STATE    0 -> worker, halving rounds, right after the scatter:
 *                     for each task of the worker's list that continues
 *                     another (prev_task >= 0), in list order, two
 *                     messages: {task, the state's TASK_STATE_HDR header
 *                     doubles} then its arena (3 x nparams floats:
 *                     parameters, Adam m, Adam v)
 *   WIRE_TAG_INTERIM  worker -> 0, search stages with learning curves: an
 *                     interim report, one curve point as soon as the
 *                     worker computed it (task.h task_report_fn):
 *                       [0] stage  [1] task  [2] 0  [3] epoch
 *                       [4] n  [5 ..] the point's n curve metrics
 *                     [2] = 0 is never a record's slot count, so the same
 *                     payload in the journal (rank 0 journals a report
 *                     whose ranking metric is the best so far) is passed
 *                     over by every reader of results (wire_result_unpack
 *                     refuses it); bench/search_watch.py and `aesweep
 *                     status` read it.
 * The stage verdict (enum wire_verdict) is broadcast by rank 0 after a
 * stage, with the best cell's hyperparameters.
 */
#ifndef AESWEEP_WIRE_H
#define AESWEEP_WIRE_H
#include "aesweep/plan.h"
#include <stddef.h>
#include <stdint.h>

enum wire_tag { WIRE_TAG_RESULTS = 11, WIRE_TAG_DONE = 12, WIRE_TAG_STOP = 13, WIRE_TAG_STATE = 14,
               WIRE_TAG_TASK = 15, WIRE_TAG_INTERIM = 16 };
#define WIRE_INTERIM_HDR 5 /* stage, task, 0, epoch, n */
/* The ranking metric (curve metric index `metric`) of an interim report of
 * len doubles at r, of plan p's stage and one of its tasks; NaN when r is
 * not one (a result record, another stage's, a malformed one). */
double wire_interim_value(const double *r, size_t len, const plan_t *p, int metric);

/* A worker's end of a round (WIRE_TAG_DONE's second value). */
enum wire_done { WIRE_DONE_OK = 0, WIRE_DONE_INTERRUPTED = 1, WIRE_DONE_FAILED = 2 };

/* Rank 0's decision after a stage, broadcast to every rank. */
enum wire_verdict { WIRE_NEXT_STAGE = 0, WIRE_STOP_INTERRUPTED = 1, WIRE_STOP_FAILED = 2 };

#define WIRE_HDR 5             /* stage, task, nslots, nmetrics, nparams */
#define WIRE_MAX_SLOTS 1000000 /* sanity bounds for records read back */
#define WIRE_MAX_METRICS 1000

/* One result.  The section pointers point into a flat payload: after
 * wire_result_frame they are where the producer writes (a task writes its
 * metrics and curve straight into the message); after wire_result_unpack
 * they are where the consumer reads (no copy). */
typedef struct {
    int stage;
    size_t task;
    int nslots, nmetrics;
    size_t nparams;       /* floats per slot of shipped weights, 0: none */
    size_t ncurve;        /* curve values (ncurve points x curve metrics) */
    double *metrics;      /* [nslots][nmetrics] */
    double *status;       /* [nslots] */
    double *seconds;      /* [nslots] */
    double *params;       /* [nslots][nparams] */
    double *curve;        /* [ncurve] */
} wire_result_t;

/* Doubles in the flat form of a record with these counts. */
size_t wire_result_len(int nslots, int nmetrics, size_t nparams, size_t ncurve);
/* Write r's header (stage .. nparams) at buf and point r's sections into
 * buf.  Returns the record's length in doubles, 0 when it does not fit in
 * cap doubles or the counts are out of range. */
size_t wire_result_frame(wire_result_t *r, double *buf, size_t cap);
/* Copy a whole record (header and sections from src's pointers) into buf;
 * length or 0 as for frame.  NULL sections of nonzero size are zeros. */
size_t wire_result_pack(const wire_result_t *src, double *buf, size_t cap);
/* Read the record of len doubles at buf: 0, or -1 when the header is not a
 * record's (a count not a whole number in range) or len is shorter than the
 * header says; the curve is whatever follows the weights. */
int wire_result_unpack(wire_result_t *r, double *buf, size_t len);

/* Helpers for the typed sections. */
void wire_result_put_status(wire_result_t *r, const int8_t *status);
void wire_result_get_status(const wire_result_t *r, int8_t *status);
void wire_result_put_params(wire_result_t *r, const float *params);
void wire_result_get_params(const wire_result_t *r, float *params);

/* Store a record into the plan of its stage (metrics, status, seconds and
 * the learning curve when the record has one): 0, or -1 when it does not
 * belong to plan p (other stage, task out of range, other slot or metric
 * counts: a foreign record, left alone).  *was_done gets whether the task
 * had a result before (a task journaled twice counts once). */
int wire_result_store(const wire_result_t *r, plan_t *p, int *was_done);

/* ---- batches (WIRE_TAG_RESULTS) ------------------------------------------
 * [len1, record1 ..., len2, record2 ...]: a worker that finishes tasks
 * faster than it should send messages puts several in one (dispatch.c). */
typedef struct {
    double *buf;
    size_t len, cap;  /* doubles used / allocated */
    int count;        /* records in the batch */
    double first_at;  /* monotonic time the first record was added */
} wire_batch_t;

/* Room for one more record of up to rec_len doubles at the end of the
 * batch: returns where to frame it (record starts there), NULL when out of
 * memory.  wire_batch_commit then adds the framed record of len doubles. */
double *wire_batch_reserve(wire_batch_t *b, size_t rec_len);
void wire_batch_commit(wire_batch_t *b, size_t len, double now);
void wire_batch_clear(wire_batch_t *b);
void wire_batch_free(wire_batch_t *b);
/* Walk a received batch of len doubles: *pos starts at 0; returns 1 and
 * sets rec/rec_len for each record, 0 at the end, -1 when malformed. */
int wire_batch_next(double *batch, size_t len, size_t *pos, double **rec, size_t *rec_len);

#endif
