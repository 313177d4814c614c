/* search.h - the rounds of a search stage (`sample` and/or `halving`,
 * docs/search.md): which tasks each round runs, promotion between rungs,
 * TPE proposals between batches, and the collective loop that runs them
 * through dispatch_round.
 *
 * Rounds (numbered 0.. in the order the stage runs them, the same at any
 * number of ranks):
 *   sampled (random, sobol, lhs), no halving: one round, every task.
 *   halving (sampled or grid): nrungs rounds, merged and END-ALIGNED: round
 *     k runs rung k - (nrungs - nrungs_b) of every bracket b where that is
 *     >= 0, so every bracket's last rung (max_epochs) is in the last round
 *     and the brackets end together.  Rung 0 of a bracket: all its trials;
 *     rung r > 0: halving_promote of rung r - 1's select metric over the
 *     trials that ran rung r - 1 (lower first, ties to the lower trial,
 *     diverged never).  Why end-aligned: aligned at the start (round k =
 *     rung k of every bracket) the last rounds hold only the most
 *     aggressive bracket's few survivors and most ranks wait; aligned at
 *     the end the last round holds one long segment per bracket, and the
 *     first rounds the many short ones.  Same trials, rungs and metrics
 *     either way (promotion is per bracket); LPT per round, simulated with
 *     costs = epochs x size: idle share 0.149 -> 0.005 for 243 trials at 4
 *     ranks, 0.42 -> 0.07 for 729 at 16 (CHANGELOG / core notes).
 *     halving.align = "start" chooses the other trade: round k runs rung k
 *     of every bracket, so the least aggressive bracket's full-length
 *     trials are in round 0 and (largest first) start at once: a good
 *     result is known early (anytime, bench/RESULTS.md) at the price of
 *     idle ranks in the last rounds.  search_bracket_round says which.
 *   tpe, no halving: round j = trials j B .. (j + 1) B - 1 (B = tpe_batch),
 *     proposed by tpe_propose from every trial of rounds < j.
 *   tpe + halving (brackets = 1): TPE round j is one successive-halving
 *     bracket over its batch: rounds j R .. j R + R - 1 (R = nrungs) are its
 *     rungs; its proposals come from every trial of earlier batches at the
 *     deepest rung it reached (tpe.h ranks deeper trials first).
 *   halving.align = "flow" (halving, any sampler): no rounds at all;
 *     search_flow_run (search_flow.c) runs the stage as a dataflow, a
 *     bracket's (or a TPE batch's) next rung opening as soon as it can.
 * Everything a round needs is a pure function of the plan and the cube
 * (the metrics of earlier rounds): a resumed run replays the journal, then
 * recomputes every round, running only tasks not done; nothing else is
 * stored.  Promotion ranks by the stage's select metric (plan_t.select_metric).
 *
 * Carried states (dispatch.h): before round r runs, rank 0 drops the end
 * states of round r - 1's tasks that no task of round r continues (trials
 * not promoted); after it, every state of round r - 1 and those of round
 * r's last-rung tasks (nothing continues them).
 *
 * Idle share: 1 - sum of the ranks' busy seconds / (ranks x sum of the
 * rounds' walls), over the rounds that ran tasks (plan_t.idle_share).
 *
 * Not for: the schedule and promotion rule (halving.h), proposals (tpe.h),
 * moving tasks and states between ranks (dispatch.h).
 */
#ifndef AESWEEP_SEARCH_H
#define AESWEEP_SEARCH_H
#include "aesweep/dispatch.h"
#include "aesweep/plan.h"
#include <stddef.h>

/* The round that runs rung r of a bracket of nrungs_b rungs (halving, not
 * tpe): r + (p->nrungs - nrungs_b) end-aligned (the default), r with
 * halving.align = "start". */
int search_bracket_round(const plan_t *p, int nrungs_b, int r);
/* The round in which the rules above run task `task` (tpe: its batch's
 * round, with halving its batch's rung round; halving: its bracket's rung,
 * aligned as the spec says; other sampled stages: round 0).  What
 * search_round_tasks lists and what a file rebuilt from a journal records. */
