/* status.c - `aesweep status`, `aesweep info` and snapshots (see status.h). */
#include "aesweep/status.h"
#include "aesweep/util.h"
#include "aesweep/budget.h"
#include "aesweep/halving.h"
#include "aesweep/search.h"
#include "aesweep/journal.h"
#include "aesweep/wire.h"
#include "aesweep/plan.h"
#include "aesweep/progress.h"
#include "aesweep/results.h"
#include "aesweep/spec.h"
#include "aesweep/sweep.h"
#include "aesweep/task.h"
#include "aesweep/train.h"
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { ST_NOT_STARTED = 0, ST_WAITING, ST_RUNNING, ST_DONE, ST_CUT };
static const char *stage_state_name[] = {"not started", "waiting", "running", "done", "cut off"};

typedef struct {
    char name[SPEC_NAME_LEN];
    int state;
    size_t done, total;
    size_t diverged;           /* cube points with status diverged */
    double cost_done, cost_total, secs_done;
    int have_best;
    char metric[SPEC_NAME_LEN];
    double best_value;
    int nbest;                 /* parameters of the best cell (axis and inherited) */
    char best_key[P_COUNT][SPEC_NAME_LEN];
    char best_val[P_COUNT][64];
    double eta;                /* seconds, -1 unknown */
    /* search stages: trials that trained anything, and per rung the (trial, rung) tasks done */
    int is_search;
    size_t trials_done, trials_total;
    int nrungs;
    size_t rung_done[HALVING_MAX_RUNGS];
    /* the lowest ranking metric of the journal's interim reports (wire.h
     * WIRE_TAG_INTERIM; NaN: none), its trial and epoch */
    double interim_best;
    long interim_trial;
    int interim_epoch;
} stage_status_t;

typedef struct {
    char path[SPEC_PATH_LEN];
    const char *state;         /* running, starting, cut off, complete, partial */
    int alive;
    run_lock_t lock;
    int have_journal, have_file, file_complete;
    char study[SPEC_NAME_LEN];
    int nstages;
    stage_status_t st[SPEC_MAX_STAGES];
    size_t done, total, done_this_run;
    double elapsed, rate, eta_stage, eta_study;
} run_status_t;

/* Names for categories and width lists (as the spec writes them), %g for numbers. */
static void fmt_param(const study_t *s, int q, double v, char *out, size_t n)
{
    if (q == P_MMD_KERNEL || q == P_ARCH || q == P_ACTIVATION || (q == P_HIDDEN && v < 0))
        spec_format_value(s, q, v, out, n);
    else snprintf(out, n, "%g", v);
}

static int search_param(const plan_t *p, int q)
{
    for (int i = 0; p->search && i < p->nsearch_params; i++)
        if (p->search_params[i] == q) return 1;
    return 0;
}

static void set_best(stage_status_t *ss, const plan_t *p, const double *hp, double value)
{
    ss->have_best = 1;
    ss->best_value = value;
    snprintf(ss->metric, sizeof ss->metric, "%s", p->metric_names[p->select_metric]);
    ss->nbest = 0;
    for (int q = 0; q < P_COUNT; q++)
        if (p->source[q] == VS_AXIS || p->source[q] == VS_INHERITED || search_param(p, q)) {
            snprintf(ss->best_key[ss->nbest], SPEC_NAME_LEN, "%s", param_names[q]);
            fmt_param(p->study, q, hp[q], ss->best_val[ss->nbest], 64);
            ss->nbest++;
        }
}

/* Best cell of a partial cube: the lowest mean of the select metric over
 * the repeats finished so far (cells with none left out). */
static void partial_best(stage_status_t *ss, const plan_t *p)
{
    long best = -1;
    double bv = INFINITY;
    const double *v = p->metrics + (size_t)p->select_metric * p->ncube;
    for (size_t c = 0; c < p->ncells; c++) {
        double s = 0;
        int n = 0;
        for (size_t r = 0; r < p->nrep; r++) {
            double x = v[c * p->nrep + r];
            if (isfinite(x)) s += x, n++;
        }
        if (n && s / n < bv) bv = s / n, best = (long)c;
    }
    if (best < 0) return;
    double hp[P_COUNT];
    plan_cube_hp(p, (size_t)best * p->nrep, hp);
    set_best(ss, p, hp, bv);
}

/* A search stage's progress from its plan: trials that trained anything,
 * tasks done per rung. */
static void search_progress(stage_status_t *ss, const plan_t *p)
{
    ss->is_search = 1;
    ss->trials_total = p->ntrials;
    ss->nrungs = p->nrungs < HALVING_MAX_RUNGS ? p->nrungs : HALVING_MAX_RUNGS;
    uint8_t *seen = calloc(p->ntrials ? p->ntrials : 1, 1);
    for (size_t i = 0; i < p->ntasks; i++) {
        long t = p->tasks[i].trial;
        if (!p->task_done[i] || t < 0 || (size_t)t >= p->ntrials) continue;
        if (p->tasks[i].rung < ss->nrungs) ss->rung_done[p->tasks[i].rung]++;
        if (seen && !seen[t]) seen[t] = 1, ss->trials_done++;
    }
    free(seen);
}

