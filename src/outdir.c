/* outdir.c - the output of a run (see outdir.h): path checks, the lock,
 * the journal's identity and the resume decision.  Rank 0 only, no MPI. */
#include "aesweep/outdir.h"
#include "aesweep/budget.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file part of a data path ("f.h5:/dataset" -> "f.h5"). */
static void data_file_part(const study_t *s, const char *path, char *out, size_t n)
{
    snprintf(out, n, "%s", path);
    if (s->source == SRC_HDF5) {
        char *c = strrchr(out, ':');
        if (c && c[1] == '/') *c = 0;
    }
}

/* The folder of path (one level up: "a/b/c" -> "a/b", "/c" -> "/", "c" -> "."). */
static void parent_dir(char *dir)
{
    char *sl = strrchr(dir, '/');
    if (sl == dir) sl[1] = 0;
    else if (sl) *sl = 0;
    else strcpy(dir, ".");
}

/* Every file the run writes against every file it reads: -1 with err when
 * one is the other. */
static int check_not_input(const study_t *s, const char *spec_path, const char *out, char *err)
{
    const char *sfx[] = {"", ".tmp", ".journal", ".lock"};
    char inputs[2 + 2 * SPEC_MAX_TESTS + 1][SPEC_PATH_LEN];
    const char *what[2 + 2 * SPEC_MAX_TESTS + 1];
    int ni = 0;
    snprintf(inputs[ni], SPEC_PATH_LEN, "%s", spec_path), what[ni++] = "the spec";
    if (s->source != SRC_MOONS) {
        data_file_part(s, s->data_path, inputs[ni], SPEC_PATH_LEN), what[ni++] = "data.path";
        for (int t = 0; t < s->ntests; t++)
            if (s->tests[t].path[0]) data_file_part(s, s->tests[t].path, inputs[ni], SPEC_PATH_LEN), what[ni++] = "tests.path";
        if (s->labels_path[0]) snprintf(inputs[ni], SPEC_PATH_LEN, "%s", s->labels_path), what[ni++] = "data.labels";
        for (int t = 0; t < s->ntests; t++)
            if (s->tests[t].labels_path[0]) snprintf(inputs[ni], SPEC_PATH_LEN, "%s", s->tests[t].labels_path), what[ni++] = "tests.labels";
    }
    for (int k = 0; k < 4; k++) {
        char o[SPEC_PATH_LEN + 16];
        snprintf(o, sizeof o, "%s%s", out, sfx[k]);
        struct stat so;
        if (stat(o, &so) != 0) continue;
        for (int i = 0; i < ni; i++) {
            struct stat si;
            if (stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
                snprintf(err, SPEC_ERR_LEN, "%s: the output%s%s is also an input (%s %s is the same file): writing it would destroy the input; choose another output (-o)",
                         o, k ? " file " : "", k ? sfx[k] : "", what[i], inputs[i]);
                return -1;
            }
        }
    }
    return 0;
}

