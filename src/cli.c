/* cli.c - the aesweep command line: a table of commands (run, validate,
 * info, train, ...), each with its own option table, in the manner of git's
 * commands[] and parse-options.
 *
 * Parsing only: every command is a call into the library.  A bad flag gets
 * one line naming the flag, the bad value and the fix, and exit code 2.
 *
 * The tables at the bottom of the file are the one description of the
 * command line: `aesweep --help`, `aesweep COMMAND --help`, the COMMANDS
 * section of the man page (generated at build time from `--man-commands`,
 * docs/aesweep.1.in) and bash completion (`--complete`, completion/aesweep)
 * are all printed from them, and the dispatcher refuses a flag that the
 * command's table lacks, so the help cannot drift from what is accepted.
 * To add a command: write `static int cmd_X(int argc, char **argv)`, give it
 * a `cli_option_t X_options[]` table and one row in `commands[]`.  To add a
 * flag to a command: parse it in the command's function and add a row to its
 * option table.
 */
#include "aesweep/cli.h"
#include "aesweep/budget.h"
#include "aesweep/journal.h"
#include "aesweep/outdir.h"
#include "aesweep/options.h"
#include "aesweep/paths.h"
#include "aesweep/plan.h"
#include "aesweep/results.h"
#include "aesweep/spec.h"
#include "aesweep/status.h"
#include "aesweep/signals.h"
#include "aesweep/sweep.h"
#include "aesweep/study.h"
#include "aesweep/task.h"
#include "aesweep/validate.h"
#include "aesweep/util.h"
#include "aesweep/version.h"
#include <cblas.h>
#include <hdf5.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The run-time options (options.h), read once from the environment by
 * cli_main before any command runs; the commands pass them down. */
static options_t g_opts;

/* One option of a command.  `arg` names its value (NULL: a switch); a value
 * made of words separated by '|' lists the choices, which completion offers;
 * an UPPERCASE word in it (FILE.csv) stands for a file name. */
typedef struct {
    const char *flag;  /* "--epochs" */
    const char *alias; /* "-o", or NULL */
    const char *arg;   /* "N", "rbf|imq", "OUT.h5", or NULL for a switch */
    const char *help;  /* one line, ending with the default where there is one */
    int param;         /* OPT_PARAM(p): the flag sets parameter p, whose default (spec.h's
                          param_info) the help appends; 0: none */
} cli_option_t;
#define OPT_PARAM(p) ((p) + 1)
#define STR_(x) #x
#define STR(x) STR_(x)

/* One command line parsed against a command's option table: the value of each row (NULL: not
 * given; "" for a switch given; the last one when given twice) and the operands in order. */
enum { CLI_MAX_OPTIONS = 40, CLI_MAX_OPERANDS = 4 };
typedef struct {
    const cli_option_t *options;
    const char *val[CLI_MAX_OPTIONS];
    const char *operand[CLI_MAX_OPERANDS];
    int noperands;
} cli_args_t;

/* One command.  `fn` gets main's argc/argv unchanged (argv[1] is the command's name and its
 * arguments start at argv[2]) and the same arguments parsed against its option table. */
typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv, const cli_args_t *a);
    const char *operands;         /* what follows the name besides options: "SPEC", "RESULT.h5", "" */
    const char *summary;          /* one line for `aesweep --help` */
    const char *description;      /* a paragraph for `COMMAND --help` and the man page */
    const cli_option_t *options;  /* ends with a row whose flag is NULL */
} cli_command_t;

static int bad(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "aesweep: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see aesweep --help)\n");
    return AES_EXIT_USAGE;
}

static int parse_num(const char *flag, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x)) return bad("%s: '%s' is not a number", flag, v);
    *out = x;
    return 0;
}

/* ---- train ---------------------------------------------------------------- */

/* A command-line string as a libconfig string literal: quotes and
 * backslashes escaped, control characters as \xNN (a file may be named
 * my"data.csv).  Returns out, or NULL when it does not fit. */
static const char *cfg_quote(char *out, size_t n, const char *v)
{
    size_t k = 0;
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        char e[8];
        if (c == '"' || c == '\\') snprintf(e, sizeof e, "\\%c", c);
        else if (c < 32 || c == 127) snprintf(e, sizeof e, "\\x%02x", c);
        else e[0] = (char)c, e[1] = 0;
        size_t el = strlen(e);
        if (k + el + 1 > n) return NULL;
        memcpy(out + k, e, el);
        k += el;
    }
    out[k] = 0;
    return out;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_str(const char *v)
{
    putchar('"');
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 32) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

/* JSON has no NaN: a metric that does not exist (diverged) is null. */
static void json_num(const char *key, double v)
{
    if (isfinite(v)) printf(", \"%s\": %.17g", key, v);
    else printf(", \"%s\": null", key);
}

/* The value of a flag of the command's table, or NULL when not given. */
static const char *arg_of(const cli_args_t *a, const char *flag)
{
    for (int i = 0; a->options[i].flag; i++)
        if (!strcmp(a->options[i].flag, flag)) return a->val[i];
    return NULL;
}

/* aesweep train's flags, read once and checked: every parameter starts at param_info's default. */
typedef struct {
    const char *data, *scaler, *stage, *labels, *test, *test_labels, *pixels;
    const char *hidden;        /* as given: a width or a list "512,256"; NULL: the default */
    int has_pool, has_noise, has_test_size; /* 0: the spec's default */
    double pool, noise, test_size;
    double v[P_COUNT];         /* parameters; arch, activation and mmd_kernel by index */
    double repeat;
    unsigned long long seed;
    int json, above;
} train_flags_t;

/* --seed at full width: a seed is a 64-bit integer below 2^53 (exact in a double), not a double. */
static int parse_seed(const char *val, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (val[0] >= '0' && val[0] <= '9' && (*out = strtoull(val, &end, 10), !*end)) {
        if (errno == ERANGE || *out > (1ULL << 53))
            return bad("--seed: '%s' is out of range; use an integer 0..9007199254740992%s", val, "");
        return 0;
    }
    double x;
    if (parse_num("--seed", val, &x)) return AES_EXIT_USAGE;
    if (x < 0 || x != floor(x) || x > 9007199254740992.0)
        return bad("--seed: '%s' must be an integer 0..9007199254740992%s", val, "");
    *out = (unsigned long long)x;
    return 0;
}

