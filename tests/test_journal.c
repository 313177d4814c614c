/* test_journal.c - journal framing (journal.h): records written one at a
 * time and several in one write read back bit for bit, the frame's bytes
 * (magic, length, CRC-32 as zlib computes it), a torn tail cut at every
 * byte of the last record, a corrupt record in the middle, appending after
 * a torn tail, and files that are not journals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/journal.h"
#include "aesweep/wire.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char g_dir[64];
static char g_path[128];

static int setup(void **st)
{
    (void)st;
    snprintf(g_dir, sizeof g_dir, "/tmp/aesweep-test-journal-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_path, sizeof g_path, "%s/out.h5.journal", g_dir);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    char p[160];
    snprintf(p, sizeof p, "%s/copy", g_dir);
    unlink(p);
    unlink(g_path);
    rmdir(g_dir);
    return 0;
}

static const char *SPEC = "study = \"j\";\n# aesweep inputs (compared on --resume):\n# pool rows=10 features=2\n";

/* payload i: a result record of task i with i doubles of curve */
static size_t payload(int i, double *buf, size_t cap)
{
    double m[2] = {0.25 * i, 1.0 / (i + 3)}, stt[1] = {0}, sec[1] = {0.5 + i}, curve[8];
    for (int k = 0; k < 8; k++) curve[k] = i * 10 + k;
    wire_result_t r = {.stage = 0, .task = (size_t)i, .nslots = 1, .nmetrics = 2, .ncurve = (size_t)i,
                       .metrics = m, .status = stt, .seconds = sec, .curve = curve};
    return wire_result_pack(&r, buf, cap);
}

static long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Write a journal of records 0..n-1: the first alone, the rest in one write. */
static void write_journal(int n, long *ends)
{
    journal_t j;
    char err[512];
    assert_int_equal(journal_open(&j, g_path, SPEC, 0, err), 0);
    ends[0] = file_size(g_path);
    double bufs[8][32];
    const double *ptr[8];
    size_t lens[8];
    for (int i = 0; i < n; i++) lens[i] = payload(i, bufs[i], 32), ptr[i] = bufs[i];
    assert_int_equal(journal_append(&j, ptr[0], lens[0]), 0);
    assert_int_equal(journal_append_many(&j, ptr + 1, lens + 1, (size_t)n - 1), 0);
    journal_close(&j);
    for (int i = 0; i < n; i++) ends[i + 1] = ends[i] + (long)(lens[i] * 8 + 12);
    assert_int_equal(file_size(g_path), ends[n]);
}

static void check_records(const journal_data_t *jd, int n)
{
    assert_int_equal(jd->n, n);
    for (int i = 0; i < n; i++) {
        double want[32];
        size_t len = payload(i, want, 32);
        assert_int_equal(jd->len[i], len);
        assert_memory_equal(jd->rec[i], want, len * sizeof(double));
    }
}

static void test_round_trip(void **st)
{
    (void)st;
    long ends[5];
    write_journal(4, ends);
    journal_data_t jd;
    long valid = 0;
    char err[512] = "";
    assert_int_equal(journal_read(g_path, &jd, &valid, err), 0);
    assert_string_equal(jd.spec_text, SPEC);
    check_records(&jd, 4);
    assert_int_equal(valid, ends[4]);
    journal_data_free(&jd);
}

static void test_frame_bytes(void **st)
{
    (void)st;
    double pl[3] = {1.0, -2.5, 1e300};
    unsigned char out[64];
    assert_int_equal(journal_frame(pl, 3, NULL), 36);
    assert_int_equal(journal_frame(pl, 3, out), 36);
    assert_memory_equal(out, "AESR", 4);
    uint32_t nb, crc;
    memcpy(&nb, out + 4, 4);
    memcpy(&crc, out + 32, 4);
    assert_int_equal(nb, 24);
    assert_memory_equal(out + 8, pl, 24);
    assert_int_equal(crc, (uint32_t)crc32(0, (const Bytef *)pl, 24));
}

