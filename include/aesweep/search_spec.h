/* search_spec.h - the `sample` and `halving` groups of a stage (issue 16; the keys are
 * docs/search.md's).
 *
 * Parsed from the stage's libconfig group into plain numbers: the sampled
 * space (sample.h), the TPE options (tpe.h) and the halving schedule's inputs
 * (halving.h), each checked by its module's own check, so that a bad value gets
 * one line naming file:line, key, value and fix.  spec.c owns the file, the
 * include map and the parameter values (category names, width lists), so it
 * hands in two callbacks; this module knows only the groups' shape.
 *
 * Not yet called by spec.c: a stage with `sample` or `halving` needs the
 * dispatch rounds of issue 14 to run (docs/search.md, "What integration needs").
 */
#ifndef AESWEEP_SEARCH_SPEC_H
#define AESWEEP_SEARCH_SPEC_H
#include "aesweep/sample.h"
#include <libconfig.h>

#define SEARCH_TPE SAMPLE_METHOD_COUNT /* sampler = "tpe" */

typedef struct {
    int has_sample;       /* the stage has a `sample` group */
    int sampler;          /* enum sample_method, or SEARCH_TPE */
    sample_space_t space; /* space.method: the sampler (tpe: random, for its startup trials) */
    int tpe_batch;        /* tpe: proposals per round */
    int tpe_startup;      /* tpe: random trials before the model (10) */
    int has_halving;      /* the stage has a `halving` group */
    long min_epochs, max_epochs;
    int eta;              /* 3 unless given */
    int brackets;         /* 0 = all */
    int align_start;      /* halving.align: 0 "end" (default), 1 "start" or "flow" (search.h, rounds) */
    int flow;             /* halving.align = "flow": no rounds, a dataflow (search.h); rungs numbered as "start" */
    int asha;             /* halving.promote = "asha": ASHA's rule in a fixed order (search_flow.c); implies flow */
} search_spec_t;

typedef struct {
    void *ctx;
    /* The number parameter p's value c stands for (spec.c: numbers in range,
     * category names, width lists); key names it in messages.  0 or -1 with err. */
    int (*value)(void *ctx, const config_setting_t *c, const char *key, int p, double *v, char *err);
    /* "file:line: msg" for setting c into err (SPEC_ERR_LEN); returns -1. */
    int (*fail_at)(void *ctx, const config_setting_t *c, const char *msg, char *err);
} search_spec_io_t;

/* Parse stage group g (named `where` in messages, e.g. "stages.search").
 * No `sample` and no `halving` group: out->has_sample = has_halving = 0.
 * 0, or -1 with one line in err (SPEC_ERR_LEN). */
int search_spec_parse(const config_setting_t *g, const char *where, const search_spec_io_t *io, search_spec_t *out,
                      char *err);

#endif
