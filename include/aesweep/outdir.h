/* outdir.h - the output of a run: the result file's path checked against
 * the inputs, the lock that allows one run per output, the journal's
 * identity (the effective spec and its inputs' CRCs), and the decision to
 * start fresh, resume, report "already complete" or refuse.
 *
 * Only rank 0 uses it; no MPI.  The decision is a pure function of facts
 * gathered beforehand (outdir_decide), tested on its own
 * (tests/test_outdir.c); outdir_admit gathers the facts (I/O) and applies
 * it.  Nothing here removes or overwrites a file before every check has
 * passed: a refused command changes nothing (--fresh discards the old
 * journal only when outdir_begin replaces it).
 *
 * Functions that can fail return 0, or -1 with one line in err
 * (SPEC_ERR_LEN, no "aesweep: " prefix); every such refusal is bad input
 * (exit 2) except outdir_begin's (an I/O failure after the checks: exit 3).
 */
#ifndef AESWEEP_OUTDIR_H
#define AESWEEP_OUTDIR_H
#include "aesweep/journal.h"
#include "aesweep/results.h"
#include "aesweep/spec.h"
#include "aesweep/study.h"
#include "aesweep/sweep.h"
#include <stddef.h>

/* The first line of a journal identity's inputs section. */
#define OUTDIR_INPUTS_MARK "# aesweep inputs (compared on --resume):\n"

/* Refuse an output path that cannot be the file a run writes: empty, a
 * folder, too long for this build or the file system, the same file as an
 * input (by device and inode: another name of it is caught too), or in a
 * folder that cannot be written (run creates one missing last folder). */
int outdir_check(const study_t *s, const char *spec_path, const char *out, char *err);

/* What a partial run depends on besides the spec text: the mark, then
 * every data file's CRC-32 and size and the data's shape, as comment lines
 * (malloc'd; NULL when out of memory).  Appended to the spec in the
 * journal, stored as the result file's "inputs" attribute. */
char *outdir_inputs_text(const study_t *s, const study_data_t *sd);
/* A journal's header: the spec (ending with a newline), then inputs (malloc'd). */
char *outdir_identity_text(const char *spec, const char *inputs);
/* Split a journal header in place at its inputs section: header becomes
 * the spec alone; returns the inputs after the mark ("" when the journal
 * records none: written by 0.3.0 or older). */
const char *outdir_split_identity(char *header);

/* ---- the resume decision ----------------------------------------------------- */

typedef enum {
    OUTDIR_FRESH,    /* start from the beginning (a new journal replaces any old one) */
    OUTDIR_RESUME,   /* continue the journal */
    OUTDIR_COMPLETE, /* --resume of a complete result for this spec and data: nothing to do (exit 0) */
    OUTDIR_REFUSE,   /* bad input: the message says why and how to go on (exit 2) */
} outdir_action_t;

/* Everything the decision depends on, gathered by the caller. */
typedef struct {
    int resume, fresh;          /* --resume, --fresh */
    const char *spec_path, *out, *journal_path;
    const char *spec_text;      /* the effective spec now */
    const char *inputs;         /* outdir_inputs_text now (starts with the mark) */
    int probe;                  /* results_probe(out): -1 absent, 0 not ours, 1 ours, 2 locked by another process */
    int journal;                /* journal_read: 0 read, -1 absent, -2 unreadable */
    const char *journal_err;    /* journal_read's message when -2 */
    const char *journal_spec;   /* the journal's spec (its header after outdir_split_identity) */
    const char *journal_inputs; /* its inputs ("" = not recorded) */
    size_t journal_tasks;       /* records read */
    /* read only for --resume without a journal (results_read_state): */
    int result_complete;        /* the output is a complete result file */
    const char *result_spec;    /* its spec */
    const char *result_inputs;  /* its inputs (with the mark; NULL: not recorded, 0.3.0) */
} outdir_facts_t;

/* Pure: no I/O.  msg (n bytes) gets one line: the reason for REFUSE, a
 * note for the user for FRESH ("no journal at ...; starting from the
 * beginning" after --resume) and COMPLETE, "" otherwise. */
outdir_action_t outdir_decide(const outdir_facts_t *f, char *msg, size_t n);

/* ---- an admitted output -------------------------------------------------------- */

typedef struct outdir {
    const char *out;                     /* the result file (the caller's string) */
    char journal_path[SPEC_PATH_LEN + 16];
    char lock_path[SPEC_PATH_LEN + 16];
    int lock_fd;                         /* held flock; -1 none */
    int lock_deferred;                   /* the output folder is created by outdir_admit */
    char *inputs, *ident;                /* outdir_inputs_text, outdir_identity_text */
    journal_data_t jd;                   /* the old journal's records (RESUME) */
    long jvalid;                         /* its bytes up to the last whole record */
    outdir_action_t action;
    char note[SPEC_ERR_LEN];             /* outdir_decide's note, for the caller to print (unless quiet) */
} outdir_t;

/* Rank 0, before anything is written: the output path (outdir_check), the
 * lock, the result file there, the journal and the decision, the study's
 * memory (budget_check_study against limit), then the output folder is
 * created and locked if missing (last, so a refusal leaves nothing behind).
 * od->action is FRESH, RESUME or COMPLETE on success; a refusal returns -1
 * with err.  The caller owns od: outdir_close() it whatever this returns. */
int outdir_admit(outdir_t *od, const study_ctx_t *st, const sweep_opts_t *o, double limit, int node_ranks,
                 char *err);

/* Start writing (FRESH or RESUME): open the temporary result file, record
 * the inputs, open the journal (a new one, or the old one for append after
 * its last whole record) and note this run in the lock file.  *res is the
 * open result (NULL on failure).  0, or -1 with err: an I/O error (exit 3). */
int outdir_begin(outdir_t *od, const study_ctx_t *st, int nranks, const char *start_iso, results_t **res,
                 journal_t *j, char *err);

/* After a complete result was closed: the result file is now the record,
 * so the journal goes. */
void outdir_finish(outdir_t *od);

/* Release the lock (unlinked while held, then closed) and free od. */
void outdir_close(outdir_t *od);

#endif
