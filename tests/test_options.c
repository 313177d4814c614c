/* test_options.c - the run-time options (options.h): read once from the
 * environment at the command line, handed down, no getenv below.
 *
 *   defaults: with none of the variables set, every field has its default
 *             (and equals options_default);
 *   values:   each variable sets its field (AESWEEP_KERNEL every name,
 *             AESWEEP_GEMM, AESWEEP_KF_NOTAIL, AESWEEP_SKIP_DEAD,
 *             AESWEEP_DATA, AESWEEP_PROGRESS_SECONDS, AESWEEP_RANK0_STATS,
 *             AESWEEP_MPI_DEFAULTS);
 *   refusals: a bad value gives -1 and one line naming the variable and its
 *             value, and cli_main (the aesweep command) exits 2 with it
 *             before running the command;
 *   handed down: the data folder reaches paths_find_data, and the kernel
 *             options reach the workspace (its kernel's name).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aesweep/cli.h"
#include "aesweep/model.h"
#include "aesweep/options.h"
#include "aesweep/paths.h"

static const char *const VARS[] = {"AESWEEP_KERNEL", "AESWEEP_GEMM", "AESWEEP_KF_NOTAIL", "AESWEEP_SKIP_DEAD",
                                   "AESWEEP_DATA", "AESWEEP_PROGRESS_SECONDS", "AESWEEP_RANK0_STATS",
                                   "AESWEEP_MPI_DEFAULTS", "AESWEEP_RESULT_BATCH_SECONDS"};

static int clear_env(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++) unsetenv(VARS[i]);
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    options_t o, d;
    char err[256] = "";
    memset(&o, 0x5a, sizeof o); /* every field must be written */
    assert_int_equal(options_from_env(&o, err, sizeof err), 0);
    options_default(&d);
    assert_memory_equal(&o, &d, sizeof o);
    assert_int_equal(o.model.kernel, MODEL_KERNEL_FAST);
    assert_int_equal(o.model.gemm_packed, 0);
    assert_int_equal(o.model.no_tail, 0);
    assert_int_equal(o.model.keep_dead, 0);
    assert_string_equal(o.data_dir, "");
    assert_true(o.progress_seconds == 0.0);
    assert_int_equal(o.rank0_stats, 0);
    assert_true(o.result_batch_seconds == 0.0);
    assert_int_equal(o.result_batch_off, 0);
    assert_int_equal(o.mpi_defaults, 1);
}

