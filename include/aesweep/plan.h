/* plan.h - one stage made concrete: its cube, its tasks, their costs, the
 * partition among ranks, and (filled as results arrive) its metrics.
 *
 * Cube layout: dims = the stage's axes in spec order, then "draw" (only when
 * data_draws > 1), then "repeat".  Row-major linear index over those dims.
 * A task is one cube point with the epochs axis collapsed (when epoch reuse
 * is on): it trains once to the largest epochs value and fills every epochs
 * slot.  Tasks are numbered in row-major order of the remaining dims, so the
 * numbering is a pure function of the spec and the inherited values.
 */
#ifndef AESWEEP_PLAN_H
#define AESWEEP_PLAN_H
#include "aesweep/halving.h"
#include "aesweep/spec.h"
#include <stddef.h>
#include <stdint.h>

#define PLAN_MAX_DIMS (SPEC_MAX_AXES + 2)
#define PLAN_MAX_METRICS 32

enum value_source { VS_DEFAULT = 0, VS_FIXED = 1, VS_INHERITED = 2, VS_AXIS = 3 };
/* What kind of stage (plan_t.search, bits): a grid (0), sampled trials
 * (`sample`), successive halving / Hyperband over trials (`halving`), or both. */
enum plan_search { PLAN_GRID = 0, PLAN_SAMPLED = 1, PLAN_HALVING = 2 };

typedef struct {
    size_t first_cube;   /* linear cube index of the task's first epochs slot */
    double cost;         /* predicted cost (flop-like units, see plan_task_cost) */
    int draw, repeat;
    double hp[P_COUNT];  /* hyperparameters, epochs = the largest epochs value */
    /* search stages (docs/search.md); grid stages: trial -1, rung 0, start_epoch 0, prev_task -1, absent 0 */
    long trial;          /* the trial index; -1 in grid stages */
    int rung;            /* halving: the rung (0..); 0 otherwise */
    int start_epoch;     /* halving: epochs trained before this task (the previous rung's); 0 otherwise */
    long prev_task;      /* halving, rung > 0: the task whose end state this task continues; -1: fresh init */
    int absent;          /* halving: 1 for (trial, rung) beyond its bracket's rungs: never run, cost 0 */
} task_t;

typedef struct {
    const study_t *study;
    const stage_spec_t *spec;
    int stage_index;
    double base[P_COUNT];   /* non-axis values: default, fixed or inherited */
    int source[P_COUNT];    /* enum value_source per parameter */
    char inherited_from[SPEC_NAME_LEN];
    int ndims;
    char dim_names[PLAN_MAX_DIMS][SPEC_NAME_LEN];
    size_t dim_len[PLAN_MAX_DIMS];
    size_t dim_stride[PLAN_MAX_DIMS];
    int dim_param[PLAN_MAX_DIMS];  /* param id, or -1 for draw / repeat */
    size_t ncube;                  /* product of dim_len */
    size_t ncells;                 /* product of the axis dims (no draw/repeat) */
    size_t nrep;                   /* data_draws * repeats */
    int epoch_dim;                 /* dim index of the epochs axis, or -1 */
    int nslots;                    /* epochs slots per task (1 without reuse) */
    int *slot_epochs;              /* [nslots] ascending epochs values */
    size_t *slot_offset;           /* [nslots] cube offset of each slot from first_cube */
    size_t ntasks;
    task_t *tasks;
    /* results, [nmetrics][ncube] row-major; NaN until filled */
    int nmetrics;
    char metric_names[PLAN_MAX_METRICS][SPEC_NAME_LEN];
    double *metrics;
    int8_t *status;                /* [ncube] train_status, TRAIN_NOT_RUN until filled */
    double *seconds;               /* [ncube] wall seconds to reach that slot */
    uint8_t *task_done;            /* [ntasks] */
    size_t ndone;
    /* selection, filled by plan_select_best */
    int select_metric;             /* index into metric names */
    long best_cell;                /* linear index over the axis dims, -1 if none */
    double best_value;             /* mean of the select metric over repeats */
    double best_hp[P_COUNT];       /* the best cell's hyperparameters */
    size_t nskipped;               /* cells skipped by selection (diverged/missing) */
    /* Learning curves (stage key curve_points > 0).  Every task records the
     * curve metrics - each test set's MSE, then train_mse, i.e. the first
     * ncurve_metrics metric names - after curve_epochs[i] optimiser epochs,
     * for every point up to its own epochs.  A trajectory is a cube point
     * with the epochs axis collapsed: cells that differ only in epochs share
     * their seeds and so one trajectory (task_key ignores epochs). */
    int ncurve;                    /* points on the `epoch` dimension, 0: no curves */
    int *curve_epochs;             /* [ncurve] ascending */
    int ncurve_metrics;            /* ntests + 1 */
    size_t ntraj;                  /* ncube / length of the epochs axis */
    double *curves;                /* [ncurve_metrics][ntraj][ncurve], NaN until filled */
    /* Search stages (sample and/or halving; docs/search.md, CONTRACT16 section 1).
     * Sampled, no halving: dims trial, [draw], repeat; ncells = ntrials; a
     * task per (trial, draw, repeat), one slot.  Halving (sampled or grid):
     * dims trial, rung, repeat (length 1); task id = trial * nrungs + rung =
     * its cube index; ncells = ntrials * nrungs; each task trains from
     * start_epoch to hp[P_EPOCHS] = its bracket's rung epochs. */
    int search;                    /* enum plan_search bits; 0 for grids (nothing else changes) */
    const search_spec_t *sspec;    /* &spec->search, NULL for grids */
    size_t ntrials;
    double *trial_hp;              /* [ntrials][P_COUNT]: trial t's values; epochs its largest (max_epochs) */
    int nsearch_params;            /* parameters that vary along `trial`, spec order */
    int search_params[P_COUNT];
    halving_schedule_t *sched;     /* halving: the schedule, NULL otherwise */
    int nrungs;                    /* halving: length of the rung dim (max rungs over brackets); 1 otherwise */
    int *trial_bracket;            /* halving: [ntrials] bracket of each trial */
    int *task_round;               /* rank 0: [ntasks] round the task ran in (-1: not run); search.c */
    int search_complete;           /* rank 0: 1 once a search stage's last round finished */
    double idle_share;             /* rank 0: 1 - sum busy / (nranks x sum of round walls) */
    double state_peak_bytes;       /* rank 0: the most carried-state bytes held at once (dispatch.h) */
} plan_t;

