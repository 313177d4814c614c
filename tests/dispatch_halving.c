/* dispatch_halving.c - carried states through the run layer (src/dispatch.c),
 * run by CTest under mpirun at 1 and 3 ranks (tests/dispatch.cmake).
 *
 * A toy two-rung halving stage: a grid whose cells come in pairs (epochs 4,
 * epochs 9) of one configuration; the halving plan makes task 2k + 1 (rung
 * 1) continue from the end state of task 2k (rung 0), as plan.c makes a
 * halving stage's (trial, rung) tasks.  Round 0 runs every rung-0 task, round
 * 1 the promoted trials' rung-1 tasks from the states rank 0 keeps (and
 * sends to their owners).  Checked, on the way:
 * - every metric equals bit for bit the same task trained from scratch (a
 *   grid run of the same cells, the independent check), for full batch and
 *   mini-batch, with and without MMD;
 * - rank 0 keeps exactly the live states: one per rung-0 task that ended
 *   ok (a diverged trial ships none; a last-rung task ships none either), dispatch_drop_state frees the
 *   unpromoted ones, a stored continuation frees the state it used;
 * - a resume from a journal holding only the rung-0 records restores their
 *   states (and only those still needed), runs rung 1 alone (nothing
 *   finished is trained again) and gives the same cube; a replay of the
 *   whole journal keeps only the states of rung-0 tasks not continued;
 * - the journal's interim reports (the plan's curve points sent as computed,
 *   wire.h): each lies strictly inside its task's segment, and there is one
 *   at least (the first finite value rank 0 sees is a curve point, a best).
 * Prints "dispatch_halving: ok" on rank 0; any failure prints what differs
 * and aborts the job (exit 1).
 */
#include "aesweep/dispatch.h"
#include "aesweep/journal.h"
#include "aesweep/plan.h"
#include "aesweep/study.h"
#include "aesweep/task.h"
#include "aesweep/wire.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *SPEC = "study = \"halving\"; seed = 11;\n"
                          "data = { source = \"moons\"; pool = 300; noise = 0.1; };\n"
                          "tests = ( { name = \"t\"; noise = 0.1; size = 100; } );\n"
                          "defaults = { train_size = 200; hidden = 5; layers = 1; bottleneck = 1;"
                          " mmd_scale = 2.0; mmd_nscales = 2; };\n"
                          "stages = ( { name = \"s\"; reuse_epochs = false;"
                          " axes = { lr = [0.01, 0.03, 0.05]; batch_size = [0, 64]; mmd_lambda = [0.0, 0.3];"
                          " epochs = [4, 9]; }; } );\n";

static int g_rank;

#define CHECK(cond, ...)                                                                                      \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            fprintf(stderr, "dispatch_halving: rank %d: line %d: ", g_rank, __LINE__);                       \
            fprintf(stderr, __VA_ARGS__);                                                                     \
            fputc('\n', stderr);                                                                              \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                                     \
        }                                                                                                     \
    } while (0)

#define NT 24 /* 3 lr x 2 batch x 2 mmd x 2 epochs */
#define LR_DIVERGES 1e30 /* trial 0 (tasks 0, 1): the first step overflows */
#define NOT_PROMOTED(trial) ((trial) == 3 || (trial) == 8) /* besides the diverged trial 0 */

/* The grid of stage 0, trial 0's lr made to diverge; as halving: tasks
 * (2k, 2k + 1) are trial k's rungs 0 and 1. */
static void plan(plan_t *p, study_ctx_t *st, int as_halving)
{
    char err[SPEC_ERR_LEN];
    CHECK(plan_build(p, &st->s, 0, NULL, NULL, err) == 0, "%s", err);
    CHECK(p->ntasks == NT && p->nslots == 1, "the spec gives %zu tasks of %d slots", p->ntasks, p->nslots);
    p->tasks[0].hp[P_LR] = p->tasks[1].hp[P_LR] = LR_DIVERGES;
    if (!as_halving) return;
    p->search = PLAN_HALVING;
    p->nrungs = 2;
    for (size_t t = 0; t < NT; t++) {
        task_t *tk = &p->tasks[t];
        CHECK(tk->hp[P_EPOCHS] == (t % 2 ? 9 : 4), "task %zu has %g epochs", t, tk->hp[P_EPOCHS]);
        tk->trial = (long)t / 2;
        tk->rung = (int)(t % 2);
        tk->start_epoch = t % 2 ? 4 : 0;
        tk->prev_task = t % 2 ? (long)t - 1 : -1;
        tk->absent = 0;
    }
}

/* Rank 0: the rung-1 tasks of the promoted trials. */
static size_t rung1(size_t *ids)
{
    size_t n = 0;
    for (size_t k = 1; k < NT / 2; k++)
        if (!NOT_PROMOTED(k)) ids[n++] = 2 * k + 1;
    return n;
}

