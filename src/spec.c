/* spec.c - libconfig job specs -> study_t, with one-line errors that name
 * the file, line and key, the bad value and the fix. */
#include "aesweep/spec.h"
#include "aesweep/halving.h"
#include "aesweep/model.h"
#include "aesweep/paths.h"
#include "aesweep/train.h"
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const param_names[P_COUNT] = {"train_size", "epochs", "lr", "hidden", "layers",
                                          "bottleneck", "batch_size", "mmd_lambda", "mmd_kernel",
                                          "mmd_scale", "mmd_nscales", "arch", "activation"};

int param_lookup(const char *name)
{
    for (int i = 0; i < P_COUNT; i++)
        if (!strcmp(name, param_names[i])) return i;
    return -1;
}

int param_is_integer(int p)
{
    return p != P_LR && p != P_MMD_LAMBDA && p != P_MMD_SCALE;
}

static const char *const arch_names[] = {"mlp", "resnet", NULL};
static const char *const act_names[] = {"relu", "tanh", "elu", NULL};
static const char *const kernel_names[] = {"rbf", "imq", NULL};

/* The one table of defaults and ranges (spec.h).  Sizes stop at 1e9 rows and 1e5 widths: far
 * beyond any study that fits in memory, and small enough that every product of them stays exact
 * in a double and an int64. */
const param_info_t param_info[P_COUNT] = {
    [P_TRAIN_SIZE] = {1000, 2, 1e9, 0, "at least 2 rows (2..1000000000)", NULL},
    [P_EPOCHS] = {TRAIN_DEFAULT_EPOCHS, 0, 1e8, 0, "0..100000000", NULL},
    [P_LR] = {TRAIN_DEFAULT_LR, 0, 10, 1, "a value in (0, 10]", NULL},
    [P_HIDDEN] = {20, 1, 100000, 0, "1..100000", NULL},
    [P_LAYERS] = {3, 0, MODEL_MAX_DEPTH, 0, "0..32", NULL},
    [P_BOTTLENECK] = {1, 1, 100000, 0, "1..100000", NULL},
    [P_BATCH_SIZE] = {0, 0, 1e9, 0, "0 (full batch) or a positive size", NULL},
    [P_MMD_LAMBDA] = {0, 0, 1, 0, "0..1", NULL},
    [P_MMD_KERNEL] = {0, 0, 1, 0, "\"rbf\" or \"imq\"", kernel_names},
    [P_MMD_SCALE] = {1.0, 0, 1e300, 1, "a positive number", NULL},
    [P_MMD_NSCALES] = {5, 1, 16, 0, "1..16", NULL},
    [P_ARCH] = {MODEL_MLP, 0, 1, 0, "\"mlp\" or \"resnet\"", arch_names},
    [P_ACTIVATION] = {MODEL_RELU, 0, 2, 0, "\"relu\", \"tanh\" or \"elu\"", act_names},
};

/* A number as the user wrote it: the shortest of %.15g and %.17g that reads back as x (%g made
 * 100000001 "1e+08", the very value the message is about, shown wrong). */
static const char *num_text(double x, char *buf, size_t n)
{
    snprintf(buf, n, "%.15g", x);
    if (strtod(buf, NULL) != x) snprintf(buf, n, "%.17g", x);
    return buf;
}

int param_check(int p, double x, const char *key, char *err, size_t len)
{
    const param_info_t *q = &param_info[p];
    char xs[32];
    if (param_is_integer(p) && x != floor(x)) {
        snprintf(err, len, "%s: %s is not an integer; use a whole number", key, num_text(x, xs, sizeof xs));
        return -1;
    }
    if (x < q->min || (q->min_open && x == q->min) || x > q->max) {
        snprintf(err, len, q->names ? "%s: %s is not one of the choices; use %s" : "%s: %s is out of range; use %s",
                 key, num_text(x, xs, sizeof xs), q->range);
        return -1;
    }
    return 0;
}

int param_parse_name(int p, const char *word, const char *key, double *v, char *err, size_t len)
{
    const char *const *names = param_info[p].names;
    for (int i = 0; names && names[i]; i++)
        if (!strcmp(word, names[i])) {
            *v = i;
            return 0;
        }
    snprintf(err, len, "%s: \"%s\" is unknown; use %s", key, word, names ? param_info[p].range : "a number");
    return -1;
}

const char *const spec_source_names[SRC_COUNT] = {"moons", "digits", "csv", "hdf5", "idx", "npy"};

/* error helper: "file:line: key: message" */
/* Where each line of the text libconfig parses came from: the spec file or
 * a file it @includes (expanded in place, see expand_includes).  Set while
 * spec_load runs (one spec at a time per process). */
typedef struct {
    const char *file; /* points into g_files */
    int line;
} srcline_t;
static struct {
    srcline_t *v;
    int n, cap;
    char **files;
    int nfiles;
} g_map;

static void map_reset(void)
{
    for (int i = 0; i < g_map.nfiles; i++) free(g_map.files[i]);
    free(g_map.files);
    free(g_map.v);
    memset(&g_map, 0, sizeof g_map);
}

/* effective line -> "file:line" of its source (the spec itself without includes) */
static const char *map_line(const study_t *s, int *line)
{
    if (*line > 0 && *line <= g_map.n) {
        const srcline_t *m = &g_map.v[*line - 1];
        *line = m->line;
        return m->file;
    }
    return s->path;
}

static int fail(char *err, const study_t *s, const config_setting_t *at, const char *fmt, ...)
{
    char msg[SPEC_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = at ? (int)config_setting_source_line(at) : 0;
    const char *file = map_line(s, &line);
    if (line > 0)
        snprintf(err, SPEC_ERR_LEN, "%s:%d: %s", file, line, msg);
    else
        snprintf(err, SPEC_ERR_LEN, "%s: %s", s->path, msg);
    return -1;
}

static int known(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(k, *list)) return 1;
    return 0;
}

/* Reject keys not in the allowed list (the usual cause: a typo). */
static int check_keys(const study_t *s, const config_setting_t *g, const char *where,
                      const char *const *allowed, char *err)
{
    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        config_setting_t *c = config_setting_get_elem(g, i);
        const char *k = config_setting_name(c);
        if (k && !known(k, allowed)) {
            char list[512] = "";
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 3);
                if (a[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return fail(err, s, c, "unknown key '%s' in %s; known keys: %s", k, where, list);
        }
    }
    return 0;
}

static int get_number(const study_t *s, const config_setting_t *c, const char *key, double *v,
                      char *err)
{
    int t = config_setting_type(c);
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) *v = (double)config_setting_get_int64(c);
    else if (t == CONFIG_TYPE_FLOAT) *v = config_setting_get_float(c);
    else if (t == CONFIG_TYPE_BOOL) return fail(err, s, c, "%s: a number is needed, not a boolean", key);
    else if (t == CONFIG_TYPE_STRING)
        return fail(err, s, c, "%s: a number is needed, not the string \"%s\"; drop the quotes", key,
                    config_setting_get_string(c));
    else return fail(err, s, c, "%s: a number is needed, not a list or group", key);
    if (!isfinite(*v)) return fail(err, s, c, "%s: %g is not finite; give a finite number", key, *v);
    return 0;
}

/* hidden = [w1, w2, ...]: encoder widths.  One width is the number itself;
 * two or more are stored once in the study's table and named by
 * -(1 + index), so a cell stays a double[P_COUNT]. */
static int get_width_list(study_t *s, const config_setting_t *c, const char *key, double *v, char *err)
{
    int n = config_setting_length(c), w[MODEL_MAX_WIDTHS];
    if (n < 1 || n > MODEL_MAX_WIDTHS)
        return fail(err, s, c, "%s: %d widths; give 1..%d encoder widths, e.g. [512, 256]", key, n, MODEL_MAX_WIDTHS);
    for (int i = 0; i < n; i++) {
        double x;
        if (get_number(s, config_setting_get_elem(c, i), key, &x, err)) return -1;
        if (x != floor(x) || x < 1 || x > 100000)
            return fail(err, s, c, "%s: width %g is not valid; use whole numbers 1..100000", key, x);
        w[i] = (int)x;
    }
    if (n == 1) {
        *v = w[0];
        return 0;
    }
    for (int i = 0; i < s->nwlists; i++)
        if (s->wlist_len[i] == n && !memcmp(s->wlist[i], w, n * sizeof(int))) {
            *v = -(1.0 + i);
            return 0;
        }
    if (s->nwlists == SPEC_MAX_WIDTH_LISTS)
        return fail(err, s, c, "%s: more than %d different width lists in one study; split the study", key, SPEC_MAX_WIDTH_LISTS);
    s->wlist_len[s->nwlists] = n;
    memcpy(s->wlist[s->nwlists], w, n * sizeof(int));
    *v = -(1.0 + s->nwlists++);
    return 0;
}

/* Parameter value: numbers, for arch, activation and mmd_kernel their names, for hidden also a
 * list of widths; checked against param_info's range. */
