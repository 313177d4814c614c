/* test_data.c - data generators and loaders against independent sources:
 * make_moons vs scikit-learn's points (fixture), digits shape and label
 * counts, CSV and HDF5 round trips, IDX and .npy files written by numpy
 * (tests/make_array_fixtures.py) and the real Fashion-MNIST files, error
 * messages, train/test pairs, splits and scalers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "aesweep/data.h"
#include "aesweep/rng.h"
#include "aesweep/spec.h"
#include "aesweep/task.h"
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { float x, y; int l; } pt_t;
static int cmp_pt(const void *a, const void *b)
{
    const pt_t *p = a, *q = b;
    if (p->l != q->l) return p->l - q->l;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return (p->y > q->y) - (p->y < q->y);
}

static void moons_vs_sklearn(size_t n)
{
    char path[128], err[DATA_ERR_LEN];
    snprintf(path, sizeof path, "fixtures/moons_sklearn_%zu.csv", n);
    dataset_t ref, ours;
    assert_int_equal(data_load_csv(&ref, path, 0, -2, err), 0);
    assert_int_equal(ref.n, n);
    assert_int_equal(data_moons(&ours, n, 0.0, 12345), 0);
    pt_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    int same_order = 1;
    for (size_t i = 0; i < n; i++) {
        a[i] = (pt_t){ref.x[2 * i], ref.x[2 * i + 1], ref.labels[i]};
        b[i] = (pt_t){ours.x[2 * i], ours.x[2 * i + 1], ours.labels[i]};
        same_order &= a[i].x == b[i].x;
    }
    assert_false(same_order); /* aesweep shuffles */
    qsort(a, n, sizeof *a, cmp_pt);
    qsort(b, n, sizeof *b, cmp_pt);
    size_t n_upper = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].l, b[i].l);
        /* both are float32 roundings of the same double expression */
        assert_true(fabsf(a[i].x - b[i].x) <= 1e-6f);
        assert_true(fabsf(a[i].y - b[i].y) <= 1e-6f);
        n_upper += b[i].l == 0;
    }
    assert_int_equal(n_upper, n / 2); /* sklearn: n_out = n // 2 on the upper moon */
    free(a), free(b);
    data_free(&ref), data_free(&ours);
}

static void test_moons_equal_sklearn(void **st)
{
    (void)st;
    moons_vs_sklearn(100);
    moons_vs_sklearn(101);
    moons_vs_sklearn(1000);
}

static void test_moons_noise(void **st)
{
    (void)st;
    /* noise: the residual from the noise-free points has the given std */
    dataset_t clean, noisy;
    size_t n = 20000;
    assert_int_equal(data_moons(&clean, n, 0.0, 99), 0);
    assert_int_equal(data_moons(&noisy, n, 0.2, 99), 0); /* same shuffle stream */
    double s = 0, s2 = 0;
    for (size_t i = 0; i < 2 * n; i++) {
        double d = (double)noisy.x[i] - clean.x[i];
        s += d, s2 += d * d;
    }
    double mean = s / (2 * n), sd = sqrt(s2 / (2 * n) - mean * mean);
    assert_true(fabs(mean) < 0.005);
    assert_true(fabs(sd - 0.2) < 0.004);
    /* same key, same data; other key, other data */
    dataset_t again, other;
    data_moons(&again, n, 0.2, 99);
    data_moons(&other, n, 0.2, 100);
    assert_memory_equal(again.x, noisy.x, n * 2 * sizeof(float));
    assert_true(memcmp(other.x, noisy.x, n * 2 * sizeof(float)) != 0);
    data_free(&clean), data_free(&noisy), data_free(&again), data_free(&other);
}

