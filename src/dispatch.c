/* dispatch.c - partition, scatter, train, gather; see dispatch.h.
 *
 * All randomness comes from task.h's streams, so the metrics do not depend
 * on the number of ranks, on which rank ran what, or on how results were
 * batched on the way to rank 0.
 */
#include "aesweep/dispatch.h"
#include "aesweep/budget.h"
#include "aesweep/kernel_lanes.h"
#include "aesweep/signals.h"
#include "aesweep/util.h"
#include "aesweep/wire.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A batch is also sent when it holds DISPATCH_BATCH_MAX_RECORDS records or
 * DISPATCH_BATCH_MAX_DOUBLES doubles (shipped weights). */
#define DISPATCH_BATCH_MAX_RECORDS 4096
#define DISPATCH_BATCH_MAX_DOUBLES ((size_t)1 << 20)

double dispatch_batch_seconds(int nranks)
{
    double t = nranks / DISPATCH_RANK0_MSG_RATE;
    return t < DISPATCH_BATCH_MIN_S ? DISPATCH_BATCH_MIN_S : t > DISPATCH_BATCH_MAX_S ? DISPATCH_BATCH_MAX_S : t;
}

struct dispatch_io {
    /* worker: two batches, one being filled while the other is in flight */
    wire_batch_t batch[2];
    MPI_Request req[2];
    int cur;
    /* every rank: the record of the task being trained */
    double *rec;
    size_t rec_cap;
    /* rank 0: the receive buffer, and the records of one message to journal */
    double *rx;
    size_t rxcap;
    const double **jrec;
    size_t *jlen;
    size_t jcap;
    /* worker, halving rounds: [its list's length] the states its tasks
     * continue from (NULL: a fresh start, or already trained) */
    task_state_t **wstate;
    int nwstate;
    /* dataflow (dispatch_flow).  Rank 0: per worker the tasks handed to
     * it and not back yet, oldest first (out[w] of them from hand[w x
     * DEPTH + hand_head[w]]: results come back in that order); its sends in
     * flight, each a header it frees (sbuf) or a state's arena (sst: a
     * state is not dropped before its send completes, flow_wait_state);
     * sec_per_cost, the predicted seconds of a unit of cost.  Worker: the
     * tasks handed to it and not started (at most DISPATCH_FLOW_DEPTH),
     * each with its state, the state's receive (posted as the header is
     * taken, waited for when the task starts) and header; got_final once
     * the STOP or END, rank 0's last message, is in. */
    int *out, *hand_head;
    size_t *hand;
    double sec_per_cost;
    MPI_Request *sreq;
    double **sbuf;
    const task_state_t **sst;
    size_t nsreq, capsreq;
    size_t wq[DISPATCH_FLOW_DEPTH + 1];
    task_state_t *wqs[DISPATCH_FLOW_DEPTH + 1];
    MPI_Request wqr[DISPATCH_FLOW_DEPTH + 1];
    double wqh[DISPATCH_FLOW_DEPTH + 1][TASK_STATE_HDR];
    double wrow[DISPATCH_FLOW_DEPTH + 1][P_COUNT];
    int wq_head, wq_n, got_final;
};

/* ---- rank 0: taking results ---------------------------------------------- */

static int halving(const dispatch_t *d) { return (d->p->search & PLAN_HALVING) != 0; }

/* Parameters of task t's model. */
static size_t task_nparams(const dispatch_t *d, size_t t)
{
    model_arch_t a = task_arch(d->sd, d->p->tasks[t].hp);
    return model_param_count(&a);
}

/* Does halving task t ship its end state (wire.h)?  Only when a task may
 * continue it (an earlier rung of its bracket: promotion is decided later),
 * or when the stage keeps every model's weights, which rank 0 takes from the
 * state.  A last rung's state would be journaled and never read: the best
 * trial's model is retrained from its seeds (saved.c write_best). */
static int ships_state(const dispatch_t *d, size_t t)
{
    return d->has_succ[t] || d->p->spec->save_models;
}

/* Is r's params section what a halving task ships (wire.h): an end state
 * at the task's epochs, or nothing when it did not end ok or ships none?
 * (Journals written before last rungs shipped none hold states there too:
 * accepted.)  Checked without
 * allocating, before the record is stored.  Its size is checked against the
 * model when a task continues from it (root_states_ready, task_run_from):
 * a TPE trial's values, and so its model, are only known once its round
 * has proposed them, after a resume's replay. */
static int state_fits(const dispatch_t *d, const wire_result_t *r)
{
    if (r->nparams == 0) return r->status[0] != TRAIN_OK || !ships_state(d, r->task);
    const double *h = r->params;
    return r->status[0] == TRAIN_OK && r->nparams >= TASK_STATE_HDR && h[0] == TASK_STATE_MAGIC && h[7] >= 0 &&
           h[7] < 1099511627776.0 && h[7] == floor(h[7]) && r->nparams == task_state_len((size_t)h[7]) &&
           h[1] == d->p->tasks[r->task].hp[P_EPOCHS];
}

/* Keep s as task's state (replacing one kept before). */
static void keep_state(dispatch_t *d, size_t task, task_state_t *s)
{
    dispatch_drop_state(d, task);
    d->state[task] = s;
    d->nstates++;
    d->state_bytes += task_state_bytes(s->nparams);
    if (d->state_bytes > d->state_peak_bytes) d->state_peak_bytes = d->state_bytes;
}

static void keep_failed(dispatch_t *d, const char *what, size_t task)
{
    fprintf(stderr, "aesweep: rank 0: out of memory keeping the %s of task %zu of stage %s; finished tasks are journaled: --resume\n",
            what, task, d->p->spec->name);
    d->failed = 1;
    d->stop = 1;
}

/* A halving record's state and weights on rank 0: the state is kept for
 * the task continuing it (live records; a replay keeps only the states
 * still needed, replay_states), the state this task continued from is no
 * longer needed, and a save_models stage keeps the weights as a grid's. */
static void root_keep_halving(dispatch_t *d, const wire_result_t *r, int from_journal)
{
    const plan_t *p = d->p;
    if (p->tasks[r->task].prev_task >= 0) dispatch_drop_state(d, (size_t)p->tasks[r->task].prev_task);
    if (!r->nparams) return;
    size_t np = (size_t)r->params[7]; /* state_fits: whole, in range */
    if (p->spec->save_models) {
        float *w = malloc((np ? np : 1) * sizeof(float));
        if (w) memcpy(w, r->params + TASK_STATE_HDR, np * sizeof(float)); /* the state's first floats (task.h) */
        else keep_failed(d, "weights", r->task);
        free(d->cell_params[r->task]);
        d->cell_params[r->task] = w;
        d->cell_nparams[r->task] = w ? np : 0;
    }
    if (from_journal || !d->has_succ[r->task]) return; /* the last rung of its bracket: never continued */
    int bad;
    task_state_t *s = task_state_unpack(r->params, r->nparams, &bad);
    if (s) keep_state(d, r->task, s);
    else keep_failed(d, "end state", r->task);
}

/* Search stages, rank 0: a value of the ranking metric seen (a result, an
 * interim report); returns whether it is the best so far. */
static int seen(dispatch_t *d, double v)
{
    if (!isfinite(v) || v >= d->best_seen) return 0;
    d->best_seen = v;
    if (d->have_prog) progress_best(&d->prog, v);
    return 1;
}

/* Store one record in the cube (and keep its weights or state); 0, or -1
 * when it is not a record of this stage's plan (a foreign journal record,
 * or a halving record whose state does not fit: ignored, the task is
 * redone). */