static int get_param_value(study_t *s, const config_setting_t *c, const char *where, int p,
                           double *v, char *err)
{
    char key[96]; /* "defaults.hidden", "axes.lr": the key as the user wrote it */
    snprintf(key, sizeof key, "%s.%s", where, param_names[p]);
    if (p == P_HIDDEN && (config_setting_is_array(c) || config_setting_is_list(c)))
        return get_width_list(s, c, key, v, err);
    char why[SPEC_ERR_LEN];
    if (param_info[p].names && config_setting_type(c) == CONFIG_TYPE_STRING) {
        if (param_parse_name(p, config_setting_get_string(c), key, v, why, sizeof why))
            return fail(err, s, c, "%s", why);
        return 0;
    }
    if (get_number(s, c, key, v, err)) return -1;
    if (param_check(p, *v, key, why, sizeof why)) return fail(err, s, c, "%s", why);
    return 0;
}

static int get_str(const study_t *s, const config_setting_t *g, const char *key, char *out,
                   size_t len, int required, char *err)
{
    config_setting_t *c = config_setting_get_member(g, key);
    if (!c) {
        if (required) return fail(err, s, g, "missing key '%s'; add %s = \"...\"; (see jobs/quick.cfg)", key, key);
        return 0;
    }
    if (config_setting_type(c) != CONFIG_TYPE_STRING)
        return fail(err, s, c, "%s: a string in double quotes is needed, e.g. %s = \"...\";", key, key);
    const char *v = config_setting_get_string(c);
    if (strlen(v) >= len) return fail(err, s, c, "%s: value longer than %zu characters; shorten it", key, len - 1);
    if (!*v) return fail(err, s, c, "%s: empty string \"\"; give a value", key);
    strcpy(out, v);
    return 0;
}

static int get_bool(const study_t *s, const config_setting_t *g, const char *key, int *out, char *err)
{
    config_setting_t *c = config_setting_get_member(g, key);
    if (!c) return 0;
    if (config_setting_type(c) != CONFIG_TYPE_BOOL)
        return fail(err, s, c, "%s: true or false is needed (without quotes)", key);
    *out = config_setting_get_bool(c);
    return 0;
}

static int get_num_key(const study_t *s, const config_setting_t *g, const char *key, double *out,
                       int required, char *err)
{
    config_setting_t *c = config_setting_get_member(g, key);
    if (!c) {
        if (required) return fail(err, s, g, "missing key '%s'; add %s = <number>;", key, key);
        return 0;
    }
    return get_number(s, c, key, out, err);
}

static int valid_name(const char *n)
{
    if (!*n) return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static const char *param_list(void)
{
    static char list[400];
    if (!list[0])
        for (int k = 0; k < P_COUNT; k++) {
            strcat(list, param_names[k]);
            if (k + 1 < P_COUNT) strcat(list, ", ");
        }
    return list;
}

/* Largest stage cube (cells x repeats x draws) and axis length accepted:
 * the plan keeps ~14 doubles per point on rank 0, so 1e7 points is ~1 GiB. */
#define SPEC_MAX_POINTS 10000000.0
/* Moons noise: points are (cos, sin) + noise x N(0,1) in float; beyond this
 * a draw can leave the float range (pool_noise is drawn at task time, so it
 * is bounded here rather than checked after generation). */
#define SPEC_MAX_NOISE 1e30
#define SPEC_MAX_AXIS_VALUES 10000

/* A group of parameter values (defaults / fixed). */
static int parse_param_group(study_t *s, const config_setting_t *g, const char *where, double *vals,
                             int *has, char *err)
{
    if (!config_setting_is_group(g))
        return fail(err, s, g, "%s: a group { key = value; ... } is needed", where);
    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        config_setting_t *c = config_setting_get_elem(g, i);
        int p = param_lookup(config_setting_name(c));
        if (p < 0)
            return fail(err, s, c, "unknown parameter '%s' in %s; known: %s", config_setting_name(c),
                        where, param_list());
        if (get_param_value(s, c, where, p, &vals[p], err)) return -1;
        if (has) has[p] = 1;
    }
    return 0;
}

/* ---- the table of scalar keys ---------------------------------------------- */

/* A key of the top level, the data group or a stage that holds one value: its type, where it goes
 * and what it accepts.  parse_keys reads every row; the unknown-key check lists the rows too.  A
 * new key (e.g. a sampled stage's budget) is one row here and a field in spec.h. */
enum key_kind { K_BOOL, K_INT, K_LONG, K_REAL, K_STR };
typedef struct {
    const char *key;
    enum key_kind kind;
    size_t off;       /* offsetof the field: int (K_BOOL, K_INT), long, double or char[len] */
    double min, max;  /* K_INT, K_LONG, K_REAL: accepted range (min excluded when min_open) */
    int min_open;
    const char *fix;  /* the accepted values as a message says them */
    size_t len;       /* K_STR: size of the field */
} key_rule_t;

#define KEY_END {NULL, K_BOOL, 0, 0, 0, 0, NULL, 0}

static const key_rule_t top_rules[] = {
    {"output", K_STR, offsetof(study_t, output), 0, 0, 0, NULL, SPEC_PATH_LEN},
    {"reuse_epochs", K_BOOL, offsetof(study_t, reuse_epochs), 0, 0, 0, NULL, 0},
    {"hidden_above_input", K_BOOL, offsetof(study_t, hidden_above_input), 0, 0, 0, NULL, 0},
    {"curve_points", K_INT, offsetof(study_t, curve_points), 0, 100000, 0, "a whole number 0..100000 (0 = no learning curves)", 0},
    KEY_END};
static const key_rule_t data_rules[] = {
    {"pool", K_LONG, offsetof(study_t, pool), 2, 1e9, 0, "an integer 2..1e9", 0},
    {"noise", K_REAL, offsetof(study_t, noise), 0, SPEC_MAX_NOISE, 0, "0..1e+30", 0},
    {"header", K_BOOL, offsetof(study_t, header), 0, 0, 0, NULL, 0},
    {"label_column", K_INT, offsetof(study_t, label_column), -2, 100000, 0, "a 0-based column, -1 (none) or -2 (last)", 0},
    {"train_fraction", K_REAL, offsetof(study_t, train_fraction), 0, 1, 1, "(0, 1], 1 for a train/test pair of files", 0},
    KEY_END};
static const key_rule_t stage_rules[] = {
    {"repeats", K_INT, offsetof(stage_spec_t, repeats), 1, 100000, 0, "an integer 1..100000", 0},
    {"data_draws", K_INT, offsetof(stage_spec_t, data_draws), 1, 100000, 0, "an integer 1..100000", 0},
    {"pool_noise", K_REAL, offsetof(stage_spec_t, pool_noise), 0, SPEC_MAX_NOISE, 0, "0..1e+30", 0},
    {"reuse_epochs", K_BOOL, offsetof(stage_spec_t, reuse_epochs), 0, 0, 0, NULL, 0},
    {"save_models", K_BOOL, offsetof(stage_spec_t, save_models), 0, 0, 0, NULL, 0},
    {"select", K_STR, offsetof(stage_spec_t, select), 0, 0, 0, NULL, SPEC_NAME_LEN},
    {"curve_points", K_INT, offsetof(stage_spec_t, curve_points), 0, 100000, 0, "a whole number 0..100000 (0 = no learning curves)", 0},
    KEY_END};

/* Keys handled by code of their own (structure, or rules across keys), beside the rows above. */
static const char *const top_other[] = {"study", "seed", "data", "tests", "defaults", "stages", "model_data", NULL};
static const char *const data_other[] = {"source", "path", "scaler", "labels", "pixels", NULL};
static const char *const test_keys[] = {"name", "noise", "size", "path", "labels", NULL};
static const char *const stage_other[] = {"name", "axes", "fixed", "inherit", "sample", "halving", NULL};

/* Reject a key that is neither in rules nor in other (the usual cause: a typo). */
static int check_keys_rules(const study_t *s, const config_setting_t *g, const char *where,
                            const key_rule_t *rules, const char *const *other, char *err)
{
    const char *all[64];
    int n = 0;
    for (; *other && n < 63; other++) all[n++] = *other;
    for (; rules->key && n < 63; rules++) all[n++] = rules->key;
    all[n] = NULL;
    return check_keys(s, g, where, all, err);
}

/* Every row of rules present in group g, into the struct at base; prefix names the group in
 * messages ("data." or ""). */
