/* sweep.c - rank 0 plans, partitions (LPT) and scatters each stage's tasks;
 * every rank trains its share; results flow back to rank 0 one message per
 * task, so rank 0 can journal them, show progress and stop everyone on a
 * signal.  All randomness comes from task.h's streams, so the metrics do not
 * depend on the number of ranks or on which rank ran what.
 */
#include "aesweep/sweep.h"
#include "aesweep/budget.h"
#include "aesweep/outdir.h"
#include "aesweep/study.h"
#include "aesweep/journal.h"
#include "aesweep/plan.h"
#include "aesweep/progress.h"
#include "aesweep/results.h"
#include "aesweep/saved.h"
#include "aesweep/task.h"
#include "aesweep/version.h"
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TAG_RESULT = 11, TAG_DONE = 12, TAG_STOP = 13 };
#define HDR 5 /* payload header: stage, task, nslots, nmetrics, nparams */

static volatile sig_atomic_t g_signal = 0;
static void on_signal(int sig) { g_signal = sig; }

void sweep_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int sweep_stop_requested(void) { return g_signal != 0; }

/* ---- shared state of a running stage ------------------------------------ */

typedef struct {
    int rank, nranks;
    plan_t *p;
    journal_t *j;
    progress_t *prog;
    int stop;            /* a stop was requested (signal here or elsewhere) */
    int stop_sent;
    double last_poll;
    int ndone_ranks;     /* root: DONE messages received */
    double *busy;        /* root: [nranks] */
    int any_interrupted;
    int failed;          /* a rank could not run a task (out of memory) */
    int journal_failed;  /* root: a journal write failed (disk full, I/O error) */
    float **cell_params; /* root: [ntasks] arenas at every slot, for tasks that ship them */
    size_t *cell_nparams;
    double *rxbuf;
    size_t rxcap;
    double rx_seconds;   /* root: time receiving and journalling results (not waiting) */
    size_t rx_msgs;      /* root: messages received */
} run_t;

/* nparams = floats per arena shipped with the result (0: none).  The
 * learning curve, [ncurve][ncurve_metrics], follows (curve_len doubles). */
static size_t payload_len(const plan_t *p, size_t nparams)
{
    return HDR + (size_t)p->nslots * (p->nmetrics + 2) + (size_t)p->nslots * nparams;
}
static size_t curve_len(const plan_t *p) { return (size_t)p->ncurve * p->ncurve_metrics; }

/* Does task t ship its weights to rank 0?  Every task of a save_models
 * stage does; otherwise the draw-0 / repeat-0 tasks do, so that rank 0 can
 * store the best model without training it again, unless those weights
 * would take more than 256 MiB on rank 0 (then the best is retrained). */
static int ships_params(const plan_t *p, const study_data_t *sd, size_t t, int *keep_best_cache)
{
    if (p->spec->save_models) return 1;
    if (*keep_best_cache < 0) {
        double bytes = 0;
        for (size_t i = 0; i < p->ntasks; i++)
            if (p->tasks[i].draw == 0 && p->tasks[i].repeat == 0) {
                model_arch_t a = task_arch(sd, p->tasks[i].hp);
                bytes += 4.0 * (double)model_param_count(&a) * p->nslots;
            }
        *keep_best_cache = bytes <= 256.0 * 1048576.0;
    }
    return *keep_best_cache && p->tasks[t].draw == 0 && p->tasks[t].repeat == 0;
}