/* Has a halving stage rebuilt from the journal run every segment its
 * rounds would run?  The rounds are a pure function of the cube (search.c):
 * a bracket's rung 0 trains all its trials; rung r those promoted out of
 * rung r-1, min(max(1, floor(m / eta)), finite metrics) of its m, which
 * the count of rung r's done tasks must then equal.  tpe: each batch of
 * tpe_batch trials is one bracket.  Sampled stages: every task done. */
static int search_done(const plan_t *p)
{
    if (!(p->search & PLAN_HALVING)) return p->ndone == p->ntasks;
    const halving_schedule_t *h = p->sched;
    int tpe = p->sspec && p->sspec->has_sample && p->sspec->sampler == SEARCH_TPE;
    long batch = tpe && p->sspec->tpe_batch > 0 ? p->sspec->tpe_batch : 0;
    int nb = tpe ? (int)((p->ntrials + (size_t)batch - 1) / (size_t)(batch ? batch : 1)) : h->nbrackets;
    const double *v = p->metrics + (size_t)p->select_metric * p->ncube;
    for (int b = 0; b < nb; b++) {
        long lo = tpe ? b * batch : h->b[b].first_trial;
        long hi = tpe ? (lo + batch < (long)p->ntrials ? lo + batch : (long)p->ntrials) : lo + h->b[b].ntrials;
        int nr = tpe ? h->b[0].nrungs : h->b[b].nrungs;
        long want = hi - lo;
        for (int r = 0; r < nr && want > 0; r++) {
            long done = 0, finite = 0;
            for (long t = lo; t < hi; t++) {
                size_t i = (size_t)t * p->nrungs + r;
                done += p->task_done[i];
                finite += p->task_done[i] && isfinite(v[i]);
            }
            if (done != want) return 0;
            long k = halving_promote_count(want, h->eta);
            want = k < finite ? k : finite;
        }
    }
    return 1;
}

/* TPE: the proposals of every batch that ran, recomputed from the cube as
 * search.c made them (a pure function of the earlier trials' metrics:
 * search_tpe_rows), so that a plan rebuilt from the journal has its
 * trials' real values, not plan.c's stand-ins.  A batch with no task done
 * was not proposed yet (rounds run in order): the replay stops there.  Then
 * the cost done is recounted at the real values.  0, or -1 with err. */
static int tpe_replay_rows(plan_t *p, stage_status_t *ss, char *err)
{
    if (!p->sspec || !p->sspec->has_sample || p->sspec->sampler != SEARCH_TPE) return 0;
    double *rows = malloc((size_t)(p->sspec->tpe_batch > 0 ? p->sspec->tpe_batch : 1) * P_COUNT * sizeof(double));
    if (!rows) {
        snprintf(err, SPEC_ERR_LEN, "stage %s: out of memory replaying its TPE proposals", p->spec->name);
        return -1;
    }
    size_t per = p->ntrials ? p->ntasks / p->ntrials : 0; /* tasks per trial */
    for (int r = 0; r < search_nrounds(p); r++) {
        size_t first, n = search_round_proposals(p, r, &first);
        int any = 0;
        for (size_t i = first * per; i < (first + n) * per; i++) any |= p->task_done[i];
        if (!n) continue;
        if (!any) break;
        if (search_tpe_rows(p, r, rows, err)) {
            free(rows);
            return -1;
        }
        for (size_t i = 0; i < n; i++) plan_set_trial(p, first + i, rows + i * P_COUNT);
    }
    free(rows);
    ss->cost_done = 0;
    for (size_t i = 0; i < p->ntasks; i++)
        if (p->task_done[i]) ss->cost_done += p->tasks[i].cost;
    return 0;
}

/* A search stage rebuilt from the journal: its progress, whether it is
 * complete (then p->search_complete is set, for selection), and with
 * halving its totals as the scheduled segments and their cost bound (not
 * every (trial, rung): unpromoted ones never run). */
static int search_status(stage_status_t *ss, plan_t *p, const study_t *s)
{
    search_progress(ss, p);
    p->search_complete = search_done(p);
    budget_search_t sb;
    study_data_t sd = {.s = s, .in_dim = s->in_dim > 0 ? s->in_dim : 2}; /* costs only: no data needed */
    if ((p->search & PLAN_HALVING) && budget_search_bound(&sd, p, 1, &sb) == 0) {
        ss->total = (size_t)sb.segments;
        ss->cost_total = sb.cost;
    }
    return p->search_complete;
}

/* An interim report of p's stage (wire.h) into ss's interim best. */
static void store_interim(stage_status_t *ss, const plan_t *p, const double *r, size_t len)
{
    double v = wire_interim_value(r, len, p, p->select_metric);
    if (!isfinite(v) || v >= ss->interim_best) return;
    ss->interim_best = v;
    ss->interim_trial = p->tasks[(size_t)r[1]].trial;
    ss->interim_epoch = (int)r[3];
}

/* Store the journal's records of plan p's stage into p, as a resumed run
 * does, and count into ss the predicted cost and the task seconds of those
 * first stored (a task journaled twice counts once), into rs the ones this
 * run journaled (after the lock's count at its start). */