static int parse_keys(const study_t *s, const config_setting_t *g, const key_rule_t *rules,
                      const char *prefix, void *base, char *err)
{
    for (const key_rule_t *r = rules; r->key; r++) {
        char key[64];
        snprintf(key, sizeof key, "%s%s", prefix, r->key);
        char *field = (char *)base + r->off;
        if (r->kind == K_STR) {
            if (get_str(s, g, r->key, field, r->len, 0, err)) return -1;
            continue;
        }
        if (r->kind == K_BOOL) {
            if (get_bool(s, g, r->key, (int *)field, err)) return -1;
            continue;
        }
        config_setting_t *c = config_setting_get_member(g, r->key);
        double v;
        if (!c) continue;
        if (get_number(s, c, key, &v, err)) return -1;
        char vs[32];
        if ((r->kind != K_REAL && v != floor(v)) || v < r->min || v > r->max || (r->min_open && v == r->min))
            return fail(err, s, c, "%s: %s is out of range; use %s", key, num_text(v, vs, sizeof vs), r->fix);
        if (r->kind == K_INT) *(int *)field = (int)v;
        else if (r->kind == K_LONG) *(long *)field = (long)v;
        else *(double *)field = v;
    }
    return 0;
}

/* axes = { param = [v1, v2, ...]; ... }: the stage's grid, values checked like defaults. */
static int parse_axes(study_t *s, stage_spec_t *st, const config_setting_t *ax, char *err)
{
    if (!config_setting_is_group(ax))
        return fail(err, s, ax, "axes: a group { param = [v1, v2, ...]; ... } is needed");
    int n = config_setting_length(ax);
    if (n > SPEC_MAX_AXES) return fail(err, s, ax, "axes: %d axes, at most %d", n, SPEC_MAX_AXES);
    for (int i = 0; i < n; i++) {
        config_setting_t *a = config_setting_get_elem(ax, i);
        const char *an = config_setting_name(a);
        int p = param_lookup(an);
        if (p < 0) return fail(err, s, a, "axes: unknown parameter '%s'; known: %s", an, param_list());
        if (!config_setting_is_array(a) && !config_setting_is_list(a))
            return fail(err, s, a, "axes.%s: a list of values [v1, v2, ...] is needed", an);
        int nv = config_setting_length(a);
        if (nv == 0) return fail(err, s, a, "axes.%s: empty list []; give at least one value", an);
        if (nv > SPEC_MAX_AXIS_VALUES)
            return fail(err, s, a, "axes.%s: %d values, at most %d per axis; use a coarser grid", an, nv,
                        SPEC_MAX_AXIS_VALUES);
        axis_t *x = &st->axes[st->naxes++];
        x->param = p;
        x->nvalues = nv;
        x->values = calloc(nv, sizeof(double));
        if (!x->values) return fail(err, s, a, "out of memory");
        for (int v = 0; v < nv; v++) {
            config_setting_t *e = config_setting_get_elem(a, v);
            if (get_param_value(s, e, "axes", p, &x->values[v], err)) return -1;
            for (int w = 0; w < v; w++)
                if (x->values[w] == x->values[v])
                    return fail(err, s, e, "axes.%s: value %g appears twice; remove the duplicate", an, x->values[v]);
        }
    }
    return 0;
}

/* inherit = ["epochs", "lr"]: parameters taken from the previous stage's best cell. */
static int parse_inherit(const study_t *s, stage_spec_t *st, const config_setting_t *in, int k, char *err)
{
    if (!config_setting_is_array(in) && !config_setting_is_list(in))
        return fail(err, s, in, "inherit: a list of parameter names [\"epochs\", \"lr\"] is needed");
    if (k == 0 && config_setting_length(in) > 0)
        return fail(err, s, in, "inherit: the first stage has no previous stage to inherit from");
    for (int i = 0; i < config_setting_length(in); i++) {
        config_setting_t *e = config_setting_get_elem(in, i);
        const char *pn = config_setting_get_string(e);
        if (!pn)
            return fail(err, s, e, "inherit: element %d is not a string; use parameter names in quotes, e.g. [\"epochs\", \"lr\"]", i + 1);
        int p = param_lookup(pn);
        if (p < 0) return fail(err, s, e, "inherit: \"%s\" is not a parameter name; known: %s", pn, param_list());
        st->inherit[p] = 1;
    }
    return 0;
}

/* search_spec.h's callbacks: a parameter value as spec.c reads it (names, width lists, ranges),
 * and "file:line: msg" through the include map. */
static int search_value(void *ctx, const config_setting_t *c, const char *key, int p, double *v, char *err)
{
    /* key ends in ".<param>"; get_param_value appends the parameter itself */
    char where[160];
    snprintf(where, sizeof where, "%s", key);
    size_t n = strlen(where), m = strlen(param_names[p]);
    if (n > m && where[n - m - 1] == '.' && !strcmp(where + n - m, param_names[p])) where[n - m - 1] = 0;
    return get_param_value(ctx, c, where, p, v, err);
}

static int search_fail(void *ctx, const config_setting_t *c, const char *msg, char *err)
{
    return fail(err, ctx, c, "%s", msg);
}

/* The rules of a halving stage that need the rest of the stage (docs/search.md "Spec keys"). */
static int check_halving(const study_t *s, const config_setting_t *g, stage_spec_t *st, char *err)
{
    const search_spec_t *ss = &st->search;
    if (st->data_draws > 1)
        return fail(err, s, config_setting_get_member(g, "data_draws"), "stage %s: data_draws = %d with halving; a trial is one "
                    "training set and one initialisation (use data_draws in a later stage)", st->name, st->data_draws);
    if (st->repeats > 1)
        return fail(err, s, config_setting_get_member(g, "repeats"), "stage %s: repeats = %d with halving; a trial is one "
                    "initialisation (repeat the best trial in a later stage)", st->name, st->repeats);
    if (st->has_fixed[P_EPOCHS] || st->inherit[P_EPOCHS])
        return fail(err, s, g, "stage %s: epochs is the budget of halving (min_epochs..max_epochs); take it out of %s",
                    st->name, st->has_fixed[P_EPOCHS] ? "fixed" : "inherit");
    /* The study-wide default does not apply: a halving stage records curves
     * (and reports them to rank 0 as they are computed, dispatch.h) only when
     * the stage asks, since each point costs an evaluation of every test set. */
    if (!config_setting_get_member(g, "curve_points")) st->curve_points = 0;
    if (ss->sampler == SEARCH_TPE && ss->brackets != 1)
        return fail(err, s, config_setting_get_member(g, "halving"), "stage %s: sampler \"tpe\" with halving needs "
                    "halving.brackets = 1 (each TPE round is one successive-halving bracket over its batch)", st->name);
    return 0;
}

/* sample / halving groups (search_spec.c), then what only spec.c can check: the space against
 * fixed and inherit, its bounds against each parameter's range, the stage's size. */
static int parse_search(study_t *s, const config_setting_t *g, stage_spec_t *st, char *err)
{
    char where[SPEC_NAME_LEN + 16];
    snprintf(where, sizeof where, "stages.%s", st->name);
    search_spec_io_t io = {.ctx = s, .value = search_value, .fail_at = search_fail};
    search_spec_t *ss = &st->search;
    if (search_spec_parse(g, where, &io, ss, err)) return -1;
    double points = (double)st->repeats * st->data_draws;
    if (ss->has_sample) {
        const config_setting_t *sp = config_setting_get_member(config_setting_get_member(g, "sample"), "space");
        for (int j = 0; j < ss->space.nparams; j++) {
            const sample_param_t *q = &ss->space.params[j];
            const config_setting_t *c = config_setting_get_member(sp, param_names[q->param]);
            if (st->has_fixed[q->param] || st->inherit[q->param])
                return fail(err, s, c, "stage %s: '%s' is in sample.space and in %s; keep one", st->name,
                            param_names[q->param], st->has_fixed[q->param] ? "fixed" : "inherit");
            char key[SPEC_NAME_LEN + 64], why[SPEC_ERR_LEN];
            snprintf(key, sizeof key, "%s.sample.space.%s", where, param_names[q->param]);
            if (q->dist != DIST_CHOICE &&
                (param_check(q->param, q->lo, key, why, sizeof why) || param_check(q->param, q->hi, key, why, sizeof why)))
                return fail(err, s, c, "%s", why);
        }
        points *= (double)ss->space.n;
    } else
        for (int i = 0; i < st->naxes; i++) points *= st->axes[i].nvalues;
    if (ss->has_halving) {
        if (check_halving(s, g, st, err)) return -1;
        points *= halving_s_max(ss->min_epochs, ss->max_epochs, ss->eta) + 1;
    }
    if (points > SPEC_MAX_POINTS)
        return fail(err, s, g, "stage %s: %.4g points (trials x rungs x repeats x data_draws), at most %.0f; lower n_trials "
                    "or split the search into stages", st->name, points, SPEC_MAX_POINTS);
    return 0;
}

