/* test_spec.c - the spec parser (spec.c) on its own: every key type read into the study's
 * fields, the defaults table, ranges at and beyond their ends, 64-bit integers, @include, stage
 * inheritance, and error messages that name the file, the line and the key.  The end-to-end
 * refusals (exit code, nothing written) are the bad-input catalogue's (tests/bad_input/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/spec.h"
#include "aesweep/train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static study_t S;
static char ERR[SPEC_ERR_LEN];

/* Loads text as "t.cfg"; returns spec_load's result (ERR holds the message). */
static int load(const char *text)
{
    spec_free(&S);
    ERR[0] = 0;
    return spec_load(&S, "t.cfg", text, ERR);
}

/* text must be refused with a message containing every one of the NULL-terminated needles. */
static void refused(const char *text, ...)
{
    assert_int_equal(load(text), -1);
    assert_null(strchr(ERR, '\n'));
    va_list ap;
    va_start(ap, text);
    for (const char *n; (n = va_arg(ap, const char *));) {
        if (!strstr(ERR, n)) fail_msg("message lacks '%s': %s", n, ERR);
    }
    va_end(ap);
}

#define HEAD "study = \"t\";\nseed = 3;\ndata = { source = \"moons\"; pool = 500; };\n"

static void test_every_key_type(void **st)
{
    (void)st;
    const char *t =
        "study = \"kt\"; seed = 4294967297; output = \"o/x.h5\"; reuse_epochs = false;\n"
        "curve_points = 7; model_data = \"weights\";\n"
        "data = { source = \"moons\"; pool = 1234; noise = 0.25; scaler = \"standard\"; };\n"
        "tests = ( { name = \"a\"; size = 300; }, { name = \"b\"; noise = 0.5; } );\n"
        "defaults = { hidden = [12, 8]; layers = 0; bottleneck = 2; lr = 0.01; arch = \"resnet\";\n"
        "             activation = \"tanh\"; mmd_kernel = \"imq\"; batch_size = 50; };\n"
        "stages = ( { name = \"s1\"; axes = { lr = [0.1, 0.2]; epochs = [5, 10]; };\n"
        "             repeats = 3; data_draws = 2; save_models = true; pool_noise = 0.3;\n"
        "             select = \"test_mse_b\"; curve_points = 0; reuse_epochs = true; } );\n";
    assert_int_equal(load(t), 0);
    assert_string_equal(S.study, "kt");
    assert_true(S.seed == 4294967297ULL); /* beyond 32 bits, whole */
    assert_string_equal(S.output, "o/x.h5");
    assert_int_equal(S.reuse_epochs, 0);
    assert_int_equal(S.curve_points, 7);
    assert_int_equal(S.model_data, 1);
    assert_int_equal(S.source, SRC_MOONS);
    assert_int_equal(S.pool, 1234);
    assert_int_equal(S.pool_given, 1);
    assert_true(S.noise == 0.25);
    assert_int_equal(S.scaler, SCALER_STANDARD);
    assert_int_equal(S.ntests, 2);
    assert_string_equal(S.tests[0].name, "a");
    assert_int_equal(S.tests[0].size, 300);
    assert_true(S.tests[0].noise == 0.25); /* a test set's noise defaults to the pool's */
    assert_true(S.tests[1].noise == 0.5);
    assert_int_equal(S.tests[1].size, SPEC_DEFAULT_TEST_SIZE);
    /* a width list is stored once and named -(1 + index) */
    assert_true(S.defaults[P_HIDDEN] == -1.0);
    assert_int_equal(S.nwlists, 1);
    assert_int_equal(S.wlist_len[0], 2);
    assert_int_equal(S.wlist[0][0], 12);
    assert_int_equal(S.wlist[0][1], 8);
    assert_true(S.defaults[P_ARCH] == MODEL_RESNET);
    assert_true(S.defaults[P_ACTIVATION] == MODEL_TANH);
    assert_true(S.defaults[P_MMD_KERNEL] == 1);
    assert_true(S.defaults[P_BATCH_SIZE] == 50);
    assert_true(S.defaults[P_LR] == 0.01);
    const stage_spec_t *g = &S.stages[0];
    assert_int_equal(S.nstages, 1);
    assert_string_equal(g->name, "s1");
    assert_int_equal(g->naxes, 2);
    assert_int_equal(g->axes[0].param, P_LR);
    assert_true(g->axes[0].values[1] == 0.2);
    assert_int_equal(g->axes[1].param, P_EPOCHS);
    assert_true(g->axes[1].values[1] == 10);
    assert_int_equal(g->repeats, 3);
    assert_int_equal(g->data_draws, 2);
    assert_int_equal(g->save_models, 1);
    assert_true(g->pool_noise == 0.3);
    assert_string_equal(g->select, "test_mse_b");
    assert_int_equal(g->curve_points, 0);
    assert_int_equal(g->reuse_epochs, 1); /* the stage's own, over the study's false */
    assert_int_equal(g->line, 7);
    assert_string_equal(g->file, "t.cfg");
    char buf[64];
    spec_format_value(&S, P_HIDDEN, S.defaults[P_HIDDEN], buf, sizeof buf);
    assert_string_equal(buf, "[12, 8]");
    spec_format_value(&S, P_MMD_KERNEL, 1, buf, sizeof buf);
    assert_string_equal(buf, "imq");
}

