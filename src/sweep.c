/* sweep.c - rank 0 plans, partitions (LPT) and scatters each stage's tasks;
 * every rank trains its share; results flow back to rank 0 one message per
 * task, so rank 0 can journal them, show progress and stop everyone on a
 * signal.  All randomness comes from task.h's streams, so the metrics do not
 * depend on the number of ranks or on which rank ran what.
 */
#include "aesweep/sweep.h"
#include "aesweep/journal.h"
#include "aesweep/kernel_lanes.h"
#include "aesweep/plan.h"
#include "aesweep/progress.h"
#include "aesweep/results.h"
#include "aesweep/saved.h"
#include "aesweep/task.h"
#include "aesweep/version.h"
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TAG_RESULT = 11, TAG_DONE = 12, TAG_STOP = 13 };
#define HDR 5 /* payload header: stage, task, nslots, nmetrics, nparams */

static volatile sig_atomic_t g_signal = 0;
static void on_signal(int sig) { g_signal = sig; }

void sweep_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int sweep_stop_requested(void) { return g_signal != 0; }

/* ---- shared state of a running stage ------------------------------------ */

typedef struct {
    int rank, nranks;
    plan_t *p;
    journal_t *j;
    progress_t *prog;
    int stop;            /* a stop was requested (signal here or elsewhere) */
    int stop_sent;
    double last_poll;
    int ndone_ranks;     /* root: DONE messages received */
    double *busy;        /* root: [nranks] */
    int any_interrupted;
    int failed;          /* a rank could not run a task (out of memory) */
    int journal_failed;  /* root: a journal write failed (disk full, I/O error) */
    float **cell_params; /* root: [ntasks] arenas at every slot, for tasks that ship them */
    size_t *cell_nparams;
    double *rxbuf;
    size_t rxcap;
    double rx_seconds;   /* root: time receiving and journalling results (not waiting) */
    size_t rx_msgs;      /* root: messages received */
} run_t;

/* nparams = floats per arena shipped with the result (0: none).  The
 * learning curve, [ncurve][ncurve_metrics], follows (curve_len doubles). */
static size_t payload_len(const plan_t *p, size_t nparams)
{
    return HDR + (size_t)p->nslots * (p->nmetrics + 2) + (size_t)p->nslots * nparams;
}
static size_t curve_len(const plan_t *p) { return (size_t)p->ncurve * p->ncurve_metrics; }

/* Does task t ship its weights to rank 0?  Every task of a save_models
 * stage does; otherwise the draw-0 / repeat-0 tasks do, so that rank 0 can
 * store the best model without training it again, unless those weights
 * would take more than 256 MiB on rank 0 (then the best is retrained). */
static int ships_params(const plan_t *p, const study_data_t *sd, size_t t, int *keep_best_cache)
{
    if (p->spec->save_models) return 1;
    if (*keep_best_cache < 0) {
        double bytes = 0;
        for (size_t i = 0; i < p->ntasks; i++)
            if (p->tasks[i].draw == 0 && p->tasks[i].repeat == 0) {
                model_arch_t a = task_arch(sd, p->tasks[i].hp);
                bytes += 4.0 * (double)model_param_count(&a) * p->nslots;
            }
        *keep_best_cache = bytes <= 256.0 * 1048576.0;
    }
    return *keep_best_cache && p->tasks[t].draw == 0 && p->tasks[t].repeat == 0;
}

/* Root: take one result payload (from a worker, itself or the journal). */
static void root_accept(run_t *r, const double *pl, size_t len, int from_journal)
{
    plan_t *p = r->p;
    size_t task = (size_t)pl[1];
    int ns = (int)pl[2], nm = (int)pl[3];
    size_t np = (size_t)pl[4];
    if (task >= p->ntasks || ns != p->nslots || nm != p->nmetrics) return; /* foreign record */
    const double *vals = pl + HDR;
    int8_t st[ns];
    for (int s = 0; s < ns; s++) st[s] = (int8_t)pl[HDR + ns * nm + s];
    const double *secs = pl + HDR + ns * nm + ns;
    int was_done = p->task_done[task];
    plan_store(p, task, vals, st, secs);
    size_t base = payload_len(p, np);
    if (p->ncurve && len >= base + curve_len(p)) plan_store_curve(p, task, pl + base);
    if (np > 0 && r->cell_params) {
        free(r->cell_params[task]);
        r->cell_params[task] = malloc((size_t)ns * np * sizeof(float));
        const double *pp = secs + ns;
        for (size_t i = 0; i < (size_t)ns * np; i++) r->cell_params[task][i] = (float)pp[i];
        r->cell_nparams[task] = np;
    }
    if (!from_journal && r->j && journal_append(r->j, pl, len) && !r->journal_failed) {
        r->journal_failed = 1; /* disk full: stop, what is journaled stands */
        r->stop = 1;
    }
    if (!was_done && r->prog && !from_journal) progress_update(r->prog, 1, p->tasks[task].cost);
}

static void root_send_stop(run_t *r)
{
    if (r->stop_sent) return;
    r->stop_sent = 1;
    int one = 1;
    for (int k = 1; k < r->nranks; k++) {
        MPI_Request q;
        MPI_Isend(&one, 1, MPI_INT, k, TAG_STOP, MPI_COMM_WORLD, &q);
        MPI_Request_free(&q);
    }
}

/* Root: receive everything that is waiting.  The time it takes, less a
 * blocking wait, is rank 0's cost of gathering (AESWEEP_RANK0_STATS). */
static void root_drain(run_t *r, int block)
{
    double t0 = progress_now();
    for (;;) {
        int flag = 0;
        MPI_Status stt;
        if (block) {
            MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &stt);
            t0 = progress_now();
            flag = 1;
        } else
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &stt);
        if (!flag) break;
        r->rx_msgs++;
        int cnt;
        MPI_Get_count(&stt, MPI_DOUBLE, &cnt);
        if ((size_t)cnt > r->rxcap) {
            r->rxcap = (size_t)cnt;
            r->rxbuf = realloc(r->rxbuf, r->rxcap * sizeof(double));
        }
        MPI_Recv(r->rxbuf, cnt, MPI_DOUBLE, stt.MPI_SOURCE, stt.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (stt.MPI_TAG == TAG_RESULT) root_accept(r, r->rxbuf, (size_t)cnt, 0);
        else if (stt.MPI_TAG == TAG_DONE) {
            r->busy[stt.MPI_SOURCE] = r->rxbuf[0];
            if (r->rxbuf[1] == 2) r->failed = 1;
            if (r->rxbuf[1] != 0) {
                r->any_interrupted = 1;
                r->stop = 1;
                root_send_stop(r);
            }
            r->ndone_ranks++;
        }
        if (block) break;
    }
    r->rx_seconds += progress_now() - t0;
}

