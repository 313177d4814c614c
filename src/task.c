/* task.c - one task from seeds to metrics (see task.h); the study's data is built in study.c. */
#include "aesweep/task.h"
#include "aesweep/util.h"
#include "aesweep/mmd.h"
#include "aesweep/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t task_key(const study_t *s, const char *stage, const double *hp, int draw, int repeat)
{
    uint64_t k = rng_derive_str(s->seed, stage);
    for (int p = 0; p < P_COUNT; p++) {
        if (p == P_EPOCHS) continue; /* one trajectory serves every epochs value */
        /* parameters added after 0.3.0 enter only when not at their default,
         * so the streams (and results) of earlier studies do not change */
        if ((p == P_ARCH || p == P_ACTIVATION) && hp[p] == 0) continue;
        if (p == P_HIDDEN && hp[p] < 0) {
            /* a width list: its widths, not its place in the study's table */
            model_arch_t a = spec_model_arch(s, hp, 0);
            k = rng_derive_str(k, "hidden-list");
            for (int i = 0; i < a.nwidths; i++) k = rng_derive(k, (uint64_t)a.widths[i]);
            continue;
        }
        double v = hp[p] + 0.0;      /* +0.0 folds -0 into 0 */
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        k = rng_derive(k, bits);
    }
    k = rng_derive(k, (uint64_t)draw);
    return rng_derive(k, (uint64_t)repeat);
}

model_arch_t task_arch(const study_data_t *sd, const double *hp)
{
    return spec_model_arch(sd->s, hp, sd->in_dim);
}

int task_training_set(study_data_t *sd, const plan_t *p, const double *hp, int draw, dataset_t *out)
{
    const study_t *s = sd->s;
    const stage_spec_t *st = p->spec;
    size_t n = (size_t)hp[P_TRAIN_SIZE];
    if (st->data_draws > 1) {
        char tag[128];
        snprintf(tag, sizeof tag, "draw:%s:%d", st->name, draw);
        uint64_t key = rng_derive_str(s->seed, tag);
        if (s->source == SRC_MOONS)
            return data_moons(out, n, st->pool_noise >= 0 ? st->pool_noise : s->noise, key);
        /* files: a bootstrap sample (with replacement) of the training split */
        size_t *idx = malloc(n * sizeof(size_t));
        if (!idx) return -1;
        rng_t r = rng_stream(key);
        for (size_t i = 0; i < n; i++) idx[i] = (size_t)rng_below(&r, sd->pool.n);
        int rc = data_take(out, &sd->pool, idx, n);
        free(idx);
        return rc;
    }
    const dataset_t *pool = &sd->pool;
    if (st->pool_noise >= 0) {
        if (!sd->have_alt || sd->alt_noise != st->pool_noise) {
            char tag[64];
            snprintf(tag, sizeof tag, "pool:noise=%.17g", st->pool_noise);
            data_free(&sd->alt_pool);
            if (data_moons(&sd->alt_pool, (size_t)s->pool, st->pool_noise, rng_derive_str(s->seed, tag)))
                return -1;
            sd->have_alt = 1;
            sd->alt_noise = st->pool_noise;
        }
        pool = &sd->alt_pool;
    }
    return data_head(out, pool, n);
}

/* ---- one task ----------------------------------------------------------- */

typedef struct {
    study_data_t *sd;
    const plan_t *p;
    model_ws_t *ews;           /* evaluation workspace */
    const scaler_t *sc;
    float *tests_scaled[SPEC_MAX_TESTS];
    float *zfix, *gen, *codes; /* [TASK_METRIC_ROWS][..] */
    double *mu;                /* [bottleneck] */
    double *vals;
    int8_t *status;
    double *secs;
    float *params_out;         /* [nslots][nparams] or NULL */
    double t0;
    const float *Xtrain;       /* scaled training data */
    size_t ntrain;
    task_tick_fn tick;
    task_report_fn report;     /* curve points strictly inside (report_from, report_to), or NULL */
    void *tick_ctx;            /* tick's and report's */
    int report_from, report_to;
    double *curve;             /* [ncurve][ntests + 1] or NULL */
    int ck_epoch;              /* epoch of the last checkpoint reported, -1 none */
    int ck_idx;
} run_ctx_t;

