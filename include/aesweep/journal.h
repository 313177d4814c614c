/* journal.h - append-only record of finished tasks, for crash safety and resume.
 *
 * File "<output>.journal": a header
 *   "AESWEEP-JOURNAL-1\n" | u32 length | the effective spec and its inputs (text)
 * then records, each
 *   u32 magic 'AESR' | u32 nbytes | payload (nbytes) | u32 crc32(payload)
 * (little-endian, as written by this machine).  The payload is an array of
 * doubles, a result record of wire.h, or (search stages with curves) an
 * interim report, which readers of results pass over (wire.h
 * WIRE_TAG_INTERIM); this file frames payloads and never looks inside
 * them.  The format is that of aesweep 0.3.0 and 0.4.0.
 *
 * Rank 0 write()s the records of each result message as it arrives (one
 * write() per message, so records are never interleaved), so a kill -9 of
 * any process loses only tasks not yet received; fdatasync() runs at most
 * once a second and at every stage end, bounding what a machine crash can
 * lose.  A torn or corrupt record (short, bad magic or length, bad CRC) ends
 * the journal: it and anything after it are dropped on reading, and cut off
 * when the journal is reopened for appending.
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

/* Read an existing journal: 0 ok, -1 absent, -2 not a journal / unreadable
 * or out of memory reading it (err says which; jd is empty).
 * valid_bytes receives the offset after the last good record. */
int journal_read(const char *path, journal_data_t *jd, long *valid_bytes, char *err);
void journal_data_free(journal_data_t *jd);
/* Create a fresh journal (truncating) or open for append at valid_bytes. */
int journal_open(journal_t *j, const char *path, const char *spec_text, long append_at, char *err);
/* 0, or -1 after a write, sync or allocation error (j->failed holds errno;
 * a torn record is cut off, so the journal still ends with a whole record;
 * every later append fails too). */
int journal_append(journal_t *j, const double *payload, size_t n);
/* The same for count payloads (payloads[i] of n[i] doubles) in one write(). */
int journal_append_many(journal_t *j, const double *const *payloads, const size_t *n, size_t count);
/* The framed bytes of one payload of n doubles (magic, length, payload,
 * CRC) into out when not NULL; returns their number (n * 8 + 12). */
size_t journal_frame(const double *payload, size_t n, unsigned char *out);
/* Largest payload a record can hold, in bytes (its u32 length field). */
#define JOURNAL_MAX_RECORD 0xFFFFFFF8u
/* fdatasync: 0, or -1 (j->failed is set, so the next append fails). */
int journal_sync(journal_t *j);
/* Sync and close: 0, or -1 if either failed. */
int journal_close(journal_t *j);

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

#endif