static int parse_stage(study_t *s, config_setting_t *g, int k, char *err)
{
    stage_spec_t *st = &s->stages[k];
    memset(st, 0, sizeof *st);
    st->line = config_setting_source_line(g);
    snprintf(st->file, sizeof st->file, "%s", map_line(s, &st->line));
    st->repeats = 1;
    st->data_draws = 1;
    st->reuse_epochs = s->reuse_epochs;
    st->curve_points = s->curve_points;
    st->pool_noise = -1;
    if (!config_setting_is_group(g))
        return fail(err, s, g, "stages: each stage is a group { name = \"...\"; axes = {...}; }");
    if (check_keys_rules(s, g, "a stage", stage_rules, stage_other, err)) return -1;
    if (get_str(s, g, "name", st->name, sizeof st->name, 1, err)) return -1;
    if (!valid_name(st->name))
        return fail(err, s, g, "stage name \"%s\": use letters, digits, '_' or '-'", st->name);
    for (int j = 0; j < k; j++)
        if (!strcmp(s->stages[j].name, st->name))
            return fail(err, s, g, "stage name \"%s\" used twice; stage names must be unique", st->name);
    config_setting_t *c;
    if ((c = config_setting_get_member(g, "axes")) && parse_axes(s, st, c, err)) return -1;
    if ((c = config_setting_get_member(g, "fixed")) && parse_param_group(s, c, "fixed", st->fixed, st->has_fixed, err))
        return -1;
    if ((c = config_setting_get_member(g, "inherit")) && parse_inherit(s, st, c, k, err)) return -1;
    /* each parameter from one place only */
    for (int p = 0; p < P_COUNT; p++) {
        int on_axis = 0;
        for (int i = 0; i < st->naxes; i++) on_axis |= st->axes[i].param == p;
        if (on_axis + st->has_fixed[p] + st->inherit[p] > 1)
            return fail(err, s, g, "stage %s: '%s' is given more than once (axes, fixed, inherit); keep one",
                        st->name, param_names[p]);
    }
    if (parse_keys(s, g, stage_rules, "", st, err)) return -1;
    double points = (double)st->repeats * st->data_draws;
    for (int i = 0; i < st->naxes; i++) points *= st->axes[i].nvalues;
    if (points > SPEC_MAX_POINTS)
        return fail(err, s, g, "stage %s: %.4g points (cells x repeats x data_draws), at most %.0f; split it into stages or use coarser axes",
                    st->name, points, SPEC_MAX_POINTS);
    if ((c = config_setting_get_member(g, "pool_noise")) && s->source != SRC_MOONS)
        return fail(err, s, c, "pool_noise applies to moons data only");
    return parse_search(s, g, st, err);
}

/* select names a metric; checked once every stage is known (an MMD stage
 * later in the study adds metrics). */
static int check_select(const study_t *s, config_setting_t *stages, char *err)
{
    char names[PLAN_MAX_METRICS_SPEC][SPEC_NAME_LEN];
    int nm = spec_metric_names(s, names, PLAN_MAX_METRICS_SPEC);
    for (int k = 0; k < s->nstages; k++) {
        const stage_spec_t *st = &s->stages[k];
        if (!st->select[0]) continue;
        int ok = 0;
        for (int i = 0; i < nm; i++) ok |= !strcmp(names[i], st->select);
        if (!ok) {
            char list[600] = "";
            for (int i = 0; i < nm; i++) {
                strncat(list, names[i], sizeof list - strlen(list) - 3);
                if (i + 1 < nm) strcat(list, ", ");
            }
            return fail(err, s, config_setting_get_member(config_setting_get_elem(stages, k), "select"),
                        "select: \"%s\" is not a metric of this study; use one of %s", st->select, list);
        }
    }
    return 0;
}


/* The file layout (docs/results-format.md) puts every stage in a root group
 * beside /data and /models, and in each stage group one dataset per metric
 * (test_mse_<test set>), its statistics (<metric>_mean ...) and the axes'
 * scales; /data holds test_<test set> and test_<test set>_labels.  A name
 * that one of these rules makes twice would overwrite another dataset
 * (a stage "data" replaced the training pool; a test set "clean_mean" beside
 * "clean" replaced the mean of test_mse_clean), so such names are refused. */
static int check_names(const study_t *s, config_setting_t *root, char *err)
{
    config_setting_t *stages = config_setting_get_member(root, "stages");
    config_setting_t *tests = config_setting_get_member(root, "tests");
    static const char *const reserved[] = {"data", "models", NULL};
    for (int k = 0; k < s->nstages; k++)
        if (known(s->stages[k].name, reserved))
            return fail(err, s, config_setting_get_elem(stages, k),
                        "stage name \"%s\" is reserved: the result file keeps the data in /data and the models in /models; rename the stage",
                        s->stages[k].name);
    enum { MAXN = PLAN_MAX_METRICS_SPEC * 6 + SPEC_MAX_AXES + SAMPLE_MAX_PARAMS + 8 };
    static char names[MAXN][SPEC_NAME_LEN + 24];
    static int owner[MAXN]; /* test set that made the name, -1 none */
    char metrics[PLAN_MAX_METRICS_SPEC][SPEC_NAME_LEN];
    int nm = spec_metric_names(s, metrics, PLAN_MAX_METRICS_SPEC);
    for (int k = 0; k < s->nstages; k++) {
        const stage_spec_t *st = &s->stages[k];
        int n = 0;
        for (int i = 0; i < st->naxes; i++) owner[n] = -1, snprintf(names[n++], sizeof names[0], "%s", param_names[st->axes[i].param]);
        for (int j = 0; st->search.has_sample && j < st->search.space.nparams; j++)
            owner[n] = -1, snprintf(names[n++], sizeof names[0], "%s", param_names[st->search.space.params[j].param]);
        const char *fixed[] = {"draw", "repeat", "rank", "status", "seconds", "n_ok", "rank_busy_seconds"};
        for (int i = 0; i < 7; i++) owner[n] = -1, snprintf(names[n++], sizeof names[0], "%s", fixed[i]);
        const char *suf[] = {"", "_mean", "_std", "_min", "_init_std", "_data_std"};
        for (int m = 0; m < nm; m++)
            for (int j = 0; j < (st->data_draws > 1 ? 6 : 4); j++) {
                owner[n] = m < s->ntests ? m : -1;
                snprintf(names[n++], sizeof names[0], "%s%s", metrics[m], suf[j]);
            }
        /* /data: test_<name> and test_<name>_labels */
        for (int t = 0; t < s->ntests; t++) {
            owner[n] = t, snprintf(names[n++], sizeof names[0], "/data/test_%s", s->tests[t].name);
            owner[n] = t, snprintf(names[n++], sizeof names[0], "/data/test_%s_labels", s->tests[t].name);
        }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (!strcmp(names[i], names[j])) {
                    int t = owner[j] >= 0 ? owner[j] : owner[i];
                    if (t >= 0)
                        return fail(err, s, tests ? config_setting_get_elem(tests, t) : root,
                                    "test name \"%s\": its dataset '%s' would overwrite another of the same name in stage %s; rename the test set (a name must not be another's name plus _mean, _std, _min, _init_std, _data_std or _labels)",
                                    s->tests[t].name, names[j], st->name);
                    return fail(err, s, config_setting_get_elem(stages, k), "stage %s: two datasets would be named '%s'; rename the test set or parameter that makes it", st->name, names[j]);
                }
    }
    return 0;
}

int spec_has_mmd(const study_t *s)
{
    if (s->defaults[P_MMD_LAMBDA] > 0) return 1;
    for (int k = 0; k < s->nstages; k++) {
        const stage_spec_t *st = &s->stages[k];
        if (st->has_fixed[P_MMD_LAMBDA] && st->fixed[P_MMD_LAMBDA] > 0) return 1;
        for (int i = 0; i < st->naxes; i++)
            if (st->axes[i].param == P_MMD_LAMBDA)
                for (int v = 0; v < st->axes[i].nvalues; v++)
                    if (st->axes[i].values[v] > 0) return 1;
        const sample_space_t *sp = &st->search.space;
        for (int j = 0; st->search.has_sample && j < sp->nparams; j++)
            if (sp->params[j].param == P_MMD_LAMBDA) {
                if (sp->params[j].dist != DIST_CHOICE && sp->params[j].hi > 0) return 1;
                for (int v = 0; v < sp->params[j].nchoices; v++)
                    if (sp->params[j].choices[v] > 0) return 1;
            }
    }
    return 0;
}

int spec_metric_names(const study_t *s, char names[][SPEC_NAME_LEN], int max)
{
    int n = 0;
    for (int t = 0; t < s->ntests && n < max; t++)
        snprintf(names[n++], SPEC_NAME_LEN, "test_mse_%s", s->tests[t].name);
    if (n < max) snprintf(names[n++], SPEC_NAME_LEN, "train_mse");
    if (spec_has_mmd(s)) {
        const char *extra[] = {"code_mmd", "code_mean_dist", "code_cov_dist", "gen_mmd"};
        for (int i = 0; i < 4 && n < max; i++) snprintf(names[n++], SPEC_NAME_LEN, "%s", extra[i]);
    }
    return n;
}

/* After a parse error: find the first bracket that closes the wrong opener,
 * or the innermost opener never closed, skipping strings and comments.
 * Returns 1 with the line and a description in out. */
