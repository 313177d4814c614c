/* test_outdir.c - the resume decision (outdir_decide) in every branch, as
 * a pure function: no MPI, no files.  Also the journal identity round trip
 * (outdir_identity_text / outdir_split_identity), on which the decision's
 * "changed spec" and "changed data" branches rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/outdir.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC "study = \"q\";\nseed = 1;\nstages = ( { name = \"a\"; } );\n"
#define INPUTS OUTDIR_INPUTS_MARK "# data d.csv crc32=0000abcd bytes=100 rows=10 features=2\n# pool rows=7 features=2\n"
#define NOW_INPUTS "# data d.csv crc32=0000abcd bytes=100 rows=10 features=2\n# pool rows=7 features=2\n"

/* The facts of a run of SPEC on INPUTS into r.h5: no result file, no journal. */
static outdir_facts_t base(void)
{
    outdir_facts_t f = {.spec_path = "s.cfg", .out = "r.h5", .journal_path = "r.h5.journal", .spec_text = SPEC,
                        .inputs = INPUTS, .probe = -1, .journal = -1};
    return f;
}

/* A journal of this spec and data with 5 records. */
static outdir_facts_t with_journal(void)
{
    outdir_facts_t f = base();
    f.probe = 1; /* the partial result file */
    f.journal = 0;
    f.journal_spec = SPEC;
    f.journal_inputs = NOW_INPUTS;
    f.journal_tasks = 5;
    return f;
}

static void test_no_journal_starts_fresh(void **st)
{
    (void)st;
    char msg[SPEC_ERR_LEN];
    outdir_facts_t f = base();
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_FRESH);
    assert_string_equal(msg, "");
    f.probe = 1; /* an old complete result is replaced by a run without --resume */
    f.result_complete = 1;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_FRESH);
    assert_string_equal(msg, "");
}

static void test_foreign_or_locked_output_is_refused(void **st)
{
    (void)st;
    char msg[SPEC_ERR_LEN];
    outdir_facts_t f = base();
    f.probe = 0;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_non_null(strstr(msg, "r.h5: exists and is not an aesweep result file"));
    f.fresh = 1; /* --fresh never overwrites a file that is not ours */
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    f.probe = 2;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_non_null(strstr(msg, "another process holds this file open for writing"));
}

static void test_matching_journal(void **st)
{
    (void)st;
    char msg[SPEC_ERR_LEN];
    outdir_facts_t f = with_journal();
    /* without a flag: refused, saying how many tasks and both ways on */
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_string_equal(msg, "r.h5.journal: a partial run of this output exists (5 tasks journaled); continue it with --resume or discard it with --fresh");
    f.resume = 1;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_RESUME);
    assert_string_equal(msg, "");
    f.resume = 0, f.fresh = 1;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_FRESH);
}

static void test_changed_spec_is_refused(void **st)
{
    (void)st;
    char msg[SPEC_ERR_LEN];
    outdir_facts_t f = with_journal();
    f.resume = 1;
    f.spec_text = "study = \"q\";\nseed = 2;\nstages = ( { name = \"a\"; } );\n";
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_string_equal(msg, "s.cfg: the spec changed since the partial run in r.h5.journal (line 2 was 'seed = 1;', now 'seed = 2;'; @include files count as part of the spec); restore it, or start over with --fresh");
    f.fresh = 1, f.resume = 0; /* --fresh discards it */
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_FRESH);
}

static void test_changed_data_crc_is_refused(void **st)
{
    (void)st;
    char msg[SPEC_ERR_LEN];
    outdir_facts_t f = with_journal();
    f.resume = 1;
    f.journal_inputs = "# data d.csv crc32=0000ffff bytes=100 rows=10 features=2\n# pool rows=7 features=2\n";
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_string_equal(msg, "s.cfg: the data changed since the partial run in r.h5.journal (was 'data d.csv crc32=0000ffff bytes=100 rows=10 features=2', now 'data d.csv crc32=0000abcd bytes=100 rows=10 features=2'): its finished cells would mix with cells of other data; restore the data, or start over with --fresh");
    /* a later line differs: the message names that line */
    f.journal_inputs = "# data d.csv crc32=0000abcd bytes=100 rows=10 features=2\n# pool rows=8 features=2\n";
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_non_null(strstr(msg, "(was 'pool rows=8 features=2', now 'pool rows=7 features=2')"));
}

static void test_journal_without_inputs_is_refused(void **st)
{
    (void)st;
    char msg[SPEC_ERR_LEN];
    outdir_facts_t f = with_journal();
    f.resume = 1;
    f.journal_inputs = ""; /* written by 0.3.0 */
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_non_null(strstr(msg, "r.h5.journal: this journal was written by aesweep 0.3.0 or older"));
    assert_non_null(strstr(msg, "start over with --fresh"));
}