/* Root: take one result payload (from a worker, itself or the journal). */
static void root_accept(run_t *r, const double *pl, size_t len, int from_journal)
{
    plan_t *p = r->p;
    size_t task = (size_t)pl[1];
    int ns = (int)pl[2], nm = (int)pl[3];
    size_t np = (size_t)pl[4];
    if (task >= p->ntasks || ns != p->nslots || nm != p->nmetrics) return; /* foreign record */
    const double *vals = pl + HDR;
    int8_t st[ns];
    for (int s = 0; s < ns; s++) st[s] = (int8_t)pl[HDR + ns * nm + s];
    const double *secs = pl + HDR + ns * nm + ns;
    int was_done = p->task_done[task];
    plan_store(p, task, vals, st, secs);
    size_t base = payload_len(p, np);
    if (p->ncurve && len >= base + curve_len(p)) plan_store_curve(p, task, pl + base);
    if (np > 0 && r->cell_params) {
        free(r->cell_params[task]);
        r->cell_params[task] = malloc((size_t)ns * np * sizeof(float));
        const double *pp = secs + ns;
        for (size_t i = 0; i < (size_t)ns * np; i++) r->cell_params[task][i] = (float)pp[i];
        r->cell_nparams[task] = np;
    }
    if (!from_journal && r->j && journal_append(r->j, pl, len) && !r->journal_failed) {
        r->journal_failed = 1; /* disk full: stop, what is journaled stands */
        r->stop = 1;
    }
    if (!was_done && r->prog && !from_journal) progress_update(r->prog, 1, p->tasks[task].cost);
}

static void root_send_stop(run_t *r)
{
    if (r->stop_sent) return;
    r->stop_sent = 1;
    int one = 1;
    for (int k = 1; k < r->nranks; k++) {
        MPI_Request q;
        MPI_Isend(&one, 1, MPI_INT, k, TAG_STOP, MPI_COMM_WORLD, &q);
        MPI_Request_free(&q);
    }
}

/* Root: receive everything that is waiting.  The time it takes, less a
 * blocking wait, is rank 0's cost of gathering (AESWEEP_RANK0_STATS). */
static void root_drain(run_t *r, int block)
{
    double t0 = progress_now();
    for (;;) {
        int flag = 0;
        MPI_Status stt;
        if (block) {
            MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &stt);
            t0 = progress_now();
            flag = 1;
        } else
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &stt);
        if (!flag) break;
        r->rx_msgs++;
        int cnt;
        MPI_Get_count(&stt, MPI_DOUBLE, &cnt);
        if ((size_t)cnt > r->rxcap) {
            r->rxcap = (size_t)cnt;
            r->rxbuf = realloc(r->rxbuf, r->rxcap * sizeof(double));
        }
        MPI_Recv(r->rxbuf, cnt, MPI_DOUBLE, stt.MPI_SOURCE, stt.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (stt.MPI_TAG == TAG_RESULT) root_accept(r, r->rxbuf, (size_t)cnt, 0);
        else if (stt.MPI_TAG == TAG_DONE) {
            r->busy[stt.MPI_SOURCE] = r->rxbuf[0];
            if (r->rxbuf[1] == 2) r->failed = 1;
            if (r->rxbuf[1] != 0) {
                r->any_interrupted = 1;
                r->stop = 1;
                root_send_stop(r);
            }
            r->ndone_ranks++;
        }
        if (block) break;
    }
    r->rx_seconds += progress_now() - t0;
}