static int train_read_flags(const cli_args_t *a, train_flags_t *f)
{
    memset(f, 0, sizeof *f);
    for (int p = 0; p < P_COUNT; p++) f->v[p] = param_info[p].def;
    f->seed = 1;
    f->data = arg_of(a, "--data") ? arg_of(a, "--data") : "moons";
    f->scaler = arg_of(a, "--scaler") ? arg_of(a, "--scaler") : "none";
    f->stage = arg_of(a, "--stage") ? arg_of(a, "--stage") : "train";
    f->labels = arg_of(a, "--labels"), f->test = arg_of(a, "--test"), f->test_labels = arg_of(a, "--test-labels");
    f->pixels = arg_of(a, "--pixels"), f->hidden = arg_of(a, "--hidden");
    f->json = arg_of(a, "--json") != NULL, f->above = arg_of(a, "--hidden-above-input") != NULL;
    char err[SPEC_ERR_LEN];
    for (int i = 0; a->options[i].flag; i++) {
        int p = a->options[i].param - 1;
        const char *val = a->val[i];
        if (p < 0 || p == P_HIDDEN || !val) continue;
        if (param_info[p].names ? param_parse_name(p, val, a->options[i].flag, &f->v[p], err, sizeof err)
                                : (parse_num(a->options[i].flag, val, &f->v[p]) ? (err[0] = 0, -1)
                                   : param_check(p, f->v[p], a->options[i].flag, err, sizeof err))) {
            if (err[0]) fprintf(stderr, "aesweep: %s (see aesweep train --help)\n", err);
            return AES_EXIT_USAGE;
        }
    }
    /* data sizes and noise: numbers here, ranges checked by the spec parser (data.pool, ...) */
    const char *nums[] = {"--pool", "--noise", "--test-size"};
    double *dst[] = {&f->pool, &f->noise, &f->test_size};
    int *has[] = {&f->has_pool, &f->has_noise, &f->has_test_size};
    for (int i = 0; i < 3; i++)
        if ((*has[i] = arg_of(a, nums[i]) != NULL) && parse_num(nums[i], arg_of(a, nums[i]), dst[i])) return AES_EXIT_USAGE;
    if (arg_of(a, "--seed") && parse_seed(arg_of(a, "--seed"), &f->seed)) return AES_EXIT_USAGE;
    if (arg_of(a, "--repeat") && parse_num("--repeat", arg_of(a, "--repeat"), &f->repeat)) return AES_EXIT_USAGE;
    if (f->repeat < 0 || f->repeat != floor(f->repeat) || f->repeat >= 100000)
        return bad("--repeat must be an integer 0..99999 (a stage has at most 100000 repeats)%s%s", "", "");
    /* --hidden 512,256: encoder widths; checked by the spec parser */
    if (f->hidden && (strlen(f->hidden) > 200 || !*f->hidden || strspn(f->hidden, "0123456789, ") != strlen(f->hidden)))
        return bad("--hidden: '%s' is not a width or a list of widths; use e.g. --hidden 256 or --hidden 512,256%s", f->hidden, "");
    return 0;
}

/* The data and tests lines of the one-stage spec for train's --data (moons, digits or a file). */
static int train_data_text(const train_flags_t *f, char *data, size_t dn, char *tests, size_t tn)
{
    char q_data[4096], q_labels[4096] = "", q_test[4096] = "", q_tlabels[4096] = "", q_scaler[256];
    if (!cfg_quote(q_data, sizeof q_data, f->data)) return bad("--data: the path is longer than %s characters%s", "1000", "");
    if ((f->labels && !cfg_quote(q_labels, sizeof q_labels, f->labels)) || (f->test && !cfg_quote(q_test, sizeof q_test, f->test)) ||
        (f->test_labels && !cfg_quote(q_tlabels, sizeof q_tlabels, f->test_labels)))
        return bad("--labels, --test, --test-labels: a path is longer than %s characters%s", "1000", "");
    if (!cfg_quote(q_scaler, sizeof q_scaler, f->scaler)) return bad("--scaler: '%s' is unknown; use none, standard or minmax%s", "(long)", "");
    /* IDX and .npy by name (their headers are checked when read) */
    size_t dl = strlen(f->data);
#define ENDS(x) (dl >= sizeof(x) - 1 && !strcmp(f->data + dl - (sizeof(x) - 1), x))
    int is_npy = ENDS(".npy") || ENDS(".npy.gz");
    int is_idx = ENDS("ubyte") || ENDS("ubyte.gz") || ENDS(".idx") || ENDS(".idx.gz");
#undef ENDS
    int is_h5 = strstr(f->data, ".h5:/") || strstr(f->data, ".hdf5:/");
    int moons = !strcmp(f->data, "moons"), digits = !strcmp(f->data, "digits");
    if ((f->labels || f->test_labels || f->pixels) && !is_npy && !is_idx)
        return bad("--labels, --test-labels and --pixels apply to IDX and .npy data; '%s' is neither (a name ending in -ubyte, .idx or .npy, optionally .gz)%s", f->data, "");
    if (f->test && (moons || digits)) return bad("--test applies to data files; %s has its own test set%s", f->data, "");
    if (f->test_labels && !f->test) return bad("--test-labels needs --test FILE%s%s", "", "");
    if (f->pixels && strcmp(f->pixels, "unit") && strcmp(f->pixels, "raw"))
        return bad("--pixels: '%s' is unknown; use unit (uint8 / 255) or raw (0..255)%s", f->pixels, "");
    size_t k = (size_t)snprintf(data, dn, "data = { source = \"%s\";", moons ? "moons" : digits ? "digits" : is_h5 ? "hdf5" : is_npy ? "npy" : is_idx ? "idx" : "csv");
    tests[0] = 0;
    if (moons) {
        if (f->has_pool) k += (size_t)snprintf(data + k, dn - k, " pool = %.17g;", f->pool);
        if (f->has_noise) k += (size_t)snprintf(data + k, dn - k, " noise = %.17g;", f->noise);
        /* the test set's noise is the pool's (spec default) unless --noise says otherwise, as before */
        int t = snprintf(tests, tn, "tests = ( { name = \"test\";");
        if (f->has_test_size) t += snprintf(tests + t, tn - t, " size = %.17g;", f->test_size);
        snprintf(tests + t, tn - t, " } );\n");
    } else if (!digits) {
        k += (size_t)snprintf(data + k, dn - k, " path = \"%s\";", q_data);
        if (f->labels) k += (size_t)snprintf(data + k, dn - k, " labels = \"%s\";", q_labels);
        if (f->pixels) k += (size_t)snprintf(data + k, dn - k, " pixels = \"%s\";", f->pixels);
        if (f->test) k += (size_t)snprintf(data + k, dn - k, " train_fraction = 1;");
        if (f->test && f->has_pool) k += (size_t)snprintf(data + k, dn - k, " pool = %.17g;", f->pool);
    }
    if (f->test) { /* a train/test pair: the test file is the test set, its first --test-size rows if given */
        int t = snprintf(tests, tn, "tests = ( { name = \"test\"; path = \"%s\";", q_test);
        if (f->has_test_size) t += snprintf(tests + t, tn - t, " size = %.17g;", f->test_size);
        if (f->test_labels) t += snprintf(tests + t, tn - t, " labels = \"%s\";", q_tlabels);
        snprintf(tests + t, tn - t, " } );\n");
    }
    snprintf(data + k, dn - k, " scaler = \"%s\"; };\n", q_scaler);
    return 0;
}

