/* test_search_spec.c - the `sample` and `halving` groups of a stage (search_spec.h,
 * docs/search.md): the documented example parses to the numbers it says; each
 * mistake gets one line with the file, line, key and fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/search_spec.h"
#include "aesweep/spec.h"
#include <stdio.h>
#include <string.h>

/* what spec.c would do, reduced: numbers, activation names, width lists coded -(1 + i) */
static int value(void *ctx, const config_setting_t *c, const char *key, int p, double *v, char *err)
{
    int *nlists = ctx;
    static const char *acts[] = {"relu", "tanh", "elu"};
    if (config_setting_is_aggregate(c) && p == P_HIDDEN) return *v = -(1.0 + (*nlists)++), 0;
    if (config_setting_type(c) == CONFIG_TYPE_STRING) {
        for (int i = 0; i < 3; i++)
            if (p == P_ACTIVATION && !strcmp(config_setting_get_string(c), acts[i])) return *v = i, 0;
        return snprintf(err, SPEC_ERR_LEN, "%s: bad name", key), -1;
    }
    if (config_setting_type(c) == CONFIG_TYPE_INT) return *v = config_setting_get_int(c), 0;
    if (config_setting_type(c) == CONFIG_TYPE_FLOAT) return *v = config_setting_get_float(c), 0;
    return snprintf(err, SPEC_ERR_LEN, "%s: bad value", key), -1;
}

static int fail_at(void *ctx, const config_setting_t *c, const char *msg, char *err)
{
    (void)ctx;
    snprintf(err, SPEC_ERR_LEN, "t.cfg:%d: %s", c ? (int)config_setting_source_line(c) : 0, msg);
    return -1;
}

/* Parse the first stage of text; returns search_spec_parse's result, err filled. */
static int parse(const char *text, search_spec_t *out, char *err)
{
    config_t cfg;
    config_init(&cfg);
    int nlists = 0;
    if (!config_read_string(&cfg, text)) fail_msg("libconfig: line %d: %s", config_error_line(&cfg), config_error_text(&cfg));
    const config_setting_t *st = config_setting_get_member(config_root_setting(&cfg), "stages");
    search_spec_io_t io = {&nlists, value, fail_at};
    int rc = search_spec_parse(config_setting_get_elem(st, 0), "stages.search", &io, out, err);
    config_destroy(&cfg);
    return rc;
}

static const char *EXAMPLE =
    "stages = ( { name = \"search\";\n"                                         /* 1 */
    "  sample = { sampler = \"tpe\"; n_trials = 729; tpe_batch = 16;\n"          /* 2 */
    "    space = { train_size = { int = [1000, 9000]; };\n"                     /* 3 */
    "              lr = { log_uniform = [0.0005, 0.003]; };\n"                   /* 4 */
    "              hidden = { choice = (10, 15, 20, 40, [20, 10]); };\n"         /* 5 */
    "              layers = { int = [1, 4]; };\n"                                /* 6 */
    "              activation = { choice = [\"relu\", \"tanh\"]; };\n"           /* 7 */
    "              batch_size = { log_int = [32, 1024]; }; }; };\n"              /* 8 */
    "  halving = { min_epochs = 10; max_epochs = 1000; eta = 3; brackets = 0; };\n" /* 9 */
    "} );\n";

static void test_example(void **st)
{
    (void)st;
    search_spec_t s;
    char err[SPEC_ERR_LEN] = "";
    if (parse(EXAMPLE, &s, err)) fail_msg("%s", err);
    assert_true(s.has_sample && s.has_halving);
    assert_int_equal(s.sampler, SEARCH_TPE);
    assert_int_equal(s.space.method, SAMPLE_RANDOM);
    assert_int_equal(s.space.n, 729);
    assert_int_equal(s.tpe_batch, 16);
    assert_int_equal(s.tpe_startup, 10);
    assert_int_equal(s.space.nparams, 6);
    const sample_param_t *p = s.space.params;
    assert_int_equal(p[0].param, P_TRAIN_SIZE);
    assert_int_equal(p[0].dist, DIST_INT);
    assert_true(p[0].lo == 1000 && p[0].hi == 9000);
    assert_int_equal(p[1].dist, DIST_LOG_UNIFORM);
    assert_true(p[1].lo == 0.0005 && p[1].hi == 0.003);
    assert_int_equal(p[2].dist, DIST_CHOICE);
    assert_int_equal(p[2].nchoices, 5);
    assert_true(p[2].choices[3] == 40 && p[2].choices[4] == -1);
    assert_int_equal(p[4].param, P_ACTIVATION);
    assert_true(p[4].choices[0] == 0 && p[4].choices[1] == 1);
    assert_int_equal(p[5].dist, DIST_LOG_INT);
    assert_int_equal(s.min_epochs, 10);
    assert_int_equal(s.max_epochs, 1000);
    assert_int_equal(s.eta, 3);
    assert_int_equal(s.brackets, 0);
    /* a grid stage: neither group */
    assert_int_equal(parse("stages = ( { name = \"g\"; axes = { lr = [0.1]; }; } );", &s, err), 0);
    assert_true(!s.has_sample && !s.has_halving);
    /* halving alone on a grid; eta defaults to 3 */
    assert_int_equal(parse("stages = ( { name = \"g\"; axes = { lr = [0.1, 0.2]; };\n"
                           " halving = { min_epochs = 5; max_epochs = 405; }; } );", &s, err), 0);
    assert_true(!s.has_sample && s.has_halving && s.eta == 3 && s.min_epochs == 5);
}