/* A copy of the journal cut to len bytes. */
static void cut_copy(const char *copy, long len)
{
    FILE *f = fopen(g_path, "rb");
    assert_non_null(f);
    char *buf = malloc((size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    FILE *g = fopen(copy, "wb");
    assert_int_equal(fwrite(buf, 1, (size_t)len, g), (size_t)len);
    fclose(g);
    free(buf);
}

static void test_torn_tail_every_byte(void **st)
{
    (void)st;
    long ends[5];
    write_journal(4, ends);
    char copy[160];
    snprintf(copy, sizeof copy, "%s/copy", g_dir);
    /* cut anywhere inside the last record: the first three stand */
    for (long cut = ends[3]; cut < ends[4]; cut++) {
        cut_copy(copy, cut);
        journal_data_t jd;
        long valid = -1;
        char err[512] = "";
        assert_int_equal(journal_read(copy, &jd, &valid, err), 0);
        check_records(&jd, 3);
        assert_int_equal(valid, ends[3]);
        journal_data_free(&jd);
    }
    /* cut inside the header's spec text: not a journal to resume */
    cut_copy(copy, ends[0] - 3);
    journal_data_t jd;
    char err[512] = "";
    assert_int_equal(journal_read(copy, &jd, NULL, err), -2);
    assert_non_null(strstr(err, "truncated journal header"));
    journal_data_free(&jd);
}

static void test_append_after_torn_tail(void **st)
{
    (void)st;
    long ends[5];
    write_journal(4, ends);
    /* a crash in the middle of record 3 */
    assert_int_equal(truncate(g_path, ends[3] + 17), 0);
    journal_data_t jd;
    long valid = 0;
    char err[512] = "";
    assert_int_equal(journal_read(g_path, &jd, &valid, err), 0);
    check_records(&jd, 3);
    journal_data_free(&jd);
    /* resume: append at the last whole record, the torn bytes are cut off */
    journal_t j;
    assert_int_equal(journal_open(&j, g_path, SPEC, valid, err), 0);
    double b[32];
    size_t len = payload(3, b, 32);
    assert_int_equal(journal_append(&j, b, len), 0);
    journal_close(&j);
    assert_int_equal(file_size(g_path), ends[4]);
    assert_int_equal(journal_read(g_path, &jd, &valid, err), 0);
    check_records(&jd, 4);
    journal_data_free(&jd);
}

static void test_corrupt_middle_record(void **st)
{
    (void)st;
    long ends[5];
    write_journal(4, ends);
    /* flip one payload bit of record 1: it fails its CRC, and nothing after
     * it can be trusted to be in step */
    int fd = open(g_path, O_RDWR);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, ends[1] + 8 + 5), 1);
    c ^= 0x10;
    assert_int_equal(pwrite(fd, &c, 1, ends[1] + 8 + 5), 1);
    close(fd);
    journal_data_t jd;
    long valid = 0;
    char err[512] = "";
    assert_int_equal(journal_read(g_path, &jd, &valid, err), 0);
    check_records(&jd, 1);
    assert_int_equal(valid, ends[1]);
    journal_data_free(&jd);
    /* a bad magic or a length that is not whole doubles: the same */
    write_journal(4, ends);
    fd = open(g_path, O_RDWR);
    uint32_t bad = 13;
    assert_int_equal(pwrite(fd, &bad, 4, ends[2] + 4), 4);
    close(fd);
    assert_int_equal(journal_read(g_path, &jd, &valid, err), 0);
    check_records(&jd, 2);
    journal_data_free(&jd);
}

static void test_not_a_journal(void **st)
{
    (void)st;
    journal_data_t jd;
    long valid = 0;
    char err[512] = "";
    unlink(g_path);
    assert_int_equal(journal_read(g_path, &jd, &valid, err), -1); /* absent */
    FILE *f = fopen(g_path, "wb");
    fclose(f);
    assert_int_equal(journal_read(g_path, &jd, &valid, err), -1); /* empty (0.3.0 on a full disk) */
    f = fopen(g_path, "wb");
    fputs("HDF5 or anything else\n", f);
    fclose(f);
    assert_int_equal(journal_read(g_path, &jd, &valid, err), -2);
    assert_non_null(strstr(err, "not an aesweep journal"));
    assert_non_null(strstr(err, "--fresh"));
    journal_data_free(&jd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test(test_frame_bytes),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_after_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_journal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