static int root_store(dispatch_t *d, double *buf, size_t len, int from_journal)
{
    plan_t *p = d->p;
    wire_result_t r;
    int was_done;
    if (wire_result_unpack(&r, buf, len)) return -1;
    int hv = halving(d);
    if (hv && (r.stage != p->stage_index || r.task >= p->ntasks || r.nslots != 1 || !state_fits(d, &r))) return -1;
    if (wire_result_store(&r, p, &was_done)) return -1;
    if (hv) root_keep_halving(d, &r, from_journal);
    else if (r.nparams > 0 && d->cell_params) {
        float *w = malloc((size_t)r.nslots * r.nparams * sizeof(float));
        if (w) wire_result_get_params(&r, w);
        else keep_failed(d, "weights", r.task); /* a model to write would be missing: fail, what is journaled stands */
        free(d->cell_params[r.task]);
        d->cell_params[r.task] = w;
        d->cell_nparams[r.task] = w ? r.nparams : 0;
    }
    if (p->search) seen(d, r.metrics[p->select_metric]);
    if (!was_done && d->have_prog && !from_journal) progress_update(&d->prog, 1, p->tasks[r.task].cost);
    /* last: the state is kept, so a rung this makes ready can be handed out */
    if (!was_done && !from_journal && d->flow) d->flow->stored(d->flow->ctx, r.task);
    return 0;
}

/* Journal n accepted records in one write; a failure stops the run (what
 * is journaled stands). */
static void root_journal(dispatch_t *d, const double *const *recs, const size_t *lens, size_t n)
{
    if (!d->j || !n) return;
    if (journal_append_many(d->j, recs, lens, n) && !d->journal_failed) {
        d->journal_failed = 1;
        d->stop = 1;
    }
}

/* A live record refused in a dataflow (root_store: not of this stage, or a
 * state that does not fit) would leave its rung open for good: fail now,
 * with one line, rather than when nothing else is left to run. */
static void refused_live(dispatch_t *d)
{
    if (!d->flowing || d->failed) return;
    fprintf(stderr, "aesweep: rank 0: stage %s: a result record did not fit the stage's plan (a corrupted message?); stopping (finished tasks are journaled: --resume)\n",
            d->p->spec->name);
    d->failed = d->stop = 1;
}

static void root_accept(dispatch_t *d, double *buf, size_t len)
{
    d->rx_records++;
    if (root_store(d, buf, len, 0)) refused_live(d);
    else {
        const double *rec = buf;
        root_journal(d, &rec, &len, 1);
    }
}

/* The ranking metric of an interim report of this stage; NaN when msg is not one. */
static double interim_value(const dispatch_t *d, const double *msg, size_t len)
{
    return wire_interim_value(msg, len, d->p, d->p->select_metric);
}

/* An interim report: journaled when its ranking metric is the best so far,
 * so that the journal, and so `aesweep status` and a watcher of the
 * journal, know the best as soon as it is computed, not at the end of its
 * rung.  The others are dropped: the task's result record carries its whole
 * curve.  Nothing a resume or the result file reads depends on these
 * records. */
static void root_interim(dispatch_t *d, const double *msg, size_t len)
{
    d->rx_interims++;
    if (seen(d, interim_value(d, msg, len))) root_journal(d, &msg, &len, 1);
}

/* A batch message: store each record, then journal the batch at once. */
static void root_accept_batch(dispatch_t *d, double *msg, size_t len)
{
    struct dispatch_io *io = d->io;
    size_t pos = 0, n = 0, rl;
    double *rec;
    while (wire_batch_next(msg, len, &pos, &rec, &rl) == 1) {
        d->rx_records++;
        if (root_store(d, rec, rl, 0)) {
            refused_live(d);
            continue;
        }
        if (n == io->jcap) {
            size_t cap = io->jcap ? 2 * io->jcap : 64;
            const double **a = realloc(io->jrec, cap * sizeof *a);
            if (a) io->jrec = a;
            size_t *b = realloc(io->jlen, cap * sizeof *b);
            if (b) io->jlen = b;
            if (!a || !b) { /* journal what we have, then one at a time */
                root_journal(d, io->jrec, io->jlen, n);
                n = 0;
                const double *one = rec;
                root_journal(d, &one, &rl, 1);
                continue;
            }
            io->jcap = cap;
        }
        io->jrec[n] = rec;
        io->jlen[n++] = rl;
    }
    root_journal(d, io->jrec, io->jlen, n);
}

static void root_send_stop(dispatch_t *d)
{
    if (d->stop_sent || d->end_sent) return;
    d->stop_sent = 1;
    static const int one = 1; /* the send outlives this call (MPI_Request_free) */
    for (int k = 1; k < d->nranks; k++) {
        MPI_Request q;
        MPI_Isend(&one, 1, MPI_INT, k, WIRE_TAG_STOP, MPI_COMM_WORLD, &q);
        MPI_Request_free(&q);
    }
}

static void root_done(dispatch_t *d, int from, const double *msg, int cnt)
{
    if (cnt >= 2) {
        d->busy[from] += msg[0];
        if (msg[1] == WIRE_DONE_FAILED) d->failed = 1;
        if (msg[1] != WIRE_DONE_OK) {
            d->interrupted = 1;
            d->stop = 1;
            root_send_stop(d);
        }
    }
    d->ndone_ranks++;
}

/* Receive everything that is waiting (block: wait for one message).  The
 * time it takes, less a blocking wait, is rank 0's cost of gathering. */
/* CPU seconds of this thread: rank 0's true cost of gathering, also when
 * ranks outnumber cores and rank 0 is descheduled inside its loop. */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void root_drain(dispatch_t *d, int block)
{
    struct dispatch_io *io = d->io;
    double t0 = util_mono_seconds(), c0 = thread_cpu();
    for (;;) {
        int flag = 0;
        MPI_Status stt;
        if (block) {
            MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &stt);
            t0 = util_mono_seconds(), c0 = thread_cpu();
            flag = 1;
        } else
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &stt);
        if (!flag) break;
        if (stt.MPI_TAG != WIRE_TAG_INTERIM) d->rx_msgs++; /* reports: rx_interims */
        int cnt;
        MPI_Get_count(&stt, MPI_DOUBLE, &cnt);
        if ((size_t)cnt > io->rxcap) {
            /* not reached: root_rx_ready sized the buffer for the round's
             * largest message; kept so that a wrong bound costs memory, not
             * a truncated receive */
            double *nb = realloc(io->rx, (size_t)cnt * sizeof(double));
            if (!nb) { /* a message cannot be left unreceived: end the job; the journal stands */
                fprintf(stderr, "aesweep: rank 0: out of memory receiving %d result values; stopping the job (finished tasks are journaled: --resume)\n", cnt);
                MPI_Abort(MPI_COMM_WORLD, 3);
            }
            io->rx = nb;
            io->rxcap = (size_t)cnt;
        }
        MPI_Recv(io->rx, cnt, MPI_DOUBLE, stt.MPI_SOURCE, stt.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (stt.MPI_TAG == WIRE_TAG_RESULTS) {
            size_t n0 = d->rx_records;
            root_accept_batch(d, io->rx, (size_t)cnt);
            if (d->flowing) /* those came back, oldest first */
                for (size_t k = n0; k < d->rx_records && io->out[stt.MPI_SOURCE] > 0; k++) {
                    io->out[stt.MPI_SOURCE]--;
                    io->hand_head[stt.MPI_SOURCE] = (io->hand_head[stt.MPI_SOURCE] + 1) % DISPATCH_FLOW_DEPTH;
                }
        }
        else if (stt.MPI_TAG == WIRE_TAG_DONE) root_done(d, stt.MPI_SOURCE, io->rx, cnt);
        else if (stt.MPI_TAG == WIRE_TAG_INTERIM) root_interim(d, io->rx, (size_t)cnt);
        if (block) break;
    }
    d->rx_seconds += util_mono_seconds() - t0;
    d->rx_cpu_seconds += thread_cpu() - c0;
}

/* ---- workers: sending results -------------------------------------------- */

/* Send the current batch and switch to the other, waiting for that one's
 * previous send (two batches in flight at most: a worker rarely waits for
 * rank 0, busy with its own task, to match a large message). */
