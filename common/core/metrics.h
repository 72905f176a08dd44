/* Prometheus metrics shared by all workers through one anonymous shared mapping. */
#ifndef CALLHOOK_METRICS_H
#define CALLHOOK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

struct metrics;

/* Maps the shared counters; call before forking workers. NULL on failure. */
struct metrics *metrics_create(void);

/* Counts one answered request. Safe to call from any worker at the same time. */
void metrics_observe(struct metrics *m, const char *source, const char *vendor, const char *outcome,
    int status, double seconds);

/* Adds database reconnects. */
void metrics_reconnects(struct metrics *m, unsigned long n);

/* Counts one batch (one transaction) of n deliveries written together; m may be NULL. */
void metrics_batch(struct metrics *m, size_t n);

/* The Prometheus text exposition (new string; free()); in_flight: request threads per worker. */
char *metrics_render(const struct metrics *m, long spool_depth, int workers, int in_flight);

/* The spool depth past which the health check reports a backlog. */
#define HEALTH_SPOOL_BACKLOG 100

/*
 * The health check's verdict on what the worker saw: CH_OK, or
 * CH_ERR_UNAVAILABLE when the database does not answer or the spool holds
 * more than HEALTH_SPOOL_BACKLOG requests (spool_depth -1: unreadable, as 0).
 * *body is a new JSON string (free()): {"status","spooled"[,"reasons"]}, or
 * NULL when out of memory.
 */
enum ch_err health_verdict(bool db_up, long spool_depth, char **body) MUSTCHECK;

#endif