static void store_journal(run_status_t *rs, stage_status_t *ss, plan_t *p, const journal_data_t *jd)
{
    for (size_t i = 0; i < jd->n; i++) {
        wire_result_t jt;
        if (wire_result_unpack(&jt, jd->rec[i], jd->len[i])) {
            store_interim(ss, p, jd->rec[i], jd->len[i]);
            continue;
        }
        int was;
        if (wire_result_store(&jt, p, &was)) continue;
        double tsec = 0;
        for (int q = 0; q < jt.nslots; q++)
            if (isfinite(jt.seconds[q]) && jt.seconds[q] > tsec) tsec = jt.seconds[q];
        if (!was) {
            ss->cost_done += p->tasks[jt.task].cost;
            ss->secs_done += tsec;
            if ((long)i >= rs->lock.journaled) rs->done_this_run++;
        }
    }
}

/* ETA: the predicted cost still to do at the rank-seconds per cost of the
 * tasks done so far, shared by the run's ranks (stages after the running
 * one use placeholder inherited values: an estimate).  -1 without a rate. */
static void journal_eta(run_status_t *rs, double sec_per_cost)
{
    int ranks = rs->lock.ranks > 0 ? rs->lock.ranks : 1;
    rs->eta_stage = rs->eta_study = -1;
    if (!isfinite(sec_per_cost)) return;
    double rest = 0;
    for (int k = 0; k < rs->nstages; k++) {
        stage_status_t *ss = &rs->st[k];
        if (ss->state == ST_DONE) continue;
        ss->eta = (ss->cost_total - ss->cost_done) * sec_per_cost / ranks;
        if (ss->state == ST_RUNNING || ss->state == ST_CUT) rs->eta_stage = ss->eta;
        rest += ss->eta;
    }
    rs->eta_study = rest;
}

/* Stages from the journal: each plan rebuilt from the journal's spec, with
 * the journaled results stored as a resumed run stores them.  With snap
 * != NULL the plans are also written there (a partial result file). */
static int from_journal(run_status_t *rs, const journal_data_t *jd, const char *jpath, results_t *snap,
                        size_t *snap_done, size_t *snap_total, char *err)
{
    study_t s;
    if (spec_load(&s, jpath, jd->spec_text, err)) {
        spec_free(&s);
        return -1;
    }
    snprintf(rs->study, sizeof rs->study, "%s", s.study);
    rs->nstages = s.nstages;
    double prev[P_COUNT], costliest[P_COUNT];
    int have_prev = 0, blocked = 0;
    double sec_per_cost = NAN; /* rank-seconds per unit of predicted cost, from finished tasks */
    double all_secs = 0, all_cost = 0;
    for (int k = 0; k < s.nstages; k++) {
        stage_status_t *ss = &rs->st[k];
        snprintf(ss->name, sizeof ss->name, "%s", s.stages[k].name);
        ss->eta = -1;
        ss->interim_best = NAN;
        int inherits = 0;
        for (int q = 0; q < P_COUNT; q++) inherits |= s.stages[k].inherit[q];
        /* a stage waiting for its predecessor is planned with placeholder
         * inherited values (its cube and task count do not depend on them):
         * those of the previous stage's costliest task, as validate bounds
         * a later stage's cost */
        const double *pv = have_prev ? prev : (k ? costliest : NULL);
        plan_t p;
        if (plan_build(&p, &s, k, pv, k ? s.stages[k - 1].name : NULL, err)) {
            spec_free(&s);
            return -1;
        }
        store_journal(rs, ss, &p, jd);
        if (tpe_replay_rows(&p, ss, err)) {
            plan_free(&p);
            spec_free(&s);
            return -1;
        }
        size_t top = 0;
        for (size_t t = 0; t < p.ntasks; t++) {
            ss->cost_total += p.tasks[t].cost;
            if (p.tasks[t].cost > p.tasks[top].cost) top = t;
        }
        if (p.ntasks) memcpy(costliest, p.tasks[top].hp, sizeof costliest);
        else plan_cube_hp(&p, 0, costliest);
        ss->done = p.ndone;
        ss->total = p.ntasks;
        int complete = p.ndone == p.ntasks;
        if (p.search) complete = search_status(ss, &p, &s);
        for (size_t i = 0; i < p.ncube; i++) ss->diverged += p.status[i] == TRAIN_DIVERGED;
        all_secs += ss->secs_done;
        all_cost += ss->cost_done;
        if (all_cost > 0) sec_per_cost = all_secs / all_cost;
        if (blocked) ss->state = inherits ? ST_WAITING : ST_NOT_STARTED;
        else if (complete) ss->state = ST_DONE;
        else if (p.ndone > 0 || k == 0 || have_prev) ss->state = rs->alive ? ST_RUNNING : ST_CUT;
        if (complete && !blocked) {
            plan_select_best(&p);
            if (p.best_cell >= 0) set_best(ss, &p, p.best_hp, p.best_value);
            memcpy(prev, p.best_cell >= 0 ? p.best_hp : p.base, sizeof prev);
            have_prev = 1;
        } else if (!blocked) {
            partial_best(ss, &p);
            blocked = 1; /* later stages have not started */
        }
        if (snap && (p.ndone > 0 || complete) && !(blocked && ss->state != ST_RUNNING && ss->state != ST_CUT)) {
            double busy[1] = {0};
            if (results_write_stage(snap, &p, busy, 1, 0, err)) {
                plan_free(&p);
                spec_free(&s);
                return -1;
            }
            *snap_done += p.ndone;
            *snap_total += p.ntasks;
        }
        plan_free(&p);
    }
    journal_eta(rs, sec_per_cost);
    spec_free(&s);
    return 0;
}