#define STAGE_ASHA(more) "stages = ( { name = \"s\";\n halving = { min_epochs = 1; max_epochs = 9; promote = \"asha\";" more " }; } );"

static void expect(const char *text, const char *needle)
{
    search_spec_t s;
    char err[SPEC_ERR_LEN] = "";
    assert_int_equal(parse(text, &s, err), -1);
    if (!strstr(err, needle)) fail_msg("message '%s' lacks '%s'", err, needle);
    assert_null(strchr(err, '\n'));
}

/* promote = "asha" alone makes the stage a dataflow; align = "flow" beside it is accepted */
static void test_asha(void **st)
{
    (void)st;
    search_spec_t s;
    char err[SPEC_ERR_LEN] = "";
    assert_int_equal(parse(STAGE_ASHA(""), &s, err), 0);
    assert_true(s.asha && s.flow && s.align_start);
    assert_int_equal(parse(STAGE_ASHA(" align = \"flow\";"), &s, err), 0);
    assert_true(s.asha && s.flow);
    assert_int_equal(parse("stages = ( { name = \"s\";\n halving = { min_epochs = 1; max_epochs = 9; promote = \"rung\"; }; } );", &s,
                           err), 0);
    assert_true(!s.asha && !s.flow && !s.align_start);
    /* and with TPE batches (refused before TPE + ASHA): each batch promotes by ASHA's rule */
    assert_int_equal(parse("stages = ( { name = \"s\";\n sample = { sampler = \"tpe\"; n_trials = 8; tpe_batch = 4;"
                           " space = { lr = { uniform = [0.001, 0.003]; }; }; };\n"
                           " halving = { min_epochs = 1; max_epochs = 9; brackets = 1; promote = \"asha\"; }; } );",
                           &s, err), 0);
    assert_true(s.asha && s.flow && s.sampler == SEARCH_TPE && s.tpe_batch == 4);
}