static int bracket_problem(const char *t, int *line, char *out, size_t n)
{
    char stk[256];
    int stk_line[256], depth = 0, ln = 1;
    for (const char *p = t; *p; p++) {
        if (*p == '\n') ln++;
        else if (*p == '"') {
            /* strings rarely span lines: a newline inside one means a missing quote */
            for (p++; *p && *p != '"' && *p != '\n'; p++)
                if (*p == '\\' && p[1] && p[1] != '\n') p++;
            if (*p != '"') {
                *line = ln;
                snprintf(out, n, "the string opened on this line is not closed on it; add the missing '\"'");
                return 1;
            }
        } else if (*p == '#' || (*p == '/' && p[1] == '/')) {
            while (p[1] && p[1] != '\n') p++;
        } else if (*p == '/' && p[1] == '*') {
            for (p += 2; *p && !(*p == '*' && p[1] == '/'); p++)
                if (*p == '\n') ln++;
            if (!*p) break;
            p++;
        } else if (*p == '{' || *p == '(' || *p == '[') {
            if (depth == (int)sizeof stk) return 0;
            stk[depth] = *p;
            stk_line[depth++] = ln;
        } else if (*p == '}' || *p == ')' || *p == ']') {
            char want = *p == '}' ? '{' : *p == ')' ? '(' : '[';
            if (depth == 0) {
                *line = ln;
                snprintf(out, n, "'%c' closes nothing; remove it or add the missing '%c' before it", *p, want);
                return 1;
            }
            if (stk[depth - 1] != want) {
                *line = ln;
                snprintf(out, n, "'%c' closes the '%c' opened on line %d; add the missing '%c' first",
                         *p, stk[depth - 1], stk_line[depth - 1],
                         stk[depth - 1] == '{' ? '}' : stk[depth - 1] == '(' ? ')' : ']');
                return 1;
            }
            depth--;
        }
    }
    if (depth > 0) {
        char o = stk[depth - 1];
        *line = stk_line[depth - 1];
        snprintf(out, n, "the '%c' opened on this line is never closed; add the matching '%c'", o,
                 o == '{' ? '}' : o == '(' ? ')' : ']');
        return 1;
    }
    return 0;
}

/* "file:line: syntax error: <libconfig's words> near '<the line>'; <a hint>" */
static void syntax_error(const study_t *s, const config_t *cfg, char *err)
{
    int line = config_error_line(cfg);
    const char *what = config_error_text(cfg) ? config_error_text(cfg) : "syntax error";
    const char *p = s->text;
    for (int l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    char near[80] = "";
    if (p) {
        p += strspn(p, " \t");
        int k = (int)strcspn(p, "\r\n");
        snprintf(near, sizeof near, " near '%.*s%s'", k > 60 ? 60 : k, p, k > 60 ? "..." : "");
        for (char *q = near; *q; q++) /* keep the message printable and on one line */
            if ((unsigned char)*q < 32 || (unsigned char)*q == 127) *q = '?';
    }
    const char *hint = "check this line and the one before for a missing ';', quote, '}' or ')' "
                       "(libconfig: key = value; lists [..] or (..); groups {..})";
    if (strstr(what, "mismatched element type"))
        hint = "an array [..] holds one type: write whole numbers as 1.0 next to decimals, or use a list (..)";
    else if (strstr(what, "duplicate setting"))
        hint = "a key appears twice in the same group; keep one";
    if (!strcmp(what, "syntax error")) {
        what = ""; /* libconfig's usual words; don't say them twice */
        int bl;
        char bmsg[160];
        if (bracket_problem(s->text, &bl, bmsg, sizeof bmsg)) {
            const char *bf = map_line(s, &bl);
            int stop = line;
            map_line(s, &stop);
            snprintf(err, SPEC_ERR_LEN, "%s:%d: syntax error: %s (the parser stopped at line %d)", bf, bl, bmsg, stop);
            return;
        }
    }
    const char *file = map_line(s, &line);
    snprintf(err, SPEC_ERR_LEN, "%s:%d: syntax error%s%s%s; %s", file, line, *what ? ": " : "", what, near, hint);
}

/* ---- the text libconfig parses ------------------------------------------ */

typedef struct {
    char *p;
    size_t n, cap;
} strbuf_t;

static int sb_add(strbuf_t *b, const char *x, size_t k)
{
    if (b->n + k + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + k + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) return -1;
        b->p = q, b->cap = c;
    }
    memcpy(b->p + b->n, x, k);
    b->n += k;
    b->p[b->n] = 0;
    return 0;
}

static int map_add(const char *file, int line)
{
    if (g_map.n == g_map.cap) {
        int c = g_map.cap ? 2 * g_map.cap : 256;
        srcline_t *v = realloc(g_map.v, c * sizeof *v);
        if (!v) return -1;
        g_map.v = v, g_map.cap = c;
    }
    g_map.v[g_map.n].file = file;
    g_map.v[g_map.n++].line = line;
    return 0;
}

#define SPEC_MAX_TEXT (16 << 20)
#define SPEC_MAX_INCLUDE_DEPTH 10

static int expand_file(study_t *s, const char *path, const char *from, int from_line, int depth,
                       strbuf_t *out, char *err);

/* Offset of the first byte of t[0..n) that is not well-formed UTF-8, or -1. */
static long utf8_bad(const unsigned char *t, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = t[i];
        size_t k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 && c >= 0xC2 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 && c <= 0xF4 ? 3 : 9;
        if (k == 9 || i + k >= n + (k == 0)) return (long)i;
        for (size_t j = 1; j <= k; j++)
            if ((t[i + j] & 0xC0) != 0x80) return (long)i;
        if ((k == 2 && c == 0xE0 && t[i + 1] < 0xA0) || (k == 3 && c == 0xF0 && t[i + 1] < 0x90) ||
            (k == 3 && c == 0xF4 && t[i + 1] > 0x8F) || (k == 2 && c == 0xED && t[i + 1] > 0x9F))
            return (long)i; /* overlong, beyond U+10FFFF, or a surrogate */
        i += k + 1;
    }
    return -1;
}

/* Append text (from file `file`) to out line by line, replacing each
 * `@include "F"` line by F's expanded text, as libconfig would read it (F
 * relative to the working directory).  A UTF-8 byte-order mark (Windows
 * editors write one) is dropped: libconfig would call it a syntax error. */
static int expand_text(study_t *s, const char *file, const char *text, int depth, strbuf_t *out, char *err)
{
    char *name = strdup(file);
    char **fl = realloc(g_map.files, (g_map.nfiles + 1) * sizeof *fl);
    if (!name || !fl) {
        free(name);
        if (fl) g_map.files = fl;
        snprintf(err, SPEC_ERR_LEN, "%s: out of memory", file);
        return -1;
    }
    g_map.files = fl;
    g_map.files[g_map.nfiles++] = name;
    if (!strncmp(text, "\xEF\xBB\xBF", 3)) text += 3;
    int line = 1;
    for (const char *p = text; *p; line++) {
        const char *e = strchr(p, '\n');
        size_t k = e ? (size_t)(e - p) + 1 : strlen(p);
        long bad = utf8_bad((const unsigned char *)p, k);
        if (bad >= 0) {
            /* the spec is stored in the result file as UTF-8 text; other
             * bytes there break every reader (h5py, xarray, report.py) */
            snprintf(err, SPEC_ERR_LEN, "%s:%d: byte 0x%02X at column %ld is not UTF-8 text (a file saved as Latin-1 or Windows-1252?); save the spec as UTF-8",
                     file, line, (unsigned char)p[bad], bad + 1);
            return -1;
        }
        const char *q = p + strspn(p, " \t");
        if (!strncmp(q, "@include", 8) && (q[8] == ' ' || q[8] == '\t')) {
            q += 8 + strspn(q + 8, " \t");
            const char *close = *q == '"' ? memchr(q + 1, '"', k - (size_t)(q + 1 - p)) : NULL;
            if (!close) {
                snprintf(err, SPEC_ERR_LEN, "%s:%d: @include needs a file name in double quotes, e.g. @include \"common.cfg\"", file, line);
                return -1;
            }
            char inc[SPEC_PATH_LEN];
            if ((size_t)(close - q - 1) >= sizeof inc) {
                snprintf(err, SPEC_ERR_LEN, "%s:%d: @include path longer than %d characters; shorten it", file, line, SPEC_PATH_LEN - 1);
                return -1;
            }
            snprintf(inc, sizeof inc, "%.*s", (int)(close - q - 1), q + 1);
            if (depth >= SPEC_MAX_INCLUDE_DEPTH) {
                snprintf(err, SPEC_ERR_LEN, "%s:%d: @include \"%s\" nested more than %d deep (a file that includes itself?); flatten the includes",
                         file, line, inc, SPEC_MAX_INCLUDE_DEPTH);
                return -1;
            }
            if (expand_file(s, inc, file, line, depth + 1, out, err)) return -1;
        } else if (sb_add(out, p, k) || map_add(name, line)) {
            snprintf(err, SPEC_ERR_LEN, "%s: out of memory", file);
            return -1;
        }
        p += k;
    }
    if (out->n && out->p[out->n - 1] != '\n' && sb_add(out, "\n", 1)) return -1;
    if (out->n > SPEC_MAX_TEXT) {
        snprintf(err, SPEC_ERR_LEN, "%s: the spec with its includes is over 16 MiB; specs are small text files", s->path);
        return -1;
    }
    return 0;
}

