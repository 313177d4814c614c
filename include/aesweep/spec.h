/* spec.h - the study: job spec (libconfig) parsed and validated into plain structs.
 *
 * A study has a data source (the training pool), named test sets, default
 * hyperparameters and an ordered list of stages.  Every hyperparameter is
 * one slot of a fixed table (enum param_id), so a stage axis can be any of
 * them and a cell is simply a double[P_COUNT].
 *
 * Not for: running anything (sweep.h) or file output (results.h).
 */
#ifndef AESWEEP_SPEC_H
#define AESWEEP_SPEC_H
#include "aesweep/data.h"
#include "aesweep/model.h"
#include "aesweep/search_spec.h"
#include "aesweep/util.h"
#include <stddef.h>
#include <stdint.h>

enum param_id {
    P_TRAIN_SIZE = 0, /* rows of the training pool used (the first s) */
    P_EPOCHS,         /* optimiser epochs */
    P_LR,             /* Adam learning rate */
    P_HIDDEN,         /* hidden width, or -(1 + i) for the study's width list i */
    P_LAYERS,         /* hidden-to-hidden blocks per side */
    P_BOTTLENECK,     /* code size */
    P_BATCH_SIZE,     /* 0 = full batch */
    P_MMD_LAMBDA,     /* weight of the MMD term; 0 = plain autoencoder */
    P_MMD_KERNEL,     /* 0 = rbf (sum of exp(-d^2/2h)), 1 = imq (sum of C/(C+d^2)) */
    P_MMD_SCALE,      /* first scale h0 or C0; the others halve it */
    P_MMD_NSCALES,    /* number of scales */
    P_ARCH,           /* enum model_kind: 0 = mlp, 1 = resnet */
    P_ACTIVATION,     /* enum model_act: 0 = relu, 1 = tanh, 2 = elu */
    P_COUNT
};
extern const char *const param_names[P_COUNT];
int param_lookup(const char *name); /* -1 if unknown */
int param_is_integer(int p);

/* The one table of parameter defaults and ranges: a spec's `defaults` group starts from `def`, and
 * so does every flag of `aesweep train` (--train-size ... --mmd-nscales); both refuse a value
 * outside [min, max] (min excluded when min_open) with the same words.  The defaults are the
 * reference study's (docs/study.md); epochs and lr are train.h's TRAIN_DEFAULT_EPOCHS/_LR, which
 * train_cfg_default() uses too.  A new parameter is one row here, one enum value and one name. */
typedef struct {
    double def;
    double min, max;
    int min_open;         /* 1: min itself is refused (lr > 0) */
    const char *range;    /* the accepted values as a fix says them ("use 0..100000000") */
    const char *const *names; /* string values (index = value), NULL-terminated, or NULL */
} param_info_t;
extern const param_info_t param_info[P_COUNT];
/* Checks x against p's type and range; 0, or -1 with "KEY: X is ...; use ..." in err (KEY as
 * given: "defaults.lr", "--lr").  Named values (arch, activation, mmd_kernel) are their index. */
int param_check(int p, double x, const char *key, char *err, size_t len);
/* A named value ("resnet", "imq") to its index in *v; 0, or -1 with the choices in err. */
int param_parse_name(int p, const char *word, const char *key, double *v, char *err, size_t len);

#define SPEC_MAX_AXES 8
#define SPEC_MAX_TESTS 8
#define SPEC_MAX_STAGES 32
#define SPEC_NAME_LEN 64
#define SPEC_PATH_LEN 1024
#define SPEC_ERR_LEN AES_ERR_LEN /* util.h: one size for every error buffer */
#define PLAN_MAX_METRICS_SPEC 32
#define SPEC_MAX_WIDTH_LISTS 64  /* distinct `hidden` lists of two or more widths */
/* Data defaults of a spec (and of `aesweep train`'s --pool, --noise, --test-size): moons with a
 * pool of 10,000 points, noise 0.1, and 10,000 test points per moons test set. */
#define SPEC_DEFAULT_POOL 10000
#define SPEC_DEFAULT_NOISE 0.1
#define SPEC_DEFAULT_TEST_SIZE 10000
#define SPEC_CURVE_POINTS 20 /* default learning-curve points per task (bench/curves.sh: cost) */

enum data_source { SRC_MOONS = 0, SRC_DIGITS, SRC_CSV, SRC_HDF5, SRC_IDX, SRC_NPY, SRC_COUNT };
extern const char *const spec_source_names[SRC_COUNT]; /* "moons", ..., "npy" */

