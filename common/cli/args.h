/* Command-line arguments that several subcommands read the same way. */
#ifndef CALLHOOK_ARGS_H
#define CALLHOOK_ARGS_H

#include <stdbool.h>

/*
 * Reads "[-n | --dry-run]" and exactly npos other arguments; argv[0] is the
 * subcommand. Sets *dry_run when the option is there. Returns the index in argv
 * of the first other argument, or -1 after printing "usage: <usage>" to stderr.
 */
int args_dry_run(int argc, char **argv, int npos, bool *dry_run, const char *usage);

#endif
