/* Group commit: one worker's request threads share its database connection through one batcher. */
#ifndef CALLHOOK_BATCH_H
#define CALLHOOK_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"
#include "ingest/store.h"

struct batch;
struct metrics;

/* Work that needs the connection to itself (routing, health, the spool), run by batch_solo(). */
typedef void (*batch_solo_fn)(struct store *st, void *arg);

/*
 * A new batcher that owns `st` (freed by batch_free()) and writes at most
 * max_count deliveries, and max_bytes of bodies and rows (the first delivery
 * is always taken), per transaction; a delivery's budget_ms of 0 means
 * budget_ms. Batch sizes are counted in `metrics` (may be NULL; borrowed).
 * NULL when out of memory (st is then not freed).
 */
struct batch *batch_new(struct store *st, size_t max_count, size_t max_bytes, int budget_ms,
    struct metrics *metrics);
void batch_free(struct batch *b);

/*
 * Stores `in` (borrowed until the call returns) as store_ingest() does, in
 * one transaction with the other deliveries ready meanwhile, and returns once
 * the transaction that holds it committed or failed. A delivery that arrives
 * while the connection is idle is written at once, in a batch of its own.
 * The deadline is in->budget_ms (else the batcher's) from this call, waiting
 * included. When a delivery of a batch fails for its data, the batch is
 * rolled back and each of its deliveries stored on its own, so each gets the
 * result it gets alone: CH_OK with *res, CH_ERR_DB (a value refused, the
 * SQLSTATE in sqlstate[6]) or CH_ERR_DB_DOWN (spool it). Thread-safe.
 */
enum ch_err batch_ingest(struct batch *b, const struct ingest *in, struct ingest_result *res,
    char sqlstate[6]) MUSTCHECK;

/* Runs fn(st, arg) with the connection to itself, in its turn among the batches. Thread-safe. */
void batch_solo(struct batch *b, batch_solo_fn fn, void *arg);

/*
 * As batch_solo(), for work that must not wait long (a caller on the line):
 * false, with fn not run, when its turn has not come within wait_ms (the
 * batch running then takes longer), or when the timed wait cannot be set up.
 */
bool batch_solo_within(struct batch *b, batch_solo_fn fn, void *arg, int wait_ms) MUSTCHECK;

#endif
