/* Prometheus metrics shared by all workers through one anonymous shared mapping. */
#ifndef CALLHOOK_METRICS_H
#define CALLHOOK_METRICS_H

#include <stddef.h>
#include <stdint.h>

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

#endif