/* The one-stage spec of train's flags: the same parser, validator and task code as `run` then
 * make a study's cell and `train` agree exactly.  Returns malloc'd text, or NULL after a message. */
static char *train_spec_text(const train_flags_t *f, int *rc)
{
    char q_stage[256], hid[256] = "", data[16600], tests[8600];
    if ((*rc = train_data_text(f, data, sizeof data, tests, sizeof tests))) return NULL;
    if (!cfg_quote(q_stage, sizeof q_stage, f->stage)) {
        *rc = bad("--stage: the name is too long%s%s", "", "");
        return NULL;
    }
    if (f->hidden) snprintf(hid, sizeof hid, " hidden = [%s];", f->hidden);
    else snprintf(hid, sizeof hid, " hidden = %.17g;", f->v[P_HIDDEN]);
    char *text = malloc(65536);
    if (!text) {
        fprintf(stderr, "aesweep: out of memory\n");
        *rc = AES_EXIT_RUNTIME;
        return NULL;
    }
    int n = snprintf(text, 65536, "study = \"train\";\nseed = %llu;\nhidden_above_input = %s;\n%s%sdefaults = {%s",
                     f->seed, f->above ? "true" : "false", data, tests, hid);
    for (int p = 0; p < P_COUNT; p++) {
        if (p == P_HIDDEN) continue;
        if (param_info[p].names) n += snprintf(text + n, 65536 - n, " %s = \"%s\";", param_names[p], param_info[p].names[(int)f->v[p]]);
        else n += snprintf(text + n, 65536 - n, " %s = %.17g;", param_names[p], f->v[p]);
    }
    snprintf(text + n, 65536 - n, " };\nstages = ( { name = \"%s\"; } );\n", q_stage);
    return text;
}

/* The study of train's flags, opened as `run` opens one (study.h: spec,
 * data, checks), and its one-task plan. */
static int train_setup(const train_flags_t *f, study_ctx_t *c, plan_t *p)
{
    int rc = 0;
    char *text = train_spec_text(f, &rc), err[SPEC_ERR_LEN];
    if (!text) return rc;
    study_source_t src = {.spec_path = "(train flags)", .text = text, .data_label = "--data", .check_data = 1,
                          .kernel = &g_opts.model};
    rc = study_open(c, &src, err) || plan_build(p, &c->s, 0, NULL, NULL, err);
    free(text);
    if (rc) {
        fprintf(stderr, "aesweep: %s\n", err);
        study_close(c);
        return AES_EXIT_USAGE;
    }
    p->tasks[0].repeat = (int)f->repeat;
    return 0;
}

static void train_print(const train_flags_t *f, const study_t *s, const plan_t *p, int status,
                        const double *vals, double wall)
{
    int nt = s->ntests;
    if (!f->json) {
        printf("status     %s\n", train_status_name(status));
        printf("train_mse  %.8g\n", vals[nt]);
        printf("test_mse   %.8g\n", vals[0]);
        for (int m = nt + 1; m < p->nmetrics; m++) printf("%-10s %.8g\n", p->metric_names[m], vals[m]);
        printf("seconds    %.3f\n", wall);
        return;
    }
    const double *v = s->defaults;
    char hv[200];
    spec_format_value(s, P_HIDDEN, v[P_HIDDEN], hv, sizeof hv);
    printf("{\"data\": ");
    json_str(f->data);
    printf(", \"train_size\": %.0f, \"epochs\": %.0f, \"lr\": %.17g, \"hidden\": %s, "
           "\"layers\": %.0f, \"bottleneck\": %.0f, \"batch_size\": %.0f, \"arch\": \"%s\", "
           "\"activation\": \"%s\", \"seed\": %llu, \"status\": \"%s\"",
           v[P_TRAIN_SIZE], v[P_EPOCHS], v[P_LR], hv, v[P_LAYERS], v[P_BOTTLENECK], v[P_BATCH_SIZE],
           param_info[P_ARCH].names[(int)v[P_ARCH]], param_info[P_ACTIVATION].names[(int)v[P_ACTIVATION]],
           f->seed, train_status_name(status));
    json_num("train_mse", vals[nt]);
    json_num("test_mse", vals[0]);
    for (int m = nt + 1; m < p->nmetrics; m++) json_num(p->metric_names[m], vals[m]);
    printf(", \"seconds\": %.6f}\n", wall);
}

/* ---- train --spec --trial: a trial of a search stage -------------------------
 * Trial T of search stage S of a spec, from the spec itself: its data, test sets (every one, by its
 * own name) and seed, the stage's values and trial T's (plan_build draws them exactly as `run` does,
 * or takes the grid cell a halving trial stands for), trained from its initialisation to --epochs
 * (default: the trial's largest) by the same task code as `run`.  Its metrics equal the result
 * file's at a rung of that many epochs bit for bit, however the run got there (a promoted trial
 * continued from its carried state).  Values the spec alone cannot give are flags, which override the
 * trial's: a tpe stage's proposals (they come from earlier rounds' results) and the values a stage
 * inherits (the previous stage's best); both are in the result file. */

/* given[p]: a flag sets parameter p.  Refuses the flags --spec replaces (data, seed) and a width list. */
static int trial_flags(const cli_args_t *a, const train_flags_t *f, int *given, double *v)
{
    static const char *const ok[] = {"--spec", "--trial", "--stage", "--repeat", "--json", NULL};
    for (int i = 0; a->options[i].flag; i++) {
        const char *fl = a->options[i].flag;
        int k = 0;
        while (ok[k] && strcmp(ok[k], fl)) k++;
        if (a->val[i] && !ok[k] && !a->options[i].param)
            return bad("%s: with --spec the data, the test sets and the seed come from the spec; drop %s", fl, fl);
    }
    if (!arg_of(a, "--stage") || !arg_of(a, "--trial"))
        return bad("--spec needs --stage NAME and --trial T: trial T of that search stage%s%s", "", "");
    for (int p = 0; p < P_COUNT; p++) {
        int i = 0;
        while (a->options[i].flag && a->options[i].param != OPT_PARAM(p)) i++;
        given[p] = a->options[i].flag && a->val[i];
        v[p] = f->v[p];
    }
    if (given[P_HIDDEN]) {
        if (strchr(f->hidden, ','))
            return bad("--hidden %s: with --spec give one width (a trial's width list comes with --trial)%s", f->hidden, "");
        v[P_HIDDEN] = strtod(f->hidden, NULL);
        char err[SPEC_ERR_LEN];
        if (param_check(P_HIDDEN, v[P_HIDDEN], "--hidden", err, sizeof err)) {
            fprintf(stderr, "aesweep: %s (see aesweep train --help)\n", err);
            return AES_EXIT_USAGE;
        }
    }
    return 0;
}