/* Absent keys take the one table of defaults (param_info), which train.c shares. */
static void test_defaults_table(void **st)
{
    (void)st;
    assert_int_equal(load(HEAD "stages = ( { name = \"s\"; } );\n"), 0);
    for (int p = 0; p < P_COUNT; p++) assert_true(S.defaults[p] == param_info[p].def);
    assert_true(S.defaults[P_TRAIN_SIZE] == 1000);
    assert_true(S.defaults[P_EPOCHS] == 100);
    assert_true(S.defaults[P_LR] == 0.001);
    assert_true(S.defaults[P_HIDDEN] == 20);
    assert_true(S.defaults[P_LAYERS] == 3);
    assert_true(S.defaults[P_BOTTLENECK] == 1);
    assert_true(S.defaults[P_MMD_NSCALES] == 5);
    train_cfg_t c = train_cfg_default();
    assert_int_equal(c.epochs, (int)param_info[P_EPOCHS].def);
    assert_true(c.lr == (float)param_info[P_LR].def);
    /* every row has a range that holds its default */
    for (int p = 0; p < P_COUNT; p++) {
        char e[256];
        assert_true(param_info[p].max > param_info[p].min);
        assert_int_equal(param_check(p, param_info[p].def, param_names[p], e, sizeof e), 0);
        assert_non_null(param_info[p].range);
    }
    /* study-wide defaults */
    assert_string_equal(S.output, "results/t.h5");
    assert_int_equal(S.reuse_epochs, 1);
    assert_int_equal(S.curve_points, SPEC_CURVE_POINTS);
    assert_int_equal(S.ntests, 1);
    assert_string_equal(S.tests[0].name, "test");
    assert_int_equal(S.stages[0].repeats, 1);
    assert_int_equal(S.stages[0].data_draws, 1);
    assert_true(S.stages[0].pool_noise < 0);
}

