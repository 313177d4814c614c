/* journal.c - see journal.h. */
#include "aesweep/journal.h"
#include "aesweep/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define J_MAGIC "AESWEEP-JOURNAL-1\n"
#define R_MAGIC 0x52534541u /* 'AESR' little-endian */
#define JOURNAL_SYNC_S 1.0  /* fdatasync at most this often between stage ends */

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int journal_read(const char *path, journal_data_t *jd, long *valid_bytes, char *err)
{
    memset(jd, 0, sizeof *jd);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0) {
        /* 0.3.0 left an empty journal when the disk was full at the start:
         * it holds nothing, so it is no journal (journal_open replaces it) */
        fclose(f);
        return -1;
    }
    char magic[sizeof J_MAGIC];
    uint32_t slen;
    if (fread(magic, 1, sizeof J_MAGIC - 1, f) != sizeof J_MAGIC - 1 ||
        memcmp(magic, J_MAGIC, sizeof J_MAGIC - 1) || fread(&slen, 4, 1, f) != 1 || slen > (16u << 20)) {
        snprintf(err, 512, "%s: not an aesweep journal; move it away or run with --fresh", path);
        fclose(f);
        return -2;
    }
    jd->spec_text = malloc(slen + 1);
    if (!jd->spec_text) {
        snprintf(err, 512, "%s: out of memory reading the journal's header (%u bytes)", path, slen);
        fclose(f);
        return -2;
    }
    if (fread(jd->spec_text, 1, slen, f) != slen) {
        snprintf(err, 512, "%s: truncated journal header; run with --fresh", path);
        fclose(f);
        return -2;
    }
    jd->spec_text[slen] = 0;
    long good = ftell(f);
    size_t cap = 0;
    for (;;) {
        uint32_t hdr[2], crc;
        if (fread(hdr, 4, 2, f) != 2 || hdr[0] != R_MAGIC || hdr[1] % 8 || hdr[1] > JOURNAL_MAX_RECORD) break;
        double *p = malloc(hdr[1] ? hdr[1] : 8);
        if (!p) break; /* a corrupt length (or no memory): the journal ends here */
        if (fread(p, 1, hdr[1], f) != hdr[1] || fread(&crc, 4, 1, f) != 1 ||
            crc != (uint32_t)crc32(0, (const Bytef *)p, hdr[1])) {
            free(p);
            break; /* torn or corrupt tail: everything before it stands */
        }
        if (jd->n == cap) {
            size_t c2 = cap ? 2 * cap : 256;
            double **r2 = realloc(jd->rec, c2 * sizeof *jd->rec);
            if (r2) jd->rec = r2;
            size_t *l2 = r2 ? realloc(jd->len, c2 * sizeof *jd->len) : NULL;
            if (l2) jd->len = l2;
            if (!r2 || !l2) {
                free(p);
                goto oom;
            }
            cap = c2;
        }
        jd->rec[jd->n] = p;
        jd->len[jd->n++] = hdr[1] / 8;
        good = ftell(f);
    }
    fclose(f);
    if (valid_bytes) *valid_bytes = good;
    return 0;
oom:
    snprintf(err, 512, "%s: out of memory reading the journal (%zu records read)", path, jd->n);
    fclose(f);
    journal_data_free(jd);
    return -2;
}

void journal_data_free(journal_data_t *jd)
{
    for (size_t i = 0; i < jd->n; i++) free(jd->rec[i]);
    free(jd->rec);
    free(jd->len);
    free(jd->spec_text);
    memset(jd, 0, sizeof *jd);
}

