/* fuzz_spec.c - libFuzzer harness for the spec parser and its validator.
 *
 * The input is a spec text: spec_load parses and validates it; when it is
 * accepted, spec_check_data checks it against the data sizes of moons (2
 * features, the spec's pool) and of digits (64 features, 1198 training rows),
 * and the metric names are listed.  Besides crashes and sanitizer reports,
 * the harness aborts when a refusal breaks the message contract: one
 * non-empty line that starts with the spec's name.
 * Build and run: tests/fuzz/run_fuzz.sh.
 */
#include "aesweep/spec.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_message(const char *err, const char *what)
{
    size_t n = strnlen(err, SPEC_ERR_LEN);
    if (n == 0 || n == SPEC_ERR_LEN) {
        fprintf(stderr, "%s: empty or unterminated message\n", what);
        abort();
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)err[i] < 32) {
            fprintf(stderr, "%s: message is not one line: %s\n", what, err);
            abort();
        }
    if (strncmp(err, "fuzz.cfg", 8) != 0) {
        fprintf(stderr, "%s: message does not name the spec: %s\n", what, err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    study_t *s = malloc(sizeof *s);
    char err[SPEC_ERR_LEN];
    if (spec_load(s, "fuzz.cfg", text, err) == 0) {
        char names[PLAN_MAX_METRICS_SPEC][SPEC_NAME_LEN];
        int nm = spec_metric_names(s, names, PLAN_MAX_METRICS_SPEC);
        if (nm < 2 || nm > PLAN_MAX_METRICS_SPEC) abort();
        if (s->nstages < 1 || s->nstages > SPEC_MAX_STAGES || s->ntests < 1 || s->ntests > SPEC_MAX_TESTS) abort();
        if (spec_check_data(s, 2, (size_t)s->pool, err)) check_message(err, "spec_check_data(moons)");
        if (spec_check_data(s, 64, 1198, err)) check_message(err, "spec_check_data(digits)");
    } else {
        check_message(err, "spec_load");
    }
    spec_free(s);
    free(s);
    free(text);
    return 0;
}