static void worker_flush(dispatch_t *d)
{
    struct dispatch_io *io = d->io;
    wire_batch_t *b = &io->batch[io->cur];
    if (!b->count) return;
    MPI_Isend(b->buf, (int)b->len, MPI_DOUBLE, 0, WIRE_TAG_RESULTS, MPI_COMM_WORLD, &io->req[io->cur]);
    io->cur ^= 1;
    MPI_Wait(&io->req[io->cur], MPI_STATUS_IGNORE);
    wire_batch_clear(&io->batch[io->cur]);
}

static int batch_due(const dispatch_t *d, double now)
{
    const wire_batch_t *b = &d->io->batch[d->io->cur];
    return b->count > 0 && (now - b->first_at >= d->batch_s || b->count >= DISPATCH_BATCH_MAX_RECORDS ||
                            b->len >= DISPATCH_BATCH_MAX_DOUBLES);
}

/* Queue a finished record of len doubles (in io->rec); send the batch when
 * the task was slow (took batch_s or more) or the batch is due. */
static int worker_queue(dispatch_t *d, size_t len, double task_seconds)
{
    struct dispatch_io *io = d->io;
    wire_batch_t *b = &io->batch[io->cur];
    double *dst = wire_batch_reserve(b, len);
    if (!dst) return -1;
    memcpy(dst, io->rec, len * sizeof(double));
    double now = util_mono_seconds();
    wire_batch_commit(b, len, now);
    if (task_seconds >= d->batch_s || batch_due(d, now)) worker_flush(d);
    return 0;
}

static void flow_fill(dispatch_t *d, int depth);
static void worker_take(dispatch_t *d, int block);

/* ---- the per-epoch callback ------------------------------------------------ */

int dispatch_tick(void *ctx)
{
    dispatch_t *d = ctx;
    if (signals_caught()) d->stop = 1;
    double t = util_mono_seconds();
    /* an MPI_Iprobe costs ~1 us, and rank 0's receives also progress the
     * workers' large (rendezvous) sends */
    if (d->flowing && d->rank == 0) { /* every epoch: a worker may be waiting for its next task */
        d->last_poll = t;
        root_drain(d, 0);
        flow_fill(d, DISPATCH_FLOW_DEPTH);
    } else if (d->flowing) {
        if (t - d->last_poll > DISPATCH_POLL_S) {
            d->last_poll = t;
            worker_take(d, 0); /* tasks into my queue, in order; a STOP stops me */
        }
    } else if (t - d->last_poll > DISPATCH_POLL_S) {
        d->last_poll = t;
        if (d->rank == 0) {
            root_drain(d, 0);
        } else {
            int flag = 0;
            MPI_Iprobe(0, WIRE_TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
            if (flag) {
                int x;
                MPI_Recv(&x, 1, MPI_INT, 0, WIRE_TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                d->stop = 1;
            }
            if (batch_due(d, t)) worker_flush(d);
        }
    }
    if (d->stop && d->rank == 0) root_send_stop(d);
    return d->stop;
}

int dispatch_stopping(const dispatch_t *d) { return d->stop || signals_caught(); }

/* ---- set-up -------------------------------------------------------------- */

int dispatch_open(dispatch_t *d, plan_t *p, study_data_t *sd, journal_t *j, const dispatch_opts_t *o)
{
    memset(d, 0, sizeof *d);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->nranks);
    d->p = p;
    d->sd = sd;
    d->j = d->rank == 0 ? j : NULL;
    d->opt = *o;
    d->keep_best = -1;
    d->best_seen = d->sent_best = INFINITY;
    d->stop = signals_caught() != 0;
    d->batch_s = o->batch_seconds >= 0 ? o->batch_seconds : dispatch_batch_seconds(d->nranks);
    d->io = calloc(1, sizeof *d->io);
    if (!d->io) return -1;
    d->io->req[0] = d->io->req[1] = MPI_REQUEST_NULL;
    if (d->rank == 0) {
        d->busy = calloc((size_t)d->nranks, sizeof(double));
        d->cell_params = calloc(p->ntasks ? p->ntasks : 1, sizeof(float *));
        d->cell_nparams = calloc(p->ntasks ? p->ntasks : 1, sizeof(size_t));
        d->state = calloc(p->ntasks ? p->ntasks : 1, sizeof *d->state);
        if (!d->busy || !d->cell_params || !d->cell_nparams || !d->state) return -1;
    }
    if (halving(d)) { /* every rank: a worker ships no state that nothing continues (ships_state) */
        d->has_succ = calloc(p->ntasks ? p->ntasks : 1, 1);
        if (!d->has_succ) return -1;
        for (size_t y = 0; y < p->ntasks; y++) {
            long x = p->tasks[y].prev_task;
            if (x >= 0 && (size_t)x < p->ntasks && !p->tasks[y].absent) d->has_succ[x] = 1;
        }
    }
    return 0;
}

/* After a replay of a halving stage: keep the journaled end states that a
 * task still to run may continue from (a task not done, not absent, whose
 * prev_task is done), the last record of a task winning; the others
 * (continued already, or beyond the search) are never loaded, so rank 0
 * holds no more states than the run had live when it stopped. */
static void replay_states(dispatch_t *d, const journal_data_t *jd)
{
    const plan_t *p = d->p;
    uint8_t *need = calloc(p->ntasks ? p->ntasks : 1, 1);
    if (!need) {
        fprintf(stderr, "aesweep: rank 0: out of memory replaying the end states of stage %s\n", p->spec->name);
        d->failed = 1;
        d->stop = 1;
        return;
    }
    for (size_t y = 0; y < p->ntasks; y++) {
        long x = p->tasks[y].prev_task;
        if (x >= 0 && (size_t)x < p->ntasks && !p->tasks[y].absent && !p->task_done[y] && p->task_done[x]) need[x] = 1;
    }
    for (size_t i = 0; i < jd->n && !d->failed; i++) {
        wire_result_t r;
        if (wire_result_unpack(&r, jd->rec[i], jd->len[i]) || r.stage != p->stage_index || r.task >= p->ntasks ||
            r.nslots != 1 || !need[r.task] || !r.nparams || !state_fits(d, &r))
            continue;
        int bad;
        task_state_t *s = task_state_unpack(r.params, r.nparams, &bad);
        if (s) keep_state(d, r.task, s);
        else if (!bad) keep_failed(d, "end state", r.task);
    }
    free(need);
}

void dispatch_replay(dispatch_t *d, const journal_data_t *jd)
{
    for (size_t i = 0; i < jd->n; i++)
        if (root_store(d, jd->rec[i], jd->len[i], 1) && d->p->search) /* an interim report's best counts too */
            seen(d, interim_value(d, jd->rec[i], jd->len[i]));
    if (halving(d)) replay_states(d, jd);
}

size_t dispatch_pending(const dispatch_t *d, size_t *ids)
{
    size_t n = 0;
    for (size_t t = 0; t < d->p->ntasks; t++)
        if (!d->p->task_done[t]) ids[n++] = t;
    return n;
}

void dispatch_progress_start(dispatch_t *d)
{
    const plan_t *p = d->p;
    double ctot = 0, cdone = 0;
    for (size_t t = 0; t < p->ntasks; t++) {
        ctot += p->tasks[t].cost;
        if (p->task_done[t]) cdone += p->tasks[t].cost;
    }
    progress_start(&d->prog, p->spec->name, p->ntasks, p->ndone, ctot, cdone, d->opt.quiet, d->opt.progress_seconds);
    d->have_prog = 1;
    progress_best(&d->prog, d->best_seen); /* a replay's */
}

void dispatch_progress_finish(dispatch_t *d, const char *line)
{
    if (!d->have_prog) return;
    progress_finish(&d->prog, line);
    if (d->opt.stats) {
        double wall = util_mono_seconds() - d->prog.t0;
        fprintf(stderr, "aesweep: rank 0 stats: stage %s: %zu messages received (%zu results stored, rank 0's own included: %.1f per message; %zu interim reports besides) in %.3f s wall: %.0f messages/s; receiving, storing and journalling them %.3f s (%.1f%% of the stage), of it %.3f s CPU (%.1f%%; %.1f us per message, %.2f us per result); %.3f s in its own tasks (receiving between their epochs included); batch bound %.3f s\n",
                d->p->spec->name, d->rx_msgs, d->rx_records, d->rx_msgs ? (double)d->rx_records / d->rx_msgs : 0.0,
                d->rx_interims, wall,
                wall > 0 ? d->rx_msgs / wall : 0.0, d->rx_seconds, wall > 0 ? 100.0 * d->rx_seconds / wall : 0.0,
                d->rx_cpu_seconds, wall > 0 ? 100.0 * d->rx_cpu_seconds / wall : 0.0,
                d->rx_msgs ? 1e6 * d->rx_cpu_seconds / d->rx_msgs : 0.0,
                d->rx_records ? 1e6 * d->rx_cpu_seconds / d->rx_records : 0.0, d->busy[0], d->batch_s);
    }
}

double dispatch_balance(const dispatch_t *d)
{
    double mx = 0, sum = 0;
    for (int i = 0; i < d->nranks; i++) {
        sum += d->busy[i];
        if (d->busy[i] > mx) mx = d->busy[i];
    }
    return mx > 0 ? sum / d->nranks / mx : 1.0;
}

/* ---- a round --------------------------------------------------------------- */

/* Rank 0, halving rounds: does it hold the state of every task the round's
 * continuations continue from, at their start epochs?  (Promotion runs a
 * task only after its previous rung is stored; the check turns a broken
 * promotion or journal into one line instead of a wrong result.) */
static size_t rec_nparams(dispatch_t *d, size_t t);

/* Rank 0, before a round: the receive buffer grown to the largest message
 * the round can bring (a worker's batch is sent once it reaches
 * DISPATCH_BATCH_MAX_DOUBLES, so it holds at most that less one plus its
 * last record; never more than all the round's records together).  Grown
 * here, where running out of memory fails the round on every rank with one
 * line, because root_drain cannot leave a message unreceived. */
static int root_rx_ready(dispatch_t *d, const size_t *ids, size_t n)
{
    const plan_t *p = d->p;
    struct dispatch_io *io = d->io;
    size_t maxrec = 0, all = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = 1 + wire_result_len(p->nslots, p->nmetrics, rec_nparams(d, ids[i]), (size_t)p->ncurve * p->ncurve_metrics); /* + its length prefix (wire_batch_commit) */
        if (len > maxrec) maxrec = len;
        all += len;
    }
    size_t need = DISPATCH_BATCH_MAX_DOUBLES - 1 + maxrec;
    if (all < need) need = all;
    if (need < 2) need = 2; /* a DONE message */
    if (need <= io->rxcap) return 1;
    double *nb = realloc(io->rx, need * sizeof(double));
    if (!nb) {
        fprintf(stderr, "aesweep: rank 0: out of memory for a receive buffer of %zu values (stage %s); the round does not run (finished tasks are journaled: --resume)\n",
                need, p->spec->name);
        d->failed = 1;
        return 0;
    }
    io->rx = nb;
    io->rxcap = need;
    return 1;
}