/* Every task that ran has the metrics of the same task from scratch. */
static void same_as_scratch(const plan_t *h, const plan_t *ref, const char *what)
{
    if (g_rank != 0) return;
    for (size_t t = 0; t < NT; t++) {
        int ran = t % 2 == 0 || (t != 1 && !NOT_PROMOTED(t / 2));
        CHECK(h->task_done[t] == ran, "%s: task %zu done=%d", what, t, h->task_done[t]);
        if (!ran) continue;
        CHECK(h->status[t] == ref->status[t], "%s: task %zu status %d, from scratch %d", what, t, h->status[t],
              ref->status[t]);
        for (int m = 0; m < h->nmetrics; m++) {
            double a = h->metrics[(size_t)m * h->ncube + t], b = ref->metrics[(size_t)m * ref->ncube + t];
            CHECK(!memcmp(&a, &b, sizeof a), "%s: task %zu metric %s: %.17g, from scratch %.17g", what, t,
                  h->metric_names[m], a, b);
        }
    }
}

/* Round 0 (rung 0), the unpromoted states dropped, round 1 (rung 1). */
static void run_halving(study_ctx_t *st, plan_t *h, journal_t *j, double batch_s)
{
    dispatch_opts_t o = {.quiet = 1, .batch_seconds = batch_s};
    dispatch_t d;
    CHECK(dispatch_open(&d, h, &st->sd, g_rank == 0 ? j : NULL, &o) == 0, "dispatch_open");
    size_t ids[NT], n = 0;
    if (g_rank == 0)
        for (size_t t = 0; t < NT; t += 2) ids[n++] = t;
    CHECK(dispatch_round(&d, g_rank == 0 ? ids : NULL, n) == 0, "round 0");
    if (g_rank == 0) {
        /* every rung-0 task that ended ok left its state; the diverged one none */
        CHECK(h->status[0] == 1, "trial 0 did not diverge (status %d)", h->status[0]);
        CHECK(d.nstates == NT / 2 - 1 && !d.state[0], "after rung 0: %zu states kept", d.nstates);
        for (size_t t = 2; t < NT; t += 2)
            CHECK(d.state[t] && d.state[t]->pos.epoch == 4 && d.state[t]->adam_t > 0, "task %zu: no state", t);
        dispatch_drop_state(&d, 0); /* nothing kept: harmless */
        for (size_t k = 0; k < NT / 2; k++)
            if (NOT_PROMOTED(k)) dispatch_drop_state(&d, 2 * k);
        CHECK(d.nstates == NT / 2 - 3, "after the drops: %zu states", d.nstates);
        n = rung1(ids);
    }
    CHECK(dispatch_round(&d, g_rank == 0 ? ids : NULL, n) == 0, "round 1");
    if (g_rank == 0) {
        /* the rung-0 states freed as their continuations were stored; the
         * last rung's never kept (nothing continues them) */
        CHECK(d.nstates == 0 && d.state_bytes == 0, "after rung 1: %zu states kept", d.nstates);
        model_arch_t a = task_arch(&st->sd, h->tasks[2].hp);
        double one = task_state_bytes(model_param_count(&a));
        CHECK(d.state_peak_bytes == (NT / 2 - 1) * one, "peak %.0f bytes of states, expected %d of %.0f",
              d.state_peak_bytes, NT / 2 - 1, one);
    }
    dispatch_close(&d);
}

/* Rank 0 alone: the journal's records (rung 0 only, or all) replayed into a
 * fresh halving plan; returns how many states it then keeps. */
