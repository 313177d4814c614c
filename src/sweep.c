/* sweep.c - `aesweep run`: the life of a study on every rank.
 *
 *   open the study (study.h: spec, broadcast, data, checks)
 *   decide the output (outdir.h: lock, journal, fresh / resume / complete)
 *   for each stage: plan (plan.h, budget.h) -> dispatch (dispatch.h: rounds
 *     of tasks scattered, trained, gathered and journaled) -> write
 *     (results.h, and saved.h for its models)
 *   close: the result file renamed into place, the journal removed, or a
 *     partial file and the journal kept for --resume.
 *
 * Rank 0 decides after each stage (enum wire_verdict) and tells every rank.
 * All randomness comes from task.h's streams, so the metrics do not depend
 * on the number of ranks or on which rank ran what.
 */
#include "aesweep/sweep.h"
#include "aesweep/budget.h"
#include "aesweep/dispatch.h"
#include "aesweep/journal.h"
#include "aesweep/outdir.h"
#include "aesweep/plan.h"
#include "aesweep/results.h"
#include "aesweep/saved.h"
#include "aesweep/search.h"
#include "aesweep/signals.h"
#include "aesweep/study.h"
#include "aesweep/version.h"
#include "aesweep/wire.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one stage: plan -> dispatch -> write -------------------------------- */

typedef struct {
    const sweep_opts_t *o;
    int rank, nranks;
    double limit;              /* memory per rank */
    study_ctx_t own_st, *study; /* the study (a singleton's: opened by cli.c) */
    outdir_t own_od, *od;      /* rank 0: the output, lock and old journal */
    int own;                   /* study and od are ours to close */
    study_t *s;
    study_data_t *sd;
    results_t *res;            /* rank 0 */
    journal_t jr;              /* rank 0 */
    double prev_best[P_COUNT]; /* what the next stage inherits */
    int have_prev;
    size_t all_done, all_total;
} run_t;

/* Plan stage k; rank 0 refuses it (on every rank) when the inherited values
 * make its largest task too big.  0, or an exit code. */