/* MSE in the data's own units: the model sees scaled data, so the error of
 * feature j is multiplied back by scale_j^2. */
static double eval_mse_units(const model_t *m, model_ws_t *ws, const float *X, size_t n,
                             const scaler_t *sc)
{
    int d = m->arch.in;
    double tot = 0;
    for (size_t i = 0; i < n; i += (size_t)ws->rows) {
        int c = (int)((n - i) < (size_t)ws->rows ? (n - i) : (size_t)ws->rows);
        model_forward(m, ws, X + i * d, c);
        const float *Y = ws->act[m->nlin];
        for (size_t k = 0; k < (size_t)c * d; k++) {
            double e = (double)Y[k] - (double)X[i * d + k];
            double w = sc->kind == SCALER_NONE ? 1.0 : sc->scale[k % d] * sc->scale[k % d];
            tot += w * e * e;
        }
    }
    return tot / ((double)n * d);
}

/* The MMD metrics use one kernel per study, whatever the cell trains with,
 * so that cells with different kernels or scales compare: the inverse
 * multi-quadratic kernel of Tolstikhin et al. (WAE, 2018), C = 2 d s^2 for
 * d dimensions of variance s^2, summed over C x {0.1, 0.2, 0.5, 1, 2, 5, 10}.
 * In code space the target is N(0, I), so s^2 = 1; in data space s^2 is the
 * mean per-feature variance of the first test set (task_metric_variance). */
void task_metric_kernel(mmd_cfg_t *k, int dim, double var)
{
    static const double mult[7] = {0.1, 0.2, 0.5, 1, 2, 5, 10};
    double C[7];
    for (int i = 0; i < 7; i++) C[i] = 2.0 * dim * var * mult[i];
    mmd_cfg_imq(k, 0.0f, C, 7);
}

double task_metric_variance(const dataset_t *T)
{
    size_t n = T->n < TASK_METRIC_ROWS ? T->n : TASK_METRIC_ROWS;
    double tot = 0;
    for (int j = 0; j < T->d; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++) m += T->x[i * T->d + j] / (double)n;
        for (size_t i = 0; i < n; i++) {
            double e = T->x[i * T->d + j] - m;
            v += e * e / (double)(n > 1 ? n - 1 : 1);
        }
        tot += v / T->d;
    }
    return tot > 0 ? tot : 1.0;
}

static void mmd_metrics(run_ctx_t *c, const model_t *m, double *out)
{
    /* code_mmd: MMD^2(test codes, fixed N(0,I)); mean/cov distances of the
     * codes from (0, I); gen_mmd: MMD^2(decoded fixed N(0,I), test set). */
    int b = m->arch.bottleneck, d = m->arch.in;
    const dataset_t *T = &c->sd->tests[0];
    size_t n = T->n < TASK_METRIC_ROWS ? T->n : TASK_METRIC_ROWS;
    model_apply(m, c->ews, c->tests_scaled[0], n, c->codes, NULL);
    mmd_cfg_t kc, kx;
    task_metric_kernel(&kc, b, 1.0);
    task_metric_kernel(&kx, d, task_metric_variance(T));
    out[0] = mmd2(&kc, c->codes, n, c->zfix, TASK_METRIC_ROWS, b);
    double *mu = c->mu, md = 0, cov = 0;
    for (int k = 0; k < b; k++) mu[k] = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < b; k++) mu[k] += c->codes[i * b + k] / (double)n;
    for (int k = 0; k < b; k++) md += mu[k] * mu[k];
    for (int k = 0; k < b; k++)
        for (int l = 0; l < b; l++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += (c->codes[i * b + k] - mu[k]) * (c->codes[i * b + l] - mu[l]);
            s /= (double)(n > 1 ? n - 1 : 1);
            double e = s - (k == l ? 1.0 : 0.0);
            cov += e * e;
        }
    out[1] = sqrt(md);  /* |mean(codes)|_2 */
    out[2] = sqrt(cov); /* |cov(codes) - I|_F */
    model_decode(m, c->ews, c->zfix, TASK_METRIC_ROWS, c->gen);
    scaler_invert(c->sc, c->gen, TASK_METRIC_ROWS);
    out[3] = mmd2(&kx, c->gen, TASK_METRIC_ROWS, T->x, n, d);
}

