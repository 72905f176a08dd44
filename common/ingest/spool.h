/* The durable spool: requests that wait on disk while PostgreSQL is unreachable. */
#ifndef CALLHOOK_SPOOL_H
#define CALLHOOK_SPOOL_H

#include <stdbool.h>
#include <stdint.h>
#include "core/conf.h"
#include "core/err.h"
#include "ingest/deliver.h"
#include "ingest/store.h"

/* The first line of every spool file. */
#define SPOOL_MAGIC "callhook-spool 1\n"
/* The longest metadata line, without its newline; spool_write() refuses longer ones. */
#define SPOOL_META_MAX (1024 * 1024)
/* The largest body a spool file may hold: the largest max_body. */
#define SPOOL_BODY_MAX CONFIG_SIZE_MAX
/* The most bytes of a file's start spool_parse_head() looks at. */
#define SPOOL_HEAD_MAX (sizeof(SPOOL_MAGIC) - 1 + SPOOL_META_MAX + 1)
/* The folder under spool_dir where files that fail the checks are moved. */
#define SPOOL_QUARANTINE "quarantine"

/*
 * Writes `raw` durably into `dir` (temp file, fsync, rename, fsync of the
 * directory). CH_ERR_UNAVAILABLE when that is not possible.
 */
enum ch_err spool_write(const char *dir, const struct raw_delivery *raw) MUSTCHECK;

/*
 * Checks the start of a spool file, trusting nothing in it: `head` holds its
 * first `len` bytes (at least min(size, SPOOL_HEAD_MAX) of them), `size` is
 * the file's whole size, `now_usec` the clock for the received_usec bound.
 * On CH_OK, raw (empty on entry) holds the metadata as new strings (free
 * with raw_delivery_clear(); raw->body stays NULL) and *body_off where the
 * body_len bytes of body start, which end exactly at `size`.
 * CH_ERR_BAD_REQUEST: not a valid spool file, `why` says what is wrong
 * (names fields, never quotes a value), raw left empty. CH_ERR_NOMEM.
 */
enum ch_err spool_parse_head(const char *head, size_t len, uint64_t size, int64_t now_usec,
    struct raw_delivery *raw, size_t *body_off, char *why, size_t whylen) MUSTCHECK;

/* What one spool_drain() did. */
struct spool_drained {
	int replayed;    /* committed (any outcome) and removed */
	int quarantined; /* failed a check: moved to the quarantine folder */
	bool blocked; /* stopped by a transient failure (database down, out of memory) or another drainer */
	bool more;    /* stopped at the time budget with files left */
};

/*
 * Replays spooled requests in arrival order while the database answers,
 * for about budget_ms, removing each file only after its transaction
 * committed; a file that fails the checks goes to <dir>/quarantine/ (made
 * 0700 here) with a logged reason. A transient failure leaves the file and
 * stops the drain. Only one process drains a spool at a time (flock on
 * <dir>/.lock); a busy lock counts as blocked.
 */
void spool_drain(const struct config *cfg, struct store *st, int budget_ms, struct spool_drained *out);

/* Number of requests waiting in `dir`, or -1 when it cannot be read. */
long spool_depth(const char *dir);

#endif
