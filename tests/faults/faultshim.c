/* faultshim.c - an LD_PRELOAD library that makes one call of aesweep fail
 * (tests/test_faults.py; built by tests/faults.cmake, never installed).
 *
 * A *site* is one place in the aesweep program that calls one of the
 * functions below: the function's name and the return address of the call,
 * as an offset into the program's image (what `nm -n aesweep` prints, so a
 * site maps to the enclosing function).  Calls made from anywhere else (the
 * C library, HDF5's own internals, Open MPI, OpenBLAS) pass through, so
 * that a fault means "this call in aesweep's code failed", as an allocation
 * or HDF5 call can fail for real (no memory, disk full, I/O error).
 *
 * Driven by environment variables read only here:
 *   AESWEEP_FAULT_LOG=FILE     at exit, append one line per site the run hit:
 *                              "<function> <offset hex> <hits>"
 *   AESWEEP_FAULT=FUNC@OFF[#K] make the K-th call (default 1) of site
 *                              FUNC@OFF fail once; later calls succeed.  The
 *                              failure is the function's documented one:
 *                              NULL/ENOMEM for allocations, -1 with errno
 *                              (ENOSPC for write, EIO for the syncs, EXDEV
 *                              for rename), a negative value for HDF5 calls,
 *                              with an HDF5 error pushed onto the error
 *                              stack ("injected fault: FUNC"), as the
 *                              library does when it fails.
 *   AESWEEP_FAULT_HIT=FILE     written when the fault fires (the test checks
 *                              that the fault it asked for happened).
 * Only a process whose program is named "aesweep" is affected (mpirun, the
 * ORTE daemons and Python run untouched).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern char *program_invocation_short_name;

/* ---- the program's image and the sites ---------------------------------- */

static uintptr_t g_lo, g_hi, g_base; /* executable segments of the program; its load address */
static int g_active;                 /* this process is aesweep */
static char g_fault_fn[64];
static uintptr_t g_fault_off;
static long g_fault_hit = 1;
static int g_fault_done;
static char g_log[4096], g_hitlog[4096];

#define MAX_SITES 8192
typedef struct {
    const char *fn;
    uintptr_t off;
    long hits;
} site_t;
static site_t g_sites[MAX_SITES];
static int g_nsites;
static volatile int g_lock;

static int find_main(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    /* the first object is the program itself */
    g_base = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!g_lo || lo < g_lo) g_lo = lo;
        if (hi > g_hi) g_hi = hi;
    }
    return 1;
}

__attribute__((constructor)) static void shim_init(void)
{
    if (strcmp(program_invocation_short_name, "aesweep") != 0) return;
    const char *f = getenv("AESWEEP_FAULT"), *l = getenv("AESWEEP_FAULT_LOG"), *h = getenv("AESWEEP_FAULT_HIT");
    if (l) snprintf(g_log, sizeof g_log, "%s", l);
    if (h) snprintf(g_hitlog, sizeof g_hitlog, "%s", h);
    if (f && *f) {
        const char *at = strchr(f, '@');
        if (at && (size_t)(at - f) < sizeof g_fault_fn) {
            snprintf(g_fault_fn, sizeof g_fault_fn, "%.*s", (int)(at - f), f);
            char *end;
            g_fault_off = (uintptr_t)strtoull(at + 1, &end, 16);
            if (*end == '#') g_fault_hit = strtol(end + 1, NULL, 10);
        }
    }
    dl_iterate_phdr(find_main, NULL);
    g_active = 1;
}

/* Count the call of fn from return address ra; 1 if it is to fail. */
static int hit(const char *fn, void *ra)
{
    uintptr_t a = (uintptr_t)ra;
    if (!g_active || a < g_lo || a >= g_hi) return 0;
    uintptr_t off = a - g_base;
    while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE)) {
    }
    site_t *s = NULL;
    for (int i = 0; i < g_nsites; i++)
        if (g_sites[i].off == off && !strcmp(g_sites[i].fn, fn)) { s = &g_sites[i]; break; }
    if (!s && g_nsites < MAX_SITES) {
        s = &g_sites[g_nsites++];
        s->fn = fn, s->off = off, s->hits = 0;
    }
    long n = s ? ++s->hits : 0;
    __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE);
    int fail = !g_fault_done && g_fault_fn[0] && off == g_fault_off && n == g_fault_hit && !strcmp(fn, g_fault_fn);
    if (fail) {
        g_fault_done = 1;
        if (g_hitlog[0]) {
            int fd = open(g_hitlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                char line[128];
                int k = snprintf(line, sizeof line, "%s@%lx#%ld\n", fn, (unsigned long)off, n);
                if (syscall(SYS_write, fd, line, (size_t)k) < 0) { /* nothing to do */ }
                close(fd);
            }
        }
    }
    return fail;
}

