/* cli.c - `aesweep train | run | validate | info`, --help, --version.
 *
 * Parsing only: every command is a call into the library.  A bad flag gets
 * one line naming the flag, the bad value and the fix, and exit code 2.
 */
#include "aesweep/cli.h"
#include "aesweep/journal.h"
#include "aesweep/plan.h"
#include "aesweep/results.h"
#include "aesweep/spec.h"
#include "aesweep/sweep.h"
#include "aesweep/task.h"
#include "aesweep/version.h"
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *USAGE =
    "usage: aesweep <command> [options]\n"
    "\n"
    "commands:\n"
    "  run SPEC [-o OUT.h5] [--resume | --fresh] [--quiet] [--max-mem-gb G]\n"
    "        run a study (under mpirun/srun for several ranks)\n"
    "  validate SPEC [-o OUT.h5] [--ranks N] [--max-mem-gb G]\n"
    "        check a spec and its data, print cells, tasks, cost and makespan; writes nothing\n"
    "  info RESULT.h5        summary of a result file (stages, completion, best cells)\n"
    "  train [flags]         train one configuration and print train MSE, test MSE, seconds\n"
    "      --data moons|digits|FILE.csv|FILE.h5:/dataset   (default moons)\n"
    "      --train-size N --epochs N --lr X --hidden N --layers N --bottleneck N\n"
    "      --batch-size N (0 = full batch) --seed N --scaler none|standard|minmax\n"
    "      --noise X --pool N --test-size N   (moons: noise, training pool, test set; defaults 0.1, 10000, 10000)\n"
    "      --mmd-lambda X --mmd-kernel rbf|imq --mmd-scale X --mmd-nscales N\n"
    "      --stage NAME --repeat R   (reproduce cell seeds of a study stage)\n"
    "      --json                    print one JSON object\n"
    "  --help, --version\n"
    "\n"
    "exit codes: 0 done; 2 bad command line or input (nothing written); 3 runtime error;\n"
    "            75 interrupted by SIGTERM/SIGINT/SIGUSR1, finished work saved: rerun with --resume\n";

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

/* JSON has no NaN: a metric that does not exist (diverged) is null. */
static void json_num(const char *key, double v)
{
    if (isfinite(v)) printf(", \"%s\": %.17g", key, v);
    else printf(", \"%s\": null", key);
}