static void test_torn_or_unreadable_journal(void **st)
{
    (void)st;
    char msg[SPEC_ERR_LEN];
    /* a torn last record: journal_read drops it and reports the whole
     * ones; the decision sees a journal like any other */
    outdir_facts_t f = with_journal();
    f.resume = 1;
    f.journal_tasks = 4;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_RESUME);
    /* a header that is not a journal's: refused with journal_read's own
     * message, whatever the flag but --fresh */
    f.journal = -2;
    f.journal_err = "r.h5.journal: not an aesweep journal (bad magic); move it away or run with --fresh";
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_string_equal(msg, f.journal_err);
    f.resume = 0;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    f.fresh = 1;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_FRESH);
    assert_string_equal(msg, "");
}

static void test_resume_without_journal(void **st)
{
    (void)st;
    char msg[SPEC_ERR_LEN];
    outdir_facts_t f = base();
    f.resume = 1;
    /* nothing there: start, and say so */
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_FRESH);
    assert_string_equal(msg, "no journal at r.h5.journal; starting from the beginning");
    /* a partial result without its journal: the same */
    f.probe = 1;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_FRESH);
    /* complete for this spec and data: nothing to do */
    f.result_complete = 1;
    f.result_spec = SPEC;
    f.result_inputs = INPUTS;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_COMPLETE);
    assert_string_equal(msg, "r.h5 is already complete for this spec; nothing to resume");
    f.result_inputs = NULL; /* a 0.3.0 file records no inputs: the spec decides */
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_COMPLETE);
    /* complete, for other data */
    f.result_inputs = OUTDIR_INPUTS_MARK "# data d.csv crc32=00000001 bytes=100 rows=10 features=2\n# pool rows=7 features=2\n";
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_string_equal(msg, "r.h5: complete, but for other data (was 'data d.csv crc32=00000001 bytes=100 rows=10 features=2', now 'data d.csv crc32=0000abcd bytes=100 rows=10 features=2'); run without --resume to replace it, or choose another output (-o)");
    /* complete, for another spec */
    f.result_inputs = INPUTS;
    f.result_spec = "study = \"q\";\nseed = 1;\nstages = ( { name = \"b\"; } );\n";
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_string_equal(msg, "r.h5: complete, but for another spec (line 3 was 'stages = ( { name = \"b\"; } );', now 'stages = ( { name = \"a\"; } );'); run without --resume to replace it, or choose another output (-o)");
}

static void test_identity_round_trip(void **st)
{
    (void)st;
    /* the journal header is the spec, a newline if it lacks one, the inputs */
    char *id = outdir_identity_text("seed = 1;", INPUTS);
    assert_non_null(id);
    assert_string_equal(id, "seed = 1;\n" INPUTS);
    const char *in = outdir_split_identity(id);
    assert_string_equal(id, "seed = 1;\n");
    assert_string_equal(in, NOW_INPUTS);
    free(id);
    char old[] = "seed = 1;\n"; /* 0.3.0: no inputs section */
    assert_string_equal(outdir_split_identity(old), "");
    assert_string_equal(old, "seed = 1;\n");
}

/* Long lines: the spec message shows a window of at most 60 characters
 * around the first difference, marked with "..." where cut. */
static void test_changed_spec_long_line(void **st)
{
    (void)st;
    char was[300], now[300], msg[SPEC_ERR_LEN];
    snprintf(was, sizeof was, "x = \"%080d\";\n", 1);
    snprintf(now, sizeof now, "x = \"%080d\";\n", 2);
    outdir_facts_t f = with_journal();
    f.resume = 1;
    f.journal_spec = was;
    f.spec_text = now;
    assert_int_equal(outdir_decide(&f, msg, sizeof msg), OUTDIR_REFUSE);
    assert_non_null(strstr(msg, "(line 1 was '..." "000000000000000000000000000000" "1\";', now '..." "000000000000000000000000000000" "2\";';"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_journal_starts_fresh),
        cmocka_unit_test(test_foreign_or_locked_output_is_refused),
        cmocka_unit_test(test_matching_journal),
        cmocka_unit_test(test_changed_spec_is_refused),
        cmocka_unit_test(test_changed_data_crc_is_refused),
        cmocka_unit_test(test_journal_without_inputs_is_refused),
        cmocka_unit_test(test_torn_or_unreadable_journal),
        cmocka_unit_test(test_resume_without_journal),
        cmocka_unit_test(test_identity_round_trip),
        cmocka_unit_test(test_changed_spec_long_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