__attribute__((destructor)) static void shim_fini(void)
{
    if (!g_active || !g_log[0]) return;
    int fd = open(g_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return;
    for (int i = 0; i < g_nsites; i++) {
        char line[160];
        int k = snprintf(line, sizeof line, "%s %lx %ld\n", g_sites[i].fn, (unsigned long)g_sites[i].off, g_sites[i].hits);
        if (syscall(SYS_write, fd, line, (size_t)k) < 0) break;
    }
    close(fd);
}

/* ---- allocations -------------------------------------------------------- */

void *malloc(size_t n)
{
    if (hit("malloc", __builtin_return_address(0))) { errno = ENOMEM; return NULL; }
    return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    if (hit("calloc", __builtin_return_address(0))) { errno = ENOMEM; return NULL; }
    return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    if (hit("realloc", __builtin_return_address(0))) { errno = ENOMEM; return NULL; }
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    if (hit("aligned_alloc", __builtin_return_address(0))) { errno = ENOMEM; return NULL; }
    return __libc_memalign(align, n);
}

char *strdup(const char *s)
{
    if (hit("strdup", __builtin_return_address(0))) { errno = ENOMEM; return NULL; }
    size_t n = strlen(s) + 1;
    char *d = __libc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- system calls ------------------------------------------------------- */

#define NEXT(type, name, args) \
    static type(*real) args;   \
    if (!real) real = (type(*) args)dlsym(RTLD_NEXT, name)

ssize_t write(int fd, const void *buf, size_t n)
{
    NEXT(ssize_t, "write", (int, const void *, size_t));
    if (hit("write", __builtin_return_address(0))) { errno = ENOSPC; return -1; }
    return real(fd, buf, n);
}

int fsync(int fd)
{
    NEXT(int, "fsync", (int));
    if (hit("fsync", __builtin_return_address(0))) { errno = EIO; return -1; }
    return real(fd);
}

int fdatasync(int fd)
{
    NEXT(int, "fdatasync", (int));
    if (hit("fdatasync", __builtin_return_address(0))) { errno = EIO; return -1; }
    return real(fd);
}

int ftruncate(int fd, off_t n)
{
    NEXT(int, "ftruncate", (int, off_t));
    if (hit("ftruncate", __builtin_return_address(0))) { errno = EIO; return -1; }
    return real(fd, n);
}

int rename(const char *a, const char *b)
{
    NEXT(int, "rename", (const char *, const char *));
    if (hit("rename", __builtin_return_address(0))) { errno = EXDEV; return -1; }
    return real(a, b);
}

/* ---- HDF5 --------------------------------------------------------------- */

/* What HDF5 does when a call fails: an entry on the error stack. */
static void push_h5(const char *fn)
{
    H5open(); /* the error classes exist once the library is up */
    H5Eclear2(H5E_DEFAULT);
    H5Epush2(H5E_DEFAULT, __FILE__, fn, __LINE__, H5E_ERR_CLS_g, H5E_IO_g, H5E_WRITEERROR_g,
             "injected fault: %s", fn);
}

#define H5WRAP(ret, name, params, args)                                           \
    ret name params                                                               \
    {                                                                             \
        static ret(*real) params;                                                 \
        if (!real) real = (ret(*) params)dlsym(RTLD_NEXT, #name);                 \
        if (hit(#name, __builtin_return_address(0))) {                           \
            push_h5(#name);                                                       \
            return (ret)-1;                                                       \
        }                                                                         \
        return real args;                                                         \
    }

H5WRAP(hid_t, H5Fcreate, (const char *a, unsigned b, hid_t c, hid_t d), (a, b, c, d))
H5WRAP(hid_t, H5Fopen, (const char *a, unsigned b, hid_t c), (a, b, c))
H5WRAP(herr_t, H5Fclose, (hid_t a), (a))
H5WRAP(herr_t, H5Fflush, (hid_t a, H5F_scope_t b), (a, b))
H5WRAP(hid_t, H5Gcreate2, (hid_t a, const char *b, hid_t c, hid_t d, hid_t e), (a, b, c, d, e))
H5WRAP(hid_t, H5Gopen2, (hid_t a, const char *b, hid_t c), (a, b, c))
H5WRAP(herr_t, H5Gclose, (hid_t a), (a))
H5WRAP(hid_t, H5Dcreate2, (hid_t a, const char *b, hid_t c, hid_t d, hid_t e, hid_t f, hid_t g), (a, b, c, d, e, f, g))
H5WRAP(hid_t, H5Dopen2, (hid_t a, const char *b, hid_t c), (a, b, c))
H5WRAP(herr_t, H5Dwrite, (hid_t a, hid_t b, hid_t c, hid_t d, hid_t e, const void *f), (a, b, c, d, e, f))
H5WRAP(herr_t, H5Dread, (hid_t a, hid_t b, hid_t c, hid_t d, hid_t e, void *f), (a, b, c, d, e, f))
H5WRAP(herr_t, H5Dclose, (hid_t a), (a))
H5WRAP(hid_t, H5Acreate2, (hid_t a, const char *b, hid_t c, hid_t d, hid_t e, hid_t f), (a, b, c, d, e, f))
H5WRAP(herr_t, H5Awrite, (hid_t a, hid_t b, const void *c), (a, b, c))
H5WRAP(hid_t, H5Aopen, (hid_t a, const char *b, hid_t c), (a, b, c))
H5WRAP(herr_t, H5Aread, (hid_t a, hid_t b, void *c), (a, b, c))
H5WRAP(herr_t, H5Aclose, (hid_t a), (a))
H5WRAP(herr_t, H5Adelete, (hid_t a, const char *b), (a, b))
H5WRAP(htri_t, H5Aexists, (hid_t a, const char *b), (a, b))
H5WRAP(htri_t, H5Lexists, (hid_t a, const char *b, hid_t c), (a, b, c))
H5WRAP(herr_t, H5Ldelete, (hid_t a, const char *b, hid_t c), (a, b, c))
H5WRAP(hid_t, H5Screate, (H5S_class_t a), (a))
H5WRAP(hid_t, H5Screate_simple, (int a, const hsize_t *b, const hsize_t *c), (a, b, c))
H5WRAP(hid_t, H5Tcopy, (hid_t a), (a))
H5WRAP(hid_t, H5Pcreate, (hid_t a), (a))
H5WRAP(herr_t, H5DSset_scale, (hid_t a, const char *b), (a, b))
H5WRAP(herr_t, H5DSattach_scale, (hid_t a, hid_t b, unsigned c), (a, b, c))