/* Read a spec (or included) file and expand it into out. */
static int expand_file(study_t *s, const char *path, const char *from, int from_line, int depth,
                       strbuf_t *out, char *err)
{
    char where[SPEC_PATH_LEN + 64] = "";
    if (from) snprintf(where, sizeof where, "%s:%d: @include \"%s\": ", from, from_line, path);
    const char *what = from ? "the included file" : "the spec";
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(err, SPEC_ERR_LEN, "%s%s: is a directory, not a spec file; give the path of a .cfg file", where, path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, SPEC_ERR_LEN, "%s%s: cannot read %s (%s); check the path", where, path, what, strerror(errno));
        return -1;
    }
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > SPEC_MAX_TEXT) {
        fclose(f);
        if (n < 0) snprintf(err, SPEC_ERR_LEN, "%s%s: cannot read %s (not a regular file); give the path of a .cfg file", where, path, what);
        else snprintf(err, SPEC_ERR_LEN, "%s%s: not a spec file (%ld bytes); specs are small text files (at most 16 MiB)", where, path, n);
        return -1;
    }
    char *t = malloc(n + 1);
    if (!t || fread(t, 1, n, f) != (size_t)n) {
        fclose(f);
        free(t);
        snprintf(err, SPEC_ERR_LEN, "%s%s: read failed (%s)", where, path, strerror(errno));
        return -1;
    }
    t[n] = 0;
    fclose(f);
    if (strlen(t) != (size_t)n) {
        free(t);
        snprintf(err, SPEC_ERR_LEN, "%s%s: contains NUL bytes, so it is not a text spec; give the path of a .cfg file", where, path);
        return -1;
    }
    int rc = expand_text(s, path, t, depth, out, err);
    free(t);
    return rc;
}

/* libconfig 1.5 reads an integer literal with atoi(), so 4294967306 became
 * 10 and seed 4294967297 became 1.  Parse every integer literal here at full
 * width: one beyond 64 bits is refused; the others get libconfig's 'L'
 * suffix (a 64-bit setting; all of them, so that an array mixing small and
 * large integers keeps one type), so that every value reaches the range
 * checks whole.  Strings and comments are skipped.  Returns the text to
 * parse (malloc'd), or NULL with err set. */
static char *widen_integers(const study_t *s, const char *t, char *err)
{
    strbuf_t b = {0};
    int line = 1;
    const char *p = t, *copied = t;
    while (*p) {
        if (*p == '\n') { line++; p++; continue; }
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\n') line++;
                if (*p == '\\' && p[1]) p++;
            }
            if (*p) p++;
            continue;
        }
        if (*p == '#' || (*p == '/' && p[1] == '/')) {
            while (*p && *p != '\n') p++;
            continue;
        }
        if (*p == '/' && p[1] == '*') {
            for (p += 2; *p && !(*p == '*' && p[1] == '/'); p++)
                if (*p == '\n') line++;
            if (*p) p += 2;
            continue;
        }
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '*' || *p == '@') {
            while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                   *p == '_' || *p == '*' || *p == '-' || *p == '@')
                p++;
            continue;
        }
        int sign = (*p == '-' || *p == '+') && p[1] >= '0' && p[1] <= '9';
        if (!sign && !(*p >= '0' && *p <= '9')) { p++; continue; }
        const char *tok = p;
        p += sign;
        int hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
        int isfloat = 0;
        if (hex) {
            p += 2;
            while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')) p++;
        } else {
            while (*p >= '0' && *p <= '9') p++;
            if (*p == '.') { isfloat = 1; p++; while (*p >= '0' && *p <= '9') p++; }
            if (*p == 'e' || *p == 'E') {
                const char *q = p + 1;
                if (*q == '+' || *q == '-') q++;
                if (*q >= '0' && *q <= '9') {
                    isfloat = 1;
                    for (p = q; *p >= '0' && *p <= '9'; p++) {}
                }
            }
        }
        if (isfloat) continue; /* atof: full double; non-finite ones are refused later */
        int has_l = *p == 'L';
        char num[64];
        size_t k = (size_t)(p - tok);
        snprintf(num, sizeof num, "%.*s", (int)(k < 63 ? k : 63), tok);
        errno = 0;
        long long v = hex ? (long long)strtoull(num + sign, NULL, 16) : strtoll(num, NULL, 10);
        if (hex && sign && num[0] == '-') v = -v;
        if (errno == ERANGE || k > 40 || (hex && k - sign > 18)) {
            free(b.p);
            int l = line;
            const char *file = map_line(s, &l);
            snprintf(err, SPEC_ERR_LEN, "%s:%d: the number %.40s%s is beyond the 64-bit integer range; give a smaller value",
                     file, l, num, k > 40 ? "..." : "");
            return NULL;
        }
        (void)v;
        if (!has_l) { /* every integer 64-bit: an array [50, 4294967396] keeps one type */
            if (sb_add(&b, copied, (size_t)(p - copied)) || sb_add(&b, "L", 1)) goto oom;
            copied = p;
        }
        p += has_l;
    }
    if (sb_add(&b, copied, strlen(copied))) goto oom;
    return b.p;
oom:
    free(b.p);
    snprintf(err, SPEC_ERR_LEN, "%s: out of memory", s->path);
    return NULL;
}

static int load(study_t *s, const char *path, const char *text, char *err);

int spec_load(study_t *s, const char *path, const char *text, char *err)
{
    err[0] = 0;
    int rc = load(s, path, text, err);
    if (rc) {
        if (!err[0]) snprintf(err, SPEC_ERR_LEN, "%s: invalid spec", path);
        util_one_line(err);
    }
    return rc;
}

/* The study's defaults before the spec is read: param_info's table, moons data, one test set. */
static void set_defaults(study_t *s, const char *path)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->reuse_epochs = 1;
    s->curve_points = SPEC_CURVE_POINTS;
    s->scaler = SCALER_NONE;
    s->label_column = -1;
    s->pool = SPEC_DEFAULT_POOL;
    s->noise = SPEC_DEFAULT_NOISE;
    s->train_fraction = 2.0 / 3.0;
    for (int p = 0; p < P_COUNT; p++) s->defaults[p] = param_info[p].def;
}

/* s->text is the effective spec (every @include expanded, without a byte-order mark): what is
 * stored in the result file and compared on --resume.  libconfig parses it with its integers
 * widened.  0 with cfg read, or -1 with err set. */
static int read_spec(study_t *s, const char *path, const char *text, config_t *cfg, char *err)
{
    strbuf_t eff = {0};
    if (text ? expand_text(s, path, text, 0, &eff, err) : expand_file(s, path, NULL, 0, 0, &eff, err)) {
        free(eff.p);
        return -1;
    }
    s->text = eff.p ? eff.p : strdup("");
    if (!s->text) {
        snprintf(err, SPEC_ERR_LEN, "%s: out of memory", path);
        return -1;
    }
    if (s->text[strspn(s->text, " \t\r\n")] == 0) {
        snprintf(err, SPEC_ERR_LEN, "%s: the spec is empty; see jobs/quick.cfg for an example", path);
        return -1;
    }
    char *parse_text = widen_integers(s, s->text, err);
    if (!parse_text) return -1;
    int parsed = config_read_string(cfg, parse_text);
    free(parse_text);
    if (!parsed) {
        syntax_error(s, cfg, err);
        return -1;
    }
    return 0;
}

/* study, seed, output and the study-wide switches. */
static int parse_top(study_t *s, config_setting_t *root, char *err)
{
    if (check_keys_rules(s, root, "the spec", top_rules, top_other, err)) return -1;
    if (get_str(s, root, "study", s->study, sizeof s->study, 1, err)) return -1;
    if (!valid_name(s->study))
        return fail(err, s, config_setting_get_member(root, "study"), "study \"%s\": use letters, digits, '_' or '-'", s->study);
    config_setting_t *c = config_setting_get_member(root, "seed");
    if (!c) return fail(err, s, root, "missing key 'seed'; every study needs an explicit seed (e.g. seed = 1;)");
    double v;
    if (get_number(s, c, "seed", &v, err)) return -1;
    /* below 2^53, exact in a double; as a double 2^53 + 1 is 2^53, so the integer is checked too */
    int whole = config_setting_type(c) != CONFIG_TYPE_FLOAT;
    if (v < 0 || v != floor(v) || v > 9007199254740992.0 ||
        (whole && (config_setting_get_int64(c) < 0 || config_setting_get_int64(c) > (1LL << 53)))) {
        char vs[32];
        if (whole) snprintf(vs, sizeof vs, "%lld", config_setting_get_int64(c));
        else num_text(v, vs, sizeof vs);
        return fail(err, s, c, "seed: %s is not valid; use a non-negative integer up to 9007199254740992 (2^53)", vs);
    }
    /* a seed written 5.0 is a float setting: take the checked value, not get_int64 (0) */
    s->seed = config_setting_type(c) == CONFIG_TYPE_FLOAT ? (uint64_t)v : (uint64_t)config_setting_get_int64(c);
    if (parse_keys(s, root, top_rules, "", s, err)) return -1;
    if (!s->output[0]) snprintf(s->output, sizeof s->output, "results/%s.h5", s->study);
    char md[32] = "";
    if (get_str(s, root, "model_data", md, sizeof md, 0, err)) return -1;
    if (md[0] && strcmp(md, "full") && strcmp(md, "weights"))
        return fail(err, s, config_setting_get_member(root, "model_data"),
                    "model_data: \"%s\" is unknown; use \"full\" (weights, codes, reconstructions) or \"weights\"", md);
    s->model_data = !strcmp(md, "weights");
    return 0;
}