static void test_digits(void **st)
{
    (void)st;
    char path[1024], err[DATA_ERR_LEN];
    const char *src = getenv("AESWEEP_SRC");
    snprintf(path, sizeof path, "%s/data/digits.csv.gz", src ? src : "..");
    dataset_t d;
    assert_int_equal(data_load_csv(&d, path, 0, -2, err), 0);
    assert_int_equal(d.n, 1797);
    assert_int_equal(d.d, 64);
    /* sklearn.datasets.load_digits() label counts */
    int want[10] = {178, 182, 177, 183, 181, 182, 181, 179, 174, 180}, got[10] = {0};
    for (size_t i = 0; i < d.n; i++) {
        assert_true(d.labels[i] >= 0 && d.labels[i] <= 9);
        got[d.labels[i]]++;
    }
    for (int k = 0; k < 10; k++) assert_int_equal(got[k], want[k]);
    float lo = 1e9f, hi = -1e9f;
    for (size_t i = 0; i < d.n * 64; i++) lo = fminf(lo, d.x[i]), hi = fmaxf(hi, d.x[i]);
    assert_true(lo == 0.0f && hi == 16.0f);
    data_free(&d);

    /* the study's split: 1,198 training and 599 test images, disjoint, seeded */
    study_t s;
    char text[512];
    snprintf(text, sizeof text, "study=\"d\"; seed=3; data={source=\"digits\"; path=\"%s\";}; stages=({name=\"a\";});", path);
    assert_int_equal(spec_load(&s, "t.cfg", text, err), 0);
    study_data_t sd;
    assert_int_equal(study_data_load(&sd, &s, err), 0);
    assert_int_equal(sd.pool.n, 1198);
    assert_int_equal(sd.tests[0].n, 599);
    char *seen = calloc(1797, 1);
    for (size_t i = 0; i < 1797; i++) {
        assert_true(sd.split[i] < 1797);
        assert_false(seen[sd.split[i]]);
        seen[sd.split[i]] = 1;
    }
    free(seen);
    study_data_free(&sd);
    spec_free(&s);
}

static void test_csv_roundtrip_and_errors(void **st)
{
    (void)st;
    char err[DATA_ERR_LEN];
    const char *p = "/tmp/aesweep_test_rt.csv";
    FILE *f = fopen(p, "w");
    fprintf(f, "a,b,c\n1.5,-2,3e-3\n4,5.25,6\n\n");
    fclose(f);
    dataset_t d;
    assert_int_equal(data_load_csv(&d, p, 1, -1, err), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.d, 3);
    float want[6] = {1.5f, -2.0f, 3e-3f, 4.0f, 5.25f, 6.0f};
    assert_memory_equal(d.x, want, sizeof want);
    data_free(&d);
    /* without header = true the names are an error naming line and column */
    assert_int_equal(data_load_csv(&d, p, 0, -1, err), -1);
    assert_non_null(strstr(err, ":1:"));
    assert_non_null(strstr(err, "'a'"));
    f = fopen(p, "w");
    fprintf(f, "1,2\n3\n");
    fclose(f);
    assert_int_equal(data_load_csv(&d, p, 0, -1, err), -1);
    assert_non_null(strstr(err, ":2:"));
    assert_non_null(strstr(err, "1 columns where earlier rows have 2"));
    f = fopen(p, "w");
    fprintf(f, "1,2\n3,nan\n");
    fclose(f);
    assert_int_equal(data_load_csv(&d, p, 0, -1, err), -1);
    assert_non_null(strstr(err, "not finite"));
    unlink(p);
}