static void eval_all(run_ctx_t *c, const model_t *m, double train_mse, double *out)
{
    int nt = c->sd->ntests;
    for (int t = 0; t < nt; t++)
        out[t] = eval_mse_units(m, c->ews, c->tests_scaled[t], c->sd->tests[t].n, c->sc);
    out[nt] = train_mse;
    if (c->p->nmetrics > nt + 1) mmd_metrics(c, m, out + nt + 1);
}

static void on_ckpt(void *ctx, int idx, int epoch, const model_t *m, double train_mse)
{
    run_ctx_t *c = ctx;
    (void)epoch;
    /* train_mse arrives in the model's (scaled) units; with a scaler it is
     * recomputed in the data's units, like every test MSE. */
    double tm = train_mse;
    if (c->sc->kind != SCALER_NONE) tm = eval_mse_units(m, c->ews, c->Xtrain, c->ntrain, c->sc);
    eval_all(c, m, tm, c->vals + (size_t)idx * c->p->nmetrics);
    c->status[idx] = TRAIN_OK;
    c->ck_epoch = epoch;
    c->ck_idx = idx;
    if (c->params_out) memcpy(c->params_out + (size_t)idx * m->nparams, m->params, m->nparams * sizeof(float));
    c->secs[idx] = util_mono_seconds() - c->t0;
}

/* A learning-curve point: each test set's MSE, then train_mse, in data
 * units, computed exactly as at a checkpoint (a point that is also a
 * checkpoint copies it: the same numbers, evaluated once). */
static void on_curve(void *ctx, int idx, int epoch, const model_t *m, double train_mse)
{
    run_ctx_t *c = ctx;
    int nt = c->sd->ntests;
    double *out = c->curve + (size_t)idx * (nt + 1);
    if (epoch == c->ck_epoch)
        memcpy(out, c->vals + (size_t)c->ck_idx * c->p->nmetrics, (nt + 1) * sizeof(double));
    else {
        for (int t = 0; t < nt; t++)
            out[t] = eval_mse_units(m, c->ews, c->tests_scaled[t], c->sd->tests[t].n, c->sc);
        out[nt] = c->sc->kind != SCALER_NONE ? eval_mse_units(m, c->ews, c->Xtrain, c->ntrain, c->sc) : train_mse;
    }
    /* the ends are not reports: the start is the state's own (its result is
     * in already), the end is this task's result, sent next */
    if (c->report && epoch > c->report_from && epoch < c->report_to) c->report(c->tick_ctx, epoch, out, nt + 1);
}

static int on_tick(void *ctx, int epoch)
{
    run_ctx_t *c = ctx;
    (void)epoch;
    return c->tick ? c->tick(c->tick_ctx) : 0;
}

static void fill_mmd_cfg(mmd_cfg_t *mc, const double *hp)
{
    if ((int)hp[P_MMD_KERNEL] == MMD_IMQ) {
        double C[MMD_MAX_SCALES];
        int k = (int)hp[P_MMD_NSCALES];
        for (int i = 0; i < k && i < MMD_MAX_SCALES; i++) C[i] = hp[P_MMD_SCALE] / (double)(1u << i);
        mmd_cfg_imq(mc, (float)hp[P_MMD_LAMBDA], C, k);
    } else
        mmd_cfg_rbf(mc, (float)hp[P_MMD_LAMBDA], hp[P_MMD_SCALE], (int)hp[P_MMD_NSCALES]);
}

