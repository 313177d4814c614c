/* search_spec.c - the `sample` and `halving` groups of a stage; see search_spec.h. */
#include "aesweep/search_spec.h"
#include "aesweep/halving.h"
#include "aesweep/spec.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int failf(const search_spec_io_t *io, const config_setting_t *c, char *err, const char *fmt, ...)
{
    char msg[SPEC_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return io->fail_at(io->ctx, c, msg, err);
}

/* A setting's value as the spec writes it, for messages that must name the
 * bad value: a number, a quoted string, or [a, b] / (a, b) one level deep. */
static const char *setting_text(const config_setting_t *c, char *buf, size_t n)
{
    switch (config_setting_type(c)) {
    case CONFIG_TYPE_INT: snprintf(buf, n, "%d", config_setting_get_int(c)); break;
    case CONFIG_TYPE_INT64: snprintf(buf, n, "%lld", (long long)config_setting_get_int64(c)); break;
    case CONFIG_TYPE_FLOAT: snprintf(buf, n, "%.17g", config_setting_get_float(c)); break;
    case CONFIG_TYPE_BOOL: snprintf(buf, n, "%s", config_setting_get_bool(c) ? "true" : "false"); break;
    case CONFIG_TYPE_STRING: snprintf(buf, n, "\"%s\"", config_setting_get_string(c)); break;
    case CONFIG_TYPE_GROUP: snprintf(buf, n, "a group { ... }"); break;
    default: { /* array or list */
        int list = config_setting_type(c) == CONFIG_TYPE_LIST, k = config_setting_length(c);
        size_t u = (size_t)snprintf(buf, n, "%c", list ? '(' : '[');
        for (int i = 0; i < k && u < n; i++) {
            const config_setting_t *e = config_setting_get_elem(c, (unsigned)i);
            char one[64];
            u += (size_t)snprintf(buf + u, n - u, "%s%s", i ? ", " : "",
                                  config_setting_is_aggregate(e) ? "[...]" : setting_text(e, one, sizeof one));
        }
        if (u < n) snprintf(buf + u, n - u, "%c", list ? ')' : ']');
    }
    }
    return buf;
}

/* The last component of a dotted key ("stages.s.sample.n_trials" -> "n_trials"). */
static const char *leaf(const char *key)
{
    const char *d = strrchr(key, '.');
    return d ? d + 1 : key;
}

/* Every member of group g is in allowed (a typo is the usual cause). */
static int check_keys(const search_spec_io_t *io, const config_setting_t *g, const char *where,
                      const char *const *allowed, char *err)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
        const char *k = config_setting_name(c);
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(k, *a);
        if (!ok) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
            return failf(io, c, err, "unknown key '%s' in %s; known keys: %s", k, where, list);
        }
    }
    return 0;
}

static int number(const search_spec_io_t *io, const config_setting_t *c, const char *key, double *v, char *err)
{
    switch (config_setting_type(c)) {
    case CONFIG_TYPE_INT: *v = config_setting_get_int(c); return 0;
    case CONFIG_TYPE_INT64: *v = (double)config_setting_get_int64(c); return 0;
    case CONFIG_TYPE_FLOAT: *v = config_setting_get_float(c); return 0;
    default: {
        char t[96];
        return failf(io, c, err, "%s: %s is not a number; write e.g. %s = 3;", key, setting_text(c, t, sizeof t),
                     leaf(key));
    }
    }
}

/* An optional whole-number member name of g in [lo, hi] into *out. */
static int whole(const search_spec_io_t *io, const config_setting_t *g, const char *where, const char *name, long lo,
                 long hi, long *out, char *err)
{
    const config_setting_t *c = config_setting_get_member(g, name);
    if (!c) return 0;
    double v = 0;
    char key[160];
    snprintf(key, sizeof key, "%s.%s", where, name);
    if (number(io, c, key, &v, err)) return -1;
    if (v != floor(v) || v < (double)lo || v > (double)hi)
        return failf(io, c, err, "%s: %g is out of range; use a whole number %ld..%ld", key, v, lo, hi);
    *out = (long)v;
    return 0;
}