/* Each range accepted at its ends and refused just beyond, naming file:line and the key. */
static void test_ranges(void **st)
{
    (void)st;
    static const struct {
        const char *key;
        const char *ok, *bad, *fix;
    } r[] = {
        {"train_size", "2", "1", "at least 2"},   {"epochs", "0", "-1", "0..100000000"},
        {"epochs", "100000000", "100000001", "0..100000000"},
        {"lr", "10", "0", "(0, 10]"},              {"lr", "1e-9", "10.5", "(0, 10]"},
        {"hidden", "100000", "100001", "1..100000"}, {"layers", "32", "33", "0..32"},
        {"bottleneck", "1", "0", "1..100000"},     {"batch_size", "0", "-1", "full batch"},
        {"mmd_lambda", "1", "1.5", "0..1"},        {"mmd_scale", "1e-300", "0", "positive"},
        {"mmd_nscales", "16", "17", "1..16"},      {"mmd_kernel", "1", "2", "\"rbf\" or \"imq\""},
        {"arch", "1", "2", "\"mlp\" or \"resnet\""}, {"activation", "2", "3", "\"elu\""},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        char t[512], key[64];
        snprintf(t, sizeof t, HEAD "defaults = { %s = %s; };\nstages = ( { name = \"s\"; } );\n", r[i].key, r[i].ok);
        if (load(t)) fail_msg("%s = %s refused: %s", r[i].key, r[i].ok, ERR);
        assert_true(S.defaults[param_lookup(r[i].key)] == atof(r[i].ok));
        snprintf(t, sizeof t, HEAD "defaults = { %s = %s; };\nstages = ( { name = \"s\"; } );\n", r[i].key, r[i].bad);
        snprintf(key, sizeof key, "defaults.%s", r[i].key);
        refused(t, "t.cfg:4:", key, r[i].bad, r[i].fix, NULL);
    }
    /* integers must be whole; the same check on an axis names the axis */
    refused(HEAD "defaults = { layers = 1.5; };\nstages = ( { name = \"s\"; } );\n", "t.cfg:4:", "defaults.layers", "not an integer", NULL);
    refused(HEAD "stages = ( { name = \"s\";\n axes = { epochs = (10, 2.5); }; } );\n", "t.cfg:5:", "axes.epochs", "2.5", "not an integer", NULL);
    refused(HEAD "stages = ( { name = \"s\"; repeats = 0; } );\n", "t.cfg:4:", "repeats", "1..100000", NULL);
    refused(HEAD "stages = ( { name = \"s\"; data_draws = 100001; } );\n", "data_draws", NULL);
    refused(HEAD "stages = ( { name = \"s\"; curve_points = -1; } );\n", "curve_points", "0..100000", NULL);
    refused("study = \"t\"; seed = 1;\ndata = { source = \"moons\"; noise = 1e31; };\nstages = ( { name = \"s\"; } );\n",
            "t.cfg:2:", "data.noise", "out of range", NULL);
    refused("study = \"t\"; seed = 1;\ndata = { source = \"moons\"; pool = 1; };\nstages = ( { name = \"s\"; } );\n",
            "t.cfg:2:", "data.pool", NULL);
    refused("study = \"t\"; seed = 1;\ndata = { source = \"csv\"; path = \"x.csv\"; train_fraction = 0; };\nstages = ( { name = \"s\"; } );\n",
            "data.train_fraction", "(0, 1]", NULL);
    /* named values: a word from the list or a refusal listing them */
    refused(HEAD "defaults = { arch = \"cnn\"; };\nstages = ( { name = \"s\"; } );\n", "defaults.arch", "\"cnn\"", "\"mlp\" or \"resnet\"", NULL);
    refused(HEAD "stages = ( { name = \"s\"; axes = { mmd_kernel = [\"rbf\", \"gauss\"]; }; } );\n", "axes.mmd_kernel", "\"gauss\"", NULL);
    /* types */
    refused(HEAD "defaults = { lr = \"0.1\"; };\nstages = ( { name = \"s\"; } );\n", "defaults.lr", "drop the quotes", NULL);
    refused(HEAD "stages = ( { name = \"s\"; save_models = 1; } );\n", "save_models", "true or false", NULL);
    refused(HEAD "output = 5;\nstages = ( { name = \"s\"; } );\n", "t.cfg:4:", "output", "double quotes", NULL);
}

/* libconfig 1.5 reads integers with atoi(); the parser reads them at 64 bits and checks ranges. */
static void test_64bit_integers(void **st)
{
    (void)st;
    assert_int_equal(load("study = \"t\"; seed = 9007199254740992;\ndata = { source = \"moons\"; };\nstages = ( { name = \"s\"; } );\n"), 0);
    assert_true(S.seed == 9007199254740992ULL);
    assert_int_equal(load("study = \"t\"; seed = 0x10;\ndata = { source = \"moons\"; };\nstages = ( { name = \"s\"; } );\n"), 0);
    assert_true(S.seed == 16);
    /* 2^32 + 10 was 10 under atoi(): now out of range for epochs, with its real value */
    refused(HEAD "defaults = { epochs = 4294967306; };\nstages = ( { name = \"s\"; } );\n", "t.cfg:4:", "defaults.epochs", "4294967306", "out of range", NULL);
    /* an array mixing small and large integers keeps one type */
    refused(HEAD "stages = ( { name = \"s\"; axes = { train_size = [100, 4294967396]; }; } );\n", "axes.train_size", "out of range", NULL);
    refused("study = \"t\"; seed = 99999999999999999999;\ndata = { source = \"moons\"; };\nstages = ( { name = \"s\"; } );\n",
            "t.cfg:1:", "beyond the 64-bit integer range", NULL);
    refused("study = \"t\"; seed = 9007199254740993;\ndata = { source = \"moons\"; };\nstages = ( { name = \"s\"; } );\n", "seed: 9007199254740993", "2^53", NULL);
    refused("study = \"t\"; seed = -1;\ndata = { source = \"moons\"; };\nstages = ( { name = \"s\"; } );\n", "t.cfg:1:", "seed", NULL);
}