typedef struct {
    char name[SPEC_NAME_LEN];
    double noise;                 /* moons: noise of this test set */
    long size;                    /* moons: points; a file test set: its first rows (0 = all) */
    char path[SPEC_PATH_LEN];     /* files: "" = the held-out split */
    char labels_path[SPEC_PATH_LEN]; /* idx/npy: the test file's labels ("" = none) */
} test_spec_t;

typedef struct {
    int param;       /* enum param_id */
    int nvalues;
    double *values;  /* in spec order */
} axis_t;

typedef struct {
    char name[SPEC_NAME_LEN];
    int naxes;
    axis_t axes[SPEC_MAX_AXES];
    int has_fixed[P_COUNT];
    double fixed[P_COUNT];
    int inherit[P_COUNT];        /* 1: take from the previous stage's best cell */
    int repeats;                 /* initialisations per data draw */
    int data_draws;              /* >1: each draw a freshly drawn training set */
    int reuse_epochs;            /* one trajectory fills the epochs axis */
    int save_models;             /* store every cell's weights */
    double pool_noise;           /* moons: < 0 = study's pool; else a pool drawn with this noise */
    char select[SPEC_NAME_LEN];  /* metric for the best cell ("" = test_mse of the first test set) */
    int line;                    /* line of the stage in the spec, for messages */
    int curve_points;            /* learning-curve points per task, 0 = none (plan.h) */
    char file[SPEC_PATH_LEN];    /* the file that line is in (the spec or a file it @includes) */
    search_spec_t search;        /* the `sample` and `halving` groups (search_spec.h); zero for a grid */
} stage_spec_t;

typedef struct {
    char path[SPEC_PATH_LEN];    /* spec file */
    char *text;                  /* full spec text (stored in results) */
    char study[SPEC_NAME_LEN];
    uint64_t seed;
    char output[SPEC_PATH_LEN];
    /* data */
    int source;                  /* enum data_source */
    char data_path[SPEC_PATH_LEN];
    int header, label_column;    /* csv */
    long pool;                   /* moons pool size */
    double noise;                /* moons pool noise */
    double train_fraction;       /* files: share of rows in the training split; 1 = a train/test
                                    pair: the whole file trains, every test set has its own path */
    char labels_path[SPEC_PATH_LEN]; /* idx/npy: labels of the data file ("" = none) */
    int pixels;                  /* idx/npy: enum data_pixels */
    int pool_given;              /* files: data.pool set (a pair keeps the first pool rows) */
    int model_data;              /* 0: model groups hold codes, reconstructions and the training
                                    set as well as the weights; 1 ("weights"): weights only */
    int scaler;                  /* enum scaler_kind */
    int ntests;
    test_spec_t tests[SPEC_MAX_TESTS];
    double defaults[P_COUNT];
    int nstages;
    stage_spec_t stages[SPEC_MAX_STAGES];
    int reuse_epochs;            /* study-wide default */
    int in_dim;                  /* input size, set once the data is loaded (0 before) */
    int hidden_above_input;      /* the reference study's rule: every hidden width > input */
    /* `hidden` lists of >= 2 widths, each stored once; hidden = -(1 + i) names list i */
    int nwlists;
    int wlist_len[SPEC_MAX_WIDTH_LISTS];
    int wlist[SPEC_MAX_WIDTH_LISTS][MODEL_MAX_WIDTHS];
    int curve_points;            /* study-wide default of the stages' curve_points */
} study_t;

/* Parse a spec file (or, with text != NULL, a spec given as text and named
 * path in messages).  Returns 0, or -1 with one line in err naming the
 * file, line or key, the bad value and the fix. */
int spec_load(study_t *s, const char *path, const char *text, char *err);
/* Checks that need the data (sizes against the pool, hidden against the
 * input size, files readable, output writable).  in_dim and pool_rows come
 * from the loaded data. */
int spec_check_data(const study_t *s, int in_dim, size_t pool_rows, char *err);
void spec_free(study_t *s);

/* The network of a cell: hp's hidden (number or width list), layers,
 * bottleneck, arch and activation for data of in_dim features. */
model_arch_t spec_model_arch(const study_t *s, const double *hp, int in_dim);
/* A parameter value as the spec writes it ("0.001", "[512, 256]", "resnet",
 * "tanh", "imq") into buf. */
void spec_format_value(const study_t *s, int p, double v, char *buf, size_t len);

/* Canonical metric names of a study; out[i] points into static or s-owned
 * storage.  Returns the count. */
int spec_metric_names(const study_t *s, char names[][SPEC_NAME_LEN], int max);
int spec_has_mmd(const study_t *s);

#endif