int journal_open(journal_t *j, const char *path, const char *spec_text, long append_at, char *err)
{
    j->last_sync = util_mono_seconds();
    j->failed = 0;
    j->good = append_at;
    if (append_at > 0) {
        j->fd = open(path, O_WRONLY);
        if (j->fd < 0 || ftruncate(j->fd, append_at) || lseek(j->fd, append_at, SEEK_SET) < 0) {
            snprintf(err, 512, "%s: cannot reopen the journal (%s)", path, strerror(errno));
            if (j->fd >= 0) close(j->fd);
            j->fd = -1;
            return -1;
        }
        return 0;
    }
    /* A new journal is written beside the old path and renamed over it once
     * its header is on disk: a full disk at the start leaves no empty or
     * half-headed journal that --resume would refuse, and --fresh keeps the
     * old one until the new one exists. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    j->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (j->fd < 0) {
        snprintf(err, 512, "%s: cannot create the journal (%s); check that the output folder is writable",
                 path, strerror(errno));
        return -1;
    }
    uint32_t slen = (uint32_t)strlen(spec_text);
    if (write_all(j->fd, J_MAGIC, sizeof J_MAGIC - 1) || write_all(j->fd, &slen, 4) ||
        write_all(j->fd, spec_text, slen) || fdatasync(j->fd) || rename(tmp, path)) {
        snprintf(err, 512, "%s: cannot write the journal (%s); free space or choose another output (-o)", path, strerror(errno));
        close(j->fd);
        j->fd = -1;
        unlink(tmp);
        return -1;
    }
    j->good = (long)(sizeof J_MAGIC - 1 + 4 + slen);
    return 0;
}

size_t journal_frame(const double *payload, size_t n, unsigned char *out)
{
    size_t nb = n * sizeof(double);
    uint32_t hdr[2] = {R_MAGIC, (uint32_t)nb};
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)payload, (uInt)nb);
    if (out) {
        memcpy(out, hdr, 8);
        memcpy(out + 8, payload, nb);
        memcpy(out + 8 + nb, &crc, 4);
    }
    return 8 + nb + 4;
}

int journal_append_many(journal_t *j, const double *const *payloads, const size_t *n, size_t count)
{
    if (j->failed) return -1;
    size_t tot = 0;
    for (size_t i = 0; i < count; i++) {
        if (n[i] > JOURNAL_MAX_RECORD / sizeof(double)) {
            j->failed = EFBIG;
            return -1;
        }
        tot += journal_frame(payloads[i], n[i], NULL);
    }
    unsigned char *buf = malloc(tot ? tot : 1);
    if (!buf) {
        j->failed = ENOMEM;
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < count; i++) off += journal_frame(payloads[i], n[i], buf + off);
    int rc = write_all(j->fd, buf, tot); /* one write: records are never interleaved */
    free(buf);
    if (rc) {
        /* disk full or an I/O error: cut the torn record off so that the
         * journal ends with a whole one (--resume reads it), and stop */
        j->failed = errno ? errno : EIO;
        if (ftruncate(j->fd, j->good) == 0) lseek(j->fd, j->good, SEEK_SET);
        return -1;
    }
    j->good += (long)tot;
    double t = util_mono_seconds();
    if (t - j->last_sync > JOURNAL_SYNC_S) {
        if (fdatasync(j->fd) != 0) {
            /* the records are written but may not reach the disk (EIO: the
             * kernel may have dropped the pages): stop like a failed write */
            j->failed = errno ? errno : EIO;
            return -1;
        }
        j->last_sync = t;
    }
    return 0;
}

int journal_append(journal_t *j, const double *payload, size_t n)
{
    return journal_append_many(j, &payload, &n, 1);
}

int journal_sync(journal_t *j)
{
    if (j->fd < 0 || j->failed) return j->failed ? -1 : 0;
    if (fdatasync(j->fd) != 0) {
        j->failed = errno ? errno : EIO; /* the next append reports it */
        return -1;
    }
    return 0;
}

int journal_close(journal_t *j)
{
    int rc = 0;
    if (j->fd >= 0) {
        if (fdatasync(j->fd) != 0) rc = -1;
        if (close(j->fd) != 0) rc = -1;
    }
    j->fd = -1;
    return rc;
}

void journal_lock_note(int fd, int nranks, const char *start_iso, size_t journaled)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char line[512];
    int n = snprintf(line, sizeof line, "pid=%ld host=%s ranks=%d start=%.3f start_iso=%s journaled=%zu\n",
                     (long)getpid(), host, nranks, util_wall_seconds(), start_iso, journaled);
    if (ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0) {
        if (write_all(fd, line, (size_t)n) == 0) fdatasync(fd);
    }
}

int journal_lock_probe(const char *lock_path, run_lock_t *info)
{
    memset(info, 0, sizeof *info);
    int fd = open(lock_path, O_RDONLY);
    if (fd < 0) return 0;
    char buf[512];
    ssize_t k = read(fd, buf, sizeof buf - 1);
    buf[k > 0 ? k : 0] = 0;
    char *v;
    if ((v = strstr(buf, "pid="))) info->pid = strtol(v + 4, NULL, 10);
    if ((v = strstr(buf, "host="))) sscanf(v + 5, "%255s", info->host);
    if ((v = strstr(buf, "ranks="))) info->ranks = (int)strtol(v + 6, NULL, 10);
    if ((v = strstr(buf, "start="))) info->start = strtod(v + 6, NULL);
    if ((v = strstr(buf, "start_iso="))) sscanf(v + 10, "%31s", info->start_iso);
    if ((v = strstr(buf, "journaled="))) info->journaled = strtol(v + 10, NULL, 10);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    int alive;
    if (info->pid > 0 && !strcmp(host, info->host)) {
        /* same host: ask the kernel about the pid, without touching the lock */
        alive = kill((pid_t)info->pid, 0) == 0 || errno == EPERM;
    } else {
        /* another host (or no line yet): a held exclusive lock refuses a
         * shared one; a free lock is released at once */
        alive = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
        if (!alive) flock(fd, LOCK_UN);
    }
    close(fd);
    return alive;
}