static void test_includes(void **st)
{
    (void)st;
    char dir[] = "/tmp/aesweep-test-spec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char inc[256], inner[256], text[1024];
    snprintf(inc, sizeof inc, "%s/defaults.cfg", dir);
    snprintf(inner, sizeof inner, "%s/inner.cfg", dir);
    FILE *f = fopen(inner, "w");
    fputs("lr = 0.02;\nlayers = 9;\n", f);
    fclose(f);
    f = fopen(inc, "w");
    fprintf(f, "defaults = {\n  hidden = 7;\n@include \"%s\"\n};\n", inner);
    fclose(f);
    snprintf(text, sizeof text, HEAD "@include \"%s\"\nstages = ( { name = \"s\"; } );\n", inc);
    assert_int_equal(load(text), 0);
    assert_true(S.defaults[P_HIDDEN] == 7);
    assert_true(S.defaults[P_LR] == 0.02);
    assert_true(S.defaults[P_LAYERS] == 9);
    /* the stored text is the expanded one: what a result file keeps and --resume compares */
    assert_non_null(strstr(S.text, "lr = 0.02;"));
    assert_null(strstr(S.text, "@include"));
    /* a bad value in a nested include names that file and its own line */
    f = fopen(inner, "w");
    fputs("lr = 0.02;\nlayers = 99;\n", f);
    fclose(f);
    char want[300];
    snprintf(want, sizeof want, "%s:2:", inner);
    refused(text, want, "defaults.layers", "99", "0..32", NULL);
    /* a missing include names the including line */
    snprintf(text, sizeof text, HEAD "@include \"%s/none.cfg\"\nstages = ( { name = \"s\"; } );\n", dir);
    refused(text, "t.cfg:4:", "none.cfg", "cannot read", NULL);
    /* a file including itself stops at the depth limit */
    f = fopen(inc, "w");
    fprintf(f, "@include \"%s\"\n", inc);
    fclose(f);
    snprintf(text, sizeof text, HEAD "@include \"%s\"\nstages = ( { name = \"s\"; } );\n", inc);
    refused(text, "nested more than", NULL);
    unlink(inner), unlink(inc), rmdir(dir);
}

static void test_stage_inheritance(void **st)
{
    (void)st;
    const char *t = HEAD
        "defaults = { hidden = 10; };\n"
        "stages = ( { name = \"a\"; axes = { lr = [0.1, 0.01]; epochs = [5, 9]; }; },\n"
        "           { name = \"b\"; inherit = [\"lr\", \"epochs\"]; axes = { hidden = [4, 6]; }; fixed = { layers = 1; }; },\n"
        "           { name = \"c\"; inherit = [\"hidden\", \"lr\"]; } );\n";
    assert_int_equal(load(t), 0);
    assert_int_equal(S.nstages, 3);
    assert_int_equal(S.stages[1].inherit[P_LR], 1);
    assert_int_equal(S.stages[1].inherit[P_EPOCHS], 1);
    assert_int_equal(S.stages[1].inherit[P_HIDDEN], 0);
    assert_int_equal(S.stages[1].has_fixed[P_LAYERS], 1);
    assert_true(S.stages[1].fixed[P_LAYERS] == 1);
    assert_int_equal(S.stages[2].inherit[P_HIDDEN], 1);
    assert_int_equal(S.stages[2].line, 7);
    /* the data checks see inherited values: hidden 4 from b's axis reaches c */
    assert_int_equal(spec_check_data(&S, 2, 5000, ERR), 0);
    spec_free(&S);
    const char *above = HEAD "hidden_above_input = true;\n"
        "stages = ( { name = \"a\"; axes = { hidden = [4, 8]; }; },\n"
        "           { name = \"b\"; inherit = [\"hidden\"]; } );\n";
    assert_int_equal(load(above), 0);
    assert_int_equal(S.hidden_above_input, 1);
    assert_int_equal(spec_check_data(&S, 6, 5000, ERR), -1);
    assert_non_null(strstr(ERR, "t.cfg:5: stage a: axes.hidden = 4"));
    /* one place per parameter; nothing to inherit in the first stage; names must exist */
    refused(HEAD "stages = ( { name = \"a\"; }, { name = \"b\"; inherit = [\"lr\"]; fixed = { lr = 0.1; }; } );\n",
            "t.cfg:4:", "stage b", "'lr' is given more than once", NULL);
    refused(HEAD "stages = ( { name = \"a\"; inherit = [\"lr\"]; } );\n", "first stage", NULL);
    refused(HEAD "stages = ( { name = \"a\"; }, { name = \"b\"; inherit = [\"lrate\"]; } );\n", "\"lrate\"", "known:", NULL);
    refused(HEAD "stages = ( { name = \"a\"; }, { name = \"a\"; } );\n", "used twice", NULL);
    refused(HEAD "stages = ( { name = \"data\"; } );\n", "reserved", NULL);
    refused(HEAD "stages = ( { name = \"a\"; select = \"test_mse_x\"; } );\n", "select", "test_mse_test", NULL);
}

