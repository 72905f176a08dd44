/* Command-line arguments that several subcommands read the same way. */
#include <getopt.h>
#include <stdio.h>

#include "cli/args.h"

int
args_dry_run(int argc, char **argv, int npos, bool *dry_run, const char *usage)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "n", longopts, NULL)) != -1) {
		if (ch != 'n')
			goto usage;
		*dry_run = true;
	}
	if (argc - optind != npos)
		goto usage;
	return optind;
usage:
	fprintf(stderr, "usage: %s\n", usage);
	return -1;
}