static int cmd_train(int argc, char **argv)
{
    const char *data = "moons", *scaler = "none", *stage = "train", *kernel = "rbf";
    double v[P_COUNT] = {[P_TRAIN_SIZE] = 9000, [P_EPOCHS] = 1000, [P_LR] = 0.002, [P_HIDDEN] = 20,
                         [P_LAYERS] = 3, [P_BOTTLENECK] = 1, [P_BATCH_SIZE] = 0, [P_MMD_LAMBDA] = 0,
                         [P_MMD_KERNEL] = 0, [P_MMD_SCALE] = 1, [P_MMD_NSCALES] = 5};
    double seed = 1, noise = 0.1, repeat = 0, pool = 10000, test_size = 10000;
    int json = 0;
    static const struct { const char *flag; int p; } pf[] = {
        {"--train-size", P_TRAIN_SIZE}, {"--epochs", P_EPOCHS}, {"--lr", P_LR}, {"--hidden", P_HIDDEN},
        {"--layers", P_LAYERS}, {"--bottleneck", P_BOTTLENECK}, {"--batch-size", P_BATCH_SIZE},
        {"--mmd-lambda", P_MMD_LAMBDA}, {"--mmd-scale", P_MMD_SCALE}, {"--mmd-nscales", P_MMD_NSCALES}};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) { json = 1; continue; }
        int matched = 0;
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        for (size_t k = 0; k < sizeof pf / sizeof pf[0]; k++)
            if (!strcmp(a, pf[k].flag)) {
                if (!val) return bad("%s needs a value%s", a, "");
                if (parse_num(a, val, &v[pf[k].p])) return AES_EXIT_USAGE;
                matched = 1;
            }
        if (!matched) {
            if (!val && (!strcmp(a, "--data") || !strcmp(a, "--seed") || !strcmp(a, "--noise") ||
                         !strcmp(a, "--scaler") || !strcmp(a, "--stage") || !strcmp(a, "--repeat") ||
                         !strcmp(a, "--pool") || !strcmp(a, "--test-size") ||
                         !strcmp(a, "--mmd-kernel")))
                return bad("%s needs a value%s", a, "");
            if (!strcmp(a, "--data")) data = val;
            else if (!strcmp(a, "--seed")) { if (parse_num(a, val, &seed)) return AES_EXIT_USAGE; }
            else if (!strcmp(a, "--noise")) { if (parse_num(a, val, &noise)) return AES_EXIT_USAGE; }
            else if (!strcmp(a, "--repeat")) { if (parse_num(a, val, &repeat)) return AES_EXIT_USAGE; }
            else if (!strcmp(a, "--pool")) { if (parse_num(a, val, &pool)) return AES_EXIT_USAGE; }
            else if (!strcmp(a, "--test-size")) { if (parse_num(a, val, &test_size)) return AES_EXIT_USAGE; }
            else if (!strcmp(a, "--scaler")) scaler = val;
            else if (!strcmp(a, "--stage")) stage = val;
            else if (!strcmp(a, "--mmd-kernel")) kernel = val;
            else return bad("unknown flag '%s' for train%s", a, "");
        }
        i++;
    }
    if (seed < 0 || seed != floor(seed)) return bad("--seed: '%s' must be a non-negative integer%s", argv[0], "");
    if (repeat < 0 || repeat != floor(repeat)) return bad("--repeat must be a non-negative integer%s%s", "", "");
    if (strcmp(kernel, "rbf") && strcmp(kernel, "imq")) return bad("--mmd-kernel: '%s' is not a kernel; use rbf or imq%s", kernel, "");
    v[P_MMD_KERNEL] = strcmp(kernel, "imq") ? 0 : 1;
    /* Build a one-stage spec and go through the same parser, validator and
     * task code as `run`, so a cell of a study and `train` agree exactly. */
    char src[128], extra[1400] = "", tests[256] = "";
    if (!strcmp(data, "moons")) {
        snprintf(src, sizeof src, "moons");
        snprintf(extra, sizeof extra, " pool = %.17g; noise = %.17g;", pool, noise);
        snprintf(tests, sizeof tests, "tests = ( { name = \"test\"; noise = %.17g; size = %.17g; } );\n", noise, test_size);
    } else if (!strcmp(data, "digits")) {
        snprintf(src, sizeof src, "digits");
    } else if (strstr(data, ".h5:/") || strstr(data, ".hdf5:/")) {
        snprintf(src, sizeof src, "hdf5");
        snprintf(extra, sizeof extra, " path = \"%s\";", data);
    } else {
        snprintf(src, sizeof src, "csv");
        snprintf(extra, sizeof extra, " path = \"%s\";", data);
    }
    char *text = malloc(8192);
    int n = snprintf(text, 8192, "study = \"train\";\nseed = %.0f;\ndata = { source = \"%s\";%s scaler = \"%s\"; };\n%sdefaults = {",
                     seed, src, extra, scaler, tests);
    for (int p = 0; p < P_COUNT; p++)
        if (p != P_MMD_KERNEL) n += snprintf(text + n, 8192 - n, " %s = %.17g;", param_names[p], v[p]);
    n += snprintf(text + n, 8192 - n, " mmd_kernel = \"%s\"; };\nstages = ( { name = \"%s\"; } );\n", kernel, stage);
    study_t s;
    char err[SPEC_ERR_LEN];
    if (spec_load(&s, "(train flags)", text, err)) {
        free(text);
        fprintf(stderr, "aesweep: %s\n", err);
        spec_free(&s);
        return AES_EXIT_USAGE;
    }
    free(text);
    study_data_t sd;
    if (study_data_load(&sd, &s, err)) {
        fprintf(stderr, "aesweep: --data: %s\n", err);
        spec_free(&s);
        return AES_EXIT_USAGE;
    }
    s.in_dim = sd.in_dim;
    if (spec_check_data(&s, sd.in_dim, sd.pool.n, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        study_data_free(&sd), spec_free(&s);
        return AES_EXIT_USAGE;
    }
    plan_t p;
    if (plan_build(&p, &s, 0, NULL, NULL, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        study_data_free(&sd), spec_free(&s);
        return AES_EXIT_USAGE;
    }
    p.tasks[0].repeat = (int)repeat;
    sweep_install_signals();
    double vals[PLAN_MAX_METRICS];
    int8_t st;
    double secs;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = task_run(&sd, &p, 0, vals, &st, &secs, NULL, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    int nt = s.ntests;
    if (json) {
        printf("{\"data\": \"%s\", \"train_size\": %.0f, \"epochs\": %.0f, \"lr\": %.17g, \"hidden\": %.0f, "
               "\"layers\": %.0f, \"bottleneck\": %.0f, \"batch_size\": %.0f, \"seed\": %.0f, \"status\": \"%s\"",
               data, v[P_TRAIN_SIZE], v[P_EPOCHS], v[P_LR], v[P_HIDDEN], v[P_LAYERS], v[P_BOTTLENECK],
               v[P_BATCH_SIZE], seed, train_status_name(status));
        json_num("train_mse", vals[nt]);
        json_num("test_mse", vals[0]);
        for (int m = nt + 1; m < p.nmetrics; m++) json_num(p.metric_names[m], vals[m]);
        printf(", \"seconds\": %.6f}\n", wall);
    } else {
        printf("status     %s\n", train_status_name(status));
        printf("train_mse  %.8g\n", vals[nt]);
        printf("test_mse   %.8g\n", vals[0]);
        for (int m = nt + 1; m < p.nmetrics; m++) printf("%-10s %.8g\n", p.metric_names[m], vals[m]);
        printf("seconds    %.3f\n", wall);
    }
    plan_free(&p);
    study_data_free(&sd);
    spec_free(&s);
    if (status == TRAIN_INTERRUPTED) return AES_EXIT_INTERRUPTED;
    return status == TRAIN_OK || status == TRAIN_DIVERGED ? AES_EXIT_OK : AES_EXIT_RUNTIME;
}

/* ---- run / validate ------------------------------------------------------ */

static int parse_sweep_opts(int argc, char **argv, sweep_opts_t *o, int validate)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc) return bad("%s needs a file name%s", a, "");
            o->output = argv[++i];
        } else if (!validate && !strcmp(a, "--resume")) o->resume = 1;
        else if (!validate && !strcmp(a, "--fresh")) o->fresh = 1;
        else if (!strcmp(a, "--quiet")) o->quiet = 1;
        else if (validate && !strcmp(a, "--ranks")) {
            double r;
            if (i + 1 >= argc) return bad("%s needs a number%s", a, "");
            if (parse_num(a, argv[++i], &r)) return AES_EXIT_USAGE;
            if (r < 1 || r != floor(r) || r > 1e7) return bad("--ranks: '%s' must be a positive integer%s", argv[i], "");
            o->predict_ranks = (int)r;
        } else if (!strcmp(a, "--max-mem-gb")) {
            if (i + 1 >= argc) return bad("%s needs a number%s", a, "");
            if (parse_num(a, argv[++i], &o->max_mem_gb)) return AES_EXIT_USAGE;
            if (!(o->max_mem_gb > 0)) return bad("--max-mem-gb: '%s' must be positive%s", argv[i], "");
        } else if (a[0] == '-') return bad("unknown option '%s' for %s", a, validate ? "validate" : "run");
        else if (o->spec_path) return bad("one spec at a time: '%s' after '%s'", a, o->spec_path);
        else o->spec_path = a;
    }
    if (!o->spec_path) return bad("%s needs a spec file, e.g. jobs/quick.cfg%s", validate ? "validate" : "run", "");
    if (o->resume && o->fresh) return bad("--resume and --fresh contradict each other; pick one%s%s", "", "");
    return 0;
}