static size_t replay(study_ctx_t *st, plan_t *h, dispatch_t *d, const journal_data_t *jd, int rung0_only)
{
    journal_data_t sub = *jd;
    double **rec = malloc((jd->n + 1) * sizeof *rec); /* results and interim reports */
    size_t *len = malloc((jd->n + 1) * sizeof *len);
    CHECK(rec && len, "out of memory");
    sub.n = 0;
    size_t nint = 0;
    for (size_t i = 0; i < jd->n; i++) {
        wire_result_t r;
        const double *q = jd->rec[i];
        if (jd->len[i] >= WIRE_INTERIM_HDR && q[2] == 0) { /* an interim report (wire.h): a curve point inside its segment */
            size_t t = (size_t)q[1];
            CHECK(q[0] == 0 && t < NT && jd->len[i] == WIRE_INTERIM_HDR + (size_t)h->ncurve_metrics &&
                      q[4] == h->ncurve_metrics && q[3] > (t % 2 ? 4 : 0) && q[3] < (t % 2 ? 9 : 4),
                  "interim report %zu: task %g at epoch %g (%zu doubles)", i, q[1], q[3], jd->len[i]);
            nint++;
            rec[sub.n] = jd->rec[i]; /* replayed too: passed over as a result, counted for the best */
            len[sub.n++] = jd->len[i];
            continue;
        }
        CHECK(wire_result_unpack(&r, jd->rec[i], jd->len[i]) == 0, "record %zu malformed", i);
        if (r.task % 2 == 0) /* rung 0: the state, or none after divergence */
            CHECK(r.nparams == (r.task == 0 ? 0 : task_state_len((size_t)r.params[7])), "record of task %zu: %zu doubles of state",
                  r.task, r.nparams);
        else /* rung 1, the last: nothing continues it, so it ships no state (wire.h) */
            CHECK(r.nparams == 0, "record of task %zu (the last rung): %zu doubles of state, expected none", r.task,
                  r.nparams);
        if (rung0_only && r.task % 2) continue;
        rec[sub.n] = jd->rec[i];
        len[sub.n++] = jd->len[i];
    }
    /* the first curve point anywhere is a best (nothing before it): always journaled */
    CHECK(nint > 0, "the journal holds no interim report");
    sub.rec = rec;
    sub.len = len;
    dispatch_opts_t o = {.quiet = 1, .batch_seconds = -1};
    CHECK(dispatch_open(d, h, &st->sd, NULL, &o) == 0, "dispatch_open");
    dispatch_replay(d, &sub);
    free(rec);
    free(len);
    return d->nstates;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    study_ctx_t st;
    char err[SPEC_ERR_LEN];
    study_source_t src = {.spec_path = "halving.cfg", .text = SPEC};
    CHECK(study_open(&st, &src, err) == 0, "%s", err);
    st.s.in_dim = st.sd.in_dim;

    /* from scratch: the grid in one round */
    plan_t ref, h, h2, resumed;
    plan(&ref, &st, 0);
    {
        dispatch_opts_t o = {.quiet = 1, .batch_seconds = -1};
        dispatch_t d;
        CHECK(dispatch_open(&d, &ref, &st.sd, NULL, &o) == 0, "dispatch_open");
        CHECK(dispatch_stage(&d) == 0, "the grid");
        dispatch_close(&d);
    }
    char dir[] = "/tmp/aesweep-halving-XXXXXX", jpath[64];
    journal_t j = {.fd = -1};
    if (g_rank == 0) {
        CHECK(mkdtemp(dir), "mkdtemp");
        snprintf(jpath, sizeof jpath, "%s/h.journal", dir);
        CHECK(journal_open(&j, jpath, SPEC, 0, err) == 0, "%s", err);
    }
    plan(&h, &st, 1);
    run_halving(&st, &h, &j, 10.0); /* batched */
    same_as_scratch(&h, &ref, "halving, batched");
    plan(&h2, &st, 1);
    run_halving(&st, &h2, NULL, 0.0); /* one message per result */
    same_as_scratch(&h2, &ref, "halving, unbatched");

    /* resume from the journal's rung-0 records: rung 1 only */
    plan(&resumed, &st, 1);
    dispatch_t d;
    journal_data_t jd;
    size_t ids[NT], n = 0;
    if (g_rank == 0) {
        journal_close(&j);
        long valid;
        CHECK(journal_read(jpath, &jd, &valid, err) == 0, "%s", err);
        size_t ns = replay(&st, &resumed, &d, &jd, 1);
        CHECK(resumed.ndone == NT / 2 && ns == NT / 2 - 1, "resumed: %zu tasks done, %zu states", resumed.ndone, ns);
        for (size_t k = 0; k < NT / 2; k++)
            if (NOT_PROMOTED(k)) dispatch_drop_state(&d, 2 * k);
        n = rung1(ids);
    } else {
        dispatch_opts_t o = {.quiet = 1, .batch_seconds = -1};
        CHECK(dispatch_open(&d, &resumed, &st.sd, NULL, &o) == 0, "dispatch_open");
    }
    CHECK(dispatch_round(&d, g_rank == 0 ? ids : NULL, n) == 0, "resumed round 1");
    if (g_rank == 0) /* only the round's tasks came back: nothing of rung 0 trained again */
        CHECK(d.rx_records == n && resumed.ndone == NT / 2 + n, "resumed: %zu results for %zu tasks", d.rx_records, n);
    same_as_scratch(&resumed, &ref, "resumed from rung 0");
    dispatch_close(&d);

    if (g_rank == 0) {
        plan_t all;
        plan(&all, &st, 1);
        size_t ns = replay(&st, &all, &d, &jd, 0);
        /* the replay cannot know promotion: it keeps the states of the
         * unpromoted trials (3, 8), whose rung 1 is not done, for the
         * resumed promotion to drop; the continued ones it never loads */
        CHECK(ns == 2 && d.state[6] && d.state[16], "a replay of the whole journal keeps %zu states", ns);
        same_as_scratch(&all, &ref, "replayed journal");
        dispatch_close(&d);
        plan_free(&all);
        journal_data_free(&jd);
        unlink(jpath);
        rmdir(dir);
        int nr;
        MPI_Comm_size(MPI_COMM_WORLD, &nr);
        printf("dispatch_halving: ok (%d rank(s), %d tasks in 2 rungs: batched, unbatched, resumed from rung 0, journal replay)\n",
               nr, NT);
    }
    plan_free(&ref), plan_free(&h), plan_free(&h2), plan_free(&resumed);
    study_close(&st);
    MPI_Finalize();
    return 0;
}
