/* budget.h - admission by memory and cost: what a task needs per rank,
 * what a rank may use, whether a study or a stage fits, the cost order the
 * scheduler and the dispatcher share, and seconds predicted from cost.
 *
 * Pure arithmetic over plans and the study's data, no MPI and no I/O (but
 * budget_mem_limit, which asks the OS for the node's memory).  Checks
 * return 0, or -1 with one line in err (SPEC_ERR_LEN) that gives both
 * numbers and the ways out; the caller decides the exit code (2).
 *
 * The memory model (budget_task_memory), per rank, in bytes:
 *   4 x (4 np + data + saved)  +  ws(train rows) + ws(max(rows, 1024))
 * np = model_param_count (parameters; the gradient and both Adam moments
 * are arenas of the same size), data = 2 x train_size x in + every test set's rows x in, saved = np x
 * nslots when the stage saves its models, ws = model_ws_bytes for the
 * training batch and for the evaluation (task.c evaluates >= 1024 rows).
 */
#ifndef AESWEEP_BUDGET_H
#define AESWEEP_BUDGET_H
#include "aesweep/plan.h"
#include "aesweep/spec.h"
#include "aesweep/study.h"
#include <stddef.h>

/* Bytes one rank needs to run task t of plan p (the model above). */
double budget_task_memory(const study_data_t *sd, const plan_t *p, const task_t *t);
/* The largest budget_task_memory of plan p's tasks (0 for no task). */
double budget_plan_peak(const study_data_t *sd, const plan_t *p);
/* Memory a rank may use: max_mem_gb GiB when > 0, else the node's
 * physical memory shared by the node_ranks ranks on it. */
double budget_mem_limit(double max_mem_gb, int node_ranks);
/* "12.3 MiB" / "1.50 GiB" */
void budget_fmt_bytes(char *out, size_t n, double bytes);

/* Generated (moons) data of the study over limit: -1 with err.  File data
 * is not checked here (the loaders check their own sizes). */
int budget_check_data(const study_t *s, double limit, const char *spec_path, char *err);
/* The largest task of every stage against limit, later stages planned with
 * the first cell of the stage before (their inherited values are not known
 * until it runs, so run checks each stage again: budget_check_stage).
 * peak receives the largest task seen. */
int budget_check_study(const study_t *s, const study_data_t *sd, double limit, int node_ranks,
                       const char *spec_path, double *peak, char *err);
/* A planned stage (its inherited values now known) against limit. */
int budget_check_stage(const study_data_t *sd, const plan_t *p, double limit, const char *spec_path, char *err);

/* For validate's upper bound: the inherited values for stage k + 1 that
 * make it costliest, found from stage k's plan p (see budget.c). */
void budget_bound_inherited(const study_t *s, int k, const plan_t *p, double prev[P_COUNT]);

/* ord[0..n) = 0..n-1 ordered by descending tasks[i].cost, ties by
 * ascending index: the one cost order (LPT and each rank's task list). */
void budget_order_by_cost(const task_t *tasks, size_t n, size_t *ord);

/* Search stages (plan.h, p->search).  Rank 0 keeps a halving task's end
 * state (task.h task_state_t: parameters, Adam m and v as floats, the
 * position) for the task that continues it.  Bytes of one such state of a
 * trial with hyperparameters hp (task_state_bytes): */
double budget_state_bytes(const study_data_t *sd, const double *hp);
/* Bounds of a halving stage before it runs (which trials are promoted is
 * not known, so each rung of a bracket is taken to train its costliest,
 * largest trials; diverged trials only lower the figures):
 *   rounds: merged rungs as search.h runs them (end-aligned: round k =
 *     rung k - (nrungs - nrungs_b) of bracket b; tpe: each batch a bracket,
 *     its rungs one round each);
 *   cost: every scheduled segment (epochs of the previous rung to this one's);
 *   makespan at nranks: sum over rounds of the LPT bound, largest segment
 *     + the round's cost / nranks (LPT's makespan never exceeds it);
 *   state_bytes: the carried states rank 0 holds at once (dispatch.c keeps
 *     a state until its continuation is stored or promotion drops it, none
 *     of a last rung): the most over rounds of one state per trial of the
 *     round's rungs, plus the largest state record in flight. */
typedef struct {
    int nrounds;
    long segments;     /* (trial, rung) tasks scheduled */
    double cost;       /* FLOP, plan_task_cost's model */
    double makespan;   /* FLOP per rank */
    double schedule;   /* the same without the dataflow's hand-out waits (= makespan for rounds):
                          the predicted-cost figure a result file records */
    double state_bytes;
} budget_search_t;
/* All zero for a stage without halving.  0, or -1 out of memory. */
int budget_search_bound(const study_data_t *sd, const plan_t *p, int nranks, budget_search_t *out);
/* The costliest point of a sampled stage's space, for bounds over trials
 * not known before the run (TPE proposes them from the results): hp holds
 * the stage's other values (a trial's row) and gets, for each parameter of
 * the space, a value that maximises the full-length task's predicted cost
 * (which = BUDGET_CORNER_COST, plan_task_cost) or its carried state and
 * memory (BUDGET_CORNER_STATE).  The candidates are a choice's values and
 * a range's two ends: every cost and size of the model grows or shrinks
 * with each number alone (rows, widths, layers, epochs, batch, MMD scales),
 * so a range's inside is never above both ends.  Every combination when
 * there are at most BUDGET_CORNER_MAX; else one parameter at a time, twice
 * over, as budget_bound_inherited does (exact for a cost that grows with
 * each parameter whatever the others are, as the model's does). */
enum { BUDGET_CORNER_COST = 0, BUDGET_CORNER_STATE = 1 };
#define BUDGET_CORNER_MAX 4096
void budget_space_corner(const study_data_t *sd, const plan_t *p, int which, double hp[P_COUNT]);

/* state_bytes of budget_search_bound loosened to allocate nothing (each
 * rung's n states taken at the bracket's largest), so that the admission
 * checks (budget_check_study, budget_check_stage: they add it to rank 0's
 * largest task) cannot fail for want of memory. */
double budget_search_states_cap(const study_data_t *sd, const plan_t *p);

/* Sustained GFLOP/s of a rank with the default training kernel of an ISA
 * (klanes_isa(): "avx512", "avx2", anything else = the portable kernel),
 * as bench/ measured it; validate turns cost into seconds with it. */
double budget_rate(const char *isa);

#endif
