/* aesweep.h - the public C API of libaesweep, the one header `cmake --install` installs.
 *
 * libaesweep is the library the aesweep command is built from. What it offers a program of your
 * own is the command line as a function, so a driver can run studies, validate specs and train a
 * configuration without spawning a process, with the same results as the command, and the version
 * it was built from. Every exported symbol starts with `aesweep_`: the library's modules (model,
 * spec, plan, results, ...) are compiled with hidden visibility and localised when the installed
 * archive is made (CMakeLists.txt), so their names cannot clash with yours. Their headers stay in
 * the source tree; they are not a stable interface.
 *
 * Link: `pkg-config --cflags --libs aesweep`, or in CMake `find_package(aesweep)` and
 * `target_link_libraries(app PRIVATE aesweep::aesweep)`. The library needs MPI, HDF5, OpenBLAS,
 * libconfig, zlib and libm; both give the linker all of them.
 */
#ifndef AESWEEP_H
#define AESWEEP_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define AESWEEP_API __attribute__((visibility("default")))
#else
#define AESWEEP_API
#endif

/* The version of the library, e.g. "0.4.0"; a static string. */
AESWEEP_API const char *aesweep_version(void);

/* The schema_version written into result files (docs/results-format.md). */
AESWEEP_API int aesweep_schema_version(void);

/* Runs the aesweep command line: argv[0] is the program name, argv[1] the command ("run",
 * "validate", "info", "train", ...), as for the aesweep binary (see `man aesweep`). Prints what the
 * command prints, on stdout and stderr, and returns its exit code: 0 done, 2 bad command line or
 * input, 3 runtime error, 75 interrupted with the finished work saved. `run` initialises and
 * finalises MPI itself, so it can be called once per process, before any MPI call of yours. */
AESWEEP_API int aesweep_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