static int root_states_ready(dispatch_t *d, const size_t *ids, size_t n)
{
    const plan_t *p = d->p;
    for (size_t i = 0; i < n; i++) {
        const task_t *tk = &p->tasks[ids[i]];
        if (tk->prev_task < 0) continue;
        const task_state_t *s = (size_t)tk->prev_task < p->ntasks ? d->state[tk->prev_task] : NULL;
        if (!s || s->pos.epoch != tk->start_epoch || s->nparams != task_nparams(d, ids[i])) {
            fprintf(stderr, "aesweep: rank 0: stage %s: task %zu continues task %ld from epoch %d, but rank 0 holds %s; the round does not run (finished tasks are journaled: --resume)\n",
                    p->spec->name, ids[i], tk->prev_task, tk->start_epoch, s ? "another state of it" : "no state of it");
            d->failed = 1;
            return 0;
        }
    }
    return 1;
}

static void free_wstates(struct dispatch_io *io)
{
    for (int i = 0; i < io->nwstate; i++) task_state_free(io->wstate[i]);
    free(io->wstate);
    io->wstate = NULL;
    io->nwstate = 0;
}

/* Halving rounds, right after the scatter (collective): each worker gets the
 * state of every continuation in its list (WIRE_TAG_STATE, wire.h), rank 0
 * sending straight from the states it keeps, in list order.  The workers
 * allocate first and every rank agrees, so that one out of memory fails the
 * round everywhere (exit 3, the journal stands) and no send is left
 * unmatched.  1 when every rank has its states. */