int search_task_round(const plan_t *p, size_t task);
/* Rounds of a search stage (0 for a grid). */
int search_nrounds(const plan_t *p);
/* The rung a round runs: with halving, bracket 0's (the one with the most
 * rungs; for TPE, the batch's); 0 without halving. */
int search_round_rung(const plan_t *p, int round);
/* TPE: the trials a round proposes, *first .. *first + return - 1 (0 when
 * the round proposes nothing: not TPE, or a rung > 0). */
size_t search_round_proposals(const plan_t *p, int round, size_t *first);
/* Rank 0 (needs the cube): every task of `round`, done or not, ascending,
 * into ids[p->ntasks].  Returns the count, or -1 when out of memory. */
long search_round_tasks(const plan_t *p, int round, size_t *ids);
/* TPE: the deepest rung of batch `of` that the proposals of batch
 * `batch` observe: the last rung in rounds (earlier batches are complete);
 * with align = "flow" min(batch - 1 - of, R - 1), the rungs complete when
 * the batch opens (search_flow.c's staircase). */
int search_tpe_cap(const plan_t *p, int batch, long of);
/* Rank 0, TPE: the proposals of `round` as trial rows, rows[n][P_COUNT]
 * (n = search_round_proposals), from the trials of earlier batches in the
 * cube.  0, or -1 with one line in err. */
int search_tpe_rows(const plan_t *p, int round, double *rows, char *err);

/* One rung of one group of a halving stage's schedule: a group is a
 * Hyperband bracket, or with tpe a batch of tpe_batch trials run as one
 * successive-halving bracket.  `trials` run the rung when every promotion
 * is taken (an upper bound: diverged trials are not promoted). */
typedef struct {
    int group;        /* the bracket, or the TPE batch */
    long first, end;  /* the group's trials: [first, end) */
    long trials;      /* scheduled into this rung */
    int rung, round;  /* the rung (of the group's bracket) and the round that runs it */
    int last;         /* the rung is the group's last: nothing continues it */
} search_slot_t;
typedef void (*search_slot_fn)(const search_slot_t *s, void *ctx);
/* Visit every (group, rung) of a halving stage's schedule in round order
 * (within a round, by group).  The one walk of the schedule: the progress
 * total (search_tasks_total), validate's bounds (budget.c) and the
 * bracket tables of the result file (results.c) all count from it.
 * Nothing for a stage without halving. */
void search_schedule_walk(const plan_t *p, search_slot_fn fn, void *ctx);

/* Rank 0: the tasks of the stage for its `tasks_total`: a halving stage's
 * that ran once it is complete, else what its schedule runs (an upper
 * bound); p->ntasks for other stages. */
size_t search_tasks_total(const plan_t *p);
/* Rank 0, after the journal's replay: start the stage's progress line;
 * with halving its total is the tasks the schedule runs (not the cube's). */
void search_progress_start(dispatch_t *d);

/* Rank 0: the trials of a group (a bracket, or a TPE batch: trials first
 * .. first + n - 1) that run its rung r: rung 0 all, rung i the promoted of
 * rung i - 1 (ascending).  trials[] holds n; the count, -1 out of memory. */
long search_group_rung_trials(const plan_t *p, size_t first, size_t n, int r, long *trials);
/* Collective: a halving stage with align = "flow" (search_flow.c): no
 * rounds, dispatch_flow over a ready set of each bracket's open rung.
 * Called by search_run; sets what it sets. */
int search_flow_run(dispatch_t *d);
/* Collective: run every round of d's search stage (rank 0 decides and
 * broadcasts each round; workers follow).  Sets p->task_round,
 * p->search_complete and p->idle_share on rank 0.  Returns, the same on
 * every rank, 0 when every round ran, else the outcome of the round that
 * stopped (enum wire_done); rank 0 out of memory: WIRE_DONE_FAILED. */
int search_run(dispatch_t *d);

#endif