/* A search stage of a result file: trials that trained anything, and per
 * rung the segments done, from `round` ([trial][rung] with halving, [trial]
 * otherwise; -1 = not trained).  0, or -1 when it cannot be read. */
static int file_search_progress(hid_t g, stage_status_t *ss)
{
    ss->is_search = 1;
    ss->trials_total = (size_t)results_attr_f64(g, "n_trials");
    hid_t d = H5Dopen2(g, "round", H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int nd = sp < 0 ? -1 : H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t n = (size_t)dims[0] * (nd == 2 ? dims[1] : 1);
    int *v = nd < 1 || nd > 2 ? NULL : malloc((n ? n : 1) * sizeof(int));
    int rc = v && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 ? 0 : -1;
    size_t R = nd == 2 ? (size_t)dims[1] : 1;
    ss->nrungs = R < HALVING_MAX_RUNGS ? (int)R : HALVING_MAX_RUNGS;
    for (size_t t = 0; !rc && t < (size_t)dims[0]; t++) {
        int any = 0;
        for (size_t k = 0; k < R; k++)
            if (v[t * R + k] >= 0) {
                any = 1;
                if ((int)k < ss->nrungs) ss->rung_done[k]++;
            }
        ss->trials_done += any;
    }
    free(v);
    /* a halving stage: of its (trial, rung) tasks only the scheduled segments can run */
    hid_t rt = rc || nd != 2 ? -1 : H5Dopen2(g, "rung_trials", H5P_DEFAULT);
    if (rt >= 0) {
        hid_t rs = H5Dget_space(rt);
        hssize_t nn = rs < 0 ? -1 : H5Sget_simple_extent_npoints(rs);
        long long *w = nn > 0 ? malloc((size_t)nn * sizeof *w) : NULL;
        if (w && H5Dread(rt, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0) {
            ss->total = 0;
            for (hssize_t i = 0; i < nn; i++) ss->total += (size_t)w[i];
        } else
            rc = -1;
        free(w);
        if (rs >= 0) H5Sclose(rs);
        H5Dclose(rt);
    }
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

/* Stages from a result file (the run has ended, or was cut off before
 * journaling anything more). */
static int from_file(run_status_t *rs, const char *path, char *err)
{
    hid_t f;
    char why[256];
    f = results_open_readonly(path);
    if (f < 0) {
        snprintf(err, SPEC_ERR_LEN, "%s: cannot open (HDF5: %s)", path, data_h5_error(why, sizeof why));
        return -1;
    }
    char stages[4096] = "";
    results_attr_str(f, "study", rs->study, sizeof rs->study);
    if (H5Aexists(f, "stages") != 0 && results_attr_str(f, "stages", stages, sizeof stages)) {
        snprintf(err, SPEC_ERR_LEN, "%s: cannot read its stages attribute (HDF5: %s)", path, data_h5_error(why, sizeof why));
        H5Fclose(f);
        return -1;
    }
    rs->file_complete = results_attr_f64(f, "complete") == 1;
    rs->nstages = 0;
    int blocked = 0;
    char *save = NULL;
    for (char *name = strtok_r(stages, ",", &save); name && rs->nstages < SPEC_MAX_STAGES;
         name = strtok_r(NULL, ",", &save)) {
        stage_status_t *ss = &rs->st[rs->nstages++];
        snprintf(ss->name, sizeof ss->name, "%s", name);
        ss->eta = -1;
        ss->interim_best = NAN;
        if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
            ss->state = ST_NOT_STARTED;
            continue;
        }
        hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
        if (g < 0) {
            snprintf(err, SPEC_ERR_LEN, "%s: cannot open stage %s (HDF5: %s)", path, name, data_h5_error(why, sizeof why));
            H5Fclose(f);
            return -1;
        }
        ss->done = (size_t)results_attr_f64(g, "tasks_done");
        ss->total = (size_t)results_attr_f64(g, "tasks_total");
        double cpl = results_attr_f64(g, "complete"); /* a halving stage ends with tasks never run */
        ss->state = (isnan(cpl) ? ss->done == ss->total : cpl == 1) && !blocked ? ST_DONE : ST_CUT;
        if (H5Lexists(g, "trial", H5P_DEFAULT) > 0 && file_search_progress(g, ss)) {
            snprintf(err, SPEC_ERR_LEN, "%s: cannot read %s/round (HDF5: %s)", path, name, data_h5_error(why, sizeof why));
            H5Gclose(g), H5Fclose(f);
            return -1;
        }
        if (ss->state != ST_DONE) blocked = 1;
        hid_t d = H5Dopen2(g, "status", H5P_DEFAULT);
        if (d >= 0) {
            hid_t sp = H5Dget_space(d);
            hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
            int8_t *v = n < 0 ? NULL : malloc(n > 0 ? (size_t)n : 1);
            int ok = v && H5Dread(d, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
            if (ok)
                for (hssize_t i = 0; i < n; i++) ss->diverged += v[i] == TRAIN_DIVERGED;
            else
                snprintf(err, SPEC_ERR_LEN, "%s: cannot read %s/status (%s)", path, name,
                         n >= 0 && !v ? "out of memory" : data_h5_error(why, sizeof why));
            free(v);
            if (sp >= 0) H5Sclose(sp);
            H5Dclose(d);
            if (!ok) {
                H5Gclose(g), H5Fclose(f);
                return -1;
            }
        }
        if (results_attr_f64(g, "best_cell") >= 0) {
            ss->have_best = 1;
            ss->best_value = results_attr_f64(g, "best_value");
            results_attr_str(g, "select_metric", ss->metric, sizeof ss->metric);
            for (int q = 0; q < P_COUNT; q++) {
                char nm[SPEC_NAME_LEN + 16], src[32] = "";
                snprintf(nm, sizeof nm, "source_%s", param_names[q]);
                results_attr_str(g, nm, src, sizeof src);
                if (strcmp(src, "axis") && strcmp(src, "inherited") && strcmp(src, "search")) continue;
                snprintf(nm, sizeof nm, "best_%s", param_names[q]);
                snprintf(ss->best_key[ss->nbest], SPEC_NAME_LEN, "%s", param_names[q]);
                results_param_attr(g, nm, q, ss->best_val[ss->nbest], 64);
                ss->nbest++;
            }
        }
        H5Gclose(g);
    }
    H5Fclose(f);
    return 0;
}

static int collect(run_status_t *rs, const char *path, const char *snap_path, char *err)
{
    memset(rs, 0, sizeof *rs);
    snprintf(rs->path, sizeof rs->path, "%s", path);
    char jpath[SPEC_PATH_LEN + 16], lpath[SPEC_PATH_LEN + 16];
    snprintf(jpath, sizeof jpath, "%s.journal", path);
    snprintf(lpath, sizeof lpath, "%s.lock", path);
    rs->alive = journal_lock_probe(lpath, &rs->lock);
    rs->have_file = results_is_ours(path) == 1;
    journal_data_t jd;
    long valid;
    int jr = journal_read(jpath, &jd, &valid, err);
    if (jr == -2) return -1;
    rs->have_journal = jr == 0;
    rs->eta_stage = rs->eta_study = -1;
    if (rs->have_journal) {
        results_t *snap = NULL;
        study_ctx_t sc;
        memset(&sc, 0, sizeof sc);
        size_t sdone = 0, stotal = 0;
        if (snap_path) {
            /* the study's data, as the run built it, then the stages */
            study_source_t src = {.spec_path = jpath, .text = jd.spec_text, .data_label = ""};
            if (study_open(&sc, &src, err)) {
                study_close(&sc);
                journal_data_free(&jd);
                return -1;
            }
            char now[32];
            results_now_iso(now);
            snap = results_open(snap_path, &sc.s, &sc.sd, rs->lock.ranks > 0 ? rs->lock.ranks : 1,
                                rs->lock.start_iso[0] ? rs->lock.start_iso : now, err);
            if (!snap) {
                study_close(&sc);
                journal_data_free(&jd);
                return -1;
            }
        }
        int rc = from_journal(rs, &jd, jpath, snap, &sdone, &stotal, err);
        if (snap) {
            if (rc) results_abort(snap);
            else rc = results_close(snap, 0, sdone, stotal, err);
        }
        study_close(&sc);
        journal_data_free(&jd);
        if (rc) return -1;
    } else if (rs->have_file) {
        if (snap_path) {
            snprintf(err, SPEC_ERR_LEN, "%s: no journal, so no run in progress to snapshot; the result file itself can be read", path);
            return -1;
        }
        if (from_file(rs, path, err)) return -1;
    } else if (!rs->alive) {
        snprintf(err, SPEC_ERR_LEN, "%s: no result file, journal or running study here; check the path (the spec's output, or run -o)", path);
        return -1;
    }
    for (int k = 0; k < rs->nstages; k++) {
        rs->done += rs->st[k].done;
        rs->total += rs->st[k].total;
    }
    if (rs->alive) {
        rs->state = rs->have_journal ? "running" : "starting";
        if (rs->lock.start > 0) {
            rs->elapsed = util_wall_seconds() - rs->lock.start;
            rs->rate = rs->elapsed > 0 ? rs->done_this_run / rs->elapsed : 0;
        }
    } else if (rs->have_journal) rs->state = "cut off";
    else if (rs->file_complete) rs->state = "complete";
    else rs->state = "partial";
    return 0;
}

/* ---- output -------------------------------------------------------------- */

static void json_str(FILE *o, const char *s)
{
    fputc('"', o);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(o, "\\%c", c);
        else if (c == '\n') fputs("\\n", o);
        else if (c < 0x20) fprintf(o, "\\u%04x", c);
        else fputc(c, o);
    }
    fputc('"', o);
}

static void json_num(FILE *o, double v)
{
    if (isfinite(v)) fprintf(o, "%.17g", v);
    else fputs("null", o);
}

static void print_json(FILE *o, const run_status_t *rs)
{
    fputs("{\"path\": ", o);
    json_str(o, rs->path);
    fputs(", \"study\": ", o);
    json_str(o, rs->study);
    fputs(", \"state\": ", o);
    json_str(o, rs->state);
    fprintf(o, ", \"alive\": %s", rs->alive ? "true" : "false");
    if (rs->lock.pid > 0) {
        fprintf(o, ", \"pid\": %ld, \"host\": ", rs->lock.pid);
        json_str(o, rs->lock.host);
        fprintf(o, ", \"ranks\": %d, \"start_time\": ", rs->lock.ranks);
        json_str(o, rs->lock.start_iso);
        fputs(", \"elapsed_seconds\": ", o);
        json_num(o, rs->alive ? rs->elapsed : NAN);
    }
    fprintf(o, ", \"tasks_done\": %zu, \"tasks_total\": %zu, \"tasks_done_this_run\": %zu", rs->done, rs->total,
            rs->done_this_run);
    fputs(", \"tasks_per_second\": ", o);
    json_num(o, rs->alive ? rs->rate : NAN);
    fputs(", \"eta_stage_seconds\": ", o);
    json_num(o, rs->eta_stage >= 0 ? rs->eta_stage : NAN);
    fputs(", \"eta_study_seconds\": ", o);
    json_num(o, rs->eta_study >= 0 ? rs->eta_study : NAN);
    fputs(", \"stages\": [", o);
    for (int k = 0; k < rs->nstages; k++) {
        const stage_status_t *ss = &rs->st[k];
        fputs(k ? ", {\"name\": " : "{\"name\": ", o);
        json_str(o, ss->name);
        fputs(", \"state\": ", o);
        json_str(o, stage_state_name[ss->state]);
        fprintf(o, ", \"tasks_done\": %zu, \"tasks_total\": %zu, \"diverged\": %zu, \"eta_seconds\": ", ss->done,
                ss->total, ss->diverged);
        json_num(o, ss->eta >= 0 ? ss->eta : NAN);
        if (ss->is_search) {
            fprintf(o, ", \"trials_done\": %zu, \"trials_total\": %zu, \"rung_tasks_done\": [", ss->trials_done,
                    ss->trials_total);
            for (int r = 0; r < ss->nrungs; r++) fprintf(o, r ? ", %zu" : "%zu", ss->rung_done[r]);
            fputs("], \"interim_best\": ", o);
            if (!isfinite(ss->interim_best)) fputs("null", o);
            else {
                fputs("{\"value\": ", o);
                json_num(o, ss->interim_best);
                fprintf(o, ", \"trial\": %ld, \"epoch\": %d}", ss->interim_trial, ss->interim_epoch);
            }
        }
        fputs(", \"best\": ", o);
        if (!ss->have_best) fputs("null", o);
        else {
            fputs("{\"metric\": ", o);
            json_str(o, ss->metric);
            fputs(", \"value\": ", o);
            json_num(o, ss->best_value);
            fputs(", \"params\": {", o);
            for (int i = 0; i < ss->nbest; i++) {
                if (i) fputs(", ", o);
                json_str(o, ss->best_key[i]);
                fputs(": ", o);
                char *end;
                double v = strtod(ss->best_val[i], &end);
                if (*end || end == ss->best_val[i]) json_str(o, ss->best_val[i]);
                else json_num(o, v);
            }
            fputs("}}", o);
        }
        fputc('}', o);
    }
    fputs("]}\n", o);
}

static void print_text(FILE *o, const run_status_t *rs)
{
    char a[32], b[32], c[32];
    fprintf(o, "study %s (%s): %s", rs->study, rs->path, rs->state);
    if (rs->lock.pid > 0 && rs->alive) {
        progress_format_duration(a, sizeof a, rs->elapsed);
        fprintf(o, " - pid %ld on %s, %d rank(s), started %s (%s ago)", rs->lock.pid, rs->lock.host, rs->lock.ranks,
                rs->lock.start_iso, a);
    } else if (!strcmp(rs->state, "cut off"))
        fprintf(o, " - no run holds the lock; continue with aesweep run --resume SPEC -o %s", rs->path);
    fputc('\n', o);
    fprintf(o, "  %-14s %13s %8s  %-11s %8s  %s\n", "stage", "tasks", "diverged", "state", "ETA", "best so far");
    for (int k = 0; k < rs->nstages; k++) {
        const stage_status_t *ss = &rs->st[k];
        char t[48];
        snprintf(t, sizeof t, "%zu/%zu", ss->done, ss->total);
        progress_format_duration(a, sizeof a, ss->eta);
        fprintf(o, "  %-14s %13s %8zu  %-11s %8s  ", ss->name, t, ss->diverged, stage_state_name[ss->state],
                ss->state == ST_DONE || !rs->alive ? "-" : a);
        if (ss->have_best) {
            fprintf(o, "%s = %.6g at", ss->metric, ss->best_value);
            for (int i = 0; i < ss->nbest; i++) fprintf(o, " %s=%s", ss->best_key[i], ss->best_val[i]);
        } else
            fputs("-", o);
        if (ss->is_search) {
            fprintf(o, "  [trials %zu/%zu", ss->trials_done, ss->trials_total);
            if (ss->nrungs > 1) {
                fputs(", by rung", o);
                for (int r = 0; r < ss->nrungs; r++) fprintf(o, " %zu", ss->rung_done[r]);
            }
            /* a curve point below the best shown: reached mid-rung */
            if (isfinite(ss->interim_best) && (!ss->have_best || ss->interim_best < ss->best_value))
                fprintf(o, ", %.6g reached by trial %ld at epoch %d", ss->interim_best, ss->interim_trial,
                        ss->interim_epoch);
            fputc(']', o);
        }
        fputc('\n', o);
    }
    progress_format_duration(b, sizeof b, rs->eta_stage);
    progress_format_duration(c, sizeof c, rs->eta_study);
    fprintf(o, "  total %zu/%zu tasks", rs->done, rs->total);
    if (rs->alive) fprintf(o, ", %.2f tasks/s this run, ETA stage %s, study about %s", rs->rate, b, c);
    fputc('\n', o);
}

static int bad_arg(const char *cmd, const char *what)
{
    fprintf(stderr, "aesweep: %s: %s (see aesweep --help)\n", cmd, what);
    return AES_EXIT_USAGE;
}

static volatile sig_atomic_t g_stop = 0;
static void on_int(int sig) { (void)sig; g_stop = 1; }

int status_main(int argc, char **argv)
{
    const char *path = NULL, *snap = NULL;
    int json = 0, watch = 0;
    double every = STATUS_WATCH_SECONDS;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--watch")) {
            watch = 1;
            if (i + 1 < argc && argv[i + 1][0] != '-' && strtod(argv[i + 1], NULL) > 0) {
                char *end;
                double v = strtod(argv[i + 1], &end);
                if (!*end) every = v, i++;
            }
        } else if (!strcmp(argv[i], "--snapshot")) {
            if (i + 1 >= argc) return bad_arg("status", "--snapshot needs a file name, e.g. --snapshot snap.h5");
            snap = argv[++i];
        } else if (argv[i][0] == '-') {
            char m[256];
            snprintf(m, sizeof m, "unknown option '%s'; status takes --json, --watch [SECONDS], --snapshot SNAP.h5", argv[i]);
            return bad_arg("status", m);
        } else if (path) return bad_arg("status", "one result file at a time");
        else path = argv[i];
    }
    if (!path) return bad_arg("status", "needs the study's output, e.g. aesweep status results/moons.h5");
    if (!(every >= 0.05 && every <= 86400)) return bad_arg("status", "--watch SECONDS must be in 0.05..86400");
    char err[SPEC_ERR_LEN] = "";
    run_status_t *rs = malloc(sizeof *rs);
    if (snap) {
        if (!strcmp(snap, path)) {
            free(rs);
            return bad_arg("status", "--snapshot must name another file than the study's output");
        }
        int rc = collect(rs, path, snap, err);
        free(rs);
        if (rc) {
            fprintf(stderr, "aesweep: %s\n", err);
            return AES_EXIT_USAGE;
        }
        fprintf(stderr, "aesweep: wrote %s\n", snap);
        return 0;
    }
    if (watch) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_int;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    int tty = isatty(1);
    for (;;) {
        if (collect(rs, path, NULL, err)) {
            fprintf(stderr, "aesweep: %s\n", err);
            free(rs);
            return AES_EXIT_USAGE;
        }
        if (watch && tty && !json) fputs("\033[H\033[2J", stdout);
        if (json) print_json(stdout, rs);
        else print_text(stdout, rs);
        fflush(stdout);
        if (!watch || !rs->alive || g_stop) break;
        struct timespec ts = {(time_t)every, (long)((every - (time_t)every) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop) {
        }
        if (g_stop) break;
    }
    free(rs);
    return 0;
}

/* ---- info ---------------------------------------------------------------- */

static void info_json(const char *path, const char *run_json)
{
    printf("{\"path\": ");
    json_str(stdout, path);
    hid_t f = -1;
    if (results_is_ours(path) == 1) {
        f = results_open_readonly(path);
    }
    if (f >= 0) {
        static const char *strs[] = {"format", "study", "aesweep_version", "git_commit", "spec_path", "start_time",
                                     "end_time", "Conventions", "title"};
        static const char *nums[] = {"schema_version", "seed", "ranks", "complete", "tasks_done", "tasks_total"};
        char v[4096];
        for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
            if (results_attr_str(f, strs[i], v, sizeof v) == 0) {
                printf(", \"%s\": ", strs[i]);
                json_str(stdout, v);
            }
        for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
            double x = results_attr_f64(f, nums[i]);
            printf(", \"%s\": ", nums[i]);
            json_num(stdout, x);
        }
        char stages[4096] = "";
        results_attr_str(f, "stages", stages, sizeof stages);
        printf(", \"stages\": [");
        char *save = NULL;
        int first = 1;
        for (char *name = strtok_r(stages, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            printf(first ? "{\"name\": " : ", {\"name\": ");
            first = 0;
            json_str(stdout, name);
            if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
                printf(", \"started\": false}");
                continue;
            }
            hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
            printf(", \"started\": true");
            static const char *gn[] = {"stage_index", "complete", "tasks_done", "tasks_total", "repeats", "data_draws",
                                       "best_cell", "best_value", "n_skipped", "balance_efficiency",
                                       "predicted_makespan"};
            for (size_t i = 0; i < sizeof gn / sizeof *gn; i++) {
                printf(", \"%s\": ", gn[i]);
                json_num(stdout, results_attr_f64(g, gn[i]));
            }
            static const char *gs[] = {"select_metric", "inherited_from"};
            for (size_t i = 0; i < sizeof gs / sizeof *gs; i++)
                if (results_attr_str(g, gs[i], v, sizeof v) == 0) {
                    printf(", \"%s\": ", gs[i]);
                    json_str(stdout, v);
                }
            /* every parameter: where it comes from, its value (non-axis) and the best cell's */
            printf(", \"params\": {");
            for (int q = 0; q < P_COUNT; q++) {
                char nm[SPEC_NAME_LEN + 16], src[32] = "", val[64];
                snprintf(nm, sizeof nm, "source_%s", param_names[q]);
                results_attr_str(g, nm, src, sizeof src);
                printf(q ? ", \"%s\": {\"source\": " : "\"%s\": {\"source\": ", param_names[q]);
                json_str(stdout, src);
                const char *keys[2] = {param_names[q], NULL};
                snprintf(nm, sizeof nm, "best_%s", param_names[q]);
                keys[1] = nm;
                for (int w = 0; w < 2; w++) {
                    results_param_attr(g, keys[w], q, val, sizeof val);
                    if (!val[0]) continue;
                    printf(", \"%s\": ", w ? "best" : "value");
                    char *end;
                    double x = strtod(val, &end);
                    if (*end || end == val) json_str(stdout, val);
                    else json_num(stdout, x);
                }
                printf("}");
            }
            printf("}}");
            H5Gclose(g);
        }
        printf("]");
        H5Fclose(f);
    }
    printf(", \"run\": %s}\n", run_json ? run_json : "null");
}