static int scatter_states(dispatch_t *d, const int *list, const int *counts, const int *displs, const int *mine,
                          int mine_n)
{
    struct dispatch_io *io = d->io;
    const plan_t *p = d->p;
    int have = 1;
    if (d->rank != 0) {
        io->wstate = calloc((size_t)(mine_n ? mine_n : 1), sizeof *io->wstate);
        have = io->wstate != NULL;
        io->nwstate = have ? mine_n : 0;
        for (int i = 0; have && i < mine_n; i++)
            if (p->tasks[mine[i]].prev_task >= 0 && !(io->wstate[i] = task_state_new(task_nparams(d, (size_t)mine[i]))))
                have = 0;
        if (!have)
            fprintf(stderr, "aesweep: rank %d: out of memory for the carried states of its %d tasks of stage %s; finished tasks are journaled: --resume\n",
                    d->rank, mine_n, p->spec->name);
    }
    MPI_Allreduce(MPI_IN_PLACE, &have, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!have) {
        free_wstates(io);
        return 0;
    }
    double h[1 + TASK_STATE_HDR];
    if (d->rank == 0) {
        for (int k = 1; k < d->nranks; k++)
            for (int i = displs[k]; i < displs[k] + counts[k]; i++) {
                long prev = p->tasks[list[i]].prev_task;
                if (prev < 0) continue;
                const task_state_t *st = d->state[prev];
                h[0] = list[i];
                task_state_header(st, h + 1);
                MPI_Send(h, 1 + TASK_STATE_HDR, MPI_DOUBLE, k, WIRE_TAG_STATE, MPI_COMM_WORLD);
                MPI_Send(st->arena, (int)(3 * st->nparams), MPI_FLOAT, k, WIRE_TAG_STATE, MPI_COMM_WORLD);
            }
        return 1;
    }
    for (int i = 0; i < mine_n; i++) {
        task_state_t *st = io->wstate[i];
        if (!st) continue;
        MPI_Recv(h, 1 + TASK_STATE_HDR, MPI_DOUBLE, 0, WIRE_TAG_STATE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Recv(st->arena, (int)(3 * st->nparams), MPI_FLOAT, 0, WIRE_TAG_STATE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        /* rank 0 checked every state (root_states_ready); a header that is
         * not this task's would be a broken message: the task then fails
         * (TASK_BAD_STATE, its epoch is no start epoch), not the collective */
        if (h[0] != mine[i] || task_state_read_header(st, h + 1)) st->pos.epoch = -1;
    }
    return 1;
}

/* Rank 0: partition the round's tasks and scatter each rank its list,
 * largest first.  Returns my list (its length in *mine_n), NULL on every
 * rank when rank 0 is out of memory for the partition. */
static int *scatter_round(dispatch_t *d, const size_t *ids, size_t n, int *mine_n)
{
    int R = d->nranks;
    int *counts = NULL, *displs = NULL, *list = NULL, ok = 0;
    *mine_n = 0;
    if (d->rank == 0) {
        size_t *order = malloc((n ? n : 1) * sizeof *order);
        int *owner = malloc((n ? n : 1) * sizeof *owner), *fill = calloc((size_t)R, sizeof *fill);
        double *load = malloc((size_t)R * sizeof *load);
        counts = calloc((size_t)R, sizeof *counts);
        displs = calloc((size_t)R, sizeof *displs);
        list = malloc((n ? n : 1) * sizeof *list);
        /* d->failed already: dispatch_stage could not list the tasks and
         * said so; the round only has to end failed on every rank */
        int have = order && owner && fill && load && counts && displs && list && (!halving(d) || root_states_ready(d, ids, n)) && root_rx_ready(d, ids, n);
        double mk = have && !d->failed ? plan_partition_subset(d->p, ids, n, R, order, owner, load) : -1;
        if (mk >= 0) {
            ok = 1;
            d->predicted += mk;
            for (size_t i = 0; i < n; i++) counts[owner[i]]++;
            for (int i = 1; i < R; i++) displs[i] = displs[i - 1] + counts[i - 1];
            /* in placement order: each rank's list runs largest first */
            for (size_t i = 0; i < n; i++) list[displs[owner[i]] + fill[owner[i]]++] = (int)order[i];
        } else if (!d->failed)
            fprintf(stderr, "aesweep: rank 0: out of memory partitioning %zu tasks of stage %s\n", n, d->p->spec->name);
        free(order), free(owner), free(fill), free(load);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int *mine = NULL;
    if (ok) {
        MPI_Scatter(counts, 1, MPI_INT, mine_n, 1, MPI_INT, 0, MPI_COMM_WORLD);
        mine = malloc((size_t)(*mine_n ? *mine_n : 1) * sizeof *mine);
        /* every rank must take part in the Scatterv or none: agree first,
         * so that a rank out of memory fails the round (exit 3, the journal
         * stands) instead of aborting the job */
        int have = mine != NULL;
        MPI_Allreduce(MPI_IN_PLACE, &have, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        if (have) {
            MPI_Scatterv(list, counts, displs, MPI_INT, mine, *mine_n, MPI_INT, 0, MPI_COMM_WORLD);
            if (halving(d)) have = scatter_states(d, list, counts, displs, mine, *mine_n);
        }
        if (!have) {
            if (!mine)
                fprintf(stderr, "aesweep: rank %d: out of memory for its list of %d tasks of stage %s; finished tasks are journaled: --resume\n",
                        d->rank, *mine_n, d->p->spec->name);
            free(mine);
            mine = NULL;
            *mine_n = 0;
        }
    }
    free(counts), free(displs), free(list);
    return mine;
}

/* Does task t ship its weights to rank 0?  Every task of a save_models
 * stage does; otherwise the draw-0 / repeat-0 tasks do, so that rank 0 can
 * store the best model without training it again, unless those weights
 * would take more than DISPATCH_SHIP_CAP_BYTES on rank 0 (then the best is
 * retrained).  Every rank decides the same from the task table. */
static int ships_params(dispatch_t *d, size_t t)
{
    const plan_t *p = d->p;
    if (p->spec->save_models) return 1;
    if (d->keep_best < 0) {
        double bytes = 0;
        for (size_t i = 0; i < p->ntasks; i++)
            if (p->tasks[i].draw == 0 && p->tasks[i].repeat == 0) {
                model_arch_t a = task_arch(d->sd, p->tasks[i].hp);
                bytes += 4.0 * (double)model_param_count(&a) * p->nslots;
            }
        d->keep_best = bytes <= DISPATCH_SHIP_CAP_BYTES;
    }
    return d->keep_best && p->tasks[t].draw == 0 && p->tasks[t].repeat == 0;
}

/* The params section of task t's record (wire.h): a halving task's end
 * state, shipped weights, or nothing. */
static size_t rec_nparams(dispatch_t *d, size_t t)
{
    if (halving(d)) return ships_state(d, t) ? task_state_len(task_nparams(d, t)) : 0;
    return ships_params(d, t) ? task_nparams(d, t) : 0;
}

/* A halving task that did not end ok ships no state: the record loses its
 * params section (metrics, status and seconds stay where they are, the
 * curve moves up).  Returns the new length. */
static size_t drop_state_section(wire_result_t *r, double *rec)
{
    wire_result_t r0 = *r;
    r->nparams = 0;
    size_t len = wire_result_frame(r, rec, (size_t)-1);
    memmove(r->curve, r0.curve, r0.ncurve * sizeof(double));
    return len;
}

/* The task_report_fn of a search stage's tasks: the interim report of the
 * running task (d->cur_task) to rank 0, at once.  A rank sends only a point
 * below every report it sent before: rank 0 has taken those (a worker's
 * messages arrive in order), so it would drop any other, and so a worker
 * sends a few reports a task, not one a point.  (Its own unsent results do
 * not count: rank 0 may not have them yet.)  The message is a few dozen
 * bytes, which every Open MPI transport sends eagerly (their eager limits
 * are KiBs), so MPI_Send returns without waiting for rank 0, which takes it
 * at its next poll as it takes results; were it not eager, the worker would
 * wait for that poll (5 ms, or one epoch of rank 0's task), never longer:
 * rank 0 receives from any source with any tag, and a worker's reports come
 * before its DONE. */
static void report_interim(void *ctx, int epoch, const double *point, int n)
{
    dispatch_t *d = ctx;
    double msg[WIRE_INTERIM_HDR + SPEC_MAX_TESTS + 1];
    double v = point[d->p->select_metric];
    if (n > SPEC_MAX_TESTS + 1 || !(v < d->sent_best)) return;
    d->sent_best = v;
    msg[0] = d->p->stage_index;
    msg[1] = (double)d->cur_task;
    msg[2] = 0;
    msg[3] = epoch;
    msg[4] = n;
    memcpy(msg + WIRE_INTERIM_HDR, point, (size_t)n * sizeof(double));
    if (d->rank == 0) root_interim(d, msg, WIRE_INTERIM_HDR + (size_t)n);
    else MPI_Send(msg, (int)(WIRE_INTERIM_HDR + (size_t)n), MPI_DOUBLE, 0, WIRE_TAG_INTERIM, MPI_COMM_WORLD);
}

/* Does a stage send interim reports: a search stage with learning curves
 * that hold its ranking metric (an MMD metric is not a curve metric). */
static int reports(const plan_t *p) { return p->search && p->ncurve && p->select_metric < p->ncurve_metrics; }

/* Train one task (from `from`, NULL: its initialisation) into io->rec; its
 * record length, 0 when interrupted, or (size_t)-1 when out of memory or
 * the state does not fit. */
static size_t run_task(dispatch_t *d, size_t t, const task_state_t *from, float *params, double *busy)
{
    plan_t *p = d->p;
    model_arch_t a = task_arch(d->sd, p->tasks[t].hp);
    int hv = halving(d);
    wire_result_t r = {.stage = p->stage_index, .task = t, .nslots = p->nslots, .nmetrics = p->nmetrics,
                       .nparams = rec_nparams(d, t), .ncurve = (size_t)p->ncurve * p->ncurve_metrics};
    size_t len = wire_result_frame(&r, d->io->rec, d->io->rec_cap);
    int8_t st[p->nslots];
    double t0 = util_mono_seconds();
    d->cur_task = t;
    int status = len ? task_run_from(d->sd, p, t, from, r.metrics, st, r.seconds, hv ? NULL : params, r.curve,
                                     hv && r.nparams ? r.params : NULL, dispatch_tick,
                                     reports(p) ? report_interim : NULL, d)
                     : -1;
    *busy += util_mono_seconds() - t0;
    if (status == TASK_BAD_STATE) {
        fprintf(stderr, "aesweep: rank %d: task %zu of stage %s: the state it continues from (task %ld) is not at its start epoch %d or not of its model; finished tasks are journaled: --resume\n",
                d->rank, t, p->spec->name, p->tasks[t].prev_task, p->tasks[t].start_epoch);
        return (size_t)-1;
    }
    if (status < 0) {
        fprintf(stderr, "aesweep: rank %d: out of memory for task %zu of stage %s (%zu parameters, %.0f rows); lower train_size or hidden, set batch_size, or use fewer ranks per node\n",
                d->rank, t, p->spec->name, model_param_count(&a), p->tasks[t].hp[P_TRAIN_SIZE]);
        return (size_t)-1;
    }
    if (status == TRAIN_INTERRUPTED) return 0; /* in flight: not recorded, redone on resume */
    if (hv && r.nparams && status != TRAIN_OK) len = drop_state_section(&r, d->io->rec);
    wire_result_put_status(&r, st);
    if (!hv && r.nparams) wire_result_put_params(&r, params);
    return len;
}

/* The record buffer (io->rec, grown) and a weights buffer, for the n
 * tasks of `mine` (a round's list; a dataflow grows its buffers task by
 * task, fit_buffers).  The weights buffer, or NULL with one line when out
 * of memory. */
static float *task_buffers(dispatch_t *d, const int *mine, size_t n)
{
    plan_t *p = d->p;
    struct dispatch_io *io = d->io;
    size_t maxnp = 0, maxsec = 0;
    for (size_t i = 0; i < n; i++) {
        size_t t = (size_t)mine[i];
        size_t np = task_nparams(d, t), sec = rec_nparams(d, t);
        if (np > maxnp) maxnp = np;
        if (sec > maxsec) maxsec = sec;
    }
    size_t cap = wire_result_len(p->nslots, p->nmetrics, maxsec, (size_t)p->ncurve * p->ncurve_metrics);
    if (cap > io->rec_cap) {
        free(io->rec);
        io->rec = malloc(cap * sizeof(double));
        io->rec_cap = io->rec ? cap : 0;
    }
    float *params = malloc((size_t)p->nslots * (maxnp ? maxnp : 1) * sizeof(float));
    if (!io->rec || !params) {
        free(params);
        fprintf(stderr, "aesweep: rank %d: out of memory for the results of stage %s\n", d->rank, p->spec->name);
        return NULL;
    }
    return params;
}

/* Every rank: train my list, send (or on rank 0 take) each result.
 * Returns enum wire_done for this rank. */
static int run_list(dispatch_t *d, const int *mine, int n, double *busy)
{
    plan_t *p = d->p;
    struct dispatch_io *io = d->io;
    float *params = task_buffers(d, mine, (size_t)n);
    int code = params ? WIRE_DONE_OK : WIRE_DONE_FAILED;
    for (int i = 0; i < n && code == WIRE_DONE_OK && !d->stop; i++) {
        double b0 = *busy;
        const task_state_t *from = NULL;
        long prev = p->tasks[mine[i]].prev_task;
        if (halving(d) && prev >= 0) from = d->rank == 0 ? d->state[prev] : io->wstate[i];
        size_t len = run_task(d, (size_t)mine[i], from, params, busy);
        if (d->rank != 0 && io->wstate && io->wstate[i]) { /* trained: its state is not needed again */
            task_state_free(io->wstate[i]);
            io->wstate[i] = NULL;
        }
        if (len == (size_t)-1) code = WIRE_DONE_FAILED;
        else if (len == 0) code = WIRE_DONE_INTERRUPTED;
        else if (d->rank == 0) root_accept(d, io->rec, len);
        else if (worker_queue(d, len, *busy - b0)) code = WIRE_DONE_FAILED;
    }
    if (code == WIRE_DONE_FAILED) d->stop = 1;
    if (d->stop && code == WIRE_DONE_OK) code = WIRE_DONE_INTERRUPTED;
    free(params);
    return code;
}

int dispatch_round(dispatch_t *d, const size_t *ids, size_t n)
{
    int mine_n = 0;
    /* counted from here: a worker done before rank 0 is, is counted in
     * rank 0's own tasks' ticks */
    d->ndone_ranks = 0;
    int *mine = scatter_round(d, ids, n, &mine_n);
    double busy = 0;
    int code = mine ? run_list(d, mine, mine_n, &busy) : WIRE_DONE_FAILED;
    free(mine);
    free_wstates(d->io);
    if (d->rank != 0) {
        worker_flush(d); /* finished results before DONE, also when stopping */
        MPI_Waitall(2, d->io->req, MPI_STATUSES_IGNORE);
        double done[2] = {busy, code};
        MPI_Send(done, 2, MPI_DOUBLE, 0, WIRE_TAG_DONE, MPI_COMM_WORLD);
    } else {
        d->busy[0] += busy;
        if (code == WIRE_DONE_FAILED) d->failed = 1;
        if (code != WIRE_DONE_OK) {
            d->interrupted = 1;
            root_send_stop(d);
        }
        while (d->ndone_ranks < d->nranks - 1) root_drain(d, 1);
    }
    int outcome = d->failed ? WIRE_DONE_FAILED : d->interrupted || d->stop_sent ? WIRE_DONE_INTERRUPTED : WIRE_DONE_OK;
    MPI_Bcast(&outcome, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (outcome != WIRE_DONE_OK) d->stop = 1;
    return outcome;
}

/* ---- the dataflow (dispatch.h dispatch_flow) ------------------------------- */

/* WIRE_TAG_TASK: {task, has state, the state's header, the trial's values (TPE: proposed on rank 0)} */
#define FLOW_HDR (2 + TASK_STATE_HDR + P_COUNT)

/* Rank 0: complete the hand-out's sends that are done (wait: all of
 * them), freeing their headers. */
static void flow_reap(struct dispatch_io *io, int wait)
{
    size_t k = 0;
    for (size_t i = 0; i < io->nsreq; i++) {
        int done = 1;
        if (wait) MPI_Wait(&io->sreq[i], MPI_STATUS_IGNORE);
        else MPI_Test(&io->sreq[i], &done, MPI_STATUS_IGNORE);
        if (done) free(io->sbuf[i]);
        else io->sreq[k] = io->sreq[i], io->sbuf[k] = io->sbuf[i], io->sst[k++] = io->sst[i];
    }
    io->nsreq = k;
}

/* Rank 0: complete every send of state s before it is freed (MPI forbids
 * freeing a buffer under a pending send).  Called when s is dropped: its
 * continuation's result is in, so the worker has it and the wait is
 * immediate. */
static void flow_wait_state(struct dispatch_io *io, const task_state_t *s)
{
    size_t k = 0;
    for (size_t i = 0; i < io->nsreq; i++) {
        if (io->sst[i] == s) {
            MPI_Wait(&io->sreq[i], MPI_STATUS_IGNORE);
            free(io->sbuf[i]);
        } else
            io->sreq[k] = io->sreq[i], io->sbuf[k] = io->sbuf[i], io->sst[k++] = io->sst[i];
    }
    io->nsreq = k;
}

/* Rank 0: hand task t to worker w, with the state it continues from.
 * Room for the two sends is made first, so that a send once started is
 * always tracked.  0, or -1 (out of memory, or rank 0 lacks the state:
 * one line, the run fails; the journal stands). */
static int flow_assign(dispatch_t *d, int w, size_t t)
{
    struct dispatch_io *io = d->io;
    const plan_t *p = d->p;
    if (io->nsreq + 2 > io->capsreq) {
        size_t cap = io->capsreq ? 2 * io->capsreq : 64;
        MPI_Request *q = realloc(io->sreq, cap * sizeof *q);
        if (q) io->sreq = q;
        double **b = realloc(io->sbuf, cap * sizeof *b);
        if (b) io->sbuf = b;
        const task_state_t **c = realloc(io->sst, cap * sizeof *c);
        if (c) io->sst = c;
        if (!q || !b || !c) {
            keep_failed(d, "hand-out", t);
            return -1;
        }
        io->capsreq = cap;
    }
    long prev = p->tasks[t].prev_task;
    if (prev >= 0 && !root_states_ready(d, &t, 1)) return -1;
    const task_state_t *st = prev >= 0 ? d->state[prev] : NULL;
    double *h = calloc(FLOW_HDR, sizeof *h);
    if (!h) {
        keep_failed(d, "hand-out", t);
        return -1;
    }
    h[0] = (double)t, h[1] = st != NULL;
    if (st) task_state_header(st, h + 2);
    if (p->tasks[t].trial >= 0 && p->trial_hp)
        memcpy(h + 2 + TASK_STATE_HDR, p->trial_hp + (size_t)p->tasks[t].trial * P_COUNT, P_COUNT * sizeof(double));
    MPI_Isend(h, FLOW_HDR, MPI_DOUBLE, w, WIRE_TAG_TASK, MPI_COMM_WORLD, &io->sreq[io->nsreq]);
    io->sbuf[io->nsreq] = h, io->sst[io->nsreq++] = NULL;
    if (st) {
        MPI_Isend(st->arena, (int)(3 * st->nparams), MPI_FLOAT, w, WIRE_TAG_STATE, MPI_COMM_WORLD, &io->sreq[io->nsreq]);
        io->sbuf[io->nsreq] = NULL, io->sst[io->nsreq++] = st;
    }
    io->hand[(size_t)w * DISPATCH_FLOW_DEPTH + (size_t)((io->hand_head[w] + io->out[w]) % DISPATCH_FLOW_DEPTH)] = t;
    io->out[w]++;
    return 0;
}

/* Rank 0: may worker w get another task now?  Its first, always.  A
 * second waits behind the one it trains, so only behind a short one
 * (predicted under DISPATCH_FLOW_QUEUE_S): there the wait is shorter than
 * rank 0's answer could be, elsewhere the task goes to the next rank to
 * be free (a queued task can hold back its whole rung). */
static int flow_wants(const dispatch_t *d, int w, int depth)
{
    const struct dispatch_io *io = d->io;
    if (io->out[w] >= depth) return 0;
    if (io->out[w] == 0) return 1;
    size_t cur = io->hand[(size_t)w * DISPATCH_FLOW_DEPTH + (size_t)io->hand_head[w]];
    return d->p->tasks[cur].cost * io->sec_per_cost <= DISPATCH_FLOW_QUEUE_S;
}

/* Rank 0: bring every worker to `depth` tasks not back yet, level by
 * level (first one each, then the second), so that the ready tasks spread
 * over idle workers before any worker gets a second. */
static void flow_fill(dispatch_t *d, int depth)
{
    if (!d->flow || d->stop || d->stop_sent || d->end_sent) return;
    flow_reap(d->io, 0);
    for (int level = 1; level <= depth; level++)
        for (int w = 1; w < d->nranks; w++) {
            if (d->io->out[w] >= level || !flow_wants(d, w, level)) continue;
            long t = d->flow->next(d->flow->ctx);
            if (t < 0) return;
            if (flow_assign(d, w, (size_t)t)) {
                d->failed = d->stop = 1;
                return;
            }
        }
}

/* Worker: take rank 0's messages in the order sent: tasks into my queue
 * (a state's receive posted at once, so that rank 0's send can complete
 * while I train: it is waited for when the task starts), then a STOP
 * (stop now) or an END (nothing more).  block: wait for one first.  A
 * worker out of memory for a state cannot leave the message unreceived:
 * it ends the job (exit 3; the journal stands), as rank 0 does for a
 * result. */
static void worker_take(dispatch_t *d, int block)
{
    struct dispatch_io *io = d->io;
    while (!io->got_final) {
        MPI_Status stt;
        int flag = 1;
        if (block) MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &stt);
        else MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &stt);
        if (!flag) return;
        block = 0;
        if (stt.MPI_TAG == WIRE_TAG_STOP) {
            int x;
            MPI_Recv(&x, 1, MPI_INT, 0, WIRE_TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            io->got_final = 1;
            if (x) d->stop = 1;
            return;
        }
        double h[FLOW_HDR];
        MPI_Recv(h, FLOW_HDR, MPI_DOUBLE, 0, WIRE_TAG_TASK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (io->wq_n > DISPATCH_FLOW_DEPTH) { /* not reached: rank 0 hands out at most that many */
            fprintf(stderr, "aesweep: rank %d: more tasks handed out than it can hold; stopping the job (finished tasks are journaled: --resume)\n", d->rank);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
        int k = (io->wq_head + io->wq_n++) % (DISPATCH_FLOW_DEPTH + 1);
        size_t t = (size_t)h[0];
        io->wq[k] = t, io->wqs[k] = NULL, io->wqr[k] = MPI_REQUEST_NULL;
        if (h[1] != 0) {
            /* sized by the header (a TPE trial's model is set only when
             * the task starts); the task checks it against its model */
            int bad = 0;
            task_state_t *st = task_state_from_header(h + 2, &bad);
            if (!st) {
                fprintf(stderr, "aesweep: rank %d: %s for the carried state of task %zu of stage %s; stopping the job (finished tasks are journaled: --resume)\n",
                        d->rank, bad ? "a broken header" : "out of memory", t, d->p->spec->name);
                MPI_Abort(MPI_COMM_WORLD, 3);
            }
            MPI_Irecv(st->arena, (int)(3 * st->nparams), MPI_FLOAT, 0, WIRE_TAG_STATE, MPI_COMM_WORLD, &io->wqr[k]);
            memcpy(io->wqh[k], h + 2, sizeof io->wqh[k]);
            io->wqs[k] = st;
        }
        memcpy(io->wrow[k], h + 2 + TASK_STATE_HDR, sizeof io->wrow[k]);
    }
}

/* Worker: the next task of my queue, its state received and checked, its
 * trial's values set (a TPE trial's are proposed on rank 0; set here, not
 * in the epoch callback, which never touches the task table). */
static size_t worker_pop(dispatch_t *d, task_state_t **st)
{
    struct dispatch_io *io = d->io;
    int k = io->wq_head;
    long trial = d->p->tasks[io->wq[k]].trial;
    if (trial >= 0 && d->p->sspec && d->p->sspec->has_sample && d->p->sspec->sampler == SEARCH_TPE)
        plan_set_trial(d->p, (size_t)trial, io->wrow[k]);
    io->wq_head = (io->wq_head + 1) % (DISPATCH_FLOW_DEPTH + 1), io->wq_n--;
    MPI_Wait(&io->wqr[k], MPI_STATUS_IGNORE);
    *st = io->wqs[k];
    /* a header that is not this task's: the task fails (TASK_BAD_STATE), not the job */
    if (*st && task_state_read_header(*st, io->wqh[k])) (*st)->pos.epoch = -1;
    return io->wq[k];
}

/* A dataflow's rank, before each task: io->rec and *params grown to hold
 * task t (a TPE trial's model is known only once it is proposed, so the
 * buffers cannot be sized for the stage up front).  0, or -1 with one line. */
static int fit_buffers(dispatch_t *d, size_t t, float **params, size_t *pcap)
{
    plan_t *p = d->p;
    struct dispatch_io *io = d->io;
    size_t np = task_nparams(d, t), need = (size_t)p->nslots * (np ? np : 1);
    size_t cap = wire_result_len(p->nslots, p->nmetrics, rec_nparams(d, t), (size_t)p->ncurve * p->ncurve_metrics);
    if (cap > io->rec_cap) {
        double *r = realloc(io->rec, cap * sizeof(double));
        if (!r) goto oom;
        io->rec = r, io->rec_cap = cap;
    }
    if (need > *pcap) {
        float *q = realloc(*params, need * sizeof(float));
        if (!q) goto oom;
        *params = q, *pcap = need;
    }
    return 0;
oom:
    fprintf(stderr, "aesweep: rank %d: out of memory for the results of task %zu of stage %s (%zu parameters)\n", d->rank, t,
            p->spec->name, np);
    return -1;
}

/* A dataflow's rank: train task t (from st) into io->rec, buffers grown
 * first.  enum wire_done, and the record's length in *len when OK. */
static int flow_train(dispatch_t *d, size_t t, const task_state_t *st, float **params, size_t *pcap, double *busy,
                      size_t *len)
{
    *len = fit_buffers(d, t, params, pcap) ? (size_t)-1 : run_task(d, t, st, *params, busy);
    return *len == (size_t)-1 ? WIRE_DONE_FAILED : *len == 0 ? WIRE_DONE_INTERRUPTED : WIRE_DONE_OK;
}

static int worker_flow(dispatch_t *d, double *busy)
{
    struct dispatch_io *io = d->io;
    float *params = NULL;
    size_t pcap = 0;
    int code = WIRE_DONE_OK;
    while (code == WIRE_DONE_OK && !(d->stop |= signals_caught() != 0)) {
        if (!io->wq_n) {
            if (io->got_final) break; /* END: every task is in */
            worker_take(d, 1);
            continue;
        }
        task_state_t *st;
        size_t len, t = worker_pop(d, &st);
        code = flow_train(d, t, st, &params, &pcap, busy, &len);
        task_state_free(st);
        if (code == WIRE_DONE_OK && worker_queue(d, len, INFINITY)) code = WIRE_DONE_FAILED; /* sent at once */
    }
    if (code == WIRE_DONE_FAILED) d->stop = 1;
    free(params);
    if (d->stop && code == WIRE_DONE_OK) code = WIRE_DONE_INTERRUPTED;
    return code;
}

/* Rank 0: train what is ready when free, wait for results when not. */
static int root_flow(dispatch_t *d, double *busy)
{
    const dispatch_flow_t *f = d->flow;
    float *params = NULL;
    size_t pcap = 0;
    int code = WIRE_DONE_OK;
    while (code == WIRE_DONE_OK && !(d->stop |= signals_caught() != 0)) {
        flow_fill(d, 1);
        long t = d->stop ? -1 : f->next(f->ctx);
        flow_fill(d, DISPATCH_FLOW_DEPTH);
        if (t >= 0) {
            long prev = d->p->tasks[t].prev_task;
            size_t tt = (size_t)t;
            if (prev >= 0 && !root_states_ready(d, &tt, 1)) {
                code = WIRE_DONE_FAILED;
                break;
            }
            size_t len;
            code = flow_train(d, tt, prev >= 0 ? d->state[prev] : NULL, &params, &pcap, busy, &len);
            if (code == WIRE_DONE_OK) root_accept(d, d->io->rec, len);
            continue;
        }
        if (d->stop || f->finished(f->ctx)) break;
        int out = 0;
        for (int w = 1; w < d->nranks; w++) out += d->io->out[w];
        if (!out) { /* nothing ready, nothing out: a result was refused (root_store) */
            fprintf(stderr, "aesweep: rank 0: stage %s: the dataflow stalled (a result was refused, so a rung cannot close); finished tasks are journaled: --resume\n",
                    d->p->spec->name);
            code = WIRE_DONE_FAILED;
            break;
        }
        root_drain(d, 1);
    }
    free(params);
    return code;
}

int dispatch_flow(dispatch_t *d, const dispatch_flow_t *f)
{
    struct dispatch_io *io = d->io;
    int ok = 1;
    if (d->rank == 0) {
        size_t n = d->p->ntasks, *all = malloc((n ? n : 1) * sizeof *all);
        io->out = calloc((size_t)d->nranks, sizeof *io->out);
        io->hand_head = calloc((size_t)d->nranks, sizeof *io->hand_head);
        io->hand = calloc((size_t)d->nranks * DISPATCH_FLOW_DEPTH, sizeof *io->hand);
        io->sec_per_cost = 1.0 / budget_rate(klanes_isa());
        ok = all && io->out && io->hand_head && io->hand;
        for (size_t t = 0; ok && t < n; t++) all[t] = t;
        ok = ok && root_rx_ready(d, all, n);
        free(all);
        if (!ok && !d->failed) fprintf(stderr, "aesweep: rank 0: out of memory for the dataflow of stage %s\n", d->p->spec->name);
    }
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    double busy = 0;
    int code = WIRE_DONE_FAILED;
    d->ndone_ranks = 0;
    io->got_final = 0, io->wq_head = io->wq_n = 0;
    if (ok) {
        d->flowing = 1;
        d->flow = d->rank == 0 ? f : NULL;
        code = d->rank == 0 ? root_flow(d, &busy) : worker_flow(d, &busy);
    }
    if (d->rank != 0) {
        worker_flush(d);
        MPI_Waitall(2, io->req, MPI_STATUSES_IGNORE);
        double done[2] = {busy, code};
        if (ok) MPI_Send(done, 2, MPI_DOUBLE, 0, WIRE_TAG_DONE, MPI_COMM_WORLD);
        while (ok && !io->got_final) worker_take(d, 1); /* up to rank 0's last message */
        while (io->wq_n) { /* handed out, not run: receive and forget */
            task_state_t *st;
            worker_pop(d, &st);
            task_state_free(st);
        }
    } else if (ok) {
        d->busy[0] += busy;
        if (code == WIRE_DONE_FAILED) d->failed = 1;
        if (code != WIRE_DONE_OK || d->stop) {
            d->interrupted = 1;
            root_send_stop(d);
        } else if (!d->stop_sent) { /* every task is in: END */
            static const int zero = 0; /* the send outlives this call */
            for (int k = 1; k < d->nranks; k++) {
                MPI_Request q;
                MPI_Isend(&zero, 1, MPI_INT, k, WIRE_TAG_STOP, MPI_COMM_WORLD, &q);
                MPI_Request_free(&q);
            }
            d->end_sent = 1;
        }
        while (d->ndone_ranks < d->nranks - 1) root_drain(d, 1);
        flow_reap(io, 1);
    } else
        d->failed = 1;
    d->flowing = 0, d->flow = NULL;
    free(io->out), free(io->hand_head), free(io->hand);
    io->out = io->hand_head = NULL, io->hand = NULL;
    int outcome = d->failed ? WIRE_DONE_FAILED : d->interrupted || d->stop_sent ? WIRE_DONE_INTERRUPTED : WIRE_DONE_OK;
    MPI_Bcast(&outcome, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (outcome != WIRE_DONE_OK) d->stop = 1;
    return outcome;
}

int dispatch_stage(dispatch_t *d)
{
    size_t n = 0, *ids = NULL;
    if (d->rank == 0) {
        ids = malloc((d->p->ntasks ? d->p->ntasks : 1) * sizeof *ids);
        if (ids) n = dispatch_pending(d, ids);
        else { /* an empty round that ends failed on every rank */
            fprintf(stderr, "aesweep: rank 0: out of memory listing the tasks of stage %s\n", d->p->spec->name);
            d->failed = 1;
        }
    }
    int rc = dispatch_round(d, ids, n);
    free(ids);
    return rc;
}

void dispatch_drop_state(dispatch_t *d, size_t task)
{
    if (!d->state || task >= d->p->ntasks || !d->state[task]) return;
    if (d->io && d->io->nsreq) flow_wait_state(d->io, d->state[task]);
    d->state_bytes -= task_state_bytes(d->state[task]->nparams);
    d->nstates--;
    task_state_free(d->state[task]);
    d->state[task] = NULL;
}

void dispatch_close(dispatch_t *d)
{
    if (d->rank != 0) { /* a STOP that may still be queued for me */
        int flag = 1;
        while (flag) {
            MPI_Iprobe(0, WIRE_TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
            if (flag) {
                int x;
                MPI_Recv(&x, 1, MPI_INT, 0, WIRE_TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            }
        }
    }
    if (d->cell_params) {
        for (size_t t = 0; t < d->p->ntasks; t++) free(d->cell_params[t]);
        free(d->cell_params);
    }
    free(d->cell_nparams);
    free(d->has_succ);
    if (d->state) {
        for (size_t t = 0; t < d->p->ntasks; t++) task_state_free(d->state[t]);
        free(d->state);
    }
    free(d->busy);
    if (d->io) {
        wire_batch_free(&d->io->batch[0]);
        wire_batch_free(&d->io->batch[1]);
        free_wstates(d->io);
        free(d->io->rec), free(d->io->rx), free(d->io->jrec), free(d->io->jlen);
        free(d->io->out), free(d->io->hand_head), free(d->io->hand), free(d->io->sreq), free(d->io->sbuf), free(d->io->sst);
        free(d->io);
    }
    memset(d, 0, sizeof *d);
}