static int tick(void *ctx)
{
    run_t *r = ctx;
    if (g_signal) r->stop = 1;
    double t = progress_now();
    /* every 5 ms: an MPI_Iprobe costs ~1 us, and rank 0's receives also
     * progress the workers' large (rendezvous) sends */
    if (t - r->last_poll > 0.005) {
        r->last_poll = t;
        if (r->rank == 0) {
            root_drain(r, 0);
        } else {
            int flag = 0;
            MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
            if (flag) {
                int x;
                MPI_Recv(&x, 1, MPI_INT, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                r->stop = 1;
            }
        }
    }
    if (r->stop && r->rank == 0) root_send_stop(r);
    return r->stop;
}

/* ---- helpers ------------------------------------------------------------ */

/* Unlink the lock file while still holding it, then close: a run that
 * opened the old file before the unlink retries on the next start. */
static void release_lock(int fd, const char *path)
{
    if (fd < 0) return;
    unlink(path);
    close(fd);
}

/* qsort order: descending predicted cost, ties by index (deterministic). */
static const task_t *g_sort_tasks;
static int by_cost_desc(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double ci = g_sort_tasks[i].cost, cj = g_sort_tasks[j].cost;
    if (ci != cj) return ci > cj ? -1 : 1;
    return (i > j) - (i < j);
}

static int bcast_text(char **text, int rank)
{
    long n = rank == 0 ? (long)strlen(*text) : 0;
    MPI_Bcast(&n, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (rank != 0) *text = calloc(n + 1, 1);
    MPI_Bcast(*text, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
    return 0;
}

static int agree(int rc)
{
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

static void first_difference(const char *a, const char *b, char *out, size_t n)
{
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') { line++; la = a + 1; lb = b + 1; }
        a++, b++;
    }
    /* a window of the line around the first differing column */
    size_t col = (size_t)(a - la), from = col > 30 ? col - 30 : 0;
    int ka = (int)strcspn(la + from, "\n"), kb = (int)strcspn(lb + from, "\n");
    if (ka > 60) ka = 60;
    if (kb > 60) kb = 60;
    snprintf(out, n, "line %d was '%s%.*s', now '%s%.*s'", line, from ? "..." : "", ka, la + from,
             from ? "..." : "", kb, lb + from);
}

/* Per-rank memory of the largest task (bytes): data, arenas, workspaces. */
static double task_memory(const study_data_t *sd, const plan_t *p, const task_t *t)
{
    model_arch_t a = task_arch(sd, t->hp);
    double np = (double)model_param_count(&a);
    double rows = t->hp[P_TRAIN_SIZE];
    if (t->hp[P_BATCH_SIZE] > 0 && t->hp[P_BATCH_SIZE] < rows) rows = t->hp[P_BATCH_SIZE];
    double data = 2.0 * t->hp[P_TRAIN_SIZE] * a.in;
    for (int i = 0; i < sd->ntests; i++) data += (double)sd->tests[i].n * a.in;
    double save = p->spec->save_models ? np * p->nslots : 0;
    /* the training and the evaluation workspace (task.c: >= 1024 rows), as
     * model_ws_create sizes them */
    double ws = model_ws_bytes(&a, rows) + model_ws_bytes(&a, rows < 1024 ? 1024 : rows);
    /* 4 arenas (parameters, gradients, Adam m and v), data, saved weights */
    return 4.0 * (4 * np + data + save) + ws;
}

static void fmt_bytes(char *out, size_t n, double b)
{
    if (b >= 1073741824.0) snprintf(out, n, "%.2f GiB", b / 1073741824.0);
    else snprintf(out, n, "%.1f MiB", b / 1048576.0);
}

/* Memory a rank may use: --max-mem-gb, else the node's memory shared by
 * the ranks on it. */
static double mem_limit(const sweep_opts_t *o, int node_ranks)
{
    if (o->max_mem_gb > 0) return o->max_mem_gb * 1073741824.0;
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    return phys / (node_ranks > 0 ? node_ranks : 1);
}

/* Largest task of stage k's plan, in bytes (0 if the plan cannot be built). */
static double plan_peak_memory(const study_data_t *sd, const plan_t *p, const char **stage)
{
    double mx = 0;
    for (size_t t = 0; t < p->ntasks; t++) {
        double m = task_memory(sd, p, &p->tasks[t]);
        if (m > mx) mx = m;
    }
    if (stage) *stage = p->spec->name;
    return mx;
}

/* Inherited values for stage k + 1 that bound its cost, for validate's
 * estimate (the best cell of stage k is not known before it runs).  Start
 * from stage k's most expensive task; then, one inherited parameter at a
 * time, try each value it takes in stage k (up to BOUND_VALUES of them) and
 * keep the one that makes stage k + 1 costliest.  Trying them matters where
 * stage k's cost ignores a parameter that stage k + 1's does not (batch_size
 * before an MMD stage, say), so that many tasks tie. */
#define BOUND_VALUES 32
static void bound_inherited(const study_t *s, int k, const plan_t *p, double prev[P_COUNT])
{
    if (!p->ntasks) {
        plan_cube_hp(p, 0, prev);
        return;
    }
    size_t top = 0;
    for (size_t t = 1; t < p->ntasks; t++)
        if (p->tasks[t].cost > p->tasks[top].cost) top = t;
    memcpy(prev, p->tasks[top].hp, sizeof(double) * P_COUNT);
    if (k + 1 >= s->nstages) return;
    for (int q = 0; q < P_COUNT; q++) {
        if (!s->stages[k + 1].inherit[q]) continue;
        double seen[BOUND_VALUES], best_v = prev[q], best_c = -1;
        int ns = 0;
        for (size_t t = 0; t < p->ntasks && ns < BOUND_VALUES; t++) {
            double v = p->tasks[t].hp[q];
            int dup = 0;
            for (int i = 0; i < ns && !dup; i++) dup = seen[i] == v;
            if (dup) continue;
            seen[ns++] = v;
            prev[q] = v;
            plan_t nx;
            char e[SPEC_ERR_LEN];
            if (plan_build(&nx, s, k + 1, prev, s->stages[k].name, e)) continue;
            double c = 0;
            for (size_t u = 0; u < nx.ntasks; u++) c += nx.tasks[u].cost;
            plan_free(&nx);
            if (c > best_c) best_c = c, best_v = v;
        }
        prev[q] = best_v;
    }
}

/* Refuse up front, with the numbers, when the largest task of any stage
 * will not fit; later stages are planned with inherited values taken from
 * the previous stage's first cell (their true values are not known yet, so
 * each stage is checked again once planned). */
static int check_study_memory(const study_t *s, const study_data_t *sd, double limit, int node_ranks,
                              const char *spec_path, double *peak, char *err)
{
    double prev[P_COUNT];
    *peak = 0;
    for (int k = 0; k < s->nstages; k++) {
        plan_t p;
        if (plan_build(&p, s, k, k ? prev : NULL, k ? s->stages[k - 1].name : NULL, err)) return -1;
        const char *name;
        double m = plan_peak_memory(sd, &p, &name);
        if (m > *peak) *peak = m;
        plan_cube_hp(&p, 0, prev);
        plan_free(&p);
        if (m > limit) {
            char a[32], b[32];
            fmt_bytes(a, sizeof a, m);
            fmt_bytes(b, sizeof b, limit);
            snprintf(err, SPEC_ERR_LEN, "%s: stage %s: the largest task needs %s per rank but %s is available per rank (%d rank(s) on this node); lower train_size or hidden, set batch_size, use fewer ranks per node, or raise --max-mem-gb",
                     spec_path, name, a, b, node_ranks);
            return -1;
        }
    }
    return 0;
}

/* Memory of the generated moons data, before generating it. */
static int check_data_memory(const study_t *s, double limit, const char *spec_path, char *err)
{
    if (s->source != SRC_MOONS) return 0; /* file loaders check their own sizes */
    double pts = (double)s->pool;
    for (int t = 0; t < s->ntests; t++) pts += (double)s->tests[t].size;
    double bytes = pts * 44.0; /* float x,y + label + the generator's doubles and permutation */
    if (bytes > limit) {
        char a[32], b[32];
        fmt_bytes(a, sizeof a, bytes);
        fmt_bytes(b, sizeof b, limit);
        snprintf(err, SPEC_ERR_LEN, "%s: data.pool and tests need %s to generate but %s is available per rank; lower data.pool or tests.size",
                 spec_path, a, b);
        return -1;
    }
    return 0;
}


/* ---- output and inputs ---------------------------------------------------- */

/* The file part of a data path ("f.h5:/dataset" -> "f.h5"). */
static void data_file_part(const study_t *s, const char *path, char *out, size_t n)
{
    snprintf(out, n, "%s", path);
    if (s->source == SRC_HDF5) {
        char *c = strrchr(out, ':');
        if (c && c[1] == '/') *c = 0;
    }
}

/* The output path, refused before any work when it cannot be the file a
 * run writes: empty, a folder, too long for this build or the file system,
 * the same file as an input (compared by device and inode, so another name
 * of the file is caught too), or in a folder that cannot be written. */
static int check_output(const study_t *s, const char *spec_path, const char *out, char *err)
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
    /* every file the run writes, against every file it reads */
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
    char dir[SPEC_PATH_LEN];
    snprintf(dir, sizeof dir, "%s", out);
    char *sl = strrchr(dir, '/');
    if (sl == dir) sl[1] = 0;
    else if (sl) *sl = 0;
    else strcpy(dir, ".");
    if (stat(dir, &sb) != 0 && errno == ENOENT) {
        /* run creates a missing last folder; its parent must be writable */
        char *s2 = strrchr(dir, '/');
        if (s2 == dir) s2[1] = 0;
        else if (s2) *s2 = 0;
        else strcpy(dir, ".");
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

/* What a partial run depends on besides the spec text: every data file's
 * CRC-32 and size and the data's shape.  Appended as comment lines to the
 * effective spec in the journal, stored in the result file's "inputs"
 * attribute, and compared on --resume. */
#define INPUTS_MARK "# aesweep inputs (compared on --resume):\n"
static char *inputs_text(const study_t *s, const study_data_t *sd)
{
    size_t cap = 512 + (size_t)(2 + 2 * s->ntests + 1) * (SPEC_PATH_LEN + 128);
    char *t = malloc(cap);
    if (!t) return NULL;
    size_t n = snprintf(t, cap, INPUTS_MARK);
    char f[SPEC_PATH_LEN];
    uint32_t crc;
    uint64_t size;
    if (s->source != SRC_MOONS) {
        data_file_part(s, s->data_path, f, sizeof f);
        crc = 0, size = 0;
        data_crc32_file(f, &crc, &size);
        n += snprintf(t + n, cap - n, "# data %s crc32=%08x bytes=%llu rows=%zu features=%d\n", f, crc,
                      (unsigned long long)size, sd->file_rows, sd->in_dim);
        if (s->labels_path[0]) { /* idx/npy labels: kept in the result file, so part of it */
            crc = 0, size = 0;
            data_crc32_file(s->labels_path, &crc, &size);
            n += snprintf(t + n, cap - n, "# labels %s crc32=%08x bytes=%llu\n", s->labels_path, crc, (unsigned long long)size);
        }
    }
    n += snprintf(t + n, cap - n, "# pool rows=%zu features=%d\n", sd->pool.n, sd->pool.d);
    for (int i = 0; i < s->ntests; i++) {
        n += snprintf(t + n, cap - n, "# test %s rows=%zu", s->tests[i].name, sd->tests[i].n);
        if (s->tests[i].path[0]) {
            data_file_part(s, s->tests[i].path, f, sizeof f);
            crc = 0, size = 0;
            data_crc32_file(f, &crc, &size);
            n += snprintf(t + n, cap - n, " file %s crc32=%08x bytes=%llu", f, crc, (unsigned long long)size);
        }
        if (s->tests[i].labels_path[0]) {
            crc = 0, size = 0;
            data_crc32_file(s->tests[i].labels_path, &crc, &size);
            n += snprintf(t + n, cap - n, " labels %s crc32=%08x bytes=%llu", s->tests[i].labels_path, crc, (unsigned long long)size);
        }
        n += snprintf(t + n, cap - n, "\n");
    }
    return t;
}

/* A journal's header text: the effective spec, then its inputs. */
static char *identity_text(const char *spec, const char *inputs)
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

/* Split a journal header at its inputs section ("" when it has none). */
static const char *identity_inputs(char *text)
{
    char *m = strstr(text, "\n" INPUTS_MARK);
    if (!m) return "";
    m[1] = 0; /* text is now the spec alone */
    return m + 1 + strlen(INPUTS_MARK);
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

/* ---- validate ------------------------------------------------------------ */

int sweep_validate(const sweep_opts_t *o)
{
    study_t s;
    char err[SPEC_ERR_LEN] = "";
    if (spec_load(&s, o->spec_path, NULL, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        spec_free(&s);
        return AES_EXIT_USAGE;
    }
    int R = o->predict_ranks > 0 ? o->predict_ranks : 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int node_ranks = R < ncpu ? R : (int)ncpu; /* ranks sharing one node like this one */
    double limit = mem_limit(o, node_ranks);
    if (check_data_memory(&s, limit, o->spec_path, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        spec_free(&s);
        return AES_EXIT_USAGE;
    }
    study_data_t sd;
    if (study_data_load(&sd, &s, err)) {
        fprintf(stderr, "aesweep: %s: data: %s\n", o->spec_path, err);
        spec_free(&s);
        return AES_EXIT_USAGE;
    }
    s.in_dim = sd.in_dim;
    double peak_mem = 0;
    if (spec_check_data(&s, sd.in_dim, sd.pool.n, err) ||
        check_study_memory(&s, &sd, limit, node_ranks, o->spec_path, &peak_mem, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        study_data_free(&sd), spec_free(&s);
        return AES_EXIT_USAGE;
    }
    const char *out = o->output ? o->output : s.output;
    if (check_output(&s, o->spec_path, out, err)) {
        fprintf(stderr, "aesweep: %s\n", err);
        study_data_free(&sd), spec_free(&s);
        return AES_EXIT_USAGE;
    }
    int ours = results_probe(out);
    if (ours == 0 || ours == 2) {
        if (ours == 0) fprintf(stderr, "aesweep: %s: exists and is not an aesweep result file; choose another output (-o) or move it away\n", out);
        else fprintf(stderr, "aesweep: %s: another process holds this file open for writing (HDF5 file lock); wait for it to finish or choose another output (-o)\n", out);
        study_data_free(&sd), spec_free(&s);
        return AES_EXIT_USAGE;
    }
    printf("study %s: %d stage(s), data %s (%zu training rows, %d features), output %s\n", s.study,
           s.nstages, s.source == SRC_MOONS ? "moons" : s.data_path, sd.pool.n, sd.in_dim, out);
    /* Later stages inherit from best cells not known yet: plan them with the
     * inherited values that make them costliest (bound_inherited), so that
     * the predicted time is an upper bound a job's time limit can be set
     * from, not a guess.  (run checks memory up front with the first cell's
     * values and each stage again once its inherited values are known;
     * validate warns below if the bound does not fit.) */
    double prev[P_COUNT];
    double tot_cost = 0, tot_mk = 0, max_mem = peak_mem;
    for (int k = 0; k < s.nstages; k++) {
        plan_t p;
        if (plan_build(&p, &s, k, k ? prev : NULL, k ? s.stages[k - 1].name : NULL, err)) {
            fprintf(stderr, "aesweep: %s\n", err);
            study_data_free(&sd), spec_free(&s);
            return AES_EXIT_USAGE;
        }
        int *owner = malloc(p.ntasks * sizeof(int));
        double *load = malloc(R * sizeof(double));
        double mk = plan_partition(&p, R, owner, load);
        double c = 0;
        for (size_t t = 0; t < p.ntasks; t++) {
            c += p.tasks[t].cost;
            double m = task_memory(&sd, &p, &p.tasks[t]);
            if (m > max_mem) max_mem = m;
        }
        tot_cost += c;
        tot_mk += mk;
        printf("  stage %-8s %6zu cells x %zu repeats = %7zu points, %6zu tasks, cost %.3g GFLOP, makespan at %d rank(s) %.3g GFLOP (efficiency %.3f)\n",
               p.spec->name, p.ncells, p.nrep, p.ncube, p.ntasks, c * 1e-9, R, mk * 1e-9,
               mk > 0 ? c / R / mk : 1.0);
        bound_inherited(&s, k, &p, prev);
        free(owner), free(load);
        plan_free(&p);
    }
    /* Seconds from GFLOP at the rate the default training kernel of this
     * build sustained on the study's shapes in bench/ (Zen 5 core, 4 GHz):
     * fused AVX-512 step ~200 GFLOP/s, fused AVX2 step ~95, the portable
     * 4-lane kernel at -march=x86-64-v2 ~16.  A rough guide: run
     * bench/run.sh for this machine's rate; the progress line's ETA uses the
     * measured one. */
    const char *isa = klanes_isa();
    double rate = !strcmp(isa, "avx512") ? 200e9 : !strcmp(isa, "avx2") ? 95e9 : 16e9;
    printf("total %.3g GFLOP; predicted makespan at %d rank(s): %.3g GFLOP (about %.0f s at %.0f GFLOP/s per rank, the %s kernel's rate in bench/; later stages assume the inherited values that make them costliest); peak task memory %.1f MiB per rank\n",
           tot_cost * 1e-9, R, tot_mk * 1e-9, tot_mk / rate, rate * 1e-9, isa, max_mem / 1048576.0);
    if (max_mem > limit) {
        char a[32], b[32];
        fmt_bytes(a, sizeof a, max_mem);
        fmt_bytes(b, sizeof b, limit);
        printf("warning: with those inherited values a task needs %s per rank, over the limit of %s: run "
               "starts, and refuses the stage whose inherited values do not fit (--max-mem-gb raises the "
               "limit; fewer ranks per node give each more)\n",
               a, b);
    }
    printf("ok\n");
    study_data_free(&sd);
    spec_free(&s);
    return AES_EXIT_OK;
}

/* ---- run ---------------------------------------------------------------- */

int sweep_run(const sweep_opts_t *o)
{
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    char err[SPEC_ERR_LEN] = "";
    study_t s;
    memset(&s, 0, sizeof s);
    char *text = NULL;
    int rc = 0;
    /* ranks sharing rank 0's node share its memory */
    MPI_Comm node;
    int node_ranks = 1;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &node_ranks);
    MPI_Comm_free(&node);
    /* rank 0 reads the spec; everyone parses the same text */
    if (rank == 0) {
        if (spec_load(&s, o->spec_path, NULL, err)) rc = AES_EXIT_USAGE;
        else text = strdup(s.text);
    }
    if (agree(rc)) {
        if (rank == 0) fprintf(stderr, "aesweep: %s\n", err);
        spec_free(&s);
        return AES_EXIT_USAGE;
    }
    bcast_text(&text, rank);
    if (rank != 0 && spec_load(&s, o->spec_path, text, err)) rc = AES_EXIT_USAGE;
    free(text);
    study_data_t sd;
    memset(&sd, 0, sizeof sd);
    double limit = mem_limit(o, node_ranks);
    if (!rc && check_data_memory(&s, limit, o->spec_path, err)) rc = AES_EXIT_USAGE;
    if (!rc && study_data_load(&sd, &s, err)) {
        char e2[SPEC_ERR_LEN];
        snprintf(e2, sizeof e2, "%s: data: %s", o->spec_path, err);
        memcpy(err, e2, SPEC_ERR_LEN);
        rc = AES_EXIT_USAGE;
    }
    if (!rc) s.in_dim = sd.in_dim;
    if (!rc && rank == 0 && spec_check_data(&s, sd.in_dim, sd.pool.n, err)) rc = AES_EXIT_USAGE;
    const char *out = o->output ? o->output : s.output;
    char jpath[SPEC_PATH_LEN + 16];
    snprintf(jpath, sizeof jpath, "%s.journal", out);
    journal_data_t jd;
    memset(&jd, 0, sizeof jd);
    long jvalid = 0;
    int already_complete = 0;
    char lpath[SPEC_PATH_LEN + 16];
    snprintf(lpath, sizeof lpath, "%s.lock", out);
    int lock_fd = -1, lock_deferred = 0;
    char *ident = NULL; /* journal header: effective spec + inputs */
    char *inputs = NULL;
    if (!rc && rank == 0 && check_output(&s, o->spec_path, out, err)) rc = AES_EXIT_USAGE;
    if (!rc && rank == 0) {
        inputs = inputs_text(&s, &sd);
        ident = inputs ? identity_text(s.text, inputs) : NULL;
        if (!ident) {
            snprintf(err, SPEC_ERR_LEN, "out of memory");
            rc = AES_EXIT_RUNTIME;
        }
    }
    if (!rc && rank == 0) {
        /* one run per output: a second run (or a resume while the old ranks
         * are still dying) would interleave journal records */
        lock_fd = open(lpath, O_RDWR | O_CREAT, 0644);
        if (lock_fd < 0 && errno == ENOENT)
            lock_deferred = 1; /* no output folder yet: nothing to lock against */
        else if (lock_fd < 0) {
            snprintf(err, SPEC_ERR_LEN, "%s: cannot create the lock file %s (%s); the output folder must be writable: choose another output (-o)",
                     out, lpath, strerror(errno));
            rc = AES_EXIT_USAGE;
        } else if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
            close(lock_fd); /* not ours: never unlink another run's lock */
            lock_fd = -2;
            snprintf(err, SPEC_ERR_LEN, "%s: another aesweep run is using this output (%s is locked); wait for it to finish or choose another output (-o)",
                     out, lpath);
            rc = AES_EXIT_USAGE;
        }
    }
    /* Nothing is removed here: a refused command changes nothing.  --fresh
     * discards the old journal only when the new one replaces it
     * (journal_open, after every check). */
    if (!rc && rank == 0) {
        int ours = results_probe(out);
        if (ours == 0) {
            snprintf(err, SPEC_ERR_LEN, "%s: exists and is not an aesweep result file; choose another output (-o) or move it away", out);
            rc = AES_EXIT_USAGE;
        } else if (ours == 2) {
            snprintf(err, SPEC_ERR_LEN, "%s: another process holds this file open for writing (HDF5 file lock); wait for it to finish or choose another output (-o)", out);
            rc = AES_EXIT_USAGE;
        }
        int jr = rc ? -1 : journal_read(jpath, &jd, &jvalid, err);
        const char *jinputs = jr == 0 ? identity_inputs(jd.spec_text) : "";
        if (jr == -2 && o->fresh) {
            journal_data_free(&jd);
            jvalid = 0;
            err[0] = 0;
        } else if (jr == -2) rc = AES_EXIT_USAGE;
        else if (jr == 0 && o->fresh) {
            journal_data_free(&jd);
            jvalid = 0;
        } else if (jr == 0 && !o->resume) {
            snprintf(err, SPEC_ERR_LEN, "%s: a partial run of this output exists (%zu tasks journaled); continue it with --resume or discard it with --fresh",
                     jpath, jd.n);
            rc = AES_EXIT_USAGE;
        } else if (jr == 0 && strcmp(jd.spec_text, s.text) != 0) {
            char diff[256];
            first_difference(jd.spec_text, s.text, diff, sizeof diff);
            snprintf(err, SPEC_ERR_LEN, "%s: the spec changed since the partial run in %s (%s; @include files count as part of the spec); restore it, or start over with --fresh",
                     o->spec_path, jpath, diff);
            rc = AES_EXIT_USAGE;
        } else if (jr == 0 && !*jinputs) {
            snprintf(err, SPEC_ERR_LEN, "%s: this journal was written by aesweep 0.3.0 or older and does not record its data, so resuming could mix cells of other data; start over with --fresh (or finish it with that version)",
                     jpath);
            rc = AES_EXIT_USAGE;
        } else if (jr == 0 && strcmp(jinputs, inputs + strlen(INPUTS_MARK)) != 0) {
            char diff[400];
            first_input_change(jinputs, inputs + strlen(INPUTS_MARK), diff, sizeof diff);
            snprintf(err, SPEC_ERR_LEN, "%s: the data changed since the partial run in %s (%s): its finished cells would mix with cells of other data; restore the data, or start over with --fresh",
                     o->spec_path, jpath, diff);
            rc = AES_EXIT_USAGE;
        } else if (jr == -1 && o->resume) {
            char *done_spec = NULL, *done_inputs = NULL;
            int complete = 0;
            if (results_read_state(out, &done_spec, &done_inputs, &complete) == 0 && complete) {
                if (strcmp(done_spec, s.text) == 0 && (!done_inputs || !strcmp(done_inputs, inputs))) {
                    if (!o->quiet) fprintf(stderr, "aesweep: %s is already complete for this spec; nothing to resume\n", out);
                    already_complete = 1;
                } else if (strcmp(done_spec, s.text) == 0) {
                    char diff[400];
                    first_input_change(done_inputs + strlen(INPUTS_MARK), inputs + strlen(INPUTS_MARK), diff, sizeof diff);
                    snprintf(err, SPEC_ERR_LEN, "%s: complete, but for other data (%s); run without --resume to replace it, or choose another output (-o)",
                             out, diff);
                    rc = AES_EXIT_USAGE;
                } else {
                    char diff[256];
                    first_difference(done_spec, s.text, diff, sizeof diff);
                    snprintf(err, SPEC_ERR_LEN, "%s: complete, but for another spec (%s); run without --resume to replace it, or choose another output (-o)",
                             out, diff);
                    rc = AES_EXIT_USAGE;
                }
            } else if (!o->quiet)
                fprintf(stderr, "aesweep: no journal at %s; starting from the beginning\n", jpath);
            free(done_spec);
            free(done_inputs);
        }
    }
    if (!rc && rank == 0) {
        double peak;
        if (check_study_memory(&s, &sd, limit, node_ranks, o->spec_path, &peak, err)) rc = AES_EXIT_USAGE;
    }
    if (!rc && rank == 0) { /* last check, so a refused run leaves nothing behind */
        /* create the output folder (one level, like mkdir) when it is missing */
        char dir[SPEC_PATH_LEN];
        snprintf(dir, sizeof dir, "%s", out);
        char *sl = strrchr(dir, '/');
        if (sl && sl != dir) {
            *sl = 0;
            struct stat sb;
            if (stat(dir, &sb) != 0 && mkdir(dir, 0775) != 0) {
                snprintf(err, SPEC_ERR_LEN, "%s: cannot create the output folder %s (%s); create it or choose another output (-o)",
                         o->spec_path, dir, strerror(errno));
                rc = AES_EXIT_USAGE;
            }
        }
        if (!rc && lock_deferred) {
            lock_fd = open(lpath, O_RDWR | O_CREAT, 0644);
            if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
                if (lock_fd >= 0) close(lock_fd);
                lock_fd = -1;
                snprintf(err, SPEC_ERR_LEN, "%s: cannot lock %s (%s); check that the output folder is writable",
                         out, lpath, strerror(errno));
                rc = AES_EXIT_USAGE;
            }
        }
    }
    if (agree(rc)) {
        if (rank == 0 && err[0]) fprintf(stderr, "aesweep: %s\n", err);
        else if (rc && err[0]) fprintf(stderr, "aesweep: rank %d: %s\n", rank, err);
        release_lock(lock_fd, lpath);
        journal_data_free(&jd);
        study_data_free(&sd);
        free(ident), free(inputs);
        spec_free(&s);
        return AES_EXIT_USAGE;
    }

    MPI_Bcast(&already_complete, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (already_complete) {
        release_lock(lock_fd, lpath);
        journal_data_free(&jd);
        study_data_free(&sd);
        free(ident), free(inputs);
        spec_free(&s);
        return AES_EXIT_OK;
    }
    results_t *res = NULL;
    journal_t jr = {.fd = -1};
    char start[32];
    results_now_iso(start);
    if (rank == 0) {
        res = results_open(out, &s, &sd, nranks, start, err);
        if (res) results_set_inputs(res, inputs);
        if (res && journal_open(&jr, jpath, ident, jd.n ? jvalid : 0, err)) {
            results_abort(res);
            res = NULL;
        }
        rc = res ? 0 : AES_EXIT_RUNTIME; /* the output was checked: an I/O error (disk full) */
        if (res && lock_fd >= 0) journal_lock_note(lock_fd, nranks, start, jd.n);
        if (!o->quiet && res)
            fprintf(stderr, "aesweep %s: study %s, %d stage(s), %d rank(s), output %s%s\n", AESWEEP_VERSION, s.study,
                    s.nstages, nranks, out, jd.n ? " (resuming)" : "");
    }
    int worst = agree(rc);
    if (worst) {
        if (rank == 0) fprintf(stderr, "aesweep: %s\n", err);
        release_lock(lock_fd, lpath);
        journal_data_free(&jd);
        study_data_free(&sd);
        free(ident), free(inputs);
        spec_free(&s);
        return worst;
    }

    double prev_best[P_COUNT];
    int have_prev = 0;
    size_t all_done = 0, all_total = 0;
    int final = AES_EXIT_OK;
    for (int k = 0; k < s.nstages; k++) {
        plan_t p;
        if (plan_build(&p, &s, k, have_prev ? prev_best : NULL, k ? s.stages[k - 1].name : NULL, err)) {
            if (rank == 0) fprintf(stderr, "aesweep: %s\n", err);
            final = AES_EXIT_RUNTIME;
            break;
        }
        s.in_dim = sd.in_dim;
        int too_big = 0;
        if (rank == 0) {
            double m = plan_peak_memory(&sd, &p, NULL);
            if (m > limit) {
                char a[32], b[32];
                fmt_bytes(a, sizeof a, m);
                fmt_bytes(b, sizeof b, limit);
                fprintf(stderr, "aesweep: %s: stage %s: with the inherited values its largest task needs %s per rank but %s is available; earlier stages are saved: change the grid and run with --resume\n",
                        o->spec_path, s.stages[k].name, a, b);
                too_big = 1;
            }
        }
        MPI_Bcast(&too_big, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (too_big) {
            plan_free(&p);
            final = AES_EXIT_USAGE;
            break;
        }
        if (rank != 0) {
            /* only rank 0 holds the cube; a worker keeps the task table */
            free(p.metrics), free(p.status), free(p.seconds), free(p.curves);
            p.metrics = NULL, p.status = NULL, p.seconds = NULL, p.curves = NULL;
        }
        run_t r;
        memset(&r, 0, sizeof r);
        r.rank = rank;
        r.nranks = nranks;
        r.p = &p;
        r.j = rank == 0 ? &jr : NULL;
        r.stop = g_signal != 0;
        progress_t prog;
        if (rank == 0) {
            r.busy = calloc(nranks, sizeof(double));
            {
                r.cell_params = calloc(p.ntasks, sizeof(float *));
                r.cell_nparams = calloc(p.ntasks, sizeof(size_t));
            }
            for (size_t i = 0; i < jd.n; i++)
                if (jd.len[i] >= HDR && (int)jd.rec[i][0] == k) root_accept(&r, jd.rec[i], jd.len[i], 1);
        }
        /* rank 0 partitions what is left and scatters it */
        int *counts = NULL, *displs = NULL, *list = NULL, mycount = 0;
        double predicted = 0;
        if (rank == 0) {
            size_t nleft = 0;
            for (size_t t = 0; t < p.ntasks; t++) nleft += !p.task_done[t];
            /* LPT over the remaining tasks: a sub-plan view with only those */
            task_t *all = p.tasks;
            size_t ntot = p.ntasks;
            task_t *left = malloc((nleft ? nleft : 1) * sizeof(task_t));
            size_t *map = malloc((nleft ? nleft : 1) * sizeof(size_t));
            size_t q = 0;
            for (size_t t = 0; t < ntot; t++)
                if (!p.task_done[t]) { left[q] = all[t]; map[q++] = t; }
            p.tasks = left;
            p.ntasks = nleft;
            int *owner = malloc((nleft ? nleft : 1) * sizeof(int));
            double *load = malloc(nranks * sizeof(double));
            predicted = plan_partition(&p, nranks, owner, load);
            p.tasks = all;
            p.ntasks = ntot;
            counts = calloc(nranks, sizeof(int));
            displs = calloc(nranks, sizeof(int));
            for (size_t i = 0; i < nleft; i++) counts[owner[i]]++;
            for (int i = 1; i < nranks; i++) displs[i] = displs[i - 1] + counts[i - 1];
            list = malloc((nleft ? nleft : 1) * sizeof(int));
            int *fill = calloc(nranks, sizeof(int));
            /* each rank's list in descending cost: big tasks first */
            size_t *ord = malloc((nleft ? nleft : 1) * sizeof(size_t));
            for (size_t i = 0; i < nleft; i++) ord[i] = i;
            g_sort_tasks = left;
            qsort(ord, nleft, sizeof *ord, by_cost_desc);
            for (size_t i = 0; i < nleft; i++) {
                int o2 = owner[ord[i]];
                list[displs[o2] + fill[o2]++] = (int)map[ord[i]];
            }
            free(ord), free(fill), free(left), free(map), free(owner), free(load);
            double ctot = 0, cdone = 0;
            for (size_t t = 0; t < p.ntasks; t++) {
                ctot += p.tasks[t].cost;
                if (p.task_done[t]) cdone += p.tasks[t].cost;
            }
            progress_start(&prog, s.stages[k].name, p.ntasks, p.ndone, ctot, cdone, o->quiet);
            r.prog = &prog;
        }
        MPI_Scatter(counts, 1, MPI_INT, &mycount, 1, MPI_INT, 0, MPI_COMM_WORLD);
        int *mine = malloc((mycount ? mycount : 1) * sizeof(int));
        MPI_Scatterv(list, counts, displs, MPI_INT, mine, mycount, MPI_INT, 0, MPI_COMM_WORLD);
        free(counts), free(displs), free(list);

        /* train my tasks */
        double busy = 0;
        size_t maxnp = 0;
        for (int i = 0; i < mycount; i++) {
            model_arch_t a = task_arch(&sd, p.tasks[mine[i]].hp);
            size_t np = model_param_count(&a);
            if (np > maxnp) maxnp = np;
        }
        size_t cap = payload_len(&p, maxnp) + curve_len(&p);
        /* Workers send each result with MPI_Isend from one of two buffers, so
         * a worker never waits for rank 0 (busy with its own task) to match a
         * large message: it only waits, before reusing a buffer, for the send
         * of two tasks ago.  (A blocking send cost ~0.25 s of a 4 s M1 grid
         * at -np 2.) */
        double *plbuf[2] = {malloc(cap * sizeof(double)), rank ? malloc(cap * sizeof(double)) : NULL};
        MPI_Request sreq[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
        int cur = 0;
        int keep_best = -1;
        float *params = malloc((size_t)p.nslots * (maxnp ? maxnp : 1) * sizeof(float));
        int interrupted = 0, failed = 0;
        for (int i = 0; i < mycount && !r.stop; i++) {
            size_t t = (size_t)mine[i];
            model_arch_t a = task_arch(&sd, p.tasks[t].hp);
            size_t np = ships_params(&p, &sd, t, &keep_best) ? model_param_count(&a) : 0;
            int ns = p.nslots, nm = p.nmetrics;
            double *pl = plbuf[cur];
            if (rank != 0) MPI_Wait(&sreq[cur], MPI_STATUS_IGNORE);
            double t0 = progress_now();
            int8_t st[ns];
            double secs[ns];
            pl[0] = k, pl[1] = (double)t, pl[2] = ns, pl[3] = nm, pl[4] = (double)np;
            int status = task_run_curve(&sd, &p, t, pl + HDR, st, secs, params, pl + payload_len(&p, np), tick, &r);
            busy += progress_now() - t0;
            if (status < 0) {
                fprintf(stderr, "aesweep: rank %d: out of memory for task %zu of stage %s (%zu parameters, %.0f rows); lower train_size or hidden, set batch_size, or use fewer ranks per node\n",
                        rank, t, s.stages[k].name, np, p.tasks[t].hp[P_TRAIN_SIZE]);
                failed = 1;
                interrupted = 1;
                r.stop = 1;
                break;
            }
            if (status == TRAIN_INTERRUPTED) {
                interrupted = 1;
                break; /* in flight: not recorded, redone on resume */
            }
            for (int q = 0; q < ns; q++) pl[HDR + ns * nm + q] = st[q];
            memcpy(pl + HDR + ns * nm + ns, secs, ns * sizeof(double));
            for (size_t q = 0; q < (size_t)ns * np; q++) pl[HDR + (size_t)ns * (nm + 2) + q] = params[q];
            size_t len = payload_len(&p, np) + curve_len(&p);
            if (rank == 0) root_accept(&r, pl, len, 0);
            else {
                MPI_Isend(pl, (int)len, MPI_DOUBLE, 0, TAG_RESULT, MPI_COMM_WORLD, &sreq[cur]);
                cur ^= 1;
            }
        }
        if (r.stop) interrupted = 1;
        if (rank != 0) MPI_Waitall(2, sreq, MPI_STATUSES_IGNORE); /* results before DONE */
        free(plbuf[0]), free(plbuf[1]), free(params), free(mine);
        if (rank != 0) {
            double done[2] = {busy, failed ? 2 : interrupted};
            MPI_Send(done, 2, MPI_DOUBLE, 0, TAG_DONE, MPI_COMM_WORLD);
        } else {
            r.busy[0] = busy;
            if (failed) r.failed = 1;
            if (interrupted) { r.any_interrupted = 1; root_send_stop(&r); }
            while (r.ndone_ranks < nranks - 1) root_drain(&r, 1);
        }
        /* rank 0 decides: continue, stop (interrupted), or fail */
        double msg[1 + P_COUNT] = {0};
        if (rank == 0) {
            journal_sync(&jr);
            all_done += p.ndone;
            all_total += p.ntasks;
            int complete = p.ndone == p.ntasks;
            char line[256] = "";
            if (complete) {
                plan_select_best(&p);
                double mx = 0, sum = 0;
                for (int i = 0; i < nranks; i++) { sum += r.busy[i]; if (r.busy[i] > mx) mx = r.busy[i]; }
                if (p.best_cell >= 0)
                    snprintf(line, sizeof line, "balance %.3f; best %s = %.6g%s", mx > 0 ? sum / nranks / mx : 1.0,
                             p.metric_names[p.select_metric], p.best_value, p.nskipped ? " (some cells skipped: diverged)" : "");
                else /* best_value is not a value then: say why there is none */
                    snprintf(line, sizeof line, "balance %.3f; no best cell: every cell diverged (lower lr or change the grid)",
                             mx > 0 ? sum / nranks / mx : 1.0);
            }
            progress_finish(&prog, complete ? line : "interrupted");
            if (getenv("AESWEEP_RANK0_STATS"))
                fprintf(stderr, "aesweep: rank 0 stats: stage %s: %zu messages, %.3f s receiving and journalling them, %.3f s in its own tasks (receiving between their epochs included), %.3f s wall\n",
                        s.stages[k].name, r.rx_msgs, r.rx_seconds, r.busy[0], progress_now() - prog.t0);
            if (r.journal_failed) {
                fprintf(stderr, "aesweep: %s: cannot write the journal (%s); the tasks journaled before stand: free space and run with --resume\n",
                        jpath, strerror(jr.failed));
                msg[0] = 2;
            } else if (results_write_stage(res, &p, r.busy, nranks, predicted, err) ||
                (complete && saved_write_stage(res, &p, &sd, r.cell_params, err))) {
                fprintf(stderr, "aesweep: %s\n", err);
                msg[0] = 2;
            } else if (r.failed) {
                msg[0] = 2; /* what finished is in the journal; the file stays partial */
            } else if (!complete) {
                msg[0] = 1;
            } else if (p.best_cell < 0 && k + 1 < s.nstages) {
                int needs = 0;
                for (int q = 0; q < P_COUNT; q++) needs |= s.stages[k + 1].inherit[q];
                if (needs) {
                    fprintf(stderr, "aesweep: stage %s: every cell diverged or failed, so stage %s has nothing to inherit; lower lr or change the grid\n",
                            s.stages[k].name, s.stages[k + 1].name);
                    msg[0] = 2;
                }
            }
            if (p.best_cell >= 0) memcpy(msg + 1, p.best_hp, sizeof(double) * P_COUNT);
            else memcpy(msg + 1, p.base, sizeof(double) * P_COUNT);
            if (p.best_cell >= 0 && !o->quiet) {
                fprintf(stderr, "  %s best cell:", s.stages[k].name);
                for (int q = 0; q < P_COUNT; q++)
                    if (p.source[q] == VS_AXIS || p.source[q] == VS_INHERITED) {
                        char val[160];
                        spec_format_value(&s, q, p.best_hp[q], val, sizeof val);
                        if (q == P_MMD_KERNEL || q == P_ARCH || q == P_ACTIVATION || (q == P_HIDDEN && p.best_hp[q] < 0))
                            fprintf(stderr, " %s=%s", param_names[q], val);
                        else
                            fprintf(stderr, " %s=%g", param_names[q], p.best_hp[q]);
                        if (p.source[q] == VS_INHERITED) fputc('*', stderr);
                    }
                fprintf(stderr, "\n");
            }
        }
        MPI_Bcast(msg, 1 + P_COUNT, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        /* drain a STOP that may still be queued for me */
        if (rank != 0) {
            int flag = 1;
            while (flag) {
                MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
                if (flag) { int x; MPI_Recv(&x, 1, MPI_INT, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE); }
            }
        }
        if (r.cell_params) {
            for (size_t t = 0; t < p.ntasks; t++) free(r.cell_params[t]);
            free(r.cell_params);
            free(r.cell_nparams);
        }
        free(r.busy);
        free(r.rxbuf);
        plan_free(&p);
        memcpy(prev_best, msg + 1, sizeof(double) * P_COUNT);
        have_prev = 1;
        if (msg[0] == 1) { final = AES_EXIT_INTERRUPTED; break; }
        if (msg[0] == 2) { final = AES_EXIT_RUNTIME; break; }
    }
    if (rank == 0) {
        journal_close(&jr);
        if (final == AES_EXIT_RUNTIME || final == AES_EXIT_USAGE) {
            /* the partial work stays in the journal for --resume */
            results_abort(res);
        } else {
            int complete = final == AES_EXIT_OK;
            if (results_close(res, complete, all_done, all_total, err)) {
                fprintf(stderr, "aesweep: %s\n", err);
                final = AES_EXIT_RUNTIME;
            } else if (complete) {
                unlink(jpath); /* the result file is now the record */
                if (!o->quiet) fprintf(stderr, "aesweep: wrote %s\n", out);
            } else {
                fprintf(stderr, "aesweep: interrupted (signal %d); %zu tasks are saved in %s and a partial result in %s. Resume with: aesweep run --resume %s%s%s\n",
                        (int)g_signal, all_done, jpath, out, o->spec_path, o->output ? " -o " : "", o->output ? o->output : "");
            }
        }
    }
    release_lock(lock_fd, lpath);
    MPI_Bcast(&final, 1, MPI_INT, 0, MPI_COMM_WORLD);
    journal_data_free(&jd);
    study_data_free(&sd);
    free(ident), free(inputs);
    spec_free(&s);
    return final;
}