/* What train_one is asked to do (task_run_from, task_train_model). */
typedef struct {
    const double *hp;
    int draw, repeat;
    const int *ck;              /* checkpoint epochs [nck] */
    int nck;
    double *vals;               /* [nck][nmetrics] */
    int8_t *status;             /* [nck] */
    double *secs;               /* [nck] */
    float *params_out;          /* [nck][nparams] or NULL */
    double *curve;              /* [ncurve][ncurve_metrics] or NULL */
    task_tick_fn tick;
    task_report_fn report;
    void *tctx;
    scaler_t *sc;               /* out: the training set's scaler */
    dataset_t *train_keep;      /* out: the training set (NULL: freed) */
    const task_state_t *from;   /* continue from this state; NULL: from the initialisation */
    double *state_out;          /* out: the end state serialised (TRAIN_OK only), NULL: not wanted */
    int final_status;           /* out: the train_status */
} one_t;

/* The evaluation buffers of a run (test sets scaled, MMD metric scratch);
 * -1 when out of memory (what was allocated is freed by ctx_free). */
static int ctx_alloc(run_ctx_t *c, study_data_t *sd, const model_t *m, const train_ws_t *tw, const scaler_t *sc)
{
    const model_arch_t *a = &m->arch;
    int erows = !tw || tw->rows < TASK_EVAL_ROWS ? TASK_EVAL_ROWS : tw->rows;
    c->ews = model_ws_create(m, erows, &sd->kernel);
    int oom = !tw || !c->ews;
    for (int t = 0; t < sd->ntests; t++) {
        c->tests_scaled[t] = malloc(sd->tests[t].n * (size_t)a->in * sizeof(float));
        if (!c->tests_scaled[t]) { oom = 1; continue; }
        memcpy(c->tests_scaled[t], sd->tests[t].x, sd->tests[t].n * (size_t)a->in * sizeof(float));
        scaler_apply(sc, c->tests_scaled[t], sd->tests[t].n);
    }
    if (c->p->nmetrics > sd->ntests + 1) {
        c->zfix = malloc((size_t)TASK_METRIC_ROWS * a->bottleneck * sizeof(float));
        c->gen = malloc((size_t)TASK_METRIC_ROWS * a->in * sizeof(float));
        c->codes = malloc((size_t)TASK_METRIC_ROWS * a->bottleneck * sizeof(float));
        c->mu = malloc((size_t)a->bottleneck * sizeof(double));
        oom |= !c->zfix || !c->gen || !c->codes || !c->mu;
        if (!oom) {
            rng_t zr = rng_stream(rng_derive_str(sd->s->seed, "metric.z"));
            for (size_t i = 0; i < (size_t)TASK_METRIC_ROWS * a->bottleneck; i++) c->zfix[i] = (float)rng_normal(&zr);
        }
    }
    return oom ? -1 : 0;
}

static void ctx_free(run_ctx_t *c, int ntests)
{
    for (int t = 0; t < ntests; t++) free(c->tests_scaled[t]);
    free(c->zfix), free(c->gen), free(c->codes), free(c->mu);
    model_ws_free(c->ews);
}

/* The training configuration of hp from its seeds (task.h streams). */
static train_cfg_t one_cfg(const study_t *s, const plan_t *p, const one_t *o, const mmd_cfg_t *mc)
{
    uint64_t key = task_key(s, p->spec->name, o->hp, o->draw, o->repeat);
    train_cfg_t tc = train_cfg_default();
    tc.epochs = o->ck[o->nck - 1];
    tc.lr = (float)o->hp[P_LR];
    tc.batch_size = (int)o->hp[P_BATCH_SIZE];
    tc.shuffle_key = rng_derive_str(key, "shuffle");
    tc.checkpoints = o->ck;
    tc.ncheck = o->nck;
    tc.mmd = o->hp[P_MMD_LAMBDA] > 0 ? mc : NULL;
    tc.mmd_key = rng_derive_str(key, "mmd");
    if (o->curve) {
        for (size_t i = 0; i < (size_t)p->ncurve * p->ncurve_metrics; i++) o->curve[i] = NAN;
        tc.curve = p->curve_epochs;
        tc.ncurve = plan_curve_reach(p, tc.epochs);
        tc.curve_fn = on_curve;
    }
    return tc;
}