static int stage_plan(run_t *st, int k, plan_t *p)
{
    char err[SPEC_ERR_LEN];
    const study_t *s = st->s;
    if (plan_build(p, s, k, st->have_prev ? st->prev_best : NULL, k ? s->stages[k - 1].name : NULL, err)) {
        if (st->rank == 0) fprintf(stderr, "aesweep: %s\n", err);
        return AES_EXIT_RUNTIME;
    }
    int too_big = 0;
    if (st->rank == 0 && budget_check_stage(st->sd, p, st->limit, st->o->spec_path, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        too_big = 1;
    }
    MPI_Bcast(&too_big, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (too_big) {
        plan_free(p);
        return AES_EXIT_USAGE;
    }
    if (st->rank != 0) {
        /* only rank 0 holds the cube; a worker keeps the task table */
        free(p->metrics), free(p->status), free(p->seconds), free(p->curves);
        p->metrics = NULL, p->status = NULL, p->seconds = NULL, p->curves = NULL;
    }
    return 0;
}

/* "  M1 best cell: lr=0.01 hidden=8* ..." (* = inherited) */
static void print_best_cell(const study_t *s, const plan_t *p)
{
    fprintf(stderr, "  %s best cell:", p->spec->name);
    for (int q = 0; q < P_COUNT; q++)
        if (p->source[q] == VS_AXIS || p->source[q] == VS_INHERITED) {
            char val[160];
            spec_format_value(s, q, p->best_hp[q], val, sizeof val);
            if (q == P_MMD_KERNEL || q == P_ARCH || q == P_ACTIVATION || (q == P_HIDDEN && p->best_hp[q] < 0))
                fprintf(stderr, " %s=%s", param_names[q], val);
            else
                fprintf(stderr, " %s=%g", param_names[q], p->best_hp[q]);
            if (p->source[q] == VS_INHERITED) fputc('*', stderr);
        }
    fprintf(stderr, "\n");
}

/* Rank 0, after the stage's rounds: select the best cell, close the
 * progress line, write the stage (and its models when complete) and decide
 * what happens next (enum wire_verdict). */
static int stage_verdict(run_t *st, int k, plan_t *p, dispatch_t *d)
{
    const study_t *s = st->s;
    char err[SPEC_ERR_LEN] = "";
    if (journal_sync(&st->jr)) d->journal_failed = 1; /* what it holds may not be on disk: stop */
    st->all_done += p->ndone;
    st->all_total += search_tasks_total(p); /* halving: the segments it ran, not the trial x rung cube */
    int complete = plan_complete(p);
    char line[256] = "";
    if (complete) {
        plan_select_best(p);
        char idle[48] = "";
        if (p->search) snprintf(idle, sizeof idle, "; idle share %.3f", p->idle_share);
        if (p->best_cell >= 0 && p->search)
            snprintf(line, sizeof line, "balance %.3f%s; best trial %ld: %s = %.6g%s", dispatch_balance(d), idle,
                     p->best_cell / (long)(p->ncells / p->ntrials), p->metric_names[p->select_metric], p->best_value,
                     p->nskipped ? " (some trials skipped: diverged)" : "");
        else if (p->best_cell >= 0)
            snprintf(line, sizeof line, "balance %.3f; best %s = %.6g%s", dispatch_balance(d),
                     p->metric_names[p->select_metric], p->best_value, p->nskipped ? " (some cells skipped: diverged)" : "");
        else /* best_value is not a value then: say why there is none */
            snprintf(line, sizeof line, "balance %.3f; no best cell: every cell diverged (lower lr or change the grid)",
                     dispatch_balance(d));
    }
    dispatch_progress_finish(d, complete ? line : "interrupted");
    int verdict = WIRE_NEXT_STAGE;
    if (d->journal_failed) {
        fprintf(stderr, "aesweep: %s: cannot write the journal (%s); the tasks journaled before stand: free space and run with --resume\n",
                st->od->journal_path, strerror(st->jr.failed));
        verdict = WIRE_STOP_FAILED;
    } else if (results_write_stage(st->res, p, d->busy, st->nranks, d->predicted, err) ||
               (complete && saved_write_stage(st->res, p, st->sd, d->cell_params, err))) {
        fprintf(stderr, "aesweep: %s\n", err);
        verdict = WIRE_STOP_FAILED;
    } else if (d->failed) {
        verdict = WIRE_STOP_FAILED; /* what finished is in the journal; the file stays partial */
    } else if (!complete) {
        verdict = WIRE_STOP_INTERRUPTED;
    } else if (p->best_cell < 0 && k + 1 < s->nstages) {
        int needs = 0;
        for (int q = 0; q < P_COUNT; q++) needs |= s->stages[k + 1].inherit[q];
        if (needs) {
            fprintf(stderr, "aesweep: stage %s: every cell diverged or failed, so stage %s has nothing to inherit; lower lr or change the grid\n",
                    s->stages[k].name, s->stages[k + 1].name);
            verdict = WIRE_STOP_FAILED;
        }
    }
    if (p->best_cell >= 0 && !st->o->quiet) print_best_cell(s, p);
    return verdict;
}

/* Stage k on every rank: plan, dispatch (resumed tasks from the journal,
 * the rest in one round), write.  Returns an exit code (AES_EXIT_OK: go on). */
static int run_stage(run_t *st, int k)
{
    plan_t p;
    int rc = stage_plan(st, k, &p);
    if (rc) return rc;
    dispatch_opts_t dopt = {.quiet = st->o->quiet, .stats = st->o->opt.rank0_stats, .progress_seconds = st->o->opt.progress_seconds, .batch_seconds = st->o->opt.result_batch_off ? 0 : st->o->opt.result_batch_seconds > 0 ? st->o->opt.result_batch_seconds : -1};
    dispatch_t d;
    double msg[1 + P_COUNT] = {WIRE_STOP_FAILED};
    int ok = dispatch_open(&d, &p, st->sd, &st->jr, &dopt) == 0;
    if (!ok) fprintf(stderr, "aesweep: rank %d: out of memory for stage %s\n", st->rank, p.spec->name);
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (ok) {
        if (st->rank == 0) {
            dispatch_replay(&d, &st->od->jd);
            if (p.search) search_progress_start(&d);
            else dispatch_progress_start(&d);
        }
        if (p.search) search_run(&d); /* rounds: rungs, TPE batches (search.h) */
        else dispatch_stage(&d);
        /* rank 0 decides: continue, stop (interrupted), or fail */
        if (st->rank == 0) {
            msg[0] = stage_verdict(st, k, &p, &d);
            memcpy(msg + 1, p.best_cell >= 0 ? p.best_hp : p.base, sizeof(double) * P_COUNT);
        }
        MPI_Bcast(msg, 1 + P_COUNT, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    }
    dispatch_close(&d);
    plan_free(&p);
    memcpy(st->prev_best, msg + 1, sizeof(double) * P_COUNT);
    st->have_prev = 1;
    return msg[0] == WIRE_STOP_INTERRUPTED ? AES_EXIT_INTERRUPTED
           : msg[0] == WIRE_STOP_FAILED    ? AES_EXIT_RUNTIME
                                           : AES_EXIT_OK;
}

/* ---- open and close ------------------------------------------------------- */

#define RUN_READY (-1)

/* Free what sweep_run opened itself (a singleton's study and output are
 * its caller's: cli.c opened them before MPI_Init). */
static void setup_close(run_t *r)
{
    if (!r->own) return;
    outdir_close(r->od);
    study_close(r->study);
}

/* Open the study on every rank, and on rank 0 decide the output (outdir.h)
 * and open the result file and journal.  RUN_READY, or the exit code to
 * return (AES_EXIT_OK when --resume finds the study complete). */
static int run_open(run_t *r, const sweep_opts_t *o)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->jr.fd = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r->nranks);
    char err[SPEC_ERR_LEN] = "";
    /* ranks sharing rank 0's node share its memory */
    MPI_Comm node;
    int node_ranks = 1, rc = 0;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &node_ranks);
    MPI_Comm_free(&node);
    r->limit = budget_mem_limit(o->max_mem_gb, node_ranks);
    r->study = o->opened, r->od = o->admitted;
    r->own = !(r->study && r->od && r->nranks == 1);
    if (r->own) {
        r->study = &r->own_st, r->od = &r->own_od;
        memset(r->od, 0, sizeof *r->od);
        study_source_t src = {.spec_path = o->spec_path, .mem_limit = r->limit, .kernel = &o->opt.model};
        if (study_open_all(r->study, &src, r->rank, err)) {
            if (r->rank == 0 && err[0]) fprintf(stderr, "aesweep: %s\n", err);
            else if (err[0]) fprintf(stderr, "aesweep: rank %d: %s\n", r->rank, err);
            study_close(r->study);
            return AES_EXIT_USAGE;
        }
        if (r->rank == 0 && outdir_admit(r->od, r->study, o, r->limit, node_ranks, err)) rc = AES_EXIT_USAGE;
        if (study_agree(rc)) {
            if (r->rank == 0) fprintf(stderr, "aesweep: %s\n", err);
            setup_close(r);
            return AES_EXIT_USAGE;
        }
        if (r->rank == 0 && r->od->note[0] && !o->quiet) fprintf(stderr, "aesweep: %s\n", r->od->note);
    }
    r->s = &r->study->s;
    r->sd = &r->study->sd;
    r->s->in_dim = r->sd->in_dim;
    int already_complete = r->rank == 0 && r->od->action == OUTDIR_COMPLETE;
    MPI_Bcast(&already_complete, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (already_complete) {
        setup_close(r);
        return AES_EXIT_OK;
    }
    char start[32];
    results_now_iso(start);
    if (r->rank == 0) {
        /* the output was checked: a failure here is an I/O error (disk full) */
        rc = outdir_begin(r->od, r->study, r->nranks, start, &r->res, &r->jr, err) ? AES_EXIT_RUNTIME : 0;
        if (!o->quiet && r->res)
            fprintf(stderr, "aesweep %s: study %s, %d stage(s), %d rank(s), output %s%s\n", AESWEEP_VERSION, r->s->study,
                    r->s->nstages, r->nranks, r->od->out, r->od->jd.n ? " (resuming)" : "");
    }
    int worst = study_agree(rc);
    if (worst) {
        if (r->rank == 0) fprintf(stderr, "aesweep: %s\n", err);
        setup_close(r);
        return worst;
    }
    return RUN_READY;
}

/* Rank 0 closes the journal and the result file: renamed into place when
 * the study is complete (the journal then goes), kept partial beside the
 * journal when interrupted, removed on a failure (the journal keeps every
 * finished task for --resume).  Returns the exit code, the same on every rank. */
static int run_close(run_t *r, int final)
{
    const sweep_opts_t *o = r->o;
    char err[SPEC_ERR_LEN] = "";
    if (r->rank == 0) {
        journal_close(&r->jr);
        if (final == AES_EXIT_RUNTIME || final == AES_EXIT_USAGE) {
            results_abort(r->res);
        } else {
            int complete = final == AES_EXIT_OK;
            if (results_close(r->res, complete, r->all_done, r->all_total, err)) {
                fprintf(stderr, "aesweep: %s\n", err);
                final = AES_EXIT_RUNTIME;
            } else if (complete) {
                outdir_finish(r->od); /* the result file is now the record */
                if (!o->quiet) fprintf(stderr, "aesweep: wrote %s\n", r->od->out);
            } else {
                fprintf(stderr, "aesweep: interrupted (signal %d); %zu tasks are saved in %s and a partial result in %s. Resume with: aesweep run --resume %s%s%s\n",
                        signals_caught(), r->all_done, r->od->journal_path, r->od->out, o->spec_path,
                        o->output ? " -o " : "", o->output ? o->output : "");
            }
        }
    }
    MPI_Bcast(&final, 1, MPI_INT, 0, MPI_COMM_WORLD);
    setup_close(r);
    return final;
}

int sweep_run(const sweep_opts_t *o)
{
    run_t r;
    int rc = run_open(&r, o); /* the study on every rank, the output decided on rank 0 */
    if (rc != RUN_READY) return rc;
    int final = AES_EXIT_OK;
    for (int k = 0; k < r.s->nstages && final == AES_EXIT_OK; k++)
        final = run_stage(&r, k); /* plan -> dispatch -> write (the stage's cube and models) */
    return run_close(&r, final);
}