static int tick(void *ctx)
{
    run_t *r = ctx;
    if (g_signal) r->stop = 1;
    double t = progress_now();
    /* every 5 ms: an MPI_Iprobe costs ~1 us, and rank 0's receives also
     * progress the workers' large (rendezvous) sends */
    if (t - r->last_poll > 0.005) {
        r->last_poll = t;
        if (r->rank == 0) {
            root_drain(r, 0);
        } else {
            int flag = 0;
            MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
            if (flag) {
                int x;
                MPI_Recv(&x, 1, MPI_INT, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                r->stop = 1;
            }
        }
    }
    if (r->stop && r->rank == 0) root_send_stop(r);
    return r->stop;
}

/* ---- helpers ------------------------------------------------------------ */

static int agree(int rc)
{
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

/* ---- run ---------------------------------------------------------------- */

/* Free what sweep_run opened itself (a singleton's study and output are
 * its caller's: cli.c opened them before MPI_Init). */
static void setup_close(study_ctx_t *st, outdir_t *od, int own)
{
    if (!own) return;
    outdir_close(od);
    study_close(st);
}

int sweep_run(const sweep_opts_t *o)
{
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    char err[SPEC_ERR_LEN] = "";
    int rc = 0;
    /* ranks sharing rank 0's node share its memory */
    MPI_Comm node;
    int node_ranks = 1;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &node_ranks);
    MPI_Comm_free(&node);
    double limit = budget_mem_limit(o->max_mem_gb, node_ranks);
    /* the study on every rank; rank 0 admits the output (study.h, outdir.h) */
    study_ctx_t own_st, *study = o->opened;
    outdir_t own_od, *od = o->admitted;
    int own = !(study && od && nranks == 1);
    if (own) {
        study = &own_st, od = &own_od;
        memset(od, 0, sizeof *od);
        study_source_t src = {.spec_path = o->spec_path, .mem_limit = limit};
        if (study_open_all(study, &src, rank, err)) {
            if (rank == 0 && err[0]) fprintf(stderr, "aesweep: %s\n", err);
            else if (err[0]) fprintf(stderr, "aesweep: rank %d: %s\n", rank, err);
            study_close(study);
            return AES_EXIT_USAGE;
        }
        if (rank == 0 && outdir_admit(od, study, o, limit, node_ranks, err)) rc = AES_EXIT_USAGE;
        if (agree(rc)) {
            if (rank == 0) fprintf(stderr, "aesweep: %s\n", err);
            setup_close(study, od, own);
            return AES_EXIT_USAGE;
        }
        if (rank == 0 && od->note[0] && !o->quiet) fprintf(stderr, "aesweep: %s\n", od->note);
    }
    study_t *s = &study->s;
    study_data_t *sd = &study->sd;
    int already_complete = rank == 0 && od->action == OUTDIR_COMPLETE;
    MPI_Bcast(&already_complete, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (already_complete) {
        setup_close(study, od, own);
        return AES_EXIT_OK;
    }
    results_t *res = NULL;
    journal_t jr = {.fd = -1};
    char start[32];
    results_now_iso(start);
    if (rank == 0) {
        rc = outdir_begin(od, study, nranks, start, &res, &jr, err) ? AES_EXIT_RUNTIME : 0; /* the output was checked: an I/O error (disk full) */
        if (!o->quiet && res)
            fprintf(stderr, "aesweep %s: study %s, %d stage(s), %d rank(s), output %s%s\n", AESWEEP_VERSION, s->study,
                    s->nstages, nranks, od->out, od->jd.n ? " (resuming)" : "");
    }
    int worst = agree(rc);
    if (worst) {
        if (rank == 0) fprintf(stderr, "aesweep: %s\n", err);
        setup_close(study, od, own);
        return worst;
    }
    const char *out = od->out, *jpath = od->journal_path;
    journal_data_t jd = od->jd; /* the old journal's records (a view; od frees them) */

    double prev_best[P_COUNT];
    int have_prev = 0;
    size_t all_done = 0, all_total = 0;
    int final = AES_EXIT_OK;
    for (int k = 0; k < s->nstages; k++) {
        plan_t p;
        if (plan_build(&p, s, k, have_prev ? prev_best : NULL, k ? s->stages[k - 1].name : NULL, err)) {
            if (rank == 0) fprintf(stderr, "aesweep: %s\n", err);
            final = AES_EXIT_RUNTIME;
            break;
        }
        s->in_dim = sd->in_dim;
        int too_big = 0;
        if (rank == 0 && budget_check_stage(sd, &p, limit, o->spec_path, err)) {
            fprintf(stderr, "aesweep: %s\n", err);
            too_big = 1;
        }
        MPI_Bcast(&too_big, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (too_big) {
            plan_free(&p);
            final = AES_EXIT_USAGE;
            break;
        }
        if (rank != 0) {
            /* only rank 0 holds the cube; a worker keeps the task table */
            free(p.metrics), free(p.status), free(p.seconds), free(p.curves);
            p.metrics = NULL, p.status = NULL, p.seconds = NULL, p.curves = NULL;
        }
        run_t r;
        memset(&r, 0, sizeof r);
        r.rank = rank;
        r.nranks = nranks;
        r.p = &p;
        r.j = rank == 0 ? &jr : NULL;
        r.stop = g_signal != 0;
        progress_t prog;
        if (rank == 0) {
            r.busy = calloc(nranks, sizeof(double));
            {
                r.cell_params = calloc(p.ntasks, sizeof(float *));
                r.cell_nparams = calloc(p.ntasks, sizeof(size_t));
            }
            for (size_t i = 0; i < jd.n; i++)
                if (jd.len[i] >= HDR && (int)jd.rec[i][0] == k) root_accept(&r, jd.rec[i], jd.len[i], 1);
        }
        /* rank 0 partitions what is left and scatters it */
        int *counts = NULL, *displs = NULL, *list = NULL, mycount = 0;
        double predicted = 0;
        if (rank == 0) {
            size_t nleft = 0;
            for (size_t t = 0; t < p.ntasks; t++) nleft += !p.task_done[t];
            /* LPT over the remaining tasks: a sub-plan view with only those */
            task_t *all = p.tasks;
            size_t ntot = p.ntasks;
            task_t *left = malloc((nleft ? nleft : 1) * sizeof(task_t));
            size_t *map = malloc((nleft ? nleft : 1) * sizeof(size_t));
            size_t q = 0;
            for (size_t t = 0; t < ntot; t++)
                if (!p.task_done[t]) { left[q] = all[t]; map[q++] = t; }
            p.tasks = left;
            p.ntasks = nleft;
            int *owner = malloc((nleft ? nleft : 1) * sizeof(int));
            double *load = malloc(nranks * sizeof(double));
            predicted = plan_partition(&p, nranks, owner, load);
            p.tasks = all;
            p.ntasks = ntot;
            counts = calloc(nranks, sizeof(int));
            displs = calloc(nranks, sizeof(int));
            for (size_t i = 0; i < nleft; i++) counts[owner[i]]++;
            for (int i = 1; i < nranks; i++) displs[i] = displs[i - 1] + counts[i - 1];
            list = malloc((nleft ? nleft : 1) * sizeof(int));
            int *fill = calloc(nranks, sizeof(int));
            /* each rank's list in descending cost: big tasks first */
            size_t *ord = malloc((nleft ? nleft : 1) * sizeof(size_t));
            budget_order_by_cost(left, nleft, ord);
            for (size_t i = 0; i < nleft; i++) {
                int o2 = owner[ord[i]];
                list[displs[o2] + fill[o2]++] = (int)map[ord[i]];
            }
            free(ord), free(fill), free(left), free(map), free(owner), free(load);
            double ctot = 0, cdone = 0;
            for (size_t t = 0; t < p.ntasks; t++) {
                ctot += p.tasks[t].cost;
                if (p.task_done[t]) cdone += p.tasks[t].cost;
            }
            progress_start(&prog, s->stages[k].name, p.ntasks, p.ndone, ctot, cdone, o->quiet);
            r.prog = &prog;
        }
        MPI_Scatter(counts, 1, MPI_INT, &mycount, 1, MPI_INT, 0, MPI_COMM_WORLD);
        int *mine = malloc((mycount ? mycount : 1) * sizeof(int));
        MPI_Scatterv(list, counts, displs, MPI_INT, mine, mycount, MPI_INT, 0, MPI_COMM_WORLD);
        free(counts), free(displs), free(list);

        /* train my tasks */
        double busy = 0;
        size_t maxnp = 0;
        for (int i = 0; i < mycount; i++) {
            model_arch_t a = task_arch(sd, p.tasks[mine[i]].hp);
            size_t np = model_param_count(&a);
            if (np > maxnp) maxnp = np;
        }
        size_t cap = payload_len(&p, maxnp) + curve_len(&p);
        /* Workers send each result with MPI_Isend from one of two buffers, so
         * a worker never waits for rank 0 (busy with its own task) to match a
         * large message: it only waits, before reusing a buffer, for the send
         * of two tasks ago.  (A blocking send cost ~0.25 s of a 4 s M1 grid
         * at -np 2.) */
        double *plbuf[2] = {malloc(cap * sizeof(double)), rank ? malloc(cap * sizeof(double)) : NULL};
        MPI_Request sreq[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
        int cur = 0;
        int keep_best = -1;
        float *params = malloc((size_t)p.nslots * (maxnp ? maxnp : 1) * sizeof(float));
        int interrupted = 0, failed = 0;
        for (int i = 0; i < mycount && !r.stop; i++) {
            size_t t = (size_t)mine[i];
            model_arch_t a = task_arch(sd, p.tasks[t].hp);
            size_t np = ships_params(&p, sd, t, &keep_best) ? model_param_count(&a) : 0;
            int ns = p.nslots, nm = p.nmetrics;
            double *pl = plbuf[cur];
            if (rank != 0) MPI_Wait(&sreq[cur], MPI_STATUS_IGNORE);
            double t0 = progress_now();
            int8_t st[ns];
            double secs[ns];
            pl[0] = k, pl[1] = (double)t, pl[2] = ns, pl[3] = nm, pl[4] = (double)np;
            int status = task_run_curve(sd, &p, t, pl + HDR, st, secs, params, pl + payload_len(&p, np), tick, &r);
            busy += progress_now() - t0;
            if (status < 0) {
                fprintf(stderr, "aesweep: rank %d: out of memory for task %zu of stage %s (%zu parameters, %.0f rows); lower train_size or hidden, set batch_size, or use fewer ranks per node\n",
                        rank, t, s->stages[k].name, np, p.tasks[t].hp[P_TRAIN_SIZE]);
                failed = 1;
                interrupted = 1;
                r.stop = 1;
                break;
            }
            if (status == TRAIN_INTERRUPTED) {
                interrupted = 1;
                break; /* in flight: not recorded, redone on resume */
            }
            for (int q = 0; q < ns; q++) pl[HDR + ns * nm + q] = st[q];
            memcpy(pl + HDR + ns * nm + ns, secs, ns * sizeof(double));
            for (size_t q = 0; q < (size_t)ns * np; q++) pl[HDR + (size_t)ns * (nm + 2) + q] = params[q];
            size_t len = payload_len(&p, np) + curve_len(&p);
            if (rank == 0) root_accept(&r, pl, len, 0);
            else {
                MPI_Isend(pl, (int)len, MPI_DOUBLE, 0, TAG_RESULT, MPI_COMM_WORLD, &sreq[cur]);
                cur ^= 1;
            }
        }
        if (r.stop) interrupted = 1;
        if (rank != 0) MPI_Waitall(2, sreq, MPI_STATUSES_IGNORE); /* results before DONE */
        free(plbuf[0]), free(plbuf[1]), free(params), free(mine);
        if (rank != 0) {
            double done[2] = {busy, failed ? 2 : interrupted};
            MPI_Send(done, 2, MPI_DOUBLE, 0, TAG_DONE, MPI_COMM_WORLD);
        } else {
            r.busy[0] = busy;
            if (failed) r.failed = 1;
            if (interrupted) { r.any_interrupted = 1; root_send_stop(&r); }
            while (r.ndone_ranks < nranks - 1) root_drain(&r, 1);
        }
        /* rank 0 decides: continue, stop (interrupted), or fail */
        double msg[1 + P_COUNT] = {0};
        if (rank == 0) {
            journal_sync(&jr);
            all_done += p.ndone;
            all_total += p.ntasks;
            int complete = p.ndone == p.ntasks;
            char line[256] = "";
            if (complete) {
                plan_select_best(&p);
                double mx = 0, sum = 0;
                for (int i = 0; i < nranks; i++) { sum += r.busy[i]; if (r.busy[i] > mx) mx = r.busy[i]; }
                if (p.best_cell >= 0)
                    snprintf(line, sizeof line, "balance %.3f; best %s = %.6g%s", mx > 0 ? sum / nranks / mx : 1.0,
                             p.metric_names[p.select_metric], p.best_value, p.nskipped ? " (some cells skipped: diverged)" : "");
                else /* best_value is not a value then: say why there is none */
                    snprintf(line, sizeof line, "balance %.3f; no best cell: every cell diverged (lower lr or change the grid)",
                             mx > 0 ? sum / nranks / mx : 1.0);
            }
            progress_finish(&prog, complete ? line : "interrupted");
            if (getenv("AESWEEP_RANK0_STATS"))
                fprintf(stderr, "aesweep: rank 0 stats: stage %s: %zu messages, %.3f s receiving and journalling them, %.3f s in its own tasks (receiving between their epochs included), %.3f s wall\n",
                        s->stages[k].name, r.rx_msgs, r.rx_seconds, r.busy[0], progress_now() - prog.t0);
            if (r.journal_failed) {
                fprintf(stderr, "aesweep: %s: cannot write the journal (%s); the tasks journaled before stand: free space and run with --resume\n",
                        jpath, strerror(jr.failed));
                msg[0] = 2;
            } else if (results_write_stage(res, &p, r.busy, nranks, predicted, err) ||
                (complete && saved_write_stage(res, &p, sd, r.cell_params, err))) {
                fprintf(stderr, "aesweep: %s\n", err);
                msg[0] = 2;
            } else if (r.failed) {
                msg[0] = 2; /* what finished is in the journal; the file stays partial */
            } else if (!complete) {
                msg[0] = 1;
            } else if (p.best_cell < 0 && k + 1 < s->nstages) {
                int needs = 0;
                for (int q = 0; q < P_COUNT; q++) needs |= s->stages[k + 1].inherit[q];
                if (needs) {
                    fprintf(stderr, "aesweep: stage %s: every cell diverged or failed, so stage %s has nothing to inherit; lower lr or change the grid\n",
                            s->stages[k].name, s->stages[k + 1].name);
                    msg[0] = 2;
                }
            }
            if (p.best_cell >= 0) memcpy(msg + 1, p.best_hp, sizeof(double) * P_COUNT);
            else memcpy(msg + 1, p.base, sizeof(double) * P_COUNT);
            if (p.best_cell >= 0 && !o->quiet) {
                fprintf(stderr, "  %s best cell:", s->stages[k].name);
                for (int q = 0; q < P_COUNT; q++)
                    if (p.source[q] == VS_AXIS || p.source[q] == VS_INHERITED) {
                        char val[160];
                        spec_format_value(s, q, p.best_hp[q], val, sizeof val);
                        if (q == P_MMD_KERNEL || q == P_ARCH || q == P_ACTIVATION || (q == P_HIDDEN && p.best_hp[q] < 0))
                            fprintf(stderr, " %s=%s", param_names[q], val);
                        else
                            fprintf(stderr, " %s=%g", param_names[q], p.best_hp[q]);
                        if (p.source[q] == VS_INHERITED) fputc('*', stderr);
                    }
                fprintf(stderr, "\n");
            }
        }
        MPI_Bcast(msg, 1 + P_COUNT, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        /* drain a STOP that may still be queued for me */
        if (rank != 0) {
            int flag = 1;
            while (flag) {
                MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
                if (flag) { int x; MPI_Recv(&x, 1, MPI_INT, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE); }
            }
        }
        if (r.cell_params) {
            for (size_t t = 0; t < p.ntasks; t++) free(r.cell_params[t]);
            free(r.cell_params);
            free(r.cell_nparams);
        }
        free(r.busy);
        free(r.rxbuf);
        plan_free(&p);
        memcpy(prev_best, msg + 1, sizeof(double) * P_COUNT);
        have_prev = 1;
        if (msg[0] == 1) { final = AES_EXIT_INTERRUPTED; break; }
        if (msg[0] == 2) { final = AES_EXIT_RUNTIME; break; }
    }
    if (rank == 0) {
        journal_close(&jr);
        if (final == AES_EXIT_RUNTIME || final == AES_EXIT_USAGE) {
            /* the partial work stays in the journal for --resume */
            results_abort(res);
        } else {
            int complete = final == AES_EXIT_OK;
            if (results_close(res, complete, all_done, all_total, err)) {
                fprintf(stderr, "aesweep: %s\n", err);
                final = AES_EXIT_RUNTIME;
            } else if (complete) {
                outdir_finish(od); /* the result file is now the record */
                if (!o->quiet) fprintf(stderr, "aesweep: wrote %s\n", out);
            } else {
                fprintf(stderr, "aesweep: interrupted (signal %d); %zu tasks are saved in %s and a partial result in %s. Resume with: aesweep run --resume %s%s%s\n",
                        (int)g_signal, all_done, jpath, out, o->spec_path, o->output ? " -o " : "", o->output ? o->output : "");
            }
        }
    }
    MPI_Bcast(&final, 1, MPI_INT, 0, MPI_COMM_WORLD);
    setup_close(study, od, own);
    return final;
}