/* Every message is one line naming file:line and the key; unknown keys list the known ones. */
static void test_messages(void **st)
{
    (void)st;
    refused(HEAD "stages = ( { name = \"s\";\n  repeets = 2; } );\n", "t.cfg:5:", "unknown key 'repeets' in a stage",
            "repeats", "data_draws", "select", NULL);
    refused("study = \"t\"; sead = 1;\ndata = { source = \"moons\"; };\nstages = ( { name = \"s\"; } );\n",
            "t.cfg:1:", "'sead'", "known keys:", "seed", "curve_points", NULL);
    refused("study = \"t\"; seed = 1;\ndata = { source = \"moons\";\n poool = 3; };\nstages = ( { name = \"s\"; } );\n",
            "t.cfg:3:", "'poool' in data", "pool", "train_fraction", NULL);
    refused(HEAD "defaults = { hiddn = 3; };\nstages = ( { name = \"s\"; } );\n", "t.cfg:4:", "unknown parameter 'hiddn'", "hidden", NULL);
    refused("study = \"t\"; seed = = 1;\ndata = { source = \"moons\"; };\nstages = ( );\n", "t.cfg:1:", "syntax error", NULL);
    refused("study = \"t\";\ndata = { source = \"moons\"; };\nstages = ( { name = \"s\"; } );\n", "missing key 'seed'", NULL);
    refused("study = \"t\"; seed = 1;\nstages = ( { name = \"s\"; } );\n", "missing group 'data'", NULL);
    refused("study = \"t\"; seed = 1;\ndata = { source = \"mnist\"; };\nstages = ( { name = \"s\"; } );\n", "t.cfg:2:", "\"mnist\"", "\"npy\"", NULL);
    refused(HEAD "stages = ( );\n", "non-empty list", NULL);
    refused("   \n", "the spec is empty", NULL);
    /* control characters in a value never break the line */
    refused("study = \"a\\nb\"; seed = 1;\ndata = { source = \"moons\"; };\nstages = ( { name = \"s\"; } );\n", "study", NULL);
}

/* Sampled and halving stages (docs/search.md "Spec keys"): what spec.c adds to search_spec.c's
 * rules, each refusal one line naming file:line, the key and the fix. */
#define SP "sample = { sampler = \"random\"; n_trials = 8; space = { lr = { log_uniform = [0.001, 0.01]; }; " \
           "hidden = { choice = (8, [12, 8]); }; }; };"