/* One parameter of `space`: { uniform = [lo, hi]; } or log_uniform, int, log_int, choice. */
static int space_param(const search_spec_io_t *io, const config_setting_t *c, const char *where, sample_param_t *sp,
                       char *err)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", where, config_setting_name(c));
    sp->param = param_lookup(config_setting_name(c));
    if (sp->param < 0) return failf(io, c, err, "%s: '%s' is not a parameter", key, config_setting_name(c));
    if (!config_setting_is_group(c) || config_setting_length(c) != 1) {
        char t[96];
        return failf(io, c, err, "%s = %s: give one distribution, e.g. { log_uniform = [0.0005, 0.003]; } or "
                                 "{ choice = [10, 20]; }", key, setting_text(c, t, sizeof t));
    }
    const config_setting_t *d = config_setting_get_elem(c, 0);
    const char *dn = config_setting_name(d);
    sp->dist = -1;
    for (int i = 0; i < DIST_COUNT; i++)
        if (!strcmp(dn, sample_dist_names[i])) sp->dist = i;
    if (sp->dist < 0)
        return failf(io, d, err, "%s: unknown distribution '%s'; use uniform, log_uniform, int, log_int or choice", key, dn);
    int n = config_setting_length(d);
    if (!config_setting_is_aggregate(d) || n < 1)
        return failf(io, d, err, "%s.%s: give a list, e.g. %s = [%s];", key, dn, dn, sp->dist == DIST_CHOICE ? "10, 20" : "1, 4");
    if (sp->dist == DIST_CHOICE) {
        if (n > SAMPLE_MAX_CHOICES) return failf(io, d, err, "%s.choice: %d values; at most %d", key, n, SAMPLE_MAX_CHOICES);
        sp->nchoices = n;
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(d, (unsigned)i);
            if (io->value(io->ctx, e, key, sp->param, &sp->choices[i], err)) return -1;
            /* as an axis refuses a value twice: a repeated choice would only
             * double its prior weight (TPE maps it to its first copy) */
            for (int k = 0; k < i; k++)
                if (sp->choices[k] == sp->choices[i]) {
                    char t[96];
                    return failf(io, e, err, "%s.choice: %s appears twice; give each value once", key,
                                 setting_text(e, t, sizeof t));
                }
        }
        return 0;
    }
    if (n != 2) return failf(io, d, err, "%s.%s: give [lo, hi], two numbers (got %d)", key, dn, n);
    if (number(io, config_setting_get_elem(d, 0), key, &sp->lo, err) ||
        number(io, config_setting_get_elem(d, 1), key, &sp->hi, err))
        return -1;
    return 0;
}

static int parse_sample(const config_setting_t *s, const char *where, const search_spec_io_t *io, search_spec_t *o,
                        char *err)
{
    static const char *const keys[] = {"sampler", "n_trials", "tpe_batch", "tpe_startup", "space", NULL};
    char w[160];
    snprintf(w, sizeof w, "%s.sample", where);
    if (!config_setting_is_group(s)) {
        char t[96];
        return failf(io, s, err, "%s = %s: give a group { sampler = ...; space = {...}; }", w, setting_text(s, t, sizeof t));
    }
    if (check_keys(io, s, w, keys, err)) return -1;
    const char *name = NULL;
    const config_setting_t *c = config_setting_get_member(s, "sampler");
    if (!c || !(name = config_setting_get_string(c))) {
        char t[96];
        return failf(io, c ? c : s, err, "%s.sampler%s%s: give \"random\", \"sobol\", \"lhs\" or \"tpe\"", w,
                     c ? " = " : " is missing", c ? setting_text(c, t, sizeof t) : "");
    }
    o->sampler = -1;
    for (int i = 0; i < SAMPLE_METHOD_COUNT; i++)
        if (!strcmp(name, sample_method_names[i])) o->sampler = i;
    if (!strcmp(name, "tpe")) o->sampler = SEARCH_TPE;
    if (o->sampler < 0) return failf(io, c, err, "%s.sampler: \"%s\" is unknown; use random, sobol, lhs or tpe", w, name);
    o->space.method = o->sampler == SEARCH_TPE ? SAMPLE_RANDOM : o->sampler;
    if (!config_setting_get_member(s, "n_trials")) return failf(io, s, err, "%s: n_trials is missing; e.g. n_trials = 729;", w);
    long lim = o->sampler == SAMPLE_SOBOL ? 4294967295L : 1000000000L, batch = 0, startup = 10;
    if (whole(io, s, w, "n_trials", 1, lim, &o->space.n, err) || whole(io, s, w, "tpe_batch", 1, 100000, &batch, err) ||
        whole(io, s, w, "tpe_startup", 0, 1000000, &startup, err))
        return -1;
    if (o->sampler == SEARCH_TPE && !batch)
        return failf(io, s, err, "%s: sampler \"tpe\" needs tpe_batch (proposals per round, e.g. tpe_batch = 16;)", w);
    if (o->sampler != SEARCH_TPE && (config_setting_get_member(s, "tpe_batch") || config_setting_get_member(s, "tpe_startup")))
        return failf(io, s, err, "%s: tpe_batch and tpe_startup go with sampler \"tpe\" only", w);
    o->tpe_batch = (int)batch, o->tpe_startup = (int)startup;
    const config_setting_t *sp = config_setting_get_member(s, "space");
    if (!sp || !config_setting_is_group(sp) || config_setting_length(sp) < 1)
        return failf(io, sp ? sp : s, err, "%s.space: a group of parameters, e.g. space = { lr = { log_uniform = [0.0005, 0.003]; }; };", w);
    snprintf(w + strlen(w), sizeof w - strlen(w), ".space");
    o->space.nparams = config_setting_length(sp);
    if (o->space.nparams > SAMPLE_MAX_PARAMS) return failf(io, sp, err, "%s: %d parameters; at most %d", w, o->space.nparams, SAMPLE_MAX_PARAMS);
    for (int j = 0; j < o->space.nparams; j++)
        if (space_param(io, config_setting_get_elem(sp, (unsigned)j), w, &o->space.params[j], err)) return -1;
    char msg[SPEC_ERR_LEN];
    if (sample_space_check(&o->space, msg, sizeof msg)) return failf(io, sp, err, "%s: %s", w, msg);
    return 0;
}