static void test_hdf5_roundtrip(void **st)
{
    (void)st;
    const char *p = "/tmp/aesweep_test_rt.h5";
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double x[4][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {-1, -2, -3.5}};
    hsize_t dims[2] = {4, 3};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(g, "X", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(d), H5Sclose(sp);
    hsize_t one = 5;
    sp = H5Screate_simple(1, &one, NULL);
    d = H5Dcreate2(g, "v", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d), H5Sclose(sp), H5Gclose(g), H5Fclose(f);
    dataset_t ds;
    char err[DATA_ERR_LEN], spec[256];
    snprintf(spec, sizeof spec, "%s:/grp/X", p);
    assert_int_equal(data_load_h5(&ds, spec, err), 0);
    assert_int_equal(ds.n, 4);
    assert_int_equal(ds.d, 3);
    for (int i = 0; i < 12; i++) assert_true(ds.x[i] == (float)((double *)x)[i]);
    data_free(&ds);
    snprintf(spec, sizeof spec, "%s:/grp/v", p);
    assert_int_equal(data_load_h5(&ds, spec, err), -1);
    assert_non_null(strstr(err, "rank 1"));
    snprintf(spec, sizeof spec, "%s:/nope", p);
    assert_int_equal(data_load_h5(&ds, spec, err), -1);
    assert_non_null(strstr(err, "no dataset"));
    unlink(p);
}

static void test_scaler(void **st)
{
    (void)st;
    dataset_t t;
    data_alloc(&t, 4, 2, 0);
    float v[8] = {1, 10, 2, 10, 3, 10, 6, 10};
    memcpy(t.x, v, sizeof v);
    scaler_t s;
    scaler_fit(&s, SCALER_STANDARD, &t);
    assert_true(fabs(s.shift[0] - 3.0) < 1e-12);
    assert_true(fabs(s.scale[0] - sqrt(3.5)) < 1e-12); /* population sd, as sklearn */
    assert_true(s.scale[1] == 1.0);                    /* constant column left unscaled */
    float y[8];
    memcpy(y, v, sizeof v);
    scaler_apply(&s, y, 4);
    scaler_invert(&s, y, 4);
    for (int i = 0; i < 8; i++) assert_true(fabsf(y[i] - v[i]) < 1e-5f);
    scaler_fit(&s, SCALER_MINMAX, &t);
    memcpy(y, v, sizeof v);
    scaler_apply(&s, y, 4);
    assert_true(y[0] == 0.0f && y[6] == 1.0f);
    data_free(&t);
}

static void test_rng_streams(void **st)
{
    (void)st;
    /* pure function of (key, index); different tags give different streams */
    rng_t a = rng_stream(rng_derive_str(1, "x")), b = rng_stream(rng_derive_str(1, "x")),
          c = rng_stream(rng_derive_str(1, "y"));
    for (int i = 0; i < 100; i++) {
        uint64_t u = rng_u64(&a);
        assert_true(u == rng_u64(&b));
        assert_true(u != rng_u64(&c));
    }
    /* uniform and normal moments */
    rng_t r = rng_stream(7);
    double s = 0, s2 = 0, n = 200000;
    for (int i = 0; i < n; i++) {
        double x = rng_normal(&r);
        s += x, s2 += x * x;
    }
    assert_true(fabs(s / n) < 0.01 && fabs(s2 / n - 1) < 0.01);
    double u = 0;
    for (int i = 0; i < n; i++) {
        float f = rng_uniform_f(&r);
        assert_true(f >= 0.0f && f < 1.0f);
        u += f;
    }
    assert_true(fabs(u / n - 0.5) < 0.005);
    /* permutation is a permutation and unbiased on small n */
    int counts[3][3] = {{0}};
    for (int t = 0; t < 30000; t++) {
        size_t p[3];
        rng_permutation(&r, 3, p);
        for (int i = 0; i < 3; i++) counts[i][p[i]]++;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) assert_true(abs(counts[i][j] - 10000) < 500);
}


/* ---- IDX and .npy: against the values numpy wrote (tests/make_array_fixtures.py) ---- */

/* The file's rows must equal the reference CSV's exactly (float32 as numpy
 * computes it; %.9g round-trips float32), labels in the CSV's last column
 * when with_labels. */
static void same_as_ref(const dataset_t *ds, const char *ref_csv, int with_labels)
{
    char path[256], err[DATA_ERR_LEN];
    snprintf(path, sizeof path, "fixtures/arrays/%s", ref_csv);
    dataset_t ref;
    assert_int_equal(data_load_csv(&ref, path, 0, with_labels ? -2 : -1, err), 0);
    assert_int_equal(ds->n, ref.n);
    assert_int_equal(ds->d, ref.d);
    for (size_t i = 0; i < ref.n * (size_t)ref.d; i++)
        if (ds->x[i] != ref.x[i]) fail_msg("%s: element %zu: %.9g, numpy %.9g", ref_csv, i, ds->x[i], ref.x[i]);
    if (with_labels) {
        assert_non_null(ds->labels);
        for (size_t i = 0; i < ref.n; i++) assert_int_equal(ds->labels[i], ref.labels[i]);
    } else
        assert_null(ds->labels);
    data_free(&ref);
}

static void test_idx_npy_equal_numpy(void **st)
{
    (void)st;
    char err[DATA_ERR_LEN];
    dataset_t ds;
    const char *A = "fixtures/arrays/";
    char p[256], l[256];
    /* uint8 images of 3 x 4, flattened in C order, / 255 by default; plain and gzip, IDX and npy labels */
    const char *imgs[] = {"img7x3x4.idx", "img7x3x4.idx.gz"};
    const char *labs[] = {"lab7.idx", "lab7.idx.gz", "lab7_i8.npy"};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            snprintf(p, sizeof p, "%s%s", A, imgs[i]);
            snprintf(l, sizeof l, "%s%s", A, labs[j]);
            assert_int_equal(data_load_idx(&ds, p, l, DATA_PIXELS_AUTO, 0, err), 0);
            same_as_ref(&ds, "img7x3x4_unit.csv", 1);
            data_free(&ds);
        }
    snprintf(p, sizeof p, "%simg7x3x4.idx.gz", A);
    assert_int_equal(data_load_idx(&ds, p, NULL, DATA_PIXELS_UNIT, 0, err), 0);
    assert_true(ds.x[0] == 0.0f && ds.x[1 * 12 + 11] == 1.0f); /* 0 and 255 -> exactly 0 and 1 */
    data_free(&ds);
    assert_int_equal(data_load_idx(&ds, p, NULL, DATA_PIXELS_RAW, 0, err), 0);
    same_as_ref(&ds, "img7x3x4_raw.csv", 0);
    data_free(&ds);
    /* the first rows only, labels cut alike */
    snprintf(l, sizeof l, "%slab7.idx", A);
    assert_int_equal(data_load_idx(&ds, p, l, DATA_PIXELS_RAW, 3, err), 0);
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.labels[2], 6);
    assert_true(ds.x[2 * 12] == (float)((2 * 37 + 3) % 256));
    data_free(&ds);
    /* the other IDX types (big-endian float32, float64, int16) kept as values */
    static const struct { const char *f, *ref; } other[] = {
        {"f32_5x6.idx", "f32_5x6.csv"}, {"f64_4x3.idx", "f64_4x3.csv"}, {"i16_3x2x2.idx", "i16_3x2x2.csv"}};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", A, other[i].f);
        assert_int_equal(data_load_idx(&ds, p, NULL, DATA_PIXELS_AUTO, 0, err), 0);
        same_as_ref(&ds, other[i].ref, 0);
        data_free(&ds);
    }
    /* .npy: little- and big-endian float32, format 2.0, gzip, float64, uint8 images */
    static const struct { const char *f, *ref; int labels; } npy[] = {
        {"f32_5x6.npy", "f32_5x6.csv", 0}, {"f32_5x6_be.npy", "f32_5x6.csv", 0},
        {"f32_5x6_v2.npy", "f32_5x6.csv", 0}, {"f32_5x6.npy.gz", "f32_5x6.csv", 0},
        {"f64_4x3.npy", "f64_4x3.csv", 0}, {"u8_7x3x4.npy", "img7x3x4_unit.csv", 1}};
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s%s", A, npy[i].f);
        snprintf(l, sizeof l, "%slab7_i8.npy", A);
        assert_int_equal(data_load_npy(&ds, p, npy[i].labels ? l : NULL, DATA_PIXELS_AUTO, 0, err), 0);
        same_as_ref(&ds, npy[i].ref, npy[i].labels);
        data_free(&ds);
    }
}