/* data.source and the keys that only some sources take (path, labels, pixels). */
static int parse_source(study_t *s, config_setting_t *g, char *err)
{
    char src[32] = "";
    if (get_str(s, g, "source", src, sizeof src, 1, err)) return -1;
    s->source = -1;
    for (int i = 0; i < SRC_COUNT; i++)
        if (!strcmp(src, spec_source_names[i])) s->source = i;
    if (s->source < 0)
        return fail(err, s, config_setting_get_member(g, "source"),
                    "data.source: \"%s\" is unknown; use \"moons\", \"digits\", \"csv\", \"hdf5\", \"idx\" or \"npy\"", src);
    int arrays = s->source == SRC_IDX || s->source == SRC_NPY;
    if (get_str(s, g, "path", s->data_path, sizeof s->data_path, s->source != SRC_MOONS && s->source != SRC_DIGITS, err))
        return -1;
    if (get_str(s, g, "labels", s->labels_path, sizeof s->labels_path, 0, err)) return -1;
    if (s->labels_path[0] && !arrays)
        return fail(err, s, config_setting_get_member(g, "labels"), "data.labels applies to source = \"idx\" or \"npy\"; %s",
                    s->source == SRC_MOONS ? "moons points carry their labels" : "a CSV holds its labels in a column (label_column)");
    s->pixels = DATA_PIXELS_AUTO;
    char px[32] = "";
    if (get_str(s, g, "pixels", px, sizeof px, 0, err)) return -1;
    if (px[0] && !arrays)
        return fail(err, s, config_setting_get_member(g, "pixels"), "data.pixels applies to source = \"idx\" or \"npy\"; drop it (use scaler for other data)");
    if (px[0] && (s->pixels = data_pixels_parse(px)) < 0)
        return fail(err, s, config_setting_get_member(g, "pixels"), "data.pixels: \"%s\" is unknown; use \"unit\" (uint8 / 255, the default) or \"raw\" (0..255)", px);
    if (s->source == SRC_MOONS && s->data_path[0])
        return fail(err, s, config_setting_get_member(g, "path"), "data.path: moons data is generated, not read; drop 'path' or use source = \"csv\" or \"hdf5\"");
    /* the shipped copy: in the checkout, next to an installed binary, ... (paths.h) */
    if (s->source == SRC_DIGITS && !s->data_path[0]) paths_find_data("digits.csv.gz", s->data_path, sizeof s->data_path);
    if (s->source == SRC_DIGITS) s->label_column = -2;
    return 0;
}

/* data = { source = ...; ... }: the training pool. */
static int parse_data(study_t *s, config_setting_t *root, char *err)
{
    config_setting_t *g = config_setting_get_member(root, "data");
    if (!g) return fail(err, s, root, "missing group 'data' (e.g. data = { source = \"moons\"; };)");
    if (!config_setting_is_group(g)) return fail(err, s, g, "data: a group { source = ...; } is needed");
    if (check_keys_rules(s, g, "data", data_rules, data_other, err)) return -1;
    if (parse_source(s, g, err)) return -1;
    if (parse_keys(s, g, data_rules, "data.", s, err)) return -1;
    s->pool_given = config_setting_get_member(g, "pool") != NULL;
    int pair = s->source != SRC_MOONS && s->train_fraction == 1.0;
    if (s->pool_given && s->source != SRC_MOONS && !pair)
        return fail(err, s, config_setting_get_member(g, "pool"), "data.pool applies to moons and to a train/test pair of files (train_fraction = 1); a split file's pool is its training split");
    char sc[32] = "";
    if (get_str(s, g, "scaler", sc, sizeof sc, 0, err)) return -1;
    if (sc[0] && (s->scaler = scaler_kind_parse(sc)) < 0)
        return fail(err, s, config_setting_get_member(g, "scaler"), "data.scaler: \"%s\" is unknown; use \"none\", \"standard\" or \"minmax\"", sc);
    return 0;
}

/* One element of tests = ( {...}, ... ). */
static int parse_test(study_t *s, config_setting_t *t, int i, char *err)
{
    test_spec_t *ts = &s->tests[i];
    int arrays = s->source == SRC_IDX || s->source == SRC_NPY;
    int pair = s->source != SRC_MOONS && s->train_fraction == 1.0;
    if (!config_setting_is_group(t)) return fail(err, s, t, "tests: each test set is a group { name = \"...\"; }");
    if (check_keys(s, t, "a test set", test_keys, err)) return -1;
    if (get_str(s, t, "name", ts->name, sizeof ts->name, 1, err)) return -1;
    if (!valid_name(ts->name)) return fail(err, s, t, "test name \"%s\": use letters, digits, '_' or '-'", ts->name);
    for (int j = 0; j < i; j++)
        if (!strcmp(s->tests[j].name, ts->name)) return fail(err, s, t, "test name \"%s\" used twice", ts->name);
    ts->noise = s->noise;
    ts->size = s->source == SRC_MOONS ? SPEC_DEFAULT_TEST_SIZE : 0;
    if (get_num_key(s, t, "noise", &ts->noise, 0, err)) return -1;
    if (ts->noise < 0 || ts->noise > SPEC_MAX_NOISE)
        return fail(err, s, config_setting_get_member(t, "noise"), "tests.noise: %g is out of range; use 0..%g", ts->noise, SPEC_MAX_NOISE);
    double sz = (double)ts->size;
    config_setting_t *size = config_setting_get_member(t, "size");
    if (get_num_key(s, t, "size", &sz, 0, err)) return -1;
    if (get_str(s, t, "path", ts->path, sizeof ts->path, 0, err)) return -1;
    if (s->source != SRC_MOONS && size && !ts->path[0])
        return fail(err, s, size, "tests.size applies to moons test sets and to test files ('path'); a file's held-out split is all of its rows");
    if (size && (sz < 2 || sz > 1e9 || sz != floor(sz)))
        return fail(err, s, size, "tests.size: %g is not valid; use an integer >= 2", sz);
    ts->size = (long)sz;
    if (s->source == SRC_MOONS && ts->path[0])
        return fail(err, s, t, "tests.path: moons test sets are generated; drop 'path' or use a file source");
    if (pair && !ts->path[0])
        return fail(err, s, t, "test set \"%s\" has no path, but train_fraction = 1 leaves no held-out rows; give it the test file (path = \"...\")", ts->name);
    if (get_str(s, t, "labels", ts->labels_path, sizeof ts->labels_path, 0, err)) return -1;
    if (ts->labels_path[0] && (!arrays || !ts->path[0]))
        return fail(err, s, config_setting_get_member(t, "labels"), "tests.labels applies to an idx or npy test file ('path'); %s",
                    arrays ? "the held-out split keeps the data file's labels" : "drop it");
    return 0;
}

/* tests = ( ... ), or the one test set "test" when absent. */
static int parse_tests(study_t *s, config_setting_t *root, char *err)
{
    config_setting_t *g = config_setting_get_member(root, "tests");
    int pair = s->source != SRC_MOONS && s->train_fraction == 1.0;
    if (!g && pair)
        return fail(err, s, root, "train_fraction = 1 trains on the whole file: add tests = ( { name = \"test\"; path = \"...\"; } ); with the test file");
    if (!g) {
        s->ntests = 1;
        snprintf(s->tests[0].name, SPEC_NAME_LEN, "test");
        s->tests[0].noise = s->noise;
        s->tests[0].size = s->source == SRC_MOONS ? SPEC_DEFAULT_TEST_SIZE : 0;
        return 0;
    }
    if (!config_setting_is_list(g)) return fail(err, s, g, "tests: a list ( { name = \"...\"; }, ... ) is needed");
    int n = config_setting_length(g);
    if (n < 1 || n > SPEC_MAX_TESTS) return fail(err, s, g, "tests: %d test sets; give 1..%d", n, SPEC_MAX_TESTS);
    for (int i = 0; i < n; i++)
        if (parse_test(s, config_setting_get_elem(g, i), i, err)) return -1;
    s->ntests = n;
    return 0;
}

