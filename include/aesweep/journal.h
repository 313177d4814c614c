/* journal.h - append-only record of finished tasks, for crash safety and resume.
 *
 * File "<output>.journal": a header (magic, the full spec text) then records
 *   u32 magic 'AESR' | u32 nbytes | payload (nbytes) | u32 crc32(payload)
 * where the payload is an array of doubles (see sweep.c for the fields).
 * Rank 0 write()s each record as it arrives, so a kill -9 of any process
 * loses only tasks not yet received; fdatasync() runs at most once a second
 * and at every stage end, bounding what a machine crash can lose.  A torn
 * last record fails its checksum and is dropped (and truncated on append).
 */
#ifndef AESWEEP_JOURNAL_H
#define AESWEEP_JOURNAL_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int fd;
    double last_sync;
    long good;  /* bytes up to the end of the last whole record */
    int failed; /* errno of a failed append (0: none); later appends are refused */
} journal_t;

typedef struct {
    size_t n;
    double **rec;    /* payloads */
    size_t *len;     /* doubles per payload */
    char *spec_text; /* spec the journal was written for */
} journal_data_t;

/* Read an existing journal: 0 ok, -1 absent, -2 not a journal / unreadable.
 * valid_bytes receives the offset after the last good record. */
int journal_read(const char *path, journal_data_t *jd, long *valid_bytes, char *err);
void journal_data_free(journal_data_t *jd);
/* Create a fresh journal (truncating) or open for append at valid_bytes. */
int journal_open(journal_t *j, const char *path, const char *spec_text, long append_at, char *err);
/* 0, or -1 after a write error (j->failed holds errno; the torn record is
 * cut off, so the journal still ends with a whole record). */
int journal_append(journal_t *j, const double *payload, size_t n);
void journal_sync(journal_t *j);
void journal_close(journal_t *j);

/* ---- the run's lock file, "<output>.lock" ----------------------------------
 * Rank 0 holds an exclusive flock on it for the whole run (sweep.c) and
 * writes one line about the run into it once the run has started:
 *   pid=<pid> host=<hostname> ranks=<n> start=<unix seconds> start_iso=<ISO 8601> journaled=<records before this run>
 * so that `aesweep status` and `info` can tell a live run from one that
 * was cut off, and compute rates for this run only. */
typedef struct {
    long pid;
    char host[256];
    int ranks;
    double start;        /* unix seconds, 0 if unknown */
    char start_iso[32];
    long journaled;      /* journal records written before this run started */
} run_lock_t;

/* Write the line above into the held lock file fd. */
void journal_lock_note(int fd, int nranks, const char *start_iso, size_t journaled);
/* Is a run holding lock_path?  1 alive, 0 no (no lock file, or a stale one
 * left by a killed run).  info gets the line's fields when present (zeroed
 * otherwise).  On the writer's host the pid is checked; elsewhere a
 * non-blocking shared flock is tried and released at once. */
int journal_lock_probe(const char *lock_path, run_lock_t *info);

/* ---- a journal record (the payload sweep.c writes) -------------------------
 * stage, task, nslots, nmetrics, nparams, vals [nslots][nmetrics],
 * status [nslots], seconds [nslots], params [nslots][nparams], then the
 * learning curve (the rest; may be absent in records of older versions). */
typedef struct {
    int stage;
    size_t task;
    int nslots, nmetrics;
    size_t nparams;
    const double *vals, *status, *seconds, *curve;
    size_t ncurve_values;
} journal_task_t;
/* Decode a payload of len doubles; 0 ok, -1 malformed. */
int journal_decode(const double *pl, size_t len, journal_task_t *out);

#endif