/* Copy fixture `name` to a temporary file, cut to `keep` bytes (or with
 * `extra` bytes appended), and return its path. */
static const char *tmp_variant(const char *name, long keep, int extra, const char *suffix)
{
    static char out[128];
    char src[256];
    snprintf(src, sizeof src, "fixtures/arrays/%s", name);
    snprintf(out, sizeof out, "/tmp/aesweep_test_arr_%d%s", (int)getpid(), suffix);
    FILE *f = fopen(src, "rb");
    assert_non_null(f);
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (keep >= 0 && (size_t)keep < n) n = (size_t)keep;
    FILE *g = fopen(out, "wb");
    fwrite(buf, 1, n, g);
    for (int i = 0; i < extra; i++) fputc(0, g);
    fclose(g);
    return out;
}

static void expect_fail(int rc, const char *err, const char *a, const char *b)
{
    assert_int_equal(rc, -1);
    if (!strstr(err, a) || (b && !strstr(err, b))) fail_msg("message '%s' lacks '%s' / '%s'", err, a, b ? b : "");
    assert_null(strchr(err, '\n'));
}

static void test_idx_npy_errors(void **st)
{
    (void)st;
    char err[DATA_ERR_LEN], l[256];
    dataset_t ds;
    const char *t;
    /* truncated data, header and file; bytes after the data */
    t = tmp_variant("img7x3x4.idx", 16 + 50, 0, ".idx");
    expect_fail(data_load_idx(&ds, t, NULL, DATA_PIXELS_AUTO, 0, err), err, "truncated", "7 x 3 x 4 uint8");
    /* ... also when only the first rows are wanted: the whole file is checked */
    expect_fail(data_load_idx(&ds, t, NULL, DATA_PIXELS_AUTO, 1, err), err, "truncated", "ends after 50");
    t = tmp_variant("img7x3x4.idx", 10, 0, ".idx");
    expect_fail(data_load_idx(&ds, t, NULL, DATA_PIXELS_AUTO, 0, err), err, "truncated IDX header", NULL);
    t = tmp_variant("img7x3x4.idx", 2, 0, ".idx");
    expect_fail(data_load_idx(&ds, t, NULL, DATA_PIXELS_AUTO, 0, err), err, "too short", NULL);
    t = tmp_variant("img7x3x4.idx", -1, 3, ".idx");
    expect_fail(data_load_idx(&ds, t, NULL, DATA_PIXELS_AUTO, 0, err), err, "more data than", NULL);
    t = tmp_variant("img7x3x4.idx.gz", 60, 0, ".idx.gz"); /* gzip stream cut */
    expect_fail(data_load_idx(&ds, t, NULL, DATA_PIXELS_AUTO, 0, err), err, "truncated or corrupt", "unexpected end of file");
    /* wrong magic: a CSV, an npy given as IDX and the other way round */
    expect_fail(data_load_idx(&ds, "fixtures/arrays/f32_5x6.csv", NULL, DATA_PIXELS_AUTO, 0, err), err, "not an IDX file", "magic number");
    expect_fail(data_load_idx(&ds, "fixtures/arrays/f32_5x6.npy", NULL, DATA_PIXELS_AUTO, 0, err), err, "source = \"npy\"", NULL);
    expect_fail(data_load_npy(&ds, "fixtures/arrays/img7x3x4.idx", NULL, DATA_PIXELS_AUTO, 0, err), err, "source = \"idx\"", NULL);
    expect_fail(data_load_npy(&ds, "fixtures/arrays/f32_5x6.csv", NULL, DATA_PIXELS_AUTO, 0, err), err, "not a .npy file", NULL);
    /* labels: the wrong count, an images file as labels, a labels file as images, float labels */
    t = tmp_variant("lab7.idx", -1, 0, ".idx");
    {
        FILE *f = fopen(t, "r+b"); /* declare 6 labels, hold 6: a consistent file of the wrong length */
        unsigned char six[4] = {0, 0, 0, 6};
        fseek(f, 4, SEEK_SET);
        fwrite(six, 1, 4, f);
        fclose(f);
        assert_int_equal(truncate(t, 8 + 6), 0);
    }
    expect_fail(data_load_idx(&ds, "fixtures/arrays/img7x3x4.idx", t, DATA_PIXELS_AUTO, 0, err), err, "6 labels", "has 7 rows");
    expect_fail(data_load_idx(&ds, "fixtures/arrays/img7x3x4.idx", "fixtures/arrays/img7x3x4.idx", DATA_PIXELS_AUTO, 0, err),
                err, "one integer per row", "7 x 3 x 4");
    expect_fail(data_load_idx(&ds, "fixtures/arrays/lab7.idx", NULL, DATA_PIXELS_AUTO, 0, err), err, "1-d", "labels");
    expect_fail(data_load_idx(&ds, "fixtures/arrays/img7x3x4.idx", "fixtures/arrays/f32_5x6.idx", DATA_PIXELS_AUTO, 0, err),
                err, "one integer per row", NULL);
    snprintf(l, sizeof l, "/tmp/aesweep_test_flab_%d.idx", (int)getpid());
    {
        FILE *f = fopen(l, "wb"); /* 1-d float32 IDX */
        unsigned char h[8] = {0, 0, 0x0D, 1, 0, 0, 0, 7}, z[28] = {0};
        fwrite(h, 1, 8, f), fwrite(z, 1, 28, f);
        fclose(f);
    }
    expect_fail(data_load_idx(&ds, "fixtures/arrays/img7x3x4.idx", l, DATA_PIXELS_AUTO, 0, err), err, "labels are float32", NULL);
    unlink(l);
    expect_fail(data_load_idx(&ds, "fixtures/arrays/img7x3x4.idx", "/nonexistent/labels.idx", DATA_PIXELS_AUTO, 0, err),
                err, "/nonexistent/labels.idx", "labels file");
    /* pixels = unit on float data */
    expect_fail(data_load_npy(&ds, "fixtures/arrays/f32_5x6.npy", NULL, DATA_PIXELS_UNIT, 0, err), err, "float32", "pixels");
    /* npy: a damaged header, Fortran order, an unsupported dtype, truncated data */
    t = tmp_variant("f32_5x6.npy", -1, 0, ".npy");
    {
        FILE *f = fopen(t, "r+b");
        fseek(f, 10, SEEK_SET);
        fputs("{'desc':", f); /* 'descr' misspelt */
        fclose(f);
    }
    expect_fail(data_load_npy(&ds, t, NULL, DATA_PIXELS_AUTO, 0, err), err, "bad .npy header", "no 'descr' entry");
    t = tmp_variant("f32_5x6.npy", -1, 0, ".npy");
    {
        FILE *f = fopen(t, "r+b");
        char hdr[120];
        fseek(f, 10, SEEK_SET);
        size_t k = fread(hdr, 1, sizeof hdr - 1, f);
        hdr[k] = 0;
        char *fo = strstr(hdr, "False");
        assert_non_null(fo);
        fseek(f, 10 + (fo - hdr), SEEK_SET);
        fputs("True, ", f); /* same length */
        fclose(f);
    }
    expect_fail(data_load_npy(&ds, t, NULL, DATA_PIXELS_AUTO, 0, err), err, "Fortran", "ascontiguousarray");
    t = tmp_variant("f32_5x6.npy", -1, 0, ".npy");
    {
        FILE *f = fopen(t, "r+b");
        char hdr[120];
        fseek(f, 10, SEEK_SET);
        size_t k = fread(hdr, 1, sizeof hdr - 1, f);
        hdr[k] = 0;
        char *d = strstr(hdr, "<f4");
        assert_non_null(d);
        fseek(f, 10 + (d - hdr), SEEK_SET);
        fputs("<c8", f); /* complex64 */
        fclose(f);
    }
    expect_fail(data_load_npy(&ds, t, NULL, DATA_PIXELS_AUTO, 0, err), err, "dtype '<c8'", "float32");
    t = tmp_variant("f32_5x6.npy", 128 + 20, 0, ".npy");
    expect_fail(data_load_npy(&ds, t, NULL, DATA_PIXELS_AUTO, 0, err), err, "truncated", "5 x 6 float32");
    unlink(t);
    /* a header that declares 2^29 rows of 2 x 2 int16 (8 GiB as float) over 12 bytes of data:
     * refused as truncated, with memory for what arrived only (fuzz_array found the allocation) */
    snprintf(l, sizeof l, "/tmp/aesweep_test_big_%d.idx", (int)getpid());
    {
        FILE *f = fopen(l, "wb");
        unsigned char h[16] = {0, 0, 0x0B, 3, 0x20, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2}, z[12] = {0};
        fwrite(h, 1, 16, f), fwrite(z, 1, 12, f);
        fclose(f);
    }
    expect_fail(data_load_idx(&ds, l, NULL, DATA_PIXELS_AUTO, 0, err), err, "truncated", "536870912 x 2 x 2 int16");
    expect_fail(data_load_idx(&ds, "fixtures/arrays/img7x3x4.idx", l, DATA_PIXELS_AUTO, 0, err), err, "one integer per row", NULL);
    unlink(l);
    /* NaN in float data */
    snprintf(l, sizeof l, "/tmp/aesweep_test_nan_%d.idx", (int)getpid());
    {
        FILE *f = fopen(l, "wb"); /* 2 x 2 big-endian float32, element [1][0] NaN */
        unsigned char h[12] = {0, 0, 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 2};
        unsigned char v[16] = {0x3f, 0x80, 0, 0, 0x3f, 0x80, 0, 0, 0x7f, 0xc0, 0, 0, 0, 0, 0, 0};
        fwrite(h, 1, 12, f), fwrite(v, 1, 16, f);
        fclose(f);
    }
    expect_fail(data_load_idx(&ds, l, NULL, DATA_PIXELS_AUTO, 0, err), err, "element [1][0] is not finite", NULL);
    unlink(l);    static const char *const sfx[] = {".idx", ".idx.gz", ".npy"};
    for (int i = 0; i < 3; i++) {
        snprintf(l, sizeof l, "/tmp/aesweep_test_arr_%d%s", (int)getpid(), sfx[i]);
        unlink(l);
    }
}

