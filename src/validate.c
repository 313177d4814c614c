/* validate.c - the `validate` command (see validate.h): the checks of
 * `run` without MPI and without writing, then the predicted cost. */
#include "aesweep/validate.h"
#include "aesweep/budget.h"
#include "aesweep/dispatch.h"
#include "aesweep/kernel_lanes.h"
#include "aesweep/outdir.h"
#include "aesweep/results.h"
#include "aesweep/sample.h"
#include "aesweep/study.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Open the study and make run's checks: data, memory, output.  0, or -1
 * after printing the refusal. */
static int validate_open(study_ctx_t *c, const sweep_opts_t *o, int R, double *limit, double *peak)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int node_ranks = R < ncpu ? R : (int)ncpu; /* ranks sharing one node like this one */
    *limit = budget_mem_limit(o->max_mem_gb, node_ranks);
    char err[SPEC_ERR_LEN] = "";
    study_source_t src = {.spec_path = o->spec_path, .mem_limit = *limit, .check_data = 1, .kernel = &o->opt.model};
    if (study_open(c, &src, err) ||
        budget_check_study(&c->s, &c->sd, *limit, node_ranks, o->spec_path, peak, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        return -1;
    }
    const char *out = o->output ? o->output : c->s.output;
    if (outdir_check(&c->s, o->spec_path, out, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        return -1;
    }
    int ours = results_probe(out);
    if (ours == 0)
        fprintf(stderr, "aesweep: %s: exists and is not an aesweep result file; choose another output (-o) or move it away\n", out);
    else if (ours == 2)
        fprintf(stderr, "aesweep: %s: another process holds this file open for writing (HDF5 file lock); wait for it to finish or choose another output (-o)\n", out);
    return ours == 0 || ours == 2 ? -1 : 0;
}

/* TPE proposes its trials during the run, from the results, so validate
 * cannot plan them; random draws from the space would give an estimate,
 * not a bound (review: a space of hidden 2..300 gave "cost <= 4.11 GFLOP"
 * for a run that took 5.2).  So every trial is put at the costliest point
 * of the space (budget_space_corner; which: its cost or its memory), which
 * no proposal exceeds.  hp gets that point. */
static int is_tpe(const plan_t *p) { return p->sspec && p->sspec->has_sample && p->sspec->sampler == SEARCH_TPE; }

static void tpe_at_corner(const study_ctx_t *c, plan_t *p, int which, double hp[P_COUNT])
{
    memcpy(hp, p->trial_hp, sizeof(double) * P_COUNT);
    budget_space_corner(&c->sd, p, which, hp);
    for (size_t t = 0; t < p->ntrials; t++) plan_set_trial(p, t, hp);
}

static void tpe_caveat(const study_ctx_t *c, const plan_t *p, const double *hp)
{
    printf("    (tpe: the trials are proposed during the run; these bounds take every one at the space's costliest point,");
    for (int i = 0; i < p->sspec->space.nparams; i++) {
        int q = p->sspec->space.params[i].param;
        char v[64];
        if (q == P_LR) continue; /* no cost depends on it */
        if (q == P_MMD_KERNEL || q == P_ARCH || q == P_ACTIVATION || (q == P_HIDDEN && hp[q] < 0))
            spec_format_value(&c->s, q, hp[q], v, sizeof v);
        else
            snprintf(v, sizeof v, "%g", hp[q]);
        printf(" %s=%s", param_names[q], v);
    }
    printf(")\n");
}

/* A search stage: its trials and, with halving, the rungs of each bracket
 * (trials@epochs), the cost and makespan bounds over its rounds and the
 * memory its carried states need on rank 0 (budget_search_bound).  The
 * stage's cost, makespan and rank 0's memory (largest task + states) are
 * returned for the totals. 0, or -1 after printing. */
static int validate_search(const study_ctx_t *c, plan_t *p, int R, double *cost, double *mk, double *mem)
{
    const search_spec_t *ss = p->sspec;
    double corner[P_COUNT], state_hp[P_COUNT], states = 0, task_mem = 0;
    if (is_tpe(p)) { /* the memory corner first, its figures kept; then the cost corner for the rest */
        tpe_at_corner(c, p, BUDGET_CORNER_STATE, state_hp);
        budget_search_t sb;
        if (p->search & PLAN_HALVING && budget_search_bound(&c->sd, p, R, &sb) == 0) states = sb.state_bytes;
        task_mem = budget_plan_peak(&c->sd, p);
        tpe_at_corner(c, p, BUDGET_CORNER_COST, corner);
    }
    const char *sampler = !ss || !ss->has_sample ? "grid cells as trials"
                          : ss->sampler == SEARCH_TPE ? "tpe"
                                                      : sample_method_names[ss->sampler];
    printf("  stage %-8s search: %zu trials (%s), %zu task(s) each", p->spec->name, p->ntrials, sampler,
           p->search & PLAN_HALVING ? (size_t)1 : p->nrep);
    if (!(p->search & PLAN_HALVING)) {
        /* all tasks known up front (tpe: the plan's rows stand in for the proposals) */
        *cost = 0;
        double top = 0;
        for (size_t t = 0; t < p->ntasks; t++) {
            *cost += p->tasks[t].cost;
            if (p->tasks[t].cost > top) top = p->tasks[t].cost;
        }
        long rounds = ss && ss->sampler == SEARCH_TPE && ss->tpe_batch > 0
                          ? ((long)p->ntrials + ss->tpe_batch - 1) / ss->tpe_batch : 1;
        *mk = rounds * top + *cost / R;
        printf(", %ld round(s); cost %.3g GFLOP, makespan at %d rank(s) <= %.3g GFLOP (LPT bound per round)\n",
               rounds, *cost * 1e-9, R, *mk * 1e-9);
        if (is_tpe(p)) tpe_caveat(c, p, corner);
        *mem = fmax(budget_plan_peak(&c->sd, p), task_mem);
        return 0;
    }
    const halving_schedule_t *h = p->sched;
    long batch = ss && ss->has_sample && ss->sampler == SEARCH_TPE ? ss->tpe_batch : 0;
    printf("; halving min_epochs %ld, max_epochs %ld, eta %d, %d bracket(s)%s:\n", h->min_epochs, h->max_epochs, h->eta,
           h->nbrackets, batch > 0 ? ", each TPE batch run as one" : "");
    for (int b = 0; !batch && b < h->nbrackets; b++) {
        printf("    bracket %d: %ld trials, rungs (trials@epochs)", b, h->b[b].ntrials);
        for (int k = 0; k < h->b[b].nrungs; k++) printf(" %ld@%ld", h->b[b].trials[k], h->b[b].epochs[k]);
        printf("\n");
    }
    /* tpe: every batch of tpe_batch trials is one bracket (search.h); the last may be smaller */
    for (long lo = 0; batch > 0 && lo < (long)p->ntrials; lo += batch) {
        long n = (long)p->ntrials - lo < batch ? (long)p->ntrials - lo : batch;
        if (lo && lo + batch < (long)p->ntrials) continue; /* the first and the last batch */
        printf("    %s batch (trials %ld-%ld of %zu): rungs (trials@epochs)", lo ? "last" : "first",
               lo, lo + n - 1, p->ntrials);
        for (int k = 0; k < h->b[0].nrungs; k++, n = halving_promote_count(n, h->eta))
            printf(" %ld@%ld", n, h->b[0].epochs[k]);
        printf("\n");
    }
    budget_search_t sb;
    if (budget_search_bound(&c->sd, p, R, &sb)) {
        fprintf(stderr, "aesweep: out of memory bounding stage %s\n", p->spec->name);
        return -1;
    }
    double task = fmax(budget_plan_peak(&c->sd, p), task_mem);
    if (states > sb.state_bytes) sb.state_bytes = states;
    char st[32];
    if (sb.state_bytes < 1048576.0) snprintf(st, sizeof st, "%.1f KiB", sb.state_bytes / 1024.0);
    else budget_fmt_bytes(st, sizeof st, sb.state_bytes);
    if (p->sspec && p->sspec->flow)
        printf("    %ld segments as a dataflow (no rounds; %d rungs%s): cost <= %.3g GFLOP, makespan at %d rank(s) <= %.3g GFLOP "
               "(Graham's list-scheduling bound: cost / %d + %d/%d of the longest bracket's rungs at their largest "
               "segments, + %.2f s a rung for a task waiting behind a short one); carried states on rank 0 <= %s\n",
               sb.segments, p->nrungs, p->sspec->asha ? "; ASHA promotion in a fixed order, the same rung sizes" : "",
               sb.cost * 1e-9, R, sb.makespan * 1e-9, R, R - 1, R, DISPATCH_FLOW_QUEUE_S, st);
    else
        printf("    %ld segments in %d round(s): cost <= %.3g GFLOP, makespan at %d rank(s) <= %.3g GFLOP (sum over rounds "
               "of the largest segment + the round's cost / %d); carried states on rank 0 <= %s\n",
               sb.segments, sb.nrounds, sb.cost * 1e-9, R, sb.makespan * 1e-9, R, st);
    if (is_tpe(p)) tpe_caveat(c, p, corner);
    *cost = sb.cost, *mk = sb.makespan, *mem = task + sb.state_bytes;
    return 0;
}

/* One line per stage; totals of cost and makespan at R ranks, the largest
 * task's memory.  Later stages inherit from best cells not known yet: they
 * are planned with the inherited values that make them costliest
 * (budget_bound_inherited), so the prediction is an upper bound a job's time
 * limit can be set from, not a guess.  (run checks memory up front with the
 * first cell's values and each stage again once its inherited values are
 * known; validate warns if the bound does not fit.)  0 or -1 after printing. */
static int validate_stages(const study_ctx_t *c, int R, double *tot_cost, double *tot_mk, double *max_mem)
{
    const study_t *s = &c->s;
    double prev[P_COUNT];
    char err[SPEC_ERR_LEN];
    for (int k = 0; k < s->nstages; k++) {
        plan_t p;
        if (plan_build(&p, s, k, k ? prev : NULL, k ? s->stages[k - 1].name : NULL, err)) {
            fprintf(stderr, "aesweep: %s\n", err);
            return -1;
        }
        int *owner = malloc((p.ntasks ? p.ntasks : 1) * sizeof(int));
        double *load = malloc(R * sizeof(double));
        if (!owner || !load) {
            free(owner), free(load), plan_free(&p);
            fprintf(stderr, "aesweep: out of memory planning stage %s\n", s->stages[k].name);
            return -1;
        }
        double mk = 0, cost = 0, m = 0;
        if (p.search) {
            if (validate_search(c, &p, R, &cost, &mk, &m)) {
                free(owner), free(load), plan_free(&p);
                return -1;
            }
        } else {
            mk = plan_partition(&p, R, owner, load);
            for (size_t t = 0; t < p.ntasks; t++) cost += p.tasks[t].cost;
            m = budget_plan_peak(&c->sd, &p);
            printf("  stage %-8s %6zu cells x %zu repeats = %7zu points, %6zu tasks, cost %.3g GFLOP, makespan at %d rank(s) %.3g GFLOP (efficiency %.3f)\n",
                   p.spec->name, p.ncells, p.nrep, p.ncube, p.ntasks, cost * 1e-9, R, mk * 1e-9,
                   mk > 0 ? cost / R / mk : 1.0);
        }
        if (m > *max_mem) *max_mem = m;
        *tot_cost += cost;
        *tot_mk += mk;
        budget_bound_inherited(s, k, &p, prev);
        free(owner), free(load);
        plan_free(&p);
    }
    return 0;
}

int validate_study(const sweep_opts_t *o)
{
    int R = o->predict_ranks > 0 ? o->predict_ranks : 1;
    study_ctx_t c;
    double limit, peak = 0;
    if (validate_open(&c, o, R, &limit, &peak)) {
        study_close(&c);
        return AES_EXIT_USAGE;
    }
    const study_t *s = &c.s;
    printf("study %s: %d stage(s), data %s (%zu training rows, %d features), output %s\n", s->study, s->nstages,
           s->source == SRC_MOONS ? "moons" : s->data_path, c.sd.pool.n, c.sd.in_dim, o->output ? o->output : s->output);
    double tot_cost = 0, tot_mk = 0, max_mem = peak;
    if (validate_stages(&c, R, &tot_cost, &tot_mk, &max_mem)) {
        study_close(&c);
        return AES_EXIT_USAGE;
    }
    const char *isa = klanes_isa();
    double rate = budget_rate(isa);
    printf("total %.3g GFLOP; predicted makespan at %d rank(s): %.3g GFLOP (about %.0f s at %.0f GFLOP/s per rank, the %s kernel's rate in bench/; later stages assume the inherited values that make them costliest); peak task memory %.1f MiB per rank\n",
           tot_cost * 1e-9, R, tot_mk * 1e-9, tot_mk / rate, rate * 1e-9, isa, max_mem / 1048576.0);
    if (max_mem > limit) {
        char a[32], b[32];
        budget_fmt_bytes(a, sizeof a, max_mem);
        budget_fmt_bytes(b, sizeof b, limit);
        printf("warning: with those inherited values a task needs %s per rank, over the limit of %s: run "
               "starts, and refuses the stage whose inherited values do not fit (--max-mem-gb raises the "
               "limit; fewer ranks per node give each more)\n",
               a, b);
    }
    printf("ok\n");
    study_close(&c);
    return AES_EXIT_OK;
}
