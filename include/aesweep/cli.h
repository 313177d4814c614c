/* cli.h - command-line entry point; src/main.c only calls cli_main. */
#ifndef AESWEEP_CLI_H
#define AESWEEP_CLI_H
int cli_main(int argc, char **argv);
#endif
