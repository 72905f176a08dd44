/* callhook prune: the retention horizons applied to raw deliveries, and the monthly partitions kept ahead. */
#ifndef CALLHOOK_PRUNE_H
#define CALLHOOK_PRUNE_H

#include <stdio.h>
#include "core/conf.h"

/* Months of delivery partitions kept ready ahead of now by migrate, prune and serve. */
#define PARTITIONS_AHEAD 3

/* Writes one line saying how long bodies and deliveries are kept (for `callhook check`). */
void prune_describe(const struct config *cfg, FILE *fp);

/*
 * Runs "callhook prune [--dry-run]"; argv[0] is "prune". Connects as the schema
 * owner (migrate_conninfo), applies keep_bodies and keep_deliveries in one
 * transaction (rolled back with --dry-run) and prints what went and the space
 * freed. Returns the exit status.
 */
int prune_main(const struct config *cfg, int argc, char **argv);

/*
 * For the serve parent's loop: at the first call and then once an hour (once a
 * minute after a failure), creates the delivery partitions of the months ahead
 * with callhook.ensure_partitions() on a short-lived connection of its own,
 * bounded by the configured connect, lock and statement timeouts. Logs a
 * failure and returns; never blocks longer than those bounds.
 */
void prune_partitions_tick(const struct config *cfg);

#endif
