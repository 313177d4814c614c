/* dispatch_rounds.c - the run layer across ranks (src/dispatch.c), run by
 * CTest under mpirun at 1 and 3 ranks (tests/dispatch.cmake).
 *
 * A stage run in three rounds over arbitrary subsets of its tasks (as a
 * successive-halving search will run its rungs) gives, bit for bit, the
 * cube of the same stage run in one round; after each round exactly the
 * tasks of the rounds so far are done.  That holds with results batched
 * (a bound of 10 s, so that a worker's results travel together) and with
 * one message per result (bound 0).  The journal written on the way holds
 * every task exactly once, and replaying it into a fresh plan gives the
 * same cube again.  Prints "dispatch_rounds: ok" on rank 0; any failure
 * prints what differs and aborts the job (exit 1).
 */
#include "aesweep/dispatch.h"
#include "aesweep/journal.h"
#include "aesweep/plan.h"
#include "aesweep/study.h"
#include "aesweep/wire.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *SPEC = "study = \"rounds\"; seed = 5;\n"
                          "data = { source = \"moons\"; pool = 300; noise = 0.1; };\n"
                          "tests = ( { name = \"t\"; noise = 0.1; size = 100; } );\n"
                          "defaults = { train_size = 200; };\n"
                          "stages = ( { name = \"s\"; axes = { lr = [0.01, 0.02, 0.03]; hidden = [3, 5];"
                          " epochs = [4, 8]; }; repeats = 2; } );\n";

static int g_rank;

#define CHECK(cond, ...)                                                                                      \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            fprintf(stderr, "dispatch_rounds: rank %d: line %d: ", g_rank, __LINE__);                        \
            fprintf(stderr, __VA_ARGS__);                                                                     \
            fputc('\n', stderr);                                                                              \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                                     \
        }                                                                                                     \
    } while (0)

/* Plan stage 0; a worker keeps the task table only (as sweep.c does). */
static void plan(plan_t *p, study_ctx_t *st)
{
    char err[SPEC_ERR_LEN];
    CHECK(plan_build(p, &st->s, 0, NULL, NULL, err) == 0, "%s", err);
}

/* One round per subset; ids on rank 0 only. */
static void run_rounds(study_ctx_t *st, plan_t *p, journal_t *j, double batch_s, int nrounds)
{
    dispatch_opts_t o = {.quiet = 1, .batch_seconds = batch_s};
    dispatch_t d;
    CHECK(dispatch_open(&d, p, &st->sd, g_rank == 0 ? j : NULL, &o) == 0, "dispatch_open");
    size_t ids[64], n, total = 0;
    for (int r = 0; r < nrounds; r++) {
        n = 0;
        if (g_rank == 0) /* round r: tasks t with t % nrounds == r, in descending order */
            for (size_t t = p->ntasks; t-- > 0;)
                if ((int)(t % (size_t)nrounds) == r) ids[n++] = t;
        int rc = dispatch_round(&d, g_rank == 0 ? ids : NULL, n);
        CHECK(rc == 0, "round %d ended with %d", r, rc);
        total += n;
        if (g_rank == 0) {
            CHECK(p->ndone == total, "after round %d: %zu tasks done, expected %zu", r, p->ndone, total);
            for (size_t t = 0; t < p->ntasks; t++)
                CHECK(p->task_done[t] == ((int)(t % (size_t)nrounds) <= r), "after round %d: task %zu done=%d", r,
                      t, p->task_done[t]);
        }
    }
    CHECK(g_rank != 0 || d.rx_records <= p->ntasks, "more results than tasks");
    dispatch_close(&d);
}

static void same_cube(const plan_t *a, const plan_t *b, const char *what)
{
    if (g_rank != 0) return;
    CHECK(!memcmp(a->metrics, b->metrics, (size_t)a->nmetrics * a->ncube * sizeof(double)), "%s: metrics differ",
          what);
    CHECK(!memcmp(a->status, b->status, a->ncube), "%s: status differs", what);
    for (size_t i = 0; i < a->ncube; i++) CHECK(a->status[i] == 0, "%s: cube point %zu not trained", what, i);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    study_ctx_t st;
    char err[SPEC_ERR_LEN];
    study_source_t src = {.spec_path = "rounds.cfg", .text = SPEC};
    CHECK(study_open(&st, &src, err) == 0, "%s", err);
    st.s.in_dim = st.sd.in_dim;

    plan_t one, three, plain, replay;
    plan(&one, &st);
    CHECK(one.ntasks == 12 && one.nslots == 2, "the spec gives %zu tasks of %d slots", one.ntasks, one.nslots);
    run_rounds(&st, &one, NULL, -1, 1);

    char dir[] = "/tmp/aesweep-dispatch-XXXXXX", jpath[64];
    journal_t j = {.fd = -1};
    if (g_rank == 0) {
        CHECK(mkdtemp(dir), "mkdtemp");
        snprintf(jpath, sizeof jpath, "%s/r.journal", dir);
        CHECK(journal_open(&j, jpath, SPEC, 0, err) == 0, "%s", err);
    }
    plan(&three, &st);
    run_rounds(&st, &three, &j, 10.0, 3); /* batched: a worker's results travel together */
    same_cube(&one, &three, "three rounds, batched");
    plan(&plain, &st);
    run_rounds(&st, &plain, NULL, 0.0, 4); /* one message per result */
    same_cube(&one, &plain, "four rounds, unbatched");

    if (g_rank == 0) {
        journal_close(&j);
        journal_data_t jd;
        long valid;
        CHECK(journal_read(jpath, &jd, &valid, err) == 0, "%s", err);
        CHECK(jd.n == three.ntasks, "the journal has %zu records for %zu tasks", jd.n, three.ntasks);
        int seen[64] = {0};
        for (size_t i = 0; i < jd.n; i++) {
            wire_result_t r;
            CHECK(wire_result_unpack(&r, jd.rec[i], jd.len[i]) == 0, "record %zu malformed", i);
            CHECK(r.stage == 0 && r.task < three.ntasks && !seen[r.task]++, "record %zu: task %zu twice", i, r.task);
        }
        plan(&replay, &st);
        dispatch_opts_t o = {.quiet = 1, .batch_seconds = -1};
        dispatch_t d;
        /* replay needs no other rank: rank 0 alone reads the journal */
        CHECK(dispatch_open(&d, &replay, &st.sd, NULL, &o) == 0, "dispatch_open");
        dispatch_replay(&d, &jd);
        CHECK(replay.ndone == replay.ntasks, "replay: %zu of %zu tasks", replay.ndone, replay.ntasks);
        same_cube(&one, &replay, "replayed journal");
        dispatch_close(&d);
        plan_free(&replay);
        journal_data_free(&jd);
        unlink(jpath);
        rmdir(dir);
        int nr;
        MPI_Comm_size(MPI_COMM_WORLD, &nr);
        printf("dispatch_rounds: ok (%d rank(s), %zu tasks: 1 round, 3 rounds batched, 4 rounds unbatched, journal replay)\n",
               nr, one.ntasks);
    }
    plan_free(&one), plan_free(&three), plan_free(&plain);
    study_close(&st);
    MPI_Finalize();
    return 0;
}
