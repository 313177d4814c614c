/* api.c - the public entry points of libaesweep (include/aesweep.h).
 *
 * The only functions with default visibility: CMake compiles the library with
 * -fvisibility=hidden, and the installed archive is one relocatable object
 * whose hidden symbols are made local (CMakeLists.txt), so these three are all
 * a program linking libaesweep.a sees.
 */
#include "aesweep.h"
#include "aesweep/cli.h"
#include "aesweep/version.h"

const char *aesweep_version(void) { return AESWEEP_VERSION; }

int aesweep_schema_version(void) { return AESWEEP_SCHEMA_VERSION; }

int aesweep_main(int argc, char **argv) { return cli_main(argc, argv); }
