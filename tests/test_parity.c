/* test_parity.c - aesweep's model against PyTorch, step by step.
 *
 * tests/make_torch_fixtures.py trains the reference autoencoder in PyTorch
 * (float32, default init, MSE, full-batch Adam) for 20 steps and stores, per
 * architecture, the data, the initial weights, the gradient at the initial
 * weights, the loss before every step and the final weights.  Here we load
 * the initial weights into a model_t and replay the 20 steps with
 * model_forward / model_mse / model_backward / model_adam_step, and again
 * with the fused step (model_mse_grad on a lanes workspace) + model_adam_step, checking
 *
 *   - the architecture in the file matches model_create's layout (dims);
 *   - loss before step t vs torch:  |l - l_torch| / |l_torch| <= 1e-4;
 *   - gradient at the initial weights, per tensor:
 *         ||g - g_torch||_2 / ||g_torch||_2 <= 1e-4   and
 *         max |g - g_torch| <= 1e-4 * max |g_torch|   (elementwise);
 *   - weights after the 20 steps, per tensor:
 *         max |w - w_torch| <= 1e-4 * max |w_torch|;
 *   - the loss at the final weights vs torch (relative 1e-4).
 * All tolerances are PARITY_RTOL = 1e-4.  Both sides are float32, so the
 * differences come from summation order only (observed <= 3.2e-7 with
 * OpenBLAS 0.3.21 and torch 1.13, so the tolerance has a ~300x margin).
 *
 * The general fixtures (issue 17) add a tapered encoder with widths below
 * the input (64-48-24-6), residual blocks (resnet, ReLU and tanh) and the
 * tanh and ELU activations; their files carry widths, arch and activation.
 * Networks other than the ReLU MLP train on the BLAS path, so for them the
 * "fused" pass runs the same path again.  A third pass runs the wide-layer
 * path (MODEL_KERNEL_GEMM, kernel_gemm.h) on every fixture.
 *
 * Fixture files are found under $AESWEEP_SRC/tests/fixtures (or ./fixtures,
 * the test's working directory being tests/).  A missing fixture fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aesweep/model.h"

#define PARITY_RTOL 1e-4

static const char *const FIXTURES[] = {
    "moons_2-20x3-1",
    "digits_64-65x1-2",
    "moons_2-10x0-1",
    "moons_2-8x2-2",
    /* general architectures (issue 17): tapered with widths below the
     * input, residual blocks, each activation */
    "digits_64-48-24x0-6",
    "digits_64-32x2-4_resnet",
    "digits01_64-40-20x1-4_tanh",
    "digits_64-40-20x1-4_elu",
    "moons_2-16-16x1-1_resnet_tanh",
};
#define NFIXTURES (sizeof FIXTURES / sizeof FIXTURES[0])

/* ---- HDF5 helpers --------------------------------------------------------- */

static hid_t open_fixture(const char *name)
{
    char path[4096];
    const char *src = getenv("AESWEEP_SRC");
    if (src && *src)
        snprintf(path, sizeof path, "%s/tests/fixtures/torch_%s.h5", src, name);
    else
        snprintf(path, sizeof path, "fixtures/torch_%s.h5", name);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) print_error("cannot open fixture %s\n", path);
    assert_true(f >= 0);
    return f;
}

static long read_attr_long(hid_t f, const char *name)
{
    long v = 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_LONG, &v) >= 0);
    H5Aclose(a);
    return v;
}

static double read_attr_double(hid_t f, const char *name)
{
    double v = 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    return v;
}

/* Read dataset `name` of the expected shape (rank 1 if d1 < 0) into buf as
 * memory type mtype; fails the test on any mismatch. */