/* The real Fashion-MNIST files (Debian dataset-fashion-mnist, installed by
 * scripts/deps.sh): counts, labels and pixel sums as numpy reads them. */
static void test_fashion_mnist(void **st)
{
    (void)st;
    const char *D = "/usr/share/datasets/fashion-mnist/";
    char p[256], l[256], err[DATA_ERR_LEN];
    snprintf(p, sizeof p, "%strain-images-idx3-ubyte.gz", D);
    snprintf(l, sizeof l, "%strain-labels-idx1-ubyte.gz", D);
    dataset_t ds;
    if (data_load_idx(&ds, p, l, DATA_PIXELS_RAW, 0, err)) fail_msg("%s (run scripts/deps.sh: dataset-fashion-mnist)", err);
    assert_int_equal(ds.n, 60000);
    assert_int_equal(ds.d, 784);
    int counts[10] = {0};
    double sum = 0, sum0 = 0;
    for (size_t i = 0; i < ds.n; i++) {
        assert_true(ds.labels[i] >= 0 && ds.labels[i] < 10);
        counts[ds.labels[i]]++;
    }
    for (size_t i = 0; i < ds.n * 784; i++) sum += ds.x[i];
    for (int j = 0; j < 784; j++) sum0 += ds.x[j];
    for (int c = 0; c < 10; c++) assert_int_equal(counts[c], 6000);
    int first[5] = {9, 0, 0, 3, 0};
    for (int i = 0; i < 5; i++) assert_int_equal(ds.labels[i], first[i]);
    assert_true(sum == 3431114169.0); /* numpy: x.astype(int64).sum() */
    assert_true(sum0 == 76247.0);
    data_free(&ds);
    /* [0, 1] pixels, the first 1000 test images */
    snprintf(p, sizeof p, "%st10k-images-idx3-ubyte.gz", D);
    snprintf(l, sizeof l, "%st10k-labels-idx1-ubyte.gz", D);
    assert_int_equal(data_load_idx(&ds, p, l, DATA_PIXELS_AUTO, 1000, err), 0);
    assert_int_equal(ds.n, 1000);
    sum0 = 0;
    for (size_t i = 0; i < ds.n * 784; i++) assert_true(ds.x[i] >= 0.0f && ds.x[i] <= 1.0f);
    for (int j = 0; j < 784; j++) sum0 += ds.x[j] * 255.0;
    assert_true(fabs(sum0 - 33456.0) < 1e-3);
    assert_int_equal(ds.labels[0], 9);
    assert_int_equal(ds.labels[4], 6);
    data_free(&ds);
}

