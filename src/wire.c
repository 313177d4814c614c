/* wire.c - the result record and its batches; see wire.h. */
#include "aesweep/wire.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t wire_result_len(int nslots, int nmetrics, size_t nparams, size_t ncurve)
{
    size_t ns = (size_t)nslots;
    return WIRE_HDR + ns * ((size_t)nmetrics + 2) + ns * nparams + ncurve;
}

static int counts_ok(const wire_result_t *r)
{
    return r->nslots >= 1 && r->nslots < WIRE_MAX_SLOTS && r->nmetrics >= 1 && r->nmetrics < WIRE_MAX_METRICS &&
           r->nparams < ((size_t)1 << 40) && r->ncurve < ((size_t)1 << 40);
}

static void point_sections(wire_result_t *r, double *buf)
{
    size_t ns = (size_t)r->nslots;
    r->metrics = buf + WIRE_HDR;
    r->status = r->metrics + ns * (size_t)r->nmetrics;
    r->seconds = r->status + ns;
    r->params = r->seconds + ns;
    r->curve = r->params + ns * r->nparams;
}

size_t wire_result_frame(wire_result_t *r, double *buf, size_t cap)
{
    if (!counts_ok(r)) return 0;
    size_t len = wire_result_len(r->nslots, r->nmetrics, r->nparams, r->ncurve);
    if (len > cap) return 0;
    buf[0] = r->stage;
    buf[1] = (double)r->task;
    buf[2] = r->nslots;
    buf[3] = r->nmetrics;
    buf[4] = (double)r->nparams;
    point_sections(r, buf);
    return len;
}

static void copy_or_zero(double *dst, const double *src, size_t n)
{
    if (src) memmove(dst, src, n * sizeof(double));
    else memset(dst, 0, n * sizeof(double));
}

size_t wire_result_pack(const wire_result_t *src, double *buf, size_t cap)
{
    wire_result_t r = *src;
    size_t len = wire_result_frame(&r, buf, cap);
    if (!len) return 0;
    size_t ns = (size_t)r.nslots;
    copy_or_zero(r.metrics, src->metrics, ns * (size_t)r.nmetrics);
    copy_or_zero(r.status, src->status, ns);
    copy_or_zero(r.seconds, src->seconds, ns);
    copy_or_zero(r.params, src->params, ns * r.nparams);
    copy_or_zero(r.curve, src->curve, r.ncurve);
    return len;
}

/* x is a whole number in [lo, hi). */
static int whole(double x, double lo, double hi) { return x >= lo && x < hi && x == floor(x); }

int wire_result_unpack(wire_result_t *r, double *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    if (!buf || len < WIRE_HDR) return -1;
    if (!whole(buf[0], 0, 1e6) || !whole(buf[1], 0, 9007199254740992.0) || !whole(buf[2], 1, WIRE_MAX_SLOTS) ||
        !whole(buf[3], 1, WIRE_MAX_METRICS) || !whole(buf[4], 0, 1099511627776.0))
        return -1;
    r->stage = (int)buf[0];
    r->task = (size_t)buf[1];
    r->nslots = (int)buf[2];
    r->nmetrics = (int)buf[3];
    r->nparams = (size_t)buf[4];
    /* bounded counts: no product below can overflow */
    size_t base = wire_result_len(r->nslots, r->nmetrics, r->nparams, 0);
    if (len < base) {
        memset(r, 0, sizeof *r);
        return -1;
    }
    r->ncurve = len - base;
    point_sections(r, buf);
    return 0;
}

void wire_result_put_status(wire_result_t *r, const int8_t *status)
{
    for (int s = 0; s < r->nslots; s++) r->status[s] = status[s];
}

void wire_result_get_status(const wire_result_t *r, int8_t *status)
{
    for (int s = 0; s < r->nslots; s++) status[s] = (int8_t)r->status[s];
}

void wire_result_put_params(wire_result_t *r, const float *params)
{
    size_t n = (size_t)r->nslots * r->nparams;
    for (size_t i = 0; i < n; i++) r->params[i] = params[i];
}

void wire_result_get_params(const wire_result_t *r, float *params)
{
    size_t n = (size_t)r->nslots * r->nparams;
    for (size_t i = 0; i < n; i++) params[i] = (float)r->params[i];
}

int wire_result_store(const wire_result_t *r, plan_t *p, int *was_done)
{
    if (r->stage != p->stage_index || r->task >= p->ntasks || r->nslots != p->nslots || r->nmetrics != p->nmetrics)
        return -1;
    int8_t st[r->nslots];
    wire_result_get_status(r, st);
    if (was_done) *was_done = p->task_done[r->task];
    plan_store(p, r->task, r->metrics, st, r->seconds);
    /* records of versions before learning curves have none */
    if (p->ncurve && r->ncurve >= (size_t)p->ncurve * p->ncurve_metrics) plan_store_curve(p, r->task, r->curve);
    return 0;
}

/* ---- batches ------------------------------------------------------------- */

double *wire_batch_reserve(wire_batch_t *b, size_t rec_len)
{
    size_t need = b->len + 1 + rec_len;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) cap *= 2;
        double *nb = realloc(b->buf, cap * sizeof(double));
        if (!nb) return NULL;
        b->buf = nb;
        b->cap = cap;
    }
    return b->buf + b->len + 1;
}

void wire_batch_commit(wire_batch_t *b, size_t len, double now)
{
    b->buf[b->len] = (double)len;
    b->len += 1 + len;
    if (b->count++ == 0) b->first_at = now;
}

void wire_batch_clear(wire_batch_t *b)
{
    b->len = 0;
    b->count = 0;
}

void wire_batch_free(wire_batch_t *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

int wire_batch_next(double *batch, size_t len, size_t *pos, double **rec, size_t *rec_len)
{
    if (*pos >= len) return 0;
    double n = batch[*pos];
    if (!whole(n, WIRE_HDR, 9007199254740992.0) || n > (double)(len - *pos - 1)) return -1;
    *rec = batch + *pos + 1;
    *rec_len = (size_t)n;
    *pos += 1 + (size_t)n;
    return 1;
}

double wire_interim_value(const double *r, size_t len, const plan_t *p, int metric)
{
    if (len < WIRE_INTERIM_HDR || r[0] != p->stage_index || r[2] != 0 || r[4] != p->ncurve_metrics ||
        len != WIRE_INTERIM_HDR + (size_t)p->ncurve_metrics || metric < 0 || metric >= p->ncurve_metrics ||
        !(r[1] >= 0 && r[1] < (double)p->ntasks))
        return NAN;
    return r[WIRE_INTERIM_HDR + metric];
}