#define HV "halving = { min_epochs = 2; max_epochs = 18; };"
static void test_search_stages(void **st)
{
    (void)st;
    assert_int_equal(load(HEAD "stages = ( { name = \"s\"; " SP " " HV " } );\n"), 0);
    const search_spec_t *ss = &S.stages[0].search;
    assert_int_equal(ss->has_sample, 1);
    assert_int_equal(ss->has_halving, 1);
    assert_int_equal(ss->space.n, 8);
    assert_int_equal(ss->space.params[1].param, P_HIDDEN);
    assert_true(ss->space.params[1].choices[0] == 8 && ss->space.params[1].choices[1] == -1); /* width list 0 */
    assert_int_equal(S.nwlists, 1);
    assert_int_equal(S.stages[0].curve_points, 0); /* the study default does not apply with halving */
    assert_int_equal(ss->eta, 3);
    /* a grid with halving; a sampled stage without */
    assert_int_equal(load(HEAD "stages = ( { name = \"s\"; axes = { lr = [0.001, 0.002]; }; " HV " } );\n"), 0);
    assert_int_equal(S.stages[0].search.has_sample, 0);
    assert_int_equal(load(HEAD "stages = ( { name = \"s\"; " SP " repeats = 2; data_draws = 2; } );\n"), 0);
    assert_true(S.stages[0].curve_points > 0);
    /* inheriting from a sampled stage */
    assert_int_equal(load(HEAD "stages = ( { name = \"s\"; " SP " " HV " }, { name = \"b\"; inherit = [\"lr\", \"hidden\", \"epochs\"]; } );\n"), 0);

    refused(HEAD "stages = ( { name = \"s\";\n " SP " " HV " data_draws = 2; } );\n", "t.cfg:5:", "data_draws = 2 with halving", NULL);
    refused(HEAD "stages = ( { name = \"s\"; " SP " " HV "\n repeats = 3; } );\n", "t.cfg:5:", "repeats = 3 with halving", NULL);
    refused(HEAD "stages = ( { name = \"s\"; " SP " " HV " fixed = { epochs = 5; }; } );\n", "epochs is the budget of halving",
            "fixed", NULL);
    /* a halving stage records curves when it asks for them itself */
    assert_int_equal(load(HEAD "stages = ( { name = \"s\"; " SP " " HV "\n curve_points = 5; } );\n"), 0);
    assert_int_equal(S.stages[0].curve_points, 5);
    refused(HEAD "stages = ( { name = \"s\"; axes = { epochs = [2, 4]; }; " HV " } );\n", "epochs is the budget of halving", NULL);
    refused(HEAD "stages = ( { name = \"s\"; " SP " fixed = { lr = 0.1; }; } );\n", "'lr' is in sample.space and in fixed", NULL);
    refused(HEAD "stages = ( { name = \"s\";\n sample = { sampler = \"random\"; n_trials = 4; space = {\n lr = { uniform = [0.0, 0.1]; }; }; }; } );\n",
            "t.cfg:6:", "stages.s.sample.space.lr", NULL);
    refused(HEAD "stages = ( { name = \"s\"; sample = { sampler = \"random\"; n_trials = 4; space = {\n hidden = { choice = (8, [0, 4]); }; }; }; } );\n",
            "t.cfg:5:", "hidden", NULL);
    refused(HEAD "stages = ( { name = \"s\"; sample = { sampler = \"tpe\"; tpe_batch = 4; n_trials = 8; space = { lr = { uniform = [0.001, 0.1]; }; }; };\n "
                 HV " } );\n", "t.cfg:5:", "brackets = 1", NULL);
    refused(HEAD "stages = ( { name = \"s\"; sample = { sampler = \"random\"; n_trials = 20000000; space = { lr = { uniform = [0.001, 0.1]; }; }; }; } );\n",
            "points", "n_trials", NULL);
    refused(HEAD "stages = ( { name = \"s\"; " SP "\n halving = { min_epochs = 1; max_epochs = 9; align = \"middle\"; }; } );\n",
            "t.cfg:5:", "halving.align", "\"start\"", NULL);
    assert_int_equal(load(HEAD "stages = ( { name = \"s\"; " SP " halving = { min_epochs = 1; max_epochs = 9; align = \"start\"; }; } );\n"), 0);
    assert_int_equal(S.stages[0].search.align_start, 1);
    refused(HEAD "stages = ( { name = \"s\"; " SP " samples = 3; } );\n", "unknown key 'samples'", "sample", "halving", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_type), cmocka_unit_test(test_defaults_table),
        cmocka_unit_test(test_ranges),         cmocka_unit_test(test_64bit_integers),
        cmocka_unit_test(test_includes),       cmocka_unit_test(test_stage_inheritance),
        cmocka_unit_test(test_messages),       cmocka_unit_test(test_search_stages),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    spec_free(&S);
    return rc;
}