static void test_mistakes(void **st)
{
    (void)st;
#define STAGE(body) "stages = ( { name = \"s\";\n" body " } );"
#define SPACE "space = { lr = { uniform = [0.001, 0.003]; }; };"
    expect(STAGE("sample = { sampler = \"grid\"; n_trials = 5; " SPACE " };"),
           "t.cfg:2: stages.search.sample.sampler: \"grid\" is unknown; use random, sobol, lhs or tpe");
    expect(STAGE("sample = { sampler = \"sobol\"; " SPACE " };"), "t.cfg:2: stages.search.sample: n_trials is missing");
    expect(STAGE("sample = { sampler = \"sobol\"; n_trials = 0; " SPACE " };"),
           "stages.search.sample.n_trials: 0 is out of range; use a whole number 1..4294967295");
    expect(STAGE("sample = { sampler = \"lhs\"; n_trial = 5; " SPACE " };"),
           "t.cfg:2: unknown key 'n_trial' in stages.search.sample; known keys: sampler, n_trials");
    expect(STAGE("sample = { sampler = \"tpe\"; n_trials = 5; " SPACE " };"), "sampler \"tpe\" needs tpe_batch");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5; tpe_batch = 4; " SPACE " };"),
           "tpe_batch and tpe_startup go with sampler \"tpe\" only");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5;\n space = { lr = { normal = [0.1, 0.2]; }; }; };"),
           "t.cfg:3: stages.search.sample.space.lr: unknown distribution 'normal'");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5;\n space = { rate = { uniform = [0.1, 0.2]; }; }; };"),
           "t.cfg:3: stages.search.sample.space.rate: 'rate' is not a parameter");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5;\n space = { lr = { uniform = [0.3, 0.2]; }; }; };"),
           "stages.search.sample.space: lr: range [0.3, 0.2] is empty or not finite; give lo <= hi");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5;\n space = { hidden = { uniform = [4, 64]; }; }; };"),
           "space: hidden: an integer parameter takes int, log_int or choice, not uniform");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5;\n space = { lr = { uniform = [0.1]; }; }; };"),
           "stages.search.sample.space.lr.uniform: give [lo, hi], two numbers (got 1)");
    expect(STAGE("axes = { lr = [0.1]; };\n sample = { sampler = \"random\"; n_trials = 5; " SPACE " };"),
           "t.cfg:3: stages.search: a stage has axes or a sample, not both");
    /* the bad value in the message (review: these named the key only) */
    expect(STAGE("sample = { sampler = 3; n_trials = 5; " SPACE " };"),
           "t.cfg:2: stages.search.sample.sampler = 3: give \"random\"");
    expect(STAGE("sample = { sampler = \"lhs\"; n_trials = \"9\"; " SPACE " };"),
           "stages.search.sample.n_trials: \"9\" is not a number; write e.g. n_trials = 3;");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5;\n space = { lr = 0.01; }; };"),
           "t.cfg:3: stages.search.sample.space.lr = 0.01: give one distribution");
    expect(STAGE("sample = 5;"), "stages.search.sample = 5: give a group");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5; " SPACE " };\n halving = 3;"),
           "t.cfg:3: stages.search.halving = 3: give a group");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5; " SPACE " };\n"
                 " halving = { min_epochs = 1; max_epochs = 9; align = \"middle\"; };"),
           "t.cfg:3: stages.search.halving.align = \"middle\": give \"end\"");
    /* promote: the rule's name, and what ASHA does not go with */
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5; " SPACE " };\n"
                 " halving = { min_epochs = 1; max_epochs = 9; promote = \"async\"; };"),
           "t.cfg:3: stages.search.halving.promote = \"async\": give \"rung\"");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5; " SPACE " };\n"
                 " halving = { min_epochs = 1; max_epochs = 9; align = \"start\"; promote = \"asha\"; };"),
           "t.cfg:3: stages.search.halving.promote = \"asha\" runs as a dataflow: drop stages.search.halving.align");
    /* a choice twice, as an axis refuses a value twice */
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5;\n space = { activation = { choice = [\"relu\", \"tanh\", \"relu\"]; }; }; };"),
           "t.cfg:3: stages.search.sample.space.activation.choice: \"relu\" appears twice; give each value once");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5;\n space = { layers = { choice = (2, 3, 2); }; }; };"),
           "stages.search.sample.space.layers.choice: 2 appears twice");
    expect(STAGE("halving = { min_epochs = 10; max_epochs = 1000; eta = 1; };"),
           "stages.search.halving.eta: 1 is out of range; use a whole number 2..1000");
    expect(STAGE("halving = { min_epochs = 10; max_epochs = 1000; brackets = 6; };"),
           "t.cfg:2: stages.search.halving: brackets = 6 is out of range; min_epochs 10, max_epochs 1000 and eta 3 allow 1..5");
    expect(STAGE("halving = { max_epochs = 1000; };"), "min_epochs and max_epochs are needed");
    expect(STAGE("halving = { min_epochs = 10; max_epochs = 5; };"), "max_epochs = 5 is out of range; use min_epochs (10)");
    expect(STAGE("sample = { sampler = \"random\"; n_trials = 5;\n space = { epochs = { int = [10, 100]; }; }; };\n"
                 "halving = { min_epochs = 10; max_epochs = 1000; };"),
           "t.cfg:4: stages.search.halving: epochs is the budget of halving; take it out of stages.search.sample.space");
    expect(STAGE("axes = { epochs = [10, 100]; };\n halving = { min_epochs = 10; max_epochs = 1000; };"),
           "epochs is the budget of halving; take it out of the axes");
    expect(STAGE("axes = { lr = [0.1, 0.2]; }; repeats = 3;\n halving = { min_epochs = 10; max_epochs = 1000; };"),
           "stages.search: repeats = 3 with halving");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_example), cmocka_unit_test(test_asha),
                                       cmocka_unit_test(test_mistakes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
