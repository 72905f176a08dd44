/* The durable spool: requests that wait on disk while PostgreSQL is unreachable. */
#ifndef CALLHOOK_SPOOL_H
#define CALLHOOK_SPOOL_H

#include "conf.h"
#include "err.h"
#include "request.h"
#include "store.h"

/*
 * Writes `raw` durably into `dir` (temp file, fsync, rename, fsync of the
 * directory). CH_ERR_UNAVAILABLE when that is not possible.
 */
enum ch_err spool_write(const char *dir, const struct raw_delivery *raw) MUSTCHECK;

/*
 * Replays spooled requests in arrival order while the database answers,
 * removing each file only after its transaction committed. Only one process
 * drains a spool at a time. Returns how many were replayed, or -1 when the
 * database is still down.
 */
int spool_drain(const struct config *cfg, struct store *st);

/* Number of requests waiting in `dir`, or -1 when it cannot be read. */
long spool_depth(const char *dir);

#endif