/* Build the plan of stage k given the values inherited from the previous
 * stage (prev_best may be NULL for the first stage). */
int plan_build(plan_t *p, const study_t *s, int k, const double *prev_best, const char *prev_name,
               char *err);
void plan_free(plan_t *p);

/* Predicted cost of a task: rows x epochs x (6 x multiply-adds per row),
 * the flops of forward (2) and backward (4) per multiply-add, plus the
 * evaluation of every test set at every checkpoint. MMD adds its O(n^2 b). */
double plan_task_cost(const plan_t *p, const task_t *t);

/* Longest-processing-time-first: tasks by descending cost (ties by index)
 * to the least loaded rank (ties to the lowest rank).  owner[ntasks];
 * load[nranks] gets the predicted load.  Returns the predicted makespan. */
double plan_partition(const plan_t *p, int nranks, int *owner, double *load);
/* The same over a subset of the tasks: ids[n] (NULL: all tasks, n =
 * ntasks), in any order.  order[n] gets the subset's task ids in placement
 * order (descending cost, ties by ascending id) and owner[n] the rank of
 * order[i], so each rank's tasks in that order run largest first.  Returns
 * the predicted makespan, -1 when out of memory (or nranks < 1).  Any
 * subset can be partitioned this way: what a resumed stage has left, or one
 * round of a stage run in several rounds (dispatch.h). */
double plan_partition_subset(const plan_t *p, const size_t *ids, size_t n, int nranks, size_t *order, int *owner,
                             double *load);

/* Cell coordinates: hyperparameters of cube point idx. */
void plan_cube_hp(const plan_t *p, size_t idx, double *hp);
/* Store a task's result: vals [nslots][nmetrics], status per slot, seconds per slot. */
void plan_store(plan_t *p, size_t task, const double *vals, const int8_t *status, const double *secs);

/* Trajectory of cube point idx (its index with the epochs axis dropped). */
size_t plan_traj_index(const plan_t *p, size_t idx);
/* Points of the learning curve a task of `epochs` epochs reaches. */
int plan_curve_reach(const plan_t *p, double epochs);
/* Store a task's curve: curve [ncurve][ncurve_metrics], point-major. */
void plan_store_curve(plan_t *p, size_t task, const double *curve);

/* Mean/std/min over the repeat dims of metric m: out arrays [ncells].
 * std uses ddof = 1 and is NaN with fewer than 2 finite values; cells with
 * no finite value get NaN.  count[ncells] = finite values per cell. */
void plan_stats(const plan_t *p, int m, double *mean, double *sd, double *mn, int *count);
/* Spread from initialisation and from data (data_draws > 1):
 * init_sd = sqrt(mean over draws of var over repeats), data_sd = sd over draws
 * of the mean over repeats.  out [ncells]. */
void plan_spread(const plan_t *p, int m, double *init_sd, double *data_sd);
/* Choose the best cell by the lowest mean of the select metric. 0 if found. */
int plan_select_best(plan_t *p);
/* Has the stage run to its end?  Grid and sampled stages: every task done
 * (tpe: search_complete); halving: search_complete (absent and unpromoted
 * tasks never run). */
int plan_complete(const plan_t *p);

/* ---- search stages (plan_search.c) ---- */
/* Set the search fields, trials (trial_hp), schedule and dims of p's stage
 * (a `sample` or `halving` stage); plan_build calls it.  0, or -1 with err. */
int plan_search_setup(plan_t *p, char *err);
/* Enumerate a search stage's tasks (task id = cube index). */
void plan_search_tasks(plan_t *p);
/* Trial t's values become hp (TPE proposals; halving keeps epochs =
 * max_epochs), and its tasks' values and costs follow. */
void plan_set_trial(plan_t *p, size_t t, const double *hp);
/* plan_cube_hp of a search stage: trial_hp with that rung's epochs. */
void plan_search_cube_hp(const plan_t *p, size_t idx, double *hp);
/* The largest epochs any trial of a search stage trains. */
double plan_search_max_epochs(const plan_t *p);
/* plan_select_best of a halving stage: the lowest select metric among cells
 * at max_epochs (the last rung of each bracket), ties to the lower trial;
 * nskipped counts such cells that diverged. */
int plan_search_select(plan_t *p);

#endif