/* The end state of m at pos, serialised into out (task.h layout). */
/* The serialised state (task.h) into out: the header, then the floats of
 * params, Adam m and Adam v (n each) packed by their bytes, the pad half of
 * an odd count zero (defined bytes in the journal).  The one writer of the
 * layout: task_state_pack passes the arena's thirds, a finished task its
 * model's arrays (no copy into a state first). */
static void pack_state(const train_pos_t *pos, long adam_t, size_t n, const float *params, const float *m,
                       const float *v, double *out)
{
    task_state_t h = {.pos = *pos, .adam_t = adam_t, .nparams = n};
    task_state_header(&h, out);
    size_t nd = task_state_len(n) - TASK_STATE_HDR;
    if (nd) out[TASK_STATE_HDR + nd - 1] = 0;
    char *o = (char *)(out + TASK_STATE_HDR);
    memcpy(o, params, n * sizeof(float));
    memcpy(o + n * sizeof(float), m, n * sizeof(float));
    memcpy(o + 2 * n * sizeof(float), v, n * sizeof(float));
}

/* Shared by task_run_from and task_train_model: train hp from its seeds
 * (or from o->from), reporting at the checkpoints o->ck.  The model, or NULL
 * when out of memory (or o->from does not fit the model). */
static model_t *train_one(study_data_t *sd, const plan_t *p, one_t *o)
{
    int nm = p->nmetrics;
    for (int i = 0; i < o->nck * nm; i++) o->vals[i] = NAN;
    for (int i = 0; i < o->nck; i++) {
        o->status[i] = TRAIN_NOT_RUN;
        o->secs[i] = NAN;
    }
    double t0 = util_mono_seconds();
    dataset_t train;
    if (task_training_set(sd, p, o->hp, o->draw, &train)) return NULL;
    scaler_fit(o->sc, sd->s->scaler, &train);
    float *X = malloc(train.n * (size_t)train.d * sizeof(float));
    model_arch_t a = task_arch(sd, o->hp);
    model_t *m = X ? model_create(&a) : NULL;
    if (!m || (o->from && task_state_load(o->from, m))) {
        model_free(m);
        free(X);
        data_free(&train);
        return NULL;
    }
    memcpy(X, train.x, train.n * (size_t)train.d * sizeof(float));
    scaler_apply(o->sc, X, train.n);
    mmd_cfg_t mc;
    fill_mmd_cfg(&mc, o->hp);
    train_cfg_t tc = one_cfg(sd->s, p, o, &mc);
    if (!o->from) model_init(m, rng_derive_str(task_key(sd->s, p->spec->name, o->hp, o->draw, o->repeat), "init"));
    train_ws_t *tw = train_ws_create(m, train.n, tc.batch_size, tc.mmd, &sd->kernel);
    run_ctx_t c = {.sd = sd, .p = p, .sc = o->sc, .vals = o->vals, .status = o->status, .secs = o->secs, .t0 = t0,
                   .tick = o->tick, .report = o->report, .tick_ctx = o->tctx, .params_out = o->params_out,
                   .Xtrain = X, .ntrain = train.n, .curve = o->curve, .ck_epoch = -1,
                   .report_from = o->from ? o->from->pos.epoch : 0, .report_to = tc.epochs};
    if (ctx_alloc(&c, sd, m, tw, o->sc)) { /* out of memory: no training, the caller reports it */
        ctx_free(&c, sd->ntests);
        train_ws_free(tw);
        free(X);
        data_free(&train);
        model_free(m);
        return NULL;
    }
    int nrep = 0;
    train_pos_t end;
    int st = train_run_from(m, tw, X, train.n, &tc, o->from ? &o->from->pos : NULL, &end, on_ckpt, on_tick, &c, &nrep);
    if (st == TRAIN_DIVERGED)
        for (int i = nrep; i < o->nck; i++) o->status[i] = TRAIN_DIVERGED;
    else if (st == TRAIN_INTERRUPTED)
        for (int i = nrep; i < o->nck; i++) o->status[i] = TRAIN_INTERRUPTED;
    if (st == TRAIN_OK && o->state_out)
        pack_state(&end, m->adam_t, m->nparams, m->params, m->adam_m, m->adam_v, o->state_out);
    o->final_status = st;
    ctx_free(&c, sd->ntests);
    train_ws_free(tw);
    free(X);
    if (o->train_keep) *o->train_keep = train;
    else data_free(&train);
    return m;
}

