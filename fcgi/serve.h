/* The FastCGI server: listening socket, prefork workers, signals. */
#ifndef CALLHOOK_SERVE_H
#define CALLHOOK_SERVE_H

#include "core/conf.h"

/*
 * Runs until SIGTERM with `workers` prefork workers, or as one process when 0; returns the process
 * exit status. Takes ownership of cfg.
 */
int serve(struct config *cfg, const char *listen_spec, int workers);

#endif