/* A train/test pair through the spec and study_data_load: the whole data
 * file (or its first data.pool rows) in file order is the pool, labels kept. */
static void test_pair_spec(void **st)
{
    (void)st;
    char err[SPEC_ERR_LEN];
    study_t s;
    const char *txt =
        "study = \"p\"; seed = 1;\n"
        "data = { source = \"idx\"; path = \"fixtures/arrays/img7x3x4.idx.gz\"; labels = \"fixtures/arrays/lab7.idx\";\n"
        "         train_fraction = 1; pool = 5; pixels = \"raw\"; };\n"
        "tests = ( { name = \"t\"; path = \"fixtures/arrays/u8_7x3x4.npy\"; size = 4; } );\n"
        "stages = ( { name = \"s\"; } );\n";
    /* a .npy test file with an idx source is an error below; first the idx pair */
    char *t2 = strdup(txt);
    char *q = strstr(t2, "u8_7x3x4.npy");
    memcpy(q, "img7x3x4.idx", 12);
    assert_int_equal(spec_load(&s, "pair.cfg", t2, err), 0);
    study_data_t sd;
    assert_int_equal(study_data_load(&sd, &s, err), 0);
    assert_int_equal(sd.pool.n, 5);
    assert_int_equal(sd.pool.d, 12);
    assert_int_equal(sd.tests[0].n, 4);
    assert_null(sd.tests[0].labels);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(sd.split[i], i);
        assert_int_equal(sd.pool.labels[i], (int)(i * 3 % 10));
        assert_true(sd.pool.x[i * 12 + 1] == (float)((i * 37 + 5 + 3) % 256));
    }
    study_data_free(&sd);
    spec_free(&s);
    free(t2);
    assert_int_equal(spec_load(&s, "pair.cfg", txt, err), 0);
    assert_int_equal(study_data_load(&sd, &s, err), -1); /* the npy test file is not IDX */
    assert_non_null(strstr(err, "source = \"npy\""));
    spec_free(&s);
    /* spec errors: a pair without test files, pool on a split file, labels on CSV */
    static const struct { const char *text, *want; } bad[] = {
        {"study=\"p\"; seed=1; data={source=\"idx\"; path=\"a.idx\"; train_fraction=1;}; stages=({name=\"s\";});", "add tests"},
        {"study=\"p\"; seed=1; data={source=\"idx\"; path=\"a.idx\"; train_fraction=1;}; tests=({name=\"t\";}); stages=({name=\"s\";});", "no held-out rows"},
        {"study=\"p\"; seed=1; data={source=\"idx\"; path=\"a.idx\"; pool=10;}; stages=({name=\"s\";});", "data.pool applies"},
        {"study=\"p\"; seed=1; data={source=\"csv\"; path=\"a.csv\"; labels=\"l.idx\";}; stages=({name=\"s\";});", "label_column"},
        {"study=\"p\"; seed=1; data={source=\"idx\"; path=\"a.idx\"; pixels=\"half\";}; stages=({name=\"s\";});", "\"unit\""},
        {"study=\"p\"; seed=1; data={source=\"idx\";}; stages=({name=\"s\";});", "missing key 'path'"},
        {"study=\"p\"; seed=1; model_data=\"codes\"; data={source=\"moons\";}; stages=({name=\"s\";});", "model_data"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (spec_load(&s, "bad.cfg", bad[i].text, err) == 0) fail_msg("accepted: %s", bad[i].text);
        if (!strstr(err, bad[i].want)) fail_msg("'%s' lacks '%s'", err, bad[i].want);
        spec_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moons_equal_sklearn), cmocka_unit_test(test_moons_noise),
        cmocka_unit_test(test_digits),              cmocka_unit_test(test_csv_roundtrip_and_errors),
        cmocka_unit_test(test_hdf5_roundtrip),      cmocka_unit_test(test_scaler),
        cmocka_unit_test(test_rng_streams),
        cmocka_unit_test(test_idx_npy_equal_numpy), cmocka_unit_test(test_idx_npy_errors),
        cmocka_unit_test(test_fashion_mnist),       cmocka_unit_test(test_pair_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
