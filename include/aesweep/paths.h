/* paths.h - where an installed or built aesweep finds the files it ships (the digits data set).
 *
 * A spec that names no data file for `source = "digits"` (and `aesweep train --data digits`) means
 * the copy shipped with aesweep. It is looked for, in order:
 *   $AESWEEP_DATA/digits.csv.gz            a folder of your choice (options_t.data_dir,
 *                                          handed over by cli_main: paths_set_data_dir)
 *   data/digits.csv.gz                     in the current folder (the checkout, as before)
 *   EXE/../share/aesweep/data/digits.csv.gz  next to the running binary once installed (relocatable)
 *   EXE/../data/digits.csv.gz              the checkout, for the binary in build/
 *   AESWEEP_DATADIR/data/digits.csv.gz     the install prefix the library was configured with
 * where EXE is the folder of /proc/self/exe. The first that exists is used; if none does, the
 * result is "data/digits.csv.gz" and loading it reports it missing, as it always did.
 */
#ifndef AESWEEP_PATHS_H
#define AESWEEP_PATHS_H
#include <stddef.h>

/* The folder searched first (options.h data_dir; "" or NULL: none).  cli_main sets it once, from
 * the options it read; it lives here rather than in every caller because the spec loader resolves
 * the shipped file while it reads a spec. */
void paths_set_data_dir(const char *dir);
/* Writes the path of the shipped file NAME (e.g. "digits.csv.gz") to out[n]. */
void paths_find_data(const char *name, char *out, size_t n);

#endif
