/* test_data.c - data generators and loaders against independent sources:
 * make_moons vs scikit-learn's points (fixture), digits shape and label
 * counts, CSV and HDF5 round trips, error messages, splits and scalers. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moons_equal_sklearn), cmocka_unit_test(test_moons_noise),
        cmocka_unit_test(test_digits),              cmocka_unit_test(test_csv_roundtrip_and_errors),
        cmocka_unit_test(test_hdf5_roundtrip),      cmocka_unit_test(test_scaler),
        cmocka_unit_test(test_rng_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