int outdir_check(const study_t *s, const char *spec_path, const char *out, char *err)
{
    size_t n = strlen(out);
    if (n == 0) {
        snprintf(err, SPEC_ERR_LEN, "the output path is empty (-o \"\"); give a file name such as results/%s.h5", s->study);
        return -1;
    }
    if (n + 16 > SPEC_PATH_LEN) {
        snprintf(err, SPEC_ERR_LEN, "the output path is %zu characters long, more than the %d this build handles; choose a shorter output (-o): %.60s...",
                 n, SPEC_PATH_LEN - 16, out);
        return -1;
    }
    const char *base = strrchr(out, '/');
    base = base ? base + 1 : out;
    struct stat sb;
    if (!*base || (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode))) {
        snprintf(err, SPEC_ERR_LEN, "%s: names a folder, not a file; give a file name inside it (-o), e.g. %s%s%s.h5", out, out,
                 n && out[n - 1] == '/' ? "" : "/", s->study);
        return -1;
    }
    if (strlen(base) + 8 > 255) { /* OUT.journal must fit NAME_MAX */
        snprintf(err, SPEC_ERR_LEN, "the output file name is %zu characters long; file names have at most 255 and aesweep adds '.journal': use at most 247 (%.40s...)",
                 strlen(base), base);
        return -1;
    }
    if (check_not_input(s, spec_path, out, err)) return -1;
    char dir[SPEC_PATH_LEN];
    snprintf(dir, sizeof dir, "%s", out);
    parent_dir(dir);
    if (stat(dir, &sb) != 0 && errno == ENOENT) {
        /* run creates a missing last folder; its parent must be writable */
        parent_dir(dir);
        if (stat(dir, &sb) != 0) {
            snprintf(err, SPEC_ERR_LEN, "%s: output folder %s does not exist (%s); create it or choose another output (-o)",
                     spec_path, dir, strerror(errno));
            return -1;
        }
    }
    if (access(dir, W_OK) != 0) {
        snprintf(err, SPEC_ERR_LEN, "%s: output folder %s is not writable (%s); create it or choose another output (-o)",
                 spec_path, dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- identity ------------------------------------------------------------------ */

/* " <what> <file> crc32=... bytes=..." of one file, appended at t + n. */
static size_t file_line(char *t, size_t n, size_t cap, const char *what, const char *f)
{
    uint32_t crc = 0;
    uint64_t size = 0;
    data_crc32_file(f, &crc, &size);
    return (size_t)snprintf(t + n, cap - n, "%s %s crc32=%08x bytes=%llu", what, f, crc, (unsigned long long)size);
}

char *outdir_inputs_text(const study_t *s, const study_data_t *sd)
{
    size_t cap = 512 + (size_t)(2 + 2 * s->ntests + 1) * (SPEC_PATH_LEN + 128);
    char *t = malloc(cap);
    if (!t) return NULL;
    size_t n = snprintf(t, cap, OUTDIR_INPUTS_MARK);
    char f[SPEC_PATH_LEN];
    if (s->source != SRC_MOONS) {
        data_file_part(s, s->data_path, f, sizeof f);
        n += file_line(t, n, cap, "# data", f);
        n += snprintf(t + n, cap - n, " rows=%zu features=%d\n", sd->file_rows, sd->in_dim);
        if (s->labels_path[0]) { /* idx/npy labels: kept in the result file, so part of it */
            n += file_line(t, n, cap, "# labels", s->labels_path);
            n += snprintf(t + n, cap - n, "\n");
        }
    }
    n += snprintf(t + n, cap - n, "# pool rows=%zu features=%d\n", sd->pool.n, sd->pool.d);
    for (int i = 0; i < s->ntests; i++) {
        n += snprintf(t + n, cap - n, "# test %s rows=%zu", s->tests[i].name, sd->tests[i].n);
        if (s->tests[i].path[0]) {
            data_file_part(s, s->tests[i].path, f, sizeof f);
            n += file_line(t, n, cap, " file", f);
        }
        if (s->tests[i].labels_path[0]) n += file_line(t, n, cap, " labels", s->tests[i].labels_path);
        n += snprintf(t + n, cap - n, "\n");
    }
    return t;
}

char *outdir_identity_text(const char *spec, const char *inputs)
{
    size_t a = strlen(spec), b = strlen(inputs);
    char *t = malloc(a + b + 2);
    if (!t) return NULL;
    memcpy(t, spec, a);
    size_t n = a;
    if (a && spec[a - 1] != '\n') t[n++] = '\n';
    memcpy(t + n, inputs, b + 1);
    return t;
}

const char *outdir_split_identity(char *text)
{
    char *m = strstr(text, "\n" OUTDIR_INPUTS_MARK);
    if (!m) return "";
    m[1] = 0; /* text is now the spec alone */
    return m + 1 + strlen(OUTDIR_INPUTS_MARK);
}

/* ---- the decision ---------------------------------------------------------------- */

/* The first spec line that differs, as a window around its first differing column. */
static void first_difference(const char *a, const char *b, char *out, size_t n)
{
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') { line++; la = a + 1; lb = b + 1; }
        a++, b++;
    }
    size_t col = (size_t)(a - la), from = col > 30 ? col - 30 : 0;
    int ka = (int)strcspn(la + from, "\n"), kb = (int)strcspn(lb + from, "\n");
    if (ka > 60) ka = 60;
    if (kb > 60) kb = 60;
    snprintf(out, n, "line %d was '%s%.*s', now '%s%.*s'", line, from ? "..." : "", ka, la + from,
             from ? "..." : "", kb, lb + from);
}

/* The first input line that differs, for the message. */
static void first_input_change(const char *was, const char *now, char *out, size_t n)
{
    while (*was && *now) {
        size_t ka = strcspn(was, "\n"), kb = strcspn(now, "\n");
        if (ka != kb || strncmp(was, now, ka)) break;
        was += ka + (was[ka] != 0), now += kb + (now[kb] != 0);
    }
    if (!strncmp(was, "# ", 2)) was += 2;
    if (!strncmp(now, "# ", 2)) now += 2;
    int ka = (int)strcspn(was, "\n"), kb = (int)strcspn(now, "\n");
    snprintf(out, n, "was '%.*s', now '%.*s'", ka > 150 ? 150 : ka, *was ? was : "(not recorded)", kb > 150 ? 150 : kb,
             *now ? now : "(none)");
}

/* A journal was read: resume it if it is this spec's and this data's. */
static outdir_action_t decide_journal(const outdir_facts_t *f, char *msg, size_t n)
{
    const char *now = f->inputs + strlen(OUTDIR_INPUTS_MARK);
    if (f->fresh) return OUTDIR_FRESH;
    if (!f->resume) {
        snprintf(msg, n, "%s: a partial run of this output exists (%zu tasks journaled); continue it with --resume or discard it with --fresh",
                 f->journal_path, f->journal_tasks);
        return OUTDIR_REFUSE;
    }
    if (strcmp(f->journal_spec, f->spec_text) != 0) {
        char diff[256];
        first_difference(f->journal_spec, f->spec_text, diff, sizeof diff);
        snprintf(msg, n, "%s: the spec changed since the partial run in %s (%s; @include files count as part of the spec); restore it, or start over with --fresh",
                 f->spec_path, f->journal_path, diff);
        return OUTDIR_REFUSE;
    }
    if (!*f->journal_inputs) {
        snprintf(msg, n, "%s: this journal was written by aesweep 0.3.0 or older and does not record its data, so resuming could mix cells of other data; start over with --fresh (or finish it with that version)",
                 f->journal_path);
        return OUTDIR_REFUSE;
    }
    if (strcmp(f->journal_inputs, now) != 0) {
        char diff[400];
        first_input_change(f->journal_inputs, now, diff, sizeof diff);
        snprintf(msg, n, "%s: the data changed since the partial run in %s (%s): its finished cells would mix with cells of other data; restore the data, or start over with --fresh",
                 f->spec_path, f->journal_path, diff);
        return OUTDIR_REFUSE;
    }
    return OUTDIR_RESUME;
}

/* --resume without a journal: a complete result of this spec and data is
 * done; another spec's or data's is refused; else start from the beginning. */
static outdir_action_t decide_no_journal(const outdir_facts_t *f, char *msg, size_t n)
{
    if (!f->result_complete) {
        snprintf(msg, n, "no journal at %s; starting from the beginning", f->journal_path);
        return OUTDIR_FRESH;
    }
    size_t mk = strlen(OUTDIR_INPUTS_MARK);
    if (strcmp(f->result_spec, f->spec_text) == 0 && (!f->result_inputs || !strcmp(f->result_inputs, f->inputs))) {
        snprintf(msg, n, "%s is already complete for this spec; nothing to resume", f->out);
        return OUTDIR_COMPLETE;
    }
    if (strcmp(f->result_spec, f->spec_text) == 0) {
        char diff[400];
        const char *was = strlen(f->result_inputs) >= mk ? f->result_inputs + mk : f->result_inputs;
        first_input_change(was, f->inputs + mk, diff, sizeof diff);
        snprintf(msg, n, "%s: complete, but for other data (%s); run without --resume to replace it, or choose another output (-o)",
                 f->out, diff);
        return OUTDIR_REFUSE;
    }
    char diff[256];
    first_difference(f->result_spec, f->spec_text, diff, sizeof diff);
    snprintf(msg, n, "%s: complete, but for another spec (%s); run without --resume to replace it, or choose another output (-o)",
             f->out, diff);
    return OUTDIR_REFUSE;
}

outdir_action_t outdir_decide(const outdir_facts_t *f, char *msg, size_t n)
{
    msg[0] = 0;
    if (f->probe == 0) {
        snprintf(msg, n, "%s: exists and is not an aesweep result file; choose another output (-o) or move it away", f->out);
        return OUTDIR_REFUSE;
    }
    if (f->probe == 2) {
        snprintf(msg, n, "%s: another process holds this file open for writing (HDF5 file lock); wait for it to finish or choose another output (-o)", f->out);
        return OUTDIR_REFUSE;
    }
    if (f->journal == -2) {
        if (f->fresh) return OUTDIR_FRESH; /* unreadable: --fresh replaces it */
        snprintf(msg, n, "%s", f->journal_err ? f->journal_err : "");
        return OUTDIR_REFUSE;
    }
    if (f->journal == 0) return decide_journal(f, msg, n);
    if (f->resume) return decide_no_journal(f, msg, n);
    return OUTDIR_FRESH;
}

/* ---- the lock and the admitted output ---------------------------------------------- */

/* One run per output: a second run (or a resume while the old ranks are
 * still dying) would interleave journal records.  No output folder yet:
 * nothing to lock against; outdir_admit locks once it has created it.
 * O_CLOEXEC: a process that MPI_Init starts (a singleton's orted) must not
 * inherit the lock and hold it after this run has released it. */
static int take_lock(outdir_t *od, char *err)
{
    od->lock_fd = open(od->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (od->lock_fd < 0 && errno == ENOENT) {
        od->lock_deferred = 1;
        return 0;
    }
    if (od->lock_fd < 0) {
        snprintf(err, SPEC_ERR_LEN, "%s: cannot create the lock file %s (%s); the output folder must be writable: choose another output (-o)",
                 od->out, od->lock_path, strerror(errno));
        return -1;
    }
    if (flock(od->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        close(od->lock_fd); /* not ours: never unlink another run's lock */
        od->lock_fd = -1;
        snprintf(err, SPEC_ERR_LEN, "%s: another aesweep run is using this output (%s is locked); wait for it to finish or choose another output (-o)",
                 od->out, od->lock_path);
        return -1;
    }
    return 0;
}

/* Create the output folder (one level, like mkdir) when it is missing,
 * and take the lock deferred by take_lock. */
static int make_folder(outdir_t *od, const char *spec_path, char *err)
{
    char dir[SPEC_PATH_LEN];
    snprintf(dir, sizeof dir, "%s", od->out);
    char *sl = strrchr(dir, '/');
    if (sl && sl != dir) {
        *sl = 0;
        struct stat sb;
        if (stat(dir, &sb) != 0 && mkdir(dir, 0775) != 0) {
            snprintf(err, SPEC_ERR_LEN, "%s: cannot create the output folder %s (%s); create it or choose another output (-o)",
                     spec_path, dir, strerror(errno));
            return -1;
        }
    }
    if (!od->lock_deferred) return 0;
    od->lock_fd = open(od->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (od->lock_fd < 0 || flock(od->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (od->lock_fd >= 0) close(od->lock_fd);
        od->lock_fd = -1;
        snprintf(err, SPEC_ERR_LEN, "%s: cannot lock %s (%s); check that the output folder is writable", od->out,
                 od->lock_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Gather the facts (the result file there, the journal, for --resume
 * without one the result's state) and decide. */
static int decide_output(outdir_t *od, const study_t *s, const sweep_opts_t *o, char *err)
{
    outdir_facts_t f = {.resume = o->resume, .fresh = o->fresh, .spec_path = o->spec_path, .out = od->out,
                        .journal_path = od->journal_path, .spec_text = s->text, .inputs = od->inputs};
    char jerr[SPEC_ERR_LEN] = "";
    f.probe = results_probe(od->out);
    f.journal = f.probe == 0 || f.probe == 2 ? -1 : journal_read(od->journal_path, &od->jd, &od->jvalid, jerr);
    f.journal_err = jerr;
    if (f.journal == 0) {
        f.journal_inputs = outdir_split_identity(od->jd.spec_text);
        f.journal_spec = od->jd.spec_text;
        f.journal_tasks = 0; /* result records: an interim report's slot count is 0 (wire.h) */
        for (size_t i = 0; i < od->jd.n; i++) f.journal_tasks += od->jd.len[i] > 2 && od->jd.rec[i][2] != 0;
    }
    char *done_spec = NULL, *done_inputs = NULL;
    if (f.journal == -1 && o->resume && f.probe == 1 &&
        results_read_state(od->out, &done_spec, &done_inputs, &f.result_complete) == 0 && done_spec) {
        f.result_spec = done_spec;
        f.result_inputs = done_inputs;
    } else
        f.result_complete = 0;
    od->action = outdir_decide(&f, od->note, sizeof od->note);
    free(done_spec);
    free(done_inputs);
    if (od->action == OUTDIR_REFUSE) {
        snprintf(err, SPEC_ERR_LEN, "%s", od->note);
        od->note[0] = 0;
        return -1;
    }
    if (od->action != OUTDIR_RESUME) { /* the old journal is not continued */
        journal_data_free(&od->jd);
        od->jvalid = 0;
    }
    return 0;
}

int outdir_admit(outdir_t *od, const study_ctx_t *st, const sweep_opts_t *o, double limit, int node_ranks,
                 char *err)
{
    memset(od, 0, sizeof *od);
    od->lock_fd = -1;
    od->out = o->output ? o->output : st->s.output;
    snprintf(od->journal_path, sizeof od->journal_path, "%s.journal", od->out);
    snprintf(od->lock_path, sizeof od->lock_path, "%s.lock", od->out);
    if (outdir_check(&st->s, o->spec_path, od->out, err)) return -1;
    od->inputs = outdir_inputs_text(&st->s, &st->sd);
    od->ident = od->inputs ? outdir_identity_text(st->s.text, od->inputs) : NULL;
    if (!od->ident) {
        snprintf(err, SPEC_ERR_LEN, "out of memory");
        return -1;
    }
    if (take_lock(od, err) || decide_output(od, &st->s, o, err)) return -1;
    double peak;
    if (budget_check_study(&st->s, &st->sd, limit, node_ranks, o->spec_path, &peak, err)) return -1;
    return make_folder(od, o->spec_path, err); /* last: a refused run leaves nothing behind */
}

int outdir_begin(outdir_t *od, const study_ctx_t *st, int nranks, const char *start_iso, results_t **res,
                 journal_t *j, char *err)
{
    *res = results_open(od->out, &st->s, &st->sd, nranks, start_iso, err);
    if (!*res) return -1;
    results_set_inputs(*res, od->inputs);
    if (journal_open(j, od->journal_path, od->ident, od->jd.n ? od->jvalid : 0, err)) {
        results_abort(*res);
        *res = NULL;
        return -1;
    }
    if (od->lock_fd >= 0) journal_lock_note(od->lock_fd, nranks, start_iso, od->jd.n);
    return 0;
}

void outdir_finish(outdir_t *od) { unlink(od->journal_path); }

void outdir_close(outdir_t *od)
{
    if (!od || !od->out) return; /* zeroed: never admitted */
    if (od->lock_fd >= 0) {
        /* unlink while still holding it, then close: a run that opened the
         * old file before the unlink retries on the next start */
        unlink(od->lock_path);
        close(od->lock_fd);
    }
    journal_data_free(&od->jd);
    free(od->inputs);
    free(od->ident);
    memset(od, 0, sizeof *od);
}