static void read_ds(hid_t f, const char *name, hid_t mtype, long d0, long d1, void *buf)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) print_error("missing dataset %s\n", name);
    assert_true(d >= 0);
    hid_t s = H5Dget_space(d);
    assert_true(s >= 0);
    int rank = H5Sget_simple_extent_ndims(s);
    hsize_t dims[2] = {0, 0};
    assert_int_equal(rank, d1 < 0 ? 1 : 2);
    H5Sget_simple_extent_dims(s, dims, NULL);
    if ((long)dims[0] != d0 || (d1 >= 0 && (long)dims[1] != d1))
        print_error("%s: shape (%lu, %lu), expected (%ld, %ld)\n", name, (unsigned long)dims[0],
                    (unsigned long)dims[1], d0, d1);
    assert_int_equal((long)dims[0], d0);
    if (d1 >= 0) assert_int_equal((long)dims[1], d1);
    assert_true(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(s);
    H5Dclose(d);
}

/* Read group/W{l}, group/b{l} for all layers into an arena laid out as m's. */
static void read_params(hid_t f, const model_t *m, const char *group, float *arena)
{
    char name[64];
    for (int l = 0; l < m->nlin; l++) {
        snprintf(name, sizeof name, "%s/W%d", group, l);
        read_ds(f, name, H5T_NATIVE_FLOAT, m->dims[l + 1], m->dims[l], arena + m->w_off[l]);
        snprintf(name, sizeof name, "%s/b%d", group, l);
        read_ds(f, name, H5T_NATIVE_FLOAT, m->dims[l + 1], -1, arena + m->b_off[l]);
    }
}

/* ---- comparisons ---------------------------------------------------------- */

static double max_abs(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s = fmax(s, fabs((double)a[i]));
    return s;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s = fmax(s, fabs((double)a[i] - (double)b[i]));
    return s;
}

static double norm2(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return sqrt(s);
}

static double norm2_diff(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    return sqrt(s);
}

/* Tensor k of an arena: k = 2l is W_l, 2l+1 is b_l. */
static void tensor(const model_t *m, int k, size_t *off, size_t *len, char *name, size_t cap)
{
    int l = k / 2;
    if (k % 2 == 0) {
        *off = m->w_off[l];
        *len = (size_t)m->dims[l + 1] * m->dims[l];
        snprintf(name, cap, "W%d", l);
    } else {
        *off = m->b_off[l];
        *len = (size_t)m->dims[l + 1];
        snprintf(name, cap, "b%d", l);
    }
}

/* Gradient vs torch: relative norm of the difference and elementwise with the
 * absolute tolerance PARITY_RTOL * max|g_torch|.  Returns the number of
 * failing tensors (each is reported). */
static int compare_grads(const char *fx, const model_t *m, const float *g, const float *ref,
                         double *worst)
{
    int bad = 0;
    char nm[16];
    for (int k = 0; k < 2 * m->nlin; k++) {
        size_t off, len;
        tensor(m, k, &off, &len, nm, sizeof nm);
        double nr = norm2(ref + off, len), nd = norm2_diff(g + off, ref + off, len);
        double mr = max_abs(ref + off, len), md = max_abs_diff(g + off, ref + off, len);
        /* A tensor whose torch gradient is exactly zero (dead units) must be
         * zero here too, up to a denormal-sized floor. */
        double rel_n = nd / fmax(nr, 1e-30), rel_e = md / fmax(mr, 1e-30);
        if (worst) *worst = fmax(*worst, fmax(rel_n, rel_e));
        if (rel_n > PARITY_RTOL || rel_e > PARITY_RTOL) {
            print_error("%s grad %s: |diff|/|ref| = %.3g, max|diff|/max|ref| = %.3g (|ref| %.3g)\n",
                        fx, nm, rel_n, rel_e, nr);
            bad++;
        }
    }
    return bad;
}

/* Weights vs torch: max|diff| / max|w_torch| per tensor. */
static int compare_weights(const char *fx, const model_t *m, const float *w, const float *ref,
                           double *worst)
{
    int bad = 0;
    char nm[16];
    for (int k = 0; k < 2 * m->nlin; k++) {
        size_t off, len;
        tensor(m, k, &off, &len, nm, sizeof nm);
        double rel = max_abs_diff(w + off, ref + off, len) / fmax(max_abs(ref + off, len), 1e-30);
        if (worst) *worst = fmax(*worst, rel);
        if (rel > PARITY_RTOL) {
            print_error("%s final %s: max|diff|/max|ref| = %.3g\n", fx, nm, rel);
            bad++;
        }
    }
    return bad;
}