int task_run(study_data_t *sd, const plan_t *p, size_t t, double *vals, int8_t *status,
             double *secs, float *params_out, task_tick_fn tick, void *ctx)
{
    return task_run_from(sd, p, t, NULL, vals, status, secs, params_out, NULL, NULL, tick, NULL, ctx);
}

int task_run_curve(study_data_t *sd, const plan_t *p, size_t t, double *vals, int8_t *status,
                   double *secs, float *params_out, double *curve, task_tick_fn tick, void *ctx)
{
    return task_run_from(sd, p, t, NULL, vals, status, secs, params_out, curve, NULL, tick, NULL, ctx);
}

int task_run_from(study_data_t *sd, const plan_t *p, size_t t, const task_state_t *from, double *vals,
                  int8_t *status, double *secs, float *params_out, double *curve, double *state_out,
                  task_tick_fn tick, task_report_fn report, void *ctx)
{
    const task_t *tk = &p->tasks[t];
    int ck1 = (int)tk->hp[P_EPOCHS];
    const int *ck = p->nslots > 1 || (p->spec->reuse_epochs && p->epoch_dim >= 0) ? p->slot_epochs : &ck1;
    if (from) { /* a state of another task, epoch or shape: refused before any work */
        model_arch_t a = task_arch(sd, tk->hp);
        if (from->pos.epoch != tk->start_epoch || from->pos.epoch > ck[0] || from->nparams != model_param_count(&a))
            return TASK_BAD_STATE;
    }
    scaler_t *sc = malloc(sizeof *sc);
    if (!sc) return -1; /* out of memory: as train_one's own failures */
    one_t o = {.hp = tk->hp, .draw = tk->draw, .repeat = tk->repeat, .ck = ck, .nck = p->nslots, .vals = vals,
               .status = status, .secs = secs, .params_out = params_out, .curve = p->ncurve ? curve : NULL,
               .tick = tick, .report = report, .tctx = ctx, .sc = sc, .from = from, .state_out = state_out,
               .final_status = TRAIN_NOT_RUN};
    model_t *m = train_one(sd, p, &o);
    model_free(m);
    free(sc);
    return m ? o.final_status : -1;
}

model_t *task_train_model(study_data_t *sd, const plan_t *p, const double *hp, int draw, int repeat,
                          scaler_t *sc, dataset_t *train_out, double *vals, int *status)
{
    int ck = (int)hp[P_EPOCHS];
    int8_t st8;
    double secs;
    one_t o = {.hp = hp, .draw = draw, .repeat = repeat, .ck = &ck, .nck = 1, .vals = vals, .status = &st8,
               .secs = &secs, .sc = sc, .train_keep = train_out, .final_status = TRAIN_NOT_RUN};
    model_t *m = train_one(sd, p, &o);
    *status = o.final_status;
    return m;
}

/* ---- carried state ---------------------------------------------------------- */

size_t task_state_len(size_t nparams) { return TASK_STATE_HDR + (3 * nparams + 1) / 2; }