static int parse_halving(const config_setting_t *h, const char *where, const search_spec_io_t *io, search_spec_t *o,
                         char *err)
{
    static const char *const keys[] = {"min_epochs", "max_epochs", "eta", "brackets", "align", "promote", NULL};
    char w[160];
    snprintf(w, sizeof w, "%s.halving", where);
    if (!config_setting_is_group(h)) {
        char t[96];
        return failf(io, h, err, "%s = %s: give a group { min_epochs = ...; max_epochs = ...; }", w,
                     setting_text(h, t, sizeof t));
    }
    if (check_keys(io, h, w, keys, err)) return -1;
    if (!config_setting_get_member(h, "min_epochs") || !config_setting_get_member(h, "max_epochs"))
        return failf(io, h, err, "%s: min_epochs and max_epochs are needed, e.g. min_epochs = 10; max_epochs = 1000;", w);
    long eta = 3, nb = 0;
    if (whole(io, h, w, "min_epochs", 1, 100000000L, &o->min_epochs, err) ||
        whole(io, h, w, "max_epochs", 1, 100000000L, &o->max_epochs, err) || whole(io, h, w, "eta", 2, 1000, &eta, err) ||
        whole(io, h, w, "brackets", 0, HALVING_MAX_BRACKETS, &nb, err))
        return -1;
    o->eta = (int)eta, o->brackets = (int)nb;
    const config_setting_t *al = config_setting_get_member(h, "align");
    if (al) {
        const char *a = config_setting_get_string(al);
        char t[96];
        if (!a || (strcmp(a, "end") && strcmp(a, "start") && strcmp(a, "flow")))
            return failf(io, al, err, "%s.align = %s: give \"end\" (every bracket's last rung in the last round: fewest idle "
                                      "ranks), \"start\" (rung k of every bracket in round k: full-length trials first) "
                                      "or \"flow\" (no rounds: a rung starts when its bracket's previous rung is in)", w,
                                      setting_text(al, t, sizeof t));
        o->flow = !strcmp(a, "flow");
        o->align_start = o->flow || !strcmp(a, "start");

    }
    const config_setting_t *pr = config_setting_get_member(h, "promote");
    if (pr) {
        const char *a = config_setting_get_string(pr);
        char t[96];
        if (!a || (strcmp(a, "rung") && strcmp(a, "asha")))
            return failf(io, pr, err, "%s.promote = %s: give \"rung\" (promote a rung's top 1/eta once all of it is in) or "
                                      "\"asha\" (ASHA's rule in a fixed order: as soon as a trial is in the top 1/eta of "
                                      "the rung's results so far)", w, setting_text(pr, t, sizeof t));
        o->asha = !strcmp(a, "asha");
        if (o->asha && al && !o->flow)
            return failf(io, pr, err, "%s.promote = \"asha\" runs as a dataflow: drop %s.align (or give align = \"flow\")",
                         w, w);
        if (o->asha) o->flow = o->align_start = 1;
    }
    halving_schedule_t hs;
    char msg[SPEC_ERR_LEN];
    if (halving_schedule(&hs, o->min_epochs, o->max_epochs, o->eta, o->brackets, 0, msg, sizeof msg))
        return failf(io, h, err, "%s: %s", w, msg);
    if (o->has_sample)
        for (int j = 0; j < o->space.nparams; j++)
            if (o->space.params[j].param == P_EPOCHS)
                return failf(io, h, err, "%s: epochs is the budget of halving; take it out of %s.sample.space", w, where);
    return 0;
}

int search_spec_parse(const config_setting_t *g, const char *where, const search_spec_io_t *io, search_spec_t *out,
                      char *err)
{
    memset(out, 0, sizeof *out);
    const config_setting_t *s = config_setting_get_member(g, "sample");
    const config_setting_t *h = config_setting_get_member(g, "halving");
    if (s) {
        out->has_sample = 1;
        if (config_setting_get_member(g, "axes"))
            return failf(io, s, err, "%s: a stage has axes or a sample, not both; move the axes into sample.space", where);
        if (parse_sample(s, where, io, out, err)) return -1;
    }
    if (h) {
        out->has_halving = 1;
        const config_setting_t *ax = config_setting_get_member(g, "axes"), *rep = config_setting_get_member(g, "repeats");
        if (ax && config_setting_get_member(ax, "epochs"))
            return failf(io, h, err, "%s: epochs is the budget of halving; take it out of the axes", where);
        if (rep && config_setting_type(rep) == CONFIG_TYPE_INT && config_setting_get_int(rep) > 1)
            return failf(io, rep, err, "%s: repeats = %d with halving; a trial is one initialisation (repeat the best "
                                       "trial in a later stage)", where, config_setting_get_int(rep));
        if (parse_halving(h, where, io, out, err)) return -1;
    }
    return 0;
}