/* The stage named by --stage, its plan and the task that trains trial T from its initialisation,
 * its values set: the trial's, then the flags'.  0, or an exit code after one line. */
static int trial_plan(const study_t *s, const train_flags_t *f, const int *given, const double *v, const char *tv,
                      plan_t *p, size_t *id)
{
    int k = -1;
    for (int i = 0; i < s->nstages; i++)
        if (!strcmp(s->stages[i].name, f->stage)) k = i;
    if (k < 0) return bad("--stage %s: the spec has no stage of that name (--spec %s)", f->stage, s->path);
    const stage_spec_t *st = &s->stages[k];
    if (!st->search.has_sample && !st->search.has_halving)
        return bad("--stage %s is a grid stage; --trial takes a search stage (sample or halving). Train a grid "
                   "cell with its values as flags, --stage %s --seed ... (README \"Reproducibility\")", f->stage, f->stage);
    for (int q = 0; q < P_COUNT; q++)
        if (st->inherit[q] && !given[q])
            return bad("stage %s inherits %s from the previous stage's best: give it as a flag (the stage's "
                       "attribute of that name in the result file)", f->stage, param_names[q]);
    for (int i = 0; st->search.sampler == SEARCH_TPE && st->search.has_sample && i < st->search.space.nparams; i++)
        if (!given[st->search.space.params[i].param])
            return bad("stage %s proposes its trials with tpe from the results of earlier rounds: give the trial's %s "
                       "as a flag (its coordinate along `trial` in the result file)", f->stage,
                       param_names[st->search.space.params[i].param]);
    char err[SPEC_ERR_LEN];
    if (plan_build(p, s, k, v, "(flags)", err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        return AES_EXIT_USAGE;
    }
    double t = -1;
    char n[32];
    snprintf(n, sizeof n, "%zu", p->ntrials ? p->ntrials - 1 : 0);
    if (parse_num("--trial", tv, &t)) {
        plan_free(p);
        return AES_EXIT_USAGE;
    }
    if (t < 0 || t != floor(t) || t >= (double)p->ntrials) {
        plan_free(p);
        return bad("--trial %s: the stage's trials are 0..%s", tv, n);
    }
    for (*id = 0; *id < p->ntasks; ++*id) {
        const task_t *x = &p->tasks[*id];
        if (x->trial == (long)t && x->start_epoch == 0 && x->prev_task < 0 && !x->absent && x->draw == 0 &&
            x->repeat == (int)f->repeat)
            break;
    }
    if (*id == p->ntasks) {
        plan_free(p);
        snprintf(n, sizeof n, "%.0f", f->repeat);
        return bad("--repeat %s: stage %s has no such repeat of a trial", n, f->stage);
    }
    task_t *x = &p->tasks[*id];
    memcpy(x->hp, p->trial_hp + (size_t)t * P_COUNT, sizeof x->hp); /* epochs: the trial's largest */
    for (int q = 0; q < P_COUNT; q++)
        if (given[q]) x->hp[q] = v[q];
    return 0;
}

/* The trial's values and every metric by its result-file name (test_mse_<set>, train_mse, ...). */
static void trial_print(const train_flags_t *f, const study_t *s, const plan_t *p, size_t id, int status,
                        const double *vals, double wall)
{
    const task_t *x = &p->tasks[id];
    char val[200];
    if (!f->json) {
        printf("stage      %s\ntrial      %ld\n", f->stage, x->trial);
        for (int q = 0; q < P_COUNT; q++) {
            spec_format_value(s, q, x->hp[q], val, sizeof val);
            printf("%-10s %s\n", param_names[q], val);
        }
        printf("status     %s\n", train_status_name(status));
        for (int m = 0; m < p->nmetrics; m++) printf("%-10s %.17g\n", p->metric_names[m], vals[m]);
        printf("seconds    %.3f\n", wall);
        return;
    }
    printf("{\"spec\": ");
    json_str(s->path);
    printf(", \"stage\": ");
    json_str(f->stage);
    printf(", \"trial\": %ld, \"repeat\": %d, \"seed\": %llu", x->trial, x->repeat, (unsigned long long)s->seed);
    for (int q = 0; q < P_COUNT; q++) {
        spec_format_value(s, q, x->hp[q], val, sizeof val);
        printf(", \"%s\": ", param_names[q]);
        if (param_info[q].names || val[0] == '[') json_str(val);
        else printf("%s", val);
    }
    printf(", \"status\": \"%s\"", train_status_name(status));
    json_num("test_mse", vals[0]); /* the first test set's, as train without --spec prints it */
    for (int m = 0; m < p->nmetrics; m++) json_num(p->metric_names[m], vals[m]);
    printf(", \"seconds\": %.6f}\n", wall);
}

static int train_trial(const cli_args_t *a, const train_flags_t *f)
{
    int given[P_COUNT], rc;
    double v[P_COUNT];
    if ((rc = trial_flags(a, f, given, v))) return rc;
    study_ctx_t c;
    study_source_t src = {.spec_path = arg_of(a, "--spec"), .check_data = 1, .kernel = &g_opts.model};
    char err[SPEC_ERR_LEN];
    if (study_open(&c, &src, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        study_close(&c);
        return AES_EXIT_USAGE;
    }
    plan_t p;
    size_t id;
    if ((rc = trial_plan(&c.s, f, given, v, arg_of(a, "--trial"), &p, &id))) {
        study_close(&c);
        return rc;
    }
    signals_install();
    double vals[PLAN_MAX_METRICS], secs;
    int8_t st;
    double t0 = util_mono_seconds();
    int status = task_run(&c.sd, &p, id, vals, &st, &secs, NULL, NULL, NULL);
    trial_print(f, &c.s, &p, id, status, vals, util_mono_seconds() - t0);
    plan_free(&p);
    study_close(&c);
    if (status == TRAIN_INTERRUPTED) return AES_EXIT_INTERRUPTED;
    return status == TRAIN_OK || status == TRAIN_DIVERGED ? AES_EXIT_OK : AES_EXIT_RUNTIME;
}

static int cmd_train(const cli_args_t *a)
{
    train_flags_t f;
    int rc = train_read_flags(a, &f);
    if (rc) return rc;
    if (arg_of(a, "--spec")) return train_trial(a, &f);
    if (arg_of(a, "--trial")) return bad("--trial T needs --spec SPEC and --stage NAME: trial T of that search stage%s%s", "", "");
    study_ctx_t c;
    plan_t p;
    if ((rc = train_setup(&f, &c, &p))) return rc;
    signals_install();
    double vals[PLAN_MAX_METRICS], secs;
    int8_t st;
    double t0 = util_mono_seconds();
    int status = task_run(&c.sd, &p, 0, vals, &st, &secs, NULL, NULL, NULL);
    train_print(&f, &c.s, &p, status, vals, util_mono_seconds() - t0);
    plan_free(&p);
    study_close(&c);
    if (status == TRAIN_INTERRUPTED) return AES_EXIT_INTERRUPTED;
    return status == TRAIN_OK || status == TRAIN_DIVERGED ? AES_EXIT_OK : AES_EXIT_RUNTIME;
}

/* ---- run / validate ------------------------------------------------------ */

/* run's and validate's options (their tables: run_options, validate_options) into o. */
static int parse_sweep_opts(const cli_args_t *a, sweep_opts_t *o, int validate)
{
    memset(o, 0, sizeof *o);
    o->opt = g_opts; /* the run-time options (options.h) */
    const char *cmd = validate ? "validate" : "run", *v;
    o->output = arg_of(a, "--output");
    o->resume = !validate && arg_of(a, "--resume");
    o->fresh = !validate && arg_of(a, "--fresh");
    o->quiet = arg_of(a, "--quiet") != NULL;
    if (validate && (v = arg_of(a, "--ranks"))) {
        double r;
        if (parse_num("--ranks", v, &r)) return AES_EXIT_USAGE;
        if (r < 1 || r != floor(r) || r > 1e7) return bad("--ranks: '%s' must be a positive integer%s", v, "");
        o->predict_ranks = (int)r;
    }
    if ((v = arg_of(a, "--max-mem-gb"))) {
        if (parse_num("--max-mem-gb", v, &o->max_mem_gb)) return AES_EXIT_USAGE;
        if (!(o->max_mem_gb > 0)) return bad("--max-mem-gb: '%s' must be positive%s", v, "");
    }
    if (a->noperands > 1) return bad("one spec at a time: '%s' after '%s'", a->operand[1], a->operand[0]);
    if (!a->noperands) return bad("%s needs a spec file, e.g. jobs/quick.cfg%s", cmd, "");
    o->spec_path = a->operand[0];
    if (o->resume && o->fresh) return bad("--resume and --fresh contradict each other; pick one%s%s", "", "");
    return 0;
}

/* ---- info ---------------------------------------------------------------- */

/* info, status and export live in status.c and export.c */
static int cmd_info(int argc, char **argv, const cli_args_t *a) { (void)a; return status_info_main(argc - 2, argv + 2); }
static int cmd_status(int argc, char **argv, const cli_args_t *a) { (void)a; return status_main(argc - 2, argv + 2); }
static int cmd_export(int argc, char **argv, const cli_args_t *a) { (void)a; return export_main(argc - 2, argv + 2); }

/* ---- the commands' tables ------------------------------------------------- */

static int cmd_validate(int argc, char **argv, const cli_args_t *a)
{
    (void)argc, (void)argv;
    sweep_opts_t o;
    int rc = parse_sweep_opts(a, &o, 1);
    return rc ? rc : validate_study(&o);
}

/* True when no launcher started us: neither mpirun (Open MPI sets
 * OMPI_COMM_WORLD_SIZE), a PMIx/PMI launcher (PMIX_RANK, PMI_RANK, PMI_SIZE:
 * srun --mpi=..., MPICH's hydra) nor Slurm (SLURM_PROCID).  Unsure counts as
 * launched: the caller then only skips a shortcut. */
static int singleton(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 0;
    return 1;
}

/* A singleton run's checks (see cmd_run): the study opened as every rank
 * opens it (study.h) and the output admitted as rank 0 admits it
 * (outdir.h), with this node's memory for one rank.  0, or the exit code
 * after printing the refusal; od->note is printed here. */
static int run_preflight(const sweep_opts_t *o, study_ctx_t *study, outdir_t *od)
{
    char err[SPEC_ERR_LEN] = "";
    double limit = budget_mem_limit(o->max_mem_gb, 1);
    study_source_t src = {.spec_path = o->spec_path, .mem_limit = limit, .check_data = 1, .kernel = &o->opt.model};
    if (study_open(study, &src, err) || outdir_admit(od, study, o, limit, 1, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        return AES_EXIT_USAGE;
    }
    if (od->note[0] && !o->quiet) fprintf(stderr, "aesweep: %s\n", od->note);
    return 0;
}

/* AESWEEP_STARTED_FILE: once every rank is past MPI_Init (a barrier), rank 0
 * creates that file.  A job script tells by it a launch that never got
 * going - a rank lost inside MPI start-up, which Open MPI 4.1's TCP wire-up
 * does now and then under load - from a study that failed: jobs/study.sbatch
 * launches the first once more (docs/cluster.md).  A crash after it is the
 * study's. */
static void announce_started(void)
{
    if (!g_opts.started_file[0]) return;
    MPI_Barrier(MPI_COMM_WORLD);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank != 0) return;
    int fd = open(g_opts.started_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        fprintf(stderr, "aesweep: warning: AESWEEP_STARTED_FILE %s: %s (a job script cannot tell this launch started)\n",
                g_opts.started_file, strerror(errno));
    else
        close(fd);
}

static int cmd_run(int argc, char **argv, const cli_args_t *a)
{
    sweep_opts_t o;
    int rc = parse_sweep_opts(a, &o, 0);
    if (rc) return rc;
    /* Handlers before MPI_Init (a signal during start-up is then a clean
     * stop at the first stage) and again after it, in case the MPI
     * library installed its own. */
    signals_install();
    /* Open MPI: unless the user (or mpirun --mca pml X) chose a PML, use
     * ob1.  aesweep sends a few small messages per task, which any BTL
     * (shared memory, TCP) carries well, while probing the high-speed
     * PMLs (UCX, PSM2, OFI) costs ~0.2 s of every start (measured: 0.31
     * s -> 0.10 s for MPI_Init + MPI_Finalize at -np 2).  Ignored by
     * other MPIs; AESWEEP_MPI_DEFAULTS=0 turns it off.
     * Not done, on purpose: TCP_NODELAY on the PMIx client's loopback
     * socket would save the 40 ms MPI_Finalize's fence waits for a
     * delayed ACK, but with it a singleton run (no mpirun) crashed or
     * hung in Open MPI 4.1's finalize about once in 300 runs under
     * load (0 in 600 without it). */
    /* A singleton makes every check of a run before MPI_Init, with
     * sweep_run's own messages (the same study_open and outdir_admit), so
     * that a refused run never starts Open MPI, and hands the open study and
     * the admitted output to sweep_run.  Why: in Open MPI 4.1
     * mca_pmix_ext3x.so hands every PMIx event (MPI_Init itself notifies
     * one, the programming model) to the OPAL progress thread, and a
     * singleton's MPI_Finalize dlcloses mca_pmix_ext3x.so before it joins
     * that thread.  A run refused a few ms after MPI_Init on a busy machine
     * can reach the dlclose before the thread has run the event: SIGSEGV in
     * libevent's call of ext3x's unmapped process_event, and Open MPI's
     * SIGSEGV handler faults again in libgcc_s printing the backtrace (exit
     * 139; ~1 in 450-3000 refused runs under load; core in notes/crash.md).
     * Keeping the component mapped (RTLD_NODELETE) turns the crash into a
     * hang: the late handler then calls into the finalized PMIx.  Not an
     * _exit() after MPI_Finalize: the fault is inside MPI_Finalize.  Under a
     * launcher (several ranks) the checks run after MPI_Init (sweep_run):
     * a run that trains is far less exposed. */
    study_ctx_t study;
    outdir_t od;
    memset(&study, 0, sizeof study);
    memset(&od, 0, sizeof od);
    if (singleton()) {
        rc = run_preflight(&o, &study, &od);
        if (rc || od.action == OUTDIR_COMPLETE) { /* refused, or nothing to do */
            outdir_close(&od);
            study_close(&study);
            return rc;
        }
        o.opened = &study;
        o.admitted = &od;
    }
    if (g_opts.mpi_defaults) setenv("OMPI_MCA_pml", "ob1", 0);
    MPI_Init(&argc, &argv);
    signals_install();
    announce_started();
    rc = sweep_run(&o);
    MPI_Finalize();
    outdir_close(&od);
    study_close(&study);
    return rc;
}

static int cmd_train_main(int argc, char **argv, const cli_args_t *a)
{
    (void)argc, (void)argv;
    return cmd_train(a);
}

static const cli_option_t run_options[] = {
    {"--output", "-o", "OUT.h5", "the result file (default: the spec's output key, else results/STUDY.h5)", 0},
    {"--resume", NULL, NULL, "finish a cut-off run: keep the journal's finished tasks, compute the rest", 0},
    {"--fresh", NULL, NULL, "start over, deleting an earlier run's journal and result file", 0},
    {"--quiet", NULL, NULL, "no progress lines", 0},
    {"--max-mem-gb", NULL, "G", "refuse a stage that needs more than G GB per rank", 0},
    {NULL, NULL, NULL, NULL, 0}};

static const cli_option_t validate_options[] = {
    {"--output", "-o", "OUT.h5", "the result file whose folder must be writable (default as for run)", 0},
    {"--ranks", NULL, "N", "predict the makespan at N ranks (default 1)", 0},
    {"--quiet", NULL, NULL, "accepted for symmetry with run", 0},
    {"--max-mem-gb", NULL, "G", "the memory limit per rank to check against, in GB", 0},
    {NULL, NULL, NULL, NULL, 0}};

static const cli_option_t info_options[] = {
    {"--json", NULL, NULL, "print one JSON object: the file's metadata, its stages and the journal's run", 0},
    {NULL, NULL, NULL, NULL, 0}};

static const cli_option_t status_options[] = {
    {"--json", NULL, NULL, "print one JSON object (one per redraw with --watch)", 0},
    {"--watch", NULL, NULL, "redraw every 2 s (or every SECONDS given after it) until the run ends", 0},
    {"--snapshot", NULL, "SNAP.h5", "write what is finished as a partial result file, for the report", 0},
    {NULL, NULL, NULL, NULL, 0}};

static const cli_option_t export_options[] = {
    {"--csv", NULL, "OUT.csv", "the CSV file to write (- for standard output)", 0},
    {"--stage", NULL, "NAME", "only this stage (default every stage)", 0},
    {NULL, NULL, NULL, NULL, 0}};

static const cli_option_t train_options[] = {
    {"--data", NULL, "moons|digits|FILE.csv|FILE.h5:/dataset|FILE.npy|FILE.idx|FILE.gz",
     "the data set (default moons); a name ending in .npy is a numpy array, one ending in -ubyte or .idx an IDX file (either may end .gz)", 0},
    {"--labels", NULL, "FILE", "labels of an IDX/.npy data file (IDX or .npy, 1-d; kept for analysis)", 0},
    {"--test", NULL, "FILE", "a test file: train on all of --data, test on FILE (default: a seeded 2/3 : 1/3 split of --data)", 0},
    {"--test-labels", NULL, "FILE", "labels of the --test file", 0},
    {"--pixels", NULL, "unit|raw", "uint8 IDX/.npy pixels divided by 255, or kept as 0..255 (default unit)", 0},
    {"--train-size", NULL, "N", "training rows", OPT_PARAM(P_TRAIN_SIZE)},
    {"--epochs", NULL, "N", "training epochs", OPT_PARAM(P_EPOCHS)},
    {"--lr", NULL, "X", "Adam learning rate", OPT_PARAM(P_LR)},
    {"--hidden", NULL, "N|N,N,..", "encoder widths, e.g. 512,256; the decoder mirrors them", OPT_PARAM(P_HIDDEN)},
    {"--layers", NULL, "N", "more layers of the last hidden width on each side of the code", OPT_PARAM(P_LAYERS)},
    {"--bottleneck", NULL, "N", "width of the code", OPT_PARAM(P_BOTTLENECK)},
    {"--arch", NULL, "mlp|resnet", "resnet: residual blocks between equal widths", OPT_PARAM(P_ARCH)},
    {"--activation", NULL, "relu|tanh|elu", "activation after every hidden layer", OPT_PARAM(P_ACTIVATION)},
    {"--hidden-above-input", NULL, NULL, "refuse hidden widths not above the input size (the reference study's rule)", 0},
    {"--batch-size", NULL, "N", "rows per Adam step, 0 = full batch", OPT_PARAM(P_BATCH_SIZE)},
    {"--seed", NULL, "N", "the study seed (default 1)", 0},
    {"--scaler", NULL, "none|standard|minmax", "input scaling fitted on the training rows (default none)", 0},
    {"--noise", NULL, "X", "moons: noise of the training pool and the test set (default " STR(SPEC_DEFAULT_NOISE) ")", 0},
    {"--pool", NULL, "N", "moons: size of the training pool (default " STR(SPEC_DEFAULT_POOL) "); with --test: the first N rows of --data (default all)", 0},
    {"--test-size", NULL, "N", "moons: size of the test set (default " STR(SPEC_DEFAULT_TEST_SIZE) "); with --test: the first N rows of the test file (default all)", 0},
    {"--mmd-lambda", NULL, "X", "weight of the MMD penalty on the codes, 0 = none", OPT_PARAM(P_MMD_LAMBDA)},
    {"--mmd-kernel", NULL, "rbf|imq", "kernel of the MMD penalty", OPT_PARAM(P_MMD_KERNEL)},
    {"--mmd-scale", NULL, "X", "the kernel's base scale", OPT_PARAM(P_MMD_SCALE)},
    {"--mmd-nscales", NULL, "N", "number of kernel scales", OPT_PARAM(P_MMD_NSCALES)},
    {"--stage", NULL, "NAME", "stage name, for a study cell's seeds (default train)", 0},
    {"--repeat", NULL, "R", "repeat index, for a study cell's seeds (default 0)", 0},
    {"--json", NULL, NULL, "print one JSON object instead of a table", 0},
    {"--spec", NULL, "SPEC.cfg", "with --stage and --trial: a trial of that search stage of SPEC.cfg, with the spec's data, test sets, seed and the trial's values (parameter flags override them)", 0},
    {"--trial", NULL, "T", "with --spec and --stage: the trial to train, from its initialisation to --epochs (default its largest)", 0},
    {NULL, NULL, NULL, NULL, 0}};

/* The order is the order of `aesweep --help` and of the man page. */
static const cli_command_t commands[] = {
    {"run", cmd_run, "SPEC", "run a study (under mpirun or srun for several ranks)",
     "Runs every stage of the study SPEC and writes its result file. Under mpirun or srun every rank "
     "trains; rank 0 also partitions each stage's tasks, journals every finished task in OUT.h5.journal "
     "and writes OUT.h5 at the end. A run stopped by SIGTERM, SIGINT or SIGUSR1 exits 75 with its "
     "finished tasks kept: rerun it with --resume.",
     run_options},
    {"validate", cmd_validate, "SPEC", "check a spec and its data; print cells, tasks, cost and makespan",
     "Checks the spec SPEC and its data before any work (unknown keys, types, ranges, data, output path, "
     "memory per rank) and prints each stage's cells and tasks, the predicted cost and an upper bound of "
     "the makespan at --ranks N ranks. Writes nothing.",
     validate_options},
    {"info", cmd_info, "RESULT.h5", "summarise a result file (stages, completion, best cells)",
     "Prints the stages of the result file RESULT.h5, how complete each is and its best cells; for a run "
     "whose journal RESULT.h5.journal exists, whether it is still running (its lock is held) or was cut "
     "off, and what the journal holds. --json prints it as one JSON object.",
     info_options},
    {"train", cmd_train_main, "", "train one configuration; print training MSE, test MSE and seconds",
     "Trains one autoencoder through the same spec parser and task code as run, and prints the final "
     "training MSE, the test MSE and the wall time. With --stage, --repeat, --seed, --pool and "
     "--test-size it reproduces a study's cell bit for bit. With --spec SPEC --stage NAME --trial T it trains "
     "trial T of a search stage to --epochs (a rung's epochs: the result file's metrics there, bit for bit) "
     "and prints every metric by its result-file name.",
     train_options},
    {"status", cmd_status, "OUT.h5", "watch a study while it runs: tasks, rate, ETA, failures, best so far",
     "Reads a running study's journal (OUT.h5.journal) and lock (OUT.h5.lock), or the result file after "
     "it ends, and prints per stage the tasks done and total, diverged cells, state, ETA and the best cell "
     "so far with its parameters, and whether the run is alive (pid, host, ranks, start, task rate). "
     "--watch redraws until the run ends; --snapshot writes a partial result file the report can draw.",
     status_options},
    {"export", cmd_export, "RESULT.h5", "write a result file as one CSV table (a row per cell x draw x repeat)",
     "Writes the cubes of RESULT.h5 as a tidy CSV table: stage, cell, every parameter (axis, fixed, "
     "inherited or default), draw, repeat, status, seconds and every metric; empty fields for NaN. "
     "analysis.load_runs() returns the same table.",
     export_options},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static const char *EXIT_CODES =
    "exit codes: 0 done; 2 bad command line or input (nothing written); 3 runtime error;\n"
    "            75 interrupted by SIGTERM/SIGINT/SIGUSR1, finished work saved: rerun with --resume\n";

static const cli_command_t *find_command(const char *name)
{
    for (int c = 0; c < NCOMMANDS; c++)
        if (!strcmp(commands[c].name, name)) return &commands[c];
    return NULL;
}

static const cli_option_t *find_option(const cli_command_t *c, const char *a)
{
    for (const cli_option_t *o = c->options; o->flag; o++)
        if (!strcmp(a, o->flag) || (o->alias && !strcmp(a, o->alias))) return o;
    return NULL;
}

static void print_usage(FILE *f)
{
    fputs("usage: aesweep <command> [options]\n       aesweep <command> --help\n\ncommands:\n", f);
    for (int c = 0; c < NCOMMANDS; c++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", commands[c].name, commands[c].operands);
        fprintf(f, "  %-20s %s\n", head, commands[c].summary);
    }
    fputs("  --help, --version\n\n", f);
    fputs(EXIT_CODES, f);
}

/* Word-wraps `text` at 78 columns with an indent. */
static void print_wrapped(FILE *f, const char *text, int indent)
{
    int col = 0;
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (col && col + 1 + (int)n > 78) { fputc('\n', f); col = 0; }
        if (!col) col = fprintf(f, "%*s", indent, "");
        else col += fprintf(f, " ");
        col += fprintf(f, "%.*s", (int)n, p);
        p += n;
        while (*p == ' ') p++;
    }
    if (col) fputc('\n', f);
}

/* An option's help line; a parameter's ends with its default from spec.h's param_info. */
static const char *option_help(const cli_option_t *o, char *buf, size_t n)
{
    if (!o->param) return o->help;
    int p = o->param - 1;
    const param_info_t *q = &param_info[p];
    if (q->names) snprintf(buf, n, "%s (default %s)", o->help, q->names[(int)q->def]);
    else snprintf(buf, n, "%s (default %g)", o->help, q->def);
    return buf;
}

static void print_command_help(const cli_command_t *c)
{
    char hb[256];
    printf("usage: aesweep %s%s%s%s\n\n", c->name, *c->operands ? " " : "", c->operands,
           c->options[0].flag ? " [options]" : "");
    print_wrapped(stdout, c->description, 0);
    if (c->options[0].flag) printf("\noptions:\n");
    for (const cli_option_t *o = c->options; o->flag; o++) {
        char head[96];
        snprintf(head, sizeof head, "%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "", o->flag,
                 o->arg ? " " : "", o->arg ? o->arg : "");
        if (strlen(head) > 24) printf("  %s\n  %-24s %s\n", head, "", option_help(o, hb, sizeof hb));
        else printf("  %-24s %s\n", head, option_help(o, hb, sizeof hb));
    }
    printf("\n%s", EXIT_CODES);
}

/* roff text: a leading '.' or '\'' would be a request, '\' an escape, '-' a hyphen. */
static void roff_text(const char *t)
{
    if (*t == '.' || *t == '\'') fputs("\\&", stdout);
    for (; *t; t++) {
        if (*t == '\\') fputs("\\e", stdout);
        else if (*t == '-') fputs("\\-", stdout);
        else putchar(*t);
    }
}

/* The COMMANDS section of aesweep(1): docs/man.cmake puts it into docs/aesweep.1.in. */
static void print_man_commands(void)
{
    char hb[256];
    for (int c = 0; c < NCOMMANDS; c++) {
        const cli_command_t *k = &commands[c];
        printf(".SS \"aesweep %s%s%s\"\n", k->name, *k->operands ? " " : "", k->operands);
        roff_text(k->description);
        putchar('\n');
        for (const cli_option_t *o = k->options; o->flag; o++) {
            fputs(".TP\n", stdout);
            if (o->alias) printf("\\fB"), roff_text(o->alias), printf("\\fR, ");
            printf("\\fB"), roff_text(o->flag), printf("\\fR");
            if (o->arg) printf(" \\fI"), roff_text(o->arg), printf("\\fR");
            putchar('\n');
            roff_text(option_help(o, hb, sizeof hb));
            putchar('\n');
        }
    }
}

/* For completion/aesweep: the command names, or one command's operands
 * ("@ SPEC") and options ("--flag ARG", "--switch -"), one per line. */
static int print_completion(int argc, char **argv)
{
    if (argc < 3) {
        for (int c = 0; c < NCOMMANDS; c++) puts(commands[c].name);
        return 0;
    }
    const cli_command_t *c = find_command(argv[2]);
    if (!c) return AES_EXIT_USAGE;
    if (*c->operands) printf("@ %s\n", c->operands);
    for (const cli_option_t *o = c->options; o->flag; o++) {
        printf("%s %s\n", o->flag, o->arg ? o->arg : "-");
        if (o->alias) printf("%s %s\n", o->alias, o->arg ? o->arg : "-");
    }
    printf("--help -\n");
    return 0;
}

/* OpenBLAS's pthread build starts its worker threads when the library is
 * loaded, before main, and an idle worker spins (sched_yield) for a while
 * before it sleeps: measured 0.1 s of CPU per process, taken from the other
 * ranks on a full node.  Weak, so that a BLAS without it (OpenBLAS's serial
 * build, another BLAS) links too.  Any later openblas_set_num_threads call
 * would restart the pool; aesweep makes none. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

/* The one option parser: argv (the words after the command's name) against the command's table.
 * A flag the table lacks, or one without its value, is refused here, before the command runs, so
 * the help cannot drift from what is accepted.  A value may start with '-' (--seed -1 is a value,
 * refused by the command with the flag's own message); "-" alone is an operand. */
static int cli_parse(const cli_command_t *c, int argc, char **argv, cli_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->options = c->options;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (w[0] != '-' || !w[1]) {
            if (a->noperands < CLI_MAX_OPERANDS) a->operand[a->noperands++] = w;
            continue;
        }
        const cli_option_t *o = find_option(c, w);
        if (!o) {
            fprintf(stderr, "aesweep: unknown option '%s' for %s (see aesweep %s --help)\n", w, c->name, c->name);
            return AES_EXIT_USAGE;
        }
        if (o->arg && i + 1 >= argc) {
            int file = strchr(o->arg, '.') || !strcmp(o->arg, "FILE");
            fprintf(stderr, "aesweep: %s needs a %s (%s); see aesweep %s --help\n", w, file ? "file name" : "value", o->arg, c->name);
            return AES_EXIT_USAGE;
        }
        a->val[o - c->options] = o->arg ? argv[++i] : "";
    }
    return 0;
}

static int dispatch(int argc, char **argv);

int cli_main(int argc, char **argv)
{
    /* HDF5 closes itself at exit unless told not to: after a failed close
     * (disk full) that handler crashes, so close it here only when safe. */
    H5dont_atexit();
    /* HDF5 prints its whole error stack (a dozen HDF5-DIAG lines) on every
     * failed call; aesweep turns the stack into its one-line messages. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char err[512];
    int rc = AES_EXIT_USAGE;
    if (options_from_env(&g_opts, err, sizeof err))
        fprintf(stderr, "aesweep: %s\n", err);
    else {
        paths_set_data_dir(g_opts.data_dir);
        rc = dispatch(argc, argv);
    }
    if (!results_close_failed()) H5close();
    return rc;
}

static int dispatch(int argc, char **argv)
{
    /* One BLAS thread per process: parallelism comes from MPI ranks.  With
     * one thread OpenBLAS never restarts its pool, so stop it. */
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
    if (argc < 2) {
        print_usage(stderr);
        return AES_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        const cli_command_t *c = argc > 2 ? find_command(argv[2]) : NULL;
        if (c) print_command_help(c);
        else print_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("aesweep %s (commit %s, result schema %d)\n", AESWEEP_VERSION, AESWEEP_GIT_COMMIT, AESWEEP_SCHEMA_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "--man-commands")) { print_man_commands(); return 0; }
    if (!strcmp(cmd, "--complete")) return print_completion(argc, argv);
    const cli_command_t *c = find_command(cmd);
    if (!c) {
        char names[256] = "";
        for (int k = 0; k < NCOMMANDS; k++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", commands[k].name);
        return bad("unknown command '%s'; commands are %s", cmd, names);
    }
    /* --help anywhere (except as an option's value) asks for help */
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_command_help(c);
            return 0;
        }
        const cli_option_t *o = argv[i][0] == '-' && argv[i][1] ? find_option(c, argv[i]) : NULL;
        if (o && o->arg) i++;
    }
    cli_args_t a;
    int rc = cli_parse(c, argc - 2, argv + 2, &a);
    return rc ? rc : c->fn(argc, argv, &a);
}