double task_state_bytes(size_t nparams) { return (double)sizeof(task_state_t) + 12.0 * (double)nparams; }

task_state_t *task_state_new(size_t nparams)
{
    if (nparams > ((size_t)1 << 40)) return NULL;
    task_state_t *s = malloc(sizeof *s + 3 * nparams * sizeof(float));
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    s->nparams = nparams;
    s->arena = (float *)(s + 1);
    return s;
}

void task_state_free(task_state_t *s) { free(s); }

void task_state_header(const task_state_t *s, double *h)
{
    h[0] = TASK_STATE_MAGIC;
    h[1] = s->pos.epoch;
    h[2] = (double)s->adam_t;
    h[3] = (double)(s->pos.shuffle_ctr >> 32);
    h[4] = (double)(s->pos.shuffle_ctr & 0xffffffffu);
    h[5] = (double)(s->pos.mmd_ctr >> 32);
    h[6] = (double)(s->pos.mmd_ctr & 0xffffffffu);
    h[7] = (double)s->nparams;
}

/* x is a whole number in [0, hi) */
static int state_whole(double x, double hi) { return x >= 0 && x < hi && x == floor(x); }

static int header_ok(const double *h)
{
    return h[0] == TASK_STATE_MAGIC && state_whole(h[1], 2147483648.0) && state_whole(h[2], 9007199254740992.0) &&
           state_whole(h[3], 4294967296.0) && state_whole(h[4], 4294967296.0) && state_whole(h[5], 4294967296.0) &&
           state_whole(h[6], 4294967296.0) && state_whole(h[7], 1099511627776.0);
}

int task_state_read_header(task_state_t *s, const double *h)
{
    if (!header_ok(h) || (size_t)h[7] != s->nparams) return -1;
    s->pos.epoch = (int)h[1];
    s->adam_t = (long)h[2];
    s->pos.shuffle_ctr = (uint64_t)h[3] << 32 | (uint64_t)h[4];
    s->pos.mmd_ctr = (uint64_t)h[5] << 32 | (uint64_t)h[6];
    return 0;
}

task_state_t *task_state_from_header(const double *h, int *bad)
{
    *bad = !header_ok(h);
    if (*bad) return NULL;
    task_state_t *s = task_state_new((size_t)h[7]);
    if (s) task_state_read_header(s, h);
    return s;
}

void task_state_pack(const task_state_t *s, double *out)
{
    size_t n = s->nparams;
    pack_state(&s->pos, s->adam_t, n, s->arena, s->arena + n, s->arena + 2 * n, out);
}

task_state_t *task_state_unpack(const double *in, size_t len, int *bad)
{
    *bad = 1;
    if (len < TASK_STATE_HDR) return NULL;
    /* the length must be the header's: checked before allocating */
    if (in[0] != TASK_STATE_MAGIC || !state_whole(in[7], 1099511627776.0) || task_state_len((size_t)in[7]) != len)
        return NULL;
    task_state_t *s = task_state_from_header(in, bad);
    if (!s) return NULL;
    memcpy(s->arena, in + TASK_STATE_HDR, 3 * s->nparams * sizeof(float));
    return s;
}

void task_state_save(task_state_t *s, const model_t *m, const train_pos_t *pos)
{
    size_t n = m->nparams;
    memcpy(s->arena, m->params, n * sizeof(float));
    memcpy(s->arena + n, m->adam_m, n * sizeof(float));
    memcpy(s->arena + 2 * n, m->adam_v, n * sizeof(float));
    s->adam_t = m->adam_t;
    s->pos = *pos;
}

int task_state_load(const task_state_t *s, model_t *m)
{
    size_t n = m->nparams;
    if (s->nparams != n) return -1;
    memcpy(m->params, s->arena, n * sizeof(float));
    memcpy(m->adam_m, s->arena + n, n * sizeof(float));
    memcpy(m->adam_v, s->arena + 2 * n, n * sizeof(float));
    m->adam_t = s->adam_t;
    return 0;
}