/* stages = ( ... ), then the checks that need every stage (select, dataset names). */
static int parse_stages(study_t *s, config_setting_t *root, char *err)
{
    config_setting_t *g = config_setting_get_member(root, "stages");
    if (!g || !config_setting_is_list(g) || config_setting_length(g) < 1)
        return fail(err, s, g ? g : root, "stages: a non-empty list ( { name = \"S1\"; axes = {...}; }, ... ) is needed");
    if (config_setting_length(g) > SPEC_MAX_STAGES) return fail(err, s, g, "stages: at most %d stages", SPEC_MAX_STAGES);
    s->nstages = config_setting_length(g);
    for (int k = 0; k < s->nstages; k++)
        if (parse_stage(s, config_setting_get_elem(g, k), k, err)) return -1;
    if (check_select(s, g, err)) return -1;
    return check_names(s, root, err);
}

static int load(study_t *s, const char *path, const char *text, char *err)
{
    set_defaults(s, path);
    map_reset();
    config_t cfg;
    config_init(&cfg);
    int rc = -1;
    if (read_spec(s, path, text, &cfg, err)) goto out;
    config_setting_t *root = config_root_setting(&cfg), *g;
    if (parse_top(s, root, err) || parse_data(s, root, err) || parse_tests(s, root, err)) goto out;
    if ((g = config_setting_get_member(root, "defaults")) && parse_param_group(s, g, "defaults", s->defaults, NULL, err))
        goto out;
    rc = parse_stages(s, root, err);
out:
    config_destroy(&cfg);
    map_reset();
    return rc;
}

void spec_free(study_t *s)
{
    if (!s) return;
    for (int k = 0; k < SPEC_MAX_STAGES; k++)
        for (int i = 0; i < s->stages[k].naxes; i++) free(s->stages[k].axes[i].values);
    free(s->text);
    memset(s, 0, sizeof *s);
}

/* Every value parameter p can take in stage k, whatever its source: the
 * axis values, the fixed value, the default, or for an inherited parameter
 * every value it can take in the stage it comes from (the best cell is not
 * known before that stage runs).  Returns the count (at most max, distinct);
 * *from names the source for messages. */
static int stage_values(const study_t *s, int k, int p, double *vals, int max, const char **from)
{
    const stage_spec_t *st = &s->stages[k];
    for (int i = 0; i < st->naxes; i++)
        if (st->axes[i].param == p) {
            int n = st->axes[i].nvalues < max ? st->axes[i].nvalues : max;
            memcpy(vals, st->axes[i].values, n * sizeof(double));
            *from = "axes";
            return n;
        }
    const search_spec_t *ss = &st->search;
    for (int j = 0; ss->has_sample && j < ss->space.nparams; j++)
        if (ss->space.params[j].param == p) {
            /* a range: its ends (every check_value rule is monotone in the value) */
            const sample_param_t *q = &ss->space.params[j];
            int n = q->dist == DIST_CHOICE ? (q->nchoices < max ? q->nchoices : max) : 2;
            if (q->dist == DIST_CHOICE) memcpy(vals, q->choices, n * sizeof(double));
            else vals[0] = q->lo, vals[1] = q->hi;
            *from = "sample.space";
            return n;
        }
    if (ss->has_halving && p == P_EPOCHS) {
        vals[0] = (double)ss->min_epochs, vals[1] = (double)ss->max_epochs;
        *from = "halving";
        return 2;
    }
    if (st->has_fixed[p]) { vals[0] = st->fixed[p]; *from = "fixed"; return 1; }
    if (st->inherit[p] && k > 0) {
        const char *f;
        int n = stage_values(s, k - 1, p, vals, max, &f);
        *from = "inherited";
        return n;
    }
    vals[0] = s->defaults[p];
    *from = "defaults";
    return 1;
}

/* Every value a parameter can take in stage k, with its own line for
 * messages; one code path for values from every source.  mmd: the stage may
 * train with the MMD loss (some mmd_lambda it can take is > 0). */
static int check_value(const study_t *s, int k, int p, double v, const char *from, int in_dim,
                       size_t pool, int mmd, char *err)
{
    const stage_spec_t *st = &s->stages[k];
    char where[SPEC_PATH_LEN + 160];
    snprintf(where, sizeof where, "%s:%d: stage %s: %s.%s", st->file[0] ? st->file : s->path, st->line, st->name, from,
             param_names[p]);
    if (p == P_TRAIN_SIZE && v > (double)pool) {
        snprintf(err, SPEC_ERR_LEN, "%s = %g is above the training pool of %zu rows; lower it%s",
                 where, v, pool, s->source == SRC_MOONS ? " or enlarge data.pool" : " or raise data.train_fraction");
        return -1;
    }
    if (p == P_HIDDEN && s->hidden_above_input) {
        /* The reference study keeps every hidden layer wider than the input,
         * so that the bottleneck is the only narrowing of the network
         * (opt-in: hidden_above_input = true). */
        double hp[P_COUNT] = {[P_HIDDEN] = v};
        model_arch_t a = spec_model_arch(s, hp, in_dim);
        int e[MODEL_MAX_ENC], k = model_encoder_widths(&a, e), narrow = 0;
        for (int i = 0; i < k; i++)
            if (e[i] <= in_dim) narrow = e[i];
        if (narrow) {
            char val[160];
            spec_format_value(s, p, v, val, sizeof val);
            snprintf(err, SPEC_ERR_LEN, "%s = %s: width %d is not above the input size %d; use hidden > %d or drop hidden_above_input (every hidden layer is wider than the input)", where, val, narrow, in_dim, in_dim);
            return -1;
        }
    }
    if (p == P_BOTTLENECK && v > 64 && mmd) {
        snprintf(err, SPEC_ERR_LEN, "%s = %g is above 64 with the MMD loss (mmd_lambda > 0 in this stage); use at most 64", where, v);
        return -1;
    }
    return 0;
}

static int check_data(const study_t *s, int in_dim, size_t pool_rows, char *err);

int spec_check_data(const study_t *s, int in_dim, size_t pool_rows, char *err)
{
    err[0] = 0;
    int rc = check_data(s, in_dim, pool_rows, err);
    if (rc) util_one_line(err);
    return rc;
}

static int check_data(const study_t *s, int in_dim, size_t pool_rows, char *err)
{
    double *vals = malloc(SPEC_MAX_AXIS_VALUES * sizeof(double));
    if (!vals) {
        snprintf(err, SPEC_ERR_LEN, "%s: out of memory", s->path);
        return -1;
    }
    int rc = 0;
    for (int k = 0; k < s->nstages && !rc; k++) {
        const char *from;
        int mmd = 0;
        int n = stage_values(s, k, P_MMD_LAMBDA, vals, SPEC_MAX_AXIS_VALUES, &from);
        for (int i = 0; i < n; i++) mmd |= vals[i] > 0;
        for (int p = 0; p < P_COUNT && !rc; p++) {
            n = stage_values(s, k, p, vals, SPEC_MAX_AXIS_VALUES, &from);
            for (int i = 0; i < n && !rc; i++)
                rc = check_value(s, k, p, vals[i], from, in_dim, pool_rows, mmd, err);
        }
    }
    free(vals);
    return rc;
}

model_arch_t spec_model_arch(const study_t *s, const double *hp, int in_dim)
{
    model_arch_t a = {.in = in_dim, .hidden = (int)hp[P_HIDDEN], .layers = (int)hp[P_LAYERS],
                      .bottleneck = (int)hp[P_BOTTLENECK], .kind = (int)hp[P_ARCH],
                      .act = (int)hp[P_ACTIVATION]};
    int i = hp[P_HIDDEN] < 0 ? (int)(-hp[P_HIDDEN]) - 1 : -1;
    if (i >= 0 && i < s->nwlists) {
        a.nwidths = s->wlist_len[i];
        memcpy(a.widths, s->wlist[i], a.nwidths * sizeof(int));
        a.hidden = a.widths[0];
    }
    return a;
}

void spec_format_value(const study_t *s, int p, double v, char *buf, size_t len)
{
    int i = (int)v;
    if (p == P_HIDDEN && v < 0 && -i - 1 < s->nwlists) {
        size_t n = (size_t)snprintf(buf, len, "[");
        for (int k = 0; k < s->wlist_len[-i - 1] && n < len; k++)
            n += (size_t)snprintf(buf + n, len - n, "%s%d", k ? ", " : "", s->wlist[-i - 1][k]);
        if (n < len) snprintf(buf + n, len - n, "]");
    } else if (p == P_ARCH && (v == 0 || v == 1))
        snprintf(buf, len, "%s", arch_names[i]);
    else if (p == P_ACTIVATION && v >= 0 && v <= 2 && v == i)
        snprintf(buf, len, "%s", act_names[i]);
    else if (p == P_MMD_KERNEL && (v == 0 || v == 1))
        snprintf(buf, len, "%s", kernel_names[i]);
    else
        snprintf(buf, len, "%.17g", v);
}