static void test_values(void **state)
{
    (void)state;
    options_t o;
    char err[256] = "";
    static const char *const names[] = {"fast", "blas", "ref", "tiled", "lanes", "gemm"};
    for (int k = 0; k < 6; k++) {
        setenv("AESWEEP_KERNEL", names[k], 1);
        assert_int_equal(options_from_env(&o, err, sizeof err), 0);
        assert_int_equal(o.model.kernel, model_kernel_parse(names[k]));
        assert_string_equal(model_kernel_name(o.model.kernel), names[k]);
    }
    setenv("AESWEEP_GEMM", "packed", 1);
    setenv("AESWEEP_KF_NOTAIL", "1", 1);
    setenv("AESWEEP_SKIP_DEAD", "0", 1);
    setenv("AESWEEP_DATA", "/some/where", 1);
    setenv("AESWEEP_PROGRESS_SECONDS", "2.5", 1);
    setenv("AESWEEP_RANK0_STATS", "1", 1);
    setenv("AESWEEP_MPI_DEFAULTS", "0", 1);
    setenv("AESWEEP_RESULT_BATCH_SECONDS", "0.25", 1);
    assert_int_equal(options_from_env(&o, err, sizeof err), 0);
    assert_true(o.result_batch_seconds == 0.25);
    assert_int_equal(o.result_batch_off, 0);
    assert_int_equal(o.model.kernel, MODEL_KERNEL_GEMM);
    assert_int_equal(o.model.gemm_packed, 1);
    assert_int_equal(o.model.no_tail, 1);
    assert_int_equal(o.model.keep_dead, 1);
    assert_string_equal(o.data_dir, "/some/where");
    assert_true(o.progress_seconds == 2.5);
    assert_int_equal(o.rank0_stats, 1);
    assert_int_equal(o.mpi_defaults, 0);
    setenv("AESWEEP_GEMM", "blas", 1);
    setenv("AESWEEP_SKIP_DEAD", "1", 1);
    setenv("AESWEEP_RESULT_BATCH_SECONDS", "0", 1); /* one message per result */
    assert_int_equal(options_from_env(&o, err, sizeof err), 0);
    assert_int_equal(o.result_batch_off, 1);
    assert_true(o.result_batch_seconds == 0.0);
    assert_int_equal(o.model.gemm_packed, 0);
    assert_int_equal(o.model.keep_dead, 0);
    clear_env(NULL);
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *const bad[][3] = {
        {"AESWEEP_KERNEL", "fastest", "AESWEEP_KERNEL=fastest"},
        {"AESWEEP_GEMM", "openblas", "AESWEEP_GEMM=openblas"},
        {"AESWEEP_SKIP_DEAD", "no", "AESWEEP_SKIP_DEAD=no"},
        {"AESWEEP_PROGRESS_SECONDS", "0", "AESWEEP_PROGRESS_SECONDS=0"},
        {"AESWEEP_PROGRESS_SECONDS", "10s", "AESWEEP_PROGRESS_SECONDS=10s"},
        {"AESWEEP_PROGRESS_SECONDS", "nan", "AESWEEP_PROGRESS_SECONDS=nan"},
        {"AESWEEP_RESULT_BATCH_SECONDS", "-1", "AESWEEP_RESULT_BATCH_SECONDS=-1"},
        {"AESWEEP_RESULT_BATCH_SECONDS", "50ms", "AESWEEP_RESULT_BATCH_SECONDS=50ms"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        options_t o;
        char err[256] = "";
        clear_env(NULL);
        setenv(bad[i][0], bad[i][1], 1);
        assert_int_equal(options_from_env(&o, err, sizeof err), -1);
        assert_non_null(strstr(err, bad[i][2]));
        assert_null(strchr(err, '\n'));
        /* the command refuses before it runs (exit 2) */
        char *argv[] = {"aesweep", "--version", NULL};
        fflush(stdout);
        assert_int_equal(cli_main(2, argv), 2);
    }
    clear_env(NULL);
    char *argv[] = {"aesweep", "--version", NULL};
    assert_int_equal(cli_main(2, argv), 0);
}

static void test_handed_down(void **state)
{
    (void)state;
    char dir[] = "/tmp/aesweep-options-XXXXXX", path[4200], found[4200];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/digits.csv.gz", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    paths_set_data_dir(dir);
    paths_find_data("digits.csv.gz", found, sizeof found);
    assert_string_equal(found, path);
    paths_set_data_dir("");
    paths_find_data("digits.csv.gz", found, sizeof found);
    assert_string_not_equal(found, path);
    unlink(path);
    rmdir(dir);

    model_arch_t a = {.in = 4, .hidden = 8, .layers = 1, .bottleneck = 2};
    model_t *m = model_create(&a);
    assert_non_null(m);
    static const int kinds[] = {MODEL_KERNEL_REF, MODEL_KERNEL_BLAS, MODEL_KERNEL_TILED, MODEL_KERNEL_GEMM};
    static const char *const names[] = {"ref", "blas", "tiled", "gemm"};
    for (int k = 0; k < 4; k++) {
        model_opts_t o = {.kernel = kinds[k]};
        model_ws_t *ws = model_ws_create(m, 8, &o);
        assert_non_null(ws);
        assert_string_equal(model_ws_kernel_name(ws), names[k]);
        model_ws_free(ws);
    }
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_values, clear_env),
        cmocka_unit_test_setup(test_refusals, clear_env),
        cmocka_unit_test_setup(test_handed_down, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