/* ---- the test ------------------------------------------------------------- */

static void parity(void **state)
{
    const char *fx = *(const char **)*state;
    hid_t f = open_fixture(fx);

    model_arch_t a = {
        .in = (int)read_attr_long(f, "in"),
        .hidden = (int)read_attr_long(f, "hidden"),
        .layers = (int)read_attr_long(f, "layers"),
        .bottleneck = (int)read_attr_long(f, "bottleneck"),
    };
    if (H5Aexists(f, "widths") > 0) { /* the general fixtures (issue 17) */
        a.kind = (int)read_attr_long(f, "arch");
        a.act = (int)read_attr_long(f, "activation");
        hid_t w = H5Aopen(f, "widths", H5P_DEFAULT), sp = H5Aget_space(w);
        hssize_t nw = H5Sget_simple_extent_npoints(sp);
        assert_true(nw >= 1 && nw <= MODEL_MAX_WIDTHS);
        long wv[MODEL_MAX_WIDTHS];
        assert_true(H5Aread(w, H5T_NATIVE_LONG, wv) >= 0);
        H5Sclose(sp), H5Aclose(w);
        a.nwidths = (int)nw;
        for (int i = 0; i < a.nwidths; i++) a.widths[i] = (int)wv[i];
    }
    int steps = (int)read_attr_long(f, "steps");
    double lr = read_attr_double(f, "lr");
    double final_loss_torch = read_attr_double(f, "final_loss");
    assert_int_equal(steps, 20);
    assert_true(lr > 0 && lr < 1);

    model_t *m = model_create(&a);
    assert_non_null(m);
    assert_int_equal(m->nlin, (int)read_attr_long(f, "nlin"));
    if (a.kind == MODEL_MLP) assert_int_equal(m->nlin, 2 * ((a.nwidths ? a.nwidths : 1) + a.layers) + 2);

    /* X: N from the file. */
    hid_t dx = H5Dopen2(f, "X", H5P_DEFAULT);
    assert_true(dx >= 0);
    hid_t sx = H5Dget_space(dx);
    hsize_t xd[2] = {0, 0};
    assert_int_equal(H5Sget_simple_extent_ndims(sx), 2);
    H5Sget_simple_extent_dims(sx, xd, NULL);
    H5Sclose(sx);
    H5Dclose(dx);
    int n = (int)xd[0];
    assert_true(n >= 1);
    assert_int_equal((int)xd[1], a.in);
    float *X = malloc((size_t)n * a.in * sizeof(float));
    double *loss = malloc((size_t)steps * sizeof(double));
    float *grad0 = malloc(m->nparams * sizeof(float));
    float *final = malloc(m->nparams * sizeof(float));
    assert_non_null(X);
    assert_non_null(loss);
    assert_non_null(grad0);
    assert_non_null(final);
    read_ds(f, "X", H5T_NATIVE_FLOAT, n, a.in, X);
    read_ds(f, "loss", H5T_NATIVE_DOUBLE, steps, -1, loss);
    /* Every element of the arena is covered by some W_l / b_l; fill with NaN
     * first so a gap in the layout would show up. */
    for (size_t i = 0; i < m->nparams; i++) m->params[i] = NAN;
    read_params(f, m, "init", m->params);
    for (size_t i = 0; i < m->nparams; i++) assert_true(isfinite(m->params[i]));
    read_params(f, m, "grad", grad0);
    read_params(f, m, "final", final);
    H5Fclose(f);

    /* The fixture must be non-trivial: training moves the loss and the
     * gradient is not zero, so an inert model cannot pass. */
    assert_true(norm2(grad0, m->nparams) > 1e-6);
    assert_true(loss[steps - 1] < loss[0]);

    float *init = malloc(m->nparams * sizeof(float));
    assert_non_null(init);
    memcpy(init, m->params, m->nparams * sizeof(float));
    /* Twice: model_forward/model_mse/model_backward (the fast forward and
     * backward kernels), then model_mse_grad on a lanes workspace (the fused training step
     * that train_run uses for the MSE loss). */
    for (int pass = 0; pass < 3; pass++) {
        /* pass 2: the wide-layer path (kernel_gemm.h), forward and backward */
        int fused = pass == 1;
        model_opts_t ko = {.kernel = pass == 2 ? MODEL_KERNEL_GEMM : fused ? MODEL_KERNEL_LANES : MODEL_KERNEL_FAST};
        model_ws_t *ws = model_ws_create(m, n, &ko);
        assert_non_null(ws);
        memcpy(m->params, init, m->nparams * sizeof(float));
        model_reset_adam(m);
        double worst_loss = 0, worst_grad = 0, worst_w = 0;
        for (int t = 0; t < steps; t++) {
            double l;
            if (fused) l = model_mse_grad(m, ws, X, n, 1.0f);
            else {
                model_forward(m, ws, X, n);
                l = model_mse(m, ws, X, n);
            }
            double rel = fabs(l - loss[t]) / fabs(loss[t]);
            worst_loss = fmax(worst_loss, rel);
            if (!(rel <= PARITY_RTOL))
                print_error("%s step %d: loss %.9g, torch %.9g (rel %.3g)\n", fx, t, l, loss[t], rel);
            assert_true(rel <= PARITY_RTOL);
            if (!fused) model_backward(m, ws, X, n, 1.0f, NULL);
            if (t == 0) assert_int_equal(compare_grads(fx, m, m->grads, grad0, &worst_grad), 0);
            model_adam_step(m, (float)lr, 0.9f, 0.999f, 1e-8f);
        }
        assert_int_equal(m->adam_t, steps);
        assert_int_equal(compare_weights(fx, m, m->params, final, &worst_w), 0);

        model_forward(m, ws, X, n);
        double lf = model_mse(m, ws, X, n);
        double relf = fabs(lf - final_loss_torch) / fabs(final_loss_torch);
        if (!(relf <= PARITY_RTOL))
            print_error("%s final loss %.9g, torch %.9g (rel %.3g)\n", fx, lf, final_loss_torch, relf);
        assert_true(relf <= PARITY_RTOL);
        printf("[ parity   ] %-18s %-5s N=%-3d loss %.6g -> %.6g; worst rel: loss %.2e grad %.2e "
               "weights %.2e\n",
               fx, pass == 2 ? "gemm" : fused ? "fused" : "split", n, loss[0], lf, fmax(worst_loss, relf),
               worst_grad, worst_w);
        model_ws_free(ws);
    }
    free(init);

    model_free(m);
    free(X);
    free(loss);
    free(grad0);
    free(final);
}

