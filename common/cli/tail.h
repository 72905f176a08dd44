/* callhook tail: the latest webhook deliveries, then each new one as it is stored. */
#ifndef CALLHOOK_TAIL_H
#define CALLHOOK_TAIL_H

struct config;

/*
 * `callhook tail [--source NAME] [--vendor V] [--outcome O] [-n N]`. argv[0] is "tail"; the rest
 * are its arguments (parsed here with getopt_long). Connects with cfg->conninfo (a role that may
 * SELECT callhook.deliveries, e.g. one granted callhook_reader), prints the last N (default 10)
 * matching deliveries, then one line per new delivery until SIGINT or SIGTERM, flushing stdout
 * after each line. Returns the exit status: 0 after a signal, 1 on a database or output error,
 * 2 on a usage error.
 */
int tail_main(const struct config *cfg, int argc, char **argv);

#endif
