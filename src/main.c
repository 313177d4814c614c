/* main.c - the aesweep executable: everything lives in libaesweep. */
#include "aesweep/cli.h"
int main(int argc, char **argv) { return cli_main(argc, argv); }
