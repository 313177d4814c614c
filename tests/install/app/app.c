/* app.c - a program of a downstream user, built against an installed aesweep (tests/install).
 *
 *   app version                 print aesweep_version() and aesweep_schema_version()
 *   app COMMAND ARGS...         aesweep_main("aesweep", COMMAND, ARGS...): the command line as a call
 *
 * It defines functions and a variable with the names of libaesweep's internal symbols. Had the
 * installed archive exported them, the link would either fail ("multiple definition") or, worse,
 * bind the library's own calls to these: linked against the internal per-module archive
 * (libaesweep_internal.a), aesweep_main calls this file's cli_main and `app train` returns 3.
 * install-test.sh checks that every command gives the binary's results.
 */
#include <aesweep.h>
#include <stdio.h>
#include <string.h>

/* the names of internal functions of libaesweep (spec.c, plan.c, train.c, cli.c, data.c) */
int spec_load(void) { return 1; }
void plan_free(void) {}
int train_run(void) { return 2; }
int cli_main(int argc, char **argv) { (void)argc, (void)argv; return 3; }
int data_moons = 4;

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "version")) {
        printf("%s %d\n", aesweep_version(), aesweep_schema_version());
        return spec_load() + train_run() + cli_main(0, NULL) + data_moons == 10 ? 0 : 1;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: app version | app COMMAND ARGS...\n");
        return 2;
    }
    argv[0] = "aesweep";
    return aesweep_main(argc, argv);
}