/* OpenBLAS's pthread build starts its worker threads when the library is
 * loaded, before main, and an idle worker spins (sched_yield) for a while
 * before it sleeps: measured 0.1 s of CPU per process, taken from the other
 * ranks on a full node.  Weak, so that a BLAS without it (OpenBLAS's serial
 * build, another BLAS) links too.  Any later openblas_set_num_threads call
 * would restart the pool; aesweep makes none. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

int cli_main(int argc, char **argv)
{
    /* One BLAS thread per process: parallelism comes from MPI ranks.  With
     * one thread OpenBLAS never restarts its pool, so stop it. */
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
    if (argc < 2) {
        fputs(USAGE, stderr);
        return AES_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("aesweep %s (commit %s, result schema %d)\n", AESWEEP_VERSION, AESWEEP_GIT_COMMIT, AESWEEP_SCHEMA_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "info")) {
        if (argc != 3) return bad("info needs exactly one result file%s%s", "", "");
        char err[SPEC_ERR_LEN];
        char jp[SPEC_PATH_LEN + 16];
        snprintf(jp, sizeof jp, "%s.journal", argv[2]);
        journal_data_t jd;
        long valid;
        int have_file = results_is_ours(argv[2]) == 1;
        if (journal_read(jp, &jd, &valid, err) == 0) {
            /* a run in progress or cut off: what the journal already holds */
            size_t per[SPEC_MAX_STAGES] = {0};
            for (size_t i = 0; i < jd.n; i++) {
                int k = (int)jd.rec[i][0];
                if (k >= 0 && k < SPEC_MAX_STAGES) per[k]++;
            }
            study_t js;
            char e2[SPEC_ERR_LEN];
            int ok = spec_load(&js, jp, jd.spec_text, e2) == 0;
            printf("partial run: %zu finished tasks in %s (resume with aesweep run --resume)\n", jd.n, jp);
            for (int k = 0; ok && k < js.nstages; k++) {
                printf("  %-10s %zu tasks journaled", js.stages[k].name, per[k]);
                if (k == 0) {
                    plan_t p;
                    if (plan_build(&p, &js, 0, NULL, NULL, e2) == 0) {
                        printf(" of %zu (%.1f%%)", p.ntasks, 100.0 * per[0] / (p.ntasks ? p.ntasks : 1));
                        plan_free(&p);
                    }
                }
                printf("\n");
            }
            spec_free(&js);
            journal_data_free(&jd);
            if (!have_file) return 0;
        }
        if (results_info(argv[2], err)) {
            fprintf(stderr, "aesweep: %s\n", err);
            return AES_EXIT_USAGE;
        }
        return 0;
    }
    if (!strcmp(cmd, "validate")) {
        sweep_opts_t o;
        int rc = parse_sweep_opts(argc - 2, argv + 2, &o, 1);
        return rc ? rc : sweep_validate(&o);
    }
    if (!strcmp(cmd, "run")) {
        sweep_opts_t o;
        int rc = parse_sweep_opts(argc - 2, argv + 2, &o, 0);
        if (rc) return rc;
        /* Handlers before MPI_Init (a signal during start-up is then a clean
         * stop at the first stage) and again after it, in case the MPI
         * library installed its own. */
        sweep_install_signals();
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
        const char *md = getenv("AESWEEP_MPI_DEFAULTS");
        if (!(md && !strcmp(md, "0"))) setenv("OMPI_MCA_pml", "ob1", 0);
        MPI_Init(&argc, &argv);
        sweep_install_signals();
        rc = sweep_run(&o);
        MPI_Finalize();
        return rc;
    }
    return bad("unknown command '%s'; commands are run, validate, info, train%s", cmd, "");
}