/* The comparison helpers themselves must be able to fail: a gradient or a
 * weight perturbed by 1e-3 relative in one element is rejected. */
static void comparisons_can_fail(void **state)
{
    (void)state;
    model_arch_t a = {.in = 3, .hidden = 4, .layers = 1, .bottleneck = 2};
    model_t *m = model_create(&a);
    assert_non_null(m);
    model_init(m, 12345);
    float *ref = malloc(m->nparams * sizeof(float));
    assert_non_null(ref);
    memcpy(ref, m->params, m->nparams * sizeof(float));
    assert_int_equal(compare_grads("self", m, m->params, ref, NULL), 0);
    assert_int_equal(compare_weights("self", m, m->params, ref, NULL), 0);
    size_t k = m->w_off[2] + 1;
    float mx = (float)max_abs(ref + m->w_off[2], (size_t)m->dims[3] * m->dims[2]);
    m->params[k] += 1e-3f * mx;
    print_message("(two expected mismatch reports follow)\n");
    assert_int_equal(compare_grads("self", m, m->params, ref, NULL), 1);
    assert_int_equal(compare_weights("self", m, m->params, ref, NULL), 1);
    free(ref);
    model_free(m);
}

int main(void)
{
    struct CMUnitTest tests[NFIXTURES + 1];
    for (size_t i = 0; i < NFIXTURES; i++) {
        tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(parity, (void *)&FIXTURES[i]);
        tests[i].name = FIXTURES[i];
    }
    tests[NFIXTURES] = (struct CMUnitTest)cmocka_unit_test(comparisons_can_fail);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report failures ourselves */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