int status_info_main(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            char m[256];
            snprintf(m, sizeof m, "unknown option '%s'; info takes --json and one result file", argv[i]);
            return bad_arg("info", m);
        } else if (path) return bad_arg("info", "needs exactly one result file");
        else path = argv[i];
    }
    if (!path) return bad_arg("info", "needs exactly one result file");
    char err[SPEC_ERR_LEN] = "", jp[SPEC_PATH_LEN + 16];
    snprintf(jp, sizeof jp, "%s.journal", path);
    int have_file = results_is_ours(path) == 1;
    int have_journal = access(jp, F_OK) == 0;
    run_status_t *rs = NULL;
    if (have_journal) {
        rs = malloc(sizeof *rs);
        if (collect(rs, path, NULL, err)) {
            fprintf(stderr, "aesweep: %s\n", err);
            free(rs);
            return AES_EXIT_USAGE;
        }
    }
    if (!rs && !json) {
        /* no run: the file's summary, or results_info's one-line reason */
        if (results_info(path, err)) {
            fprintf(stderr, "aesweep: %s\n", err);
            return AES_EXIT_USAGE;
        }
        return 0;
    }
    if (!have_file && results_probe(path) == 2) {
        fprintf(stderr, "aesweep: %s: another process holds this file open for writing (HDF5 file lock); wait for it to close the file, or read a copy\n", path);
        free(rs);
        return AES_EXIT_USAGE;
    }
    if (!have_file && !rs) {
        if (results_is_ours(path) == -1)
            fprintf(stderr, "aesweep: %s: no such file (and no journal of a run at %s)\n", path, jp);
        else
            fprintf(stderr, "aesweep: %s: not an aesweep result file (no format=aesweep-results attribute)\n", path);
        return AES_EXIT_USAGE;
    }
    if (json) {
        /* one object: the file's metadata and stages, and "run": the live
         * or cut-off run from the journal (null when there is none) */
        if (rs) {
            char *buf = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&buf, &len);
            print_json(m, rs);
            fclose(m);
            if (len && buf[len - 1] == '\n') buf[--len] = 0;
            info_json(path, buf);
            free(buf);
        } else
            info_json(path, NULL);
        free(rs);
        return 0;
    }
    if (rs) {
        if (rs->alive)
            printf("running: %zu finished tasks of %zu in %s; pid %ld on %s, %d rank(s), started %s; watch it with aesweep status --watch %s\n",
                   rs->done, rs->total, jp, rs->lock.pid, rs->lock.host, rs->lock.ranks, rs->lock.start_iso, path);
        else
            printf("cut off: %zu finished tasks of %zu in %s and no run holds the lock (resume with aesweep run --resume SPEC -o %s)\n",
                   rs->done, rs->total, jp, path);
        print_text(stdout, rs);
        free(rs);
        if (!have_file) return 0;
    }
    if (results_info(path, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        return AES_EXIT_USAGE;
    }
    return 0;
}
