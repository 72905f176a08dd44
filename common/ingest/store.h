/* PostgreSQL: one persistent connection per worker, prepared statements, failures classified by SQLSTATE. */
#ifndef CALLHOOK_STORE_H
#define CALLHOOK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "vendors/vendor.h"

/* One delivery and its rows, as callhook.ingest_batch() takes them (one array element each). All borrowed. */
struct ingest {
	const char *source, *vendor, *event, *method, *content_type, *query;
	const char *headers; /* JSON text */
	const char *body;
	size_t body_len;
	const char *dedup_key;
	enum outcome outcome;        /* OUT_STORED, OUT_IGNORED or OUT_REJECTED */
	const char *error;           /* for OUT_REJECTED */
	struct json_object *row_ops; /* the decoder's rows or NULL; typed if they can be (rowops.h) */
	const char *received_at;     /* timestamp text */
	int budget_ms;               /* bound on store_ingest(), retries included; 0: delivery_budget_ms */
};

struct ingest_result {
	int64_t delivery_id;
	enum outcome outcome; /* as stored, or OUT_DUPLICATE */
	enum outcome prior;   /* for a duplicate: the first copy's outcome */
	long long spent_ms;   /* time store_ingest() took, retries included */
};

struct store;
struct config;

/*
 * A new, not yet connected store (connects on first use) with cfg's conninfo
 * and database bounds, copied; NULL when out of memory.
 */
struct store *store_new(const struct config *cfg);
void store_free(struct store *st);

/* Connects if needed; CH_ERR_DB_DOWN when the server cannot be reached. */
enum ch_err store_connect(struct store *st) MUSTCHECK;

/* Checks that the server answers now (a query, not the connection's last known state). */
enum ch_err store_ping(struct store *st) MUSTCHECK;

/*
 * Runs callhook.ingest() for `in` alone, within in->budget_ms (or the
 * configured delivery_budget_ms): a transient failure (serialization failure,
 * deadlock, lock or statement timeout, lost connection) is retried a few times
 * with a short backoff, and every statement is cut off when the budget runs
 * out. CH_OK when stored; CH_ERR_DB when PostgreSQL refused a value (SQLSTATE
 * class 22 or 23, in store_sqlstate()); CH_ERR_DB_DOWN for everything else,
 * which the caller spools.
 */
enum ch_err store_ingest(struct store *st, const struct ingest *in, struct ingest_result *res) MUSTCHECK;

/*
 * Runs callhook.ingest_batch() for in[0..n-1]: ONE statement, so one
 * transaction and one round trip, within budget_ms, transient failures
 * retried as by store_ingest(); then sends all their notifications in one
 * callhook.notify(). CH_OK: every res[i] is set and committed. CH_ERR_DB: a
 * statement failed for its data (any SQLSTATE that is not transient), the
 * transaction was rolled back and nothing is stored: store each delivery on
 * its own with store_ingest() to learn which. CH_ERR_DB_DOWN: nothing stored
 * within the budget; the caller spools each one. For n == 1 the same as one
 * store_ingest() without its data-error split.
 */
enum ch_err store_ingest_batch(struct store *st, const struct ingest *const *in, size_t n,
    struct ingest_result *res, int budget_ms) MUSTCHECK;

/*
 * Asks callhook.route_call(args[0..3]) for a routing decision within
 * timeout_ms. *reply is a new string (free()) holding JSON, or NULL on error.
 */
enum ch_err store_route(struct store *st, const char *const args[4], int timeout_ms, char **reply) MUSTCHECK;

/*
 * Sends, and waits for, the notifications (a text[] literal, as ingest_many() and
 * replay_delivery() return them) of a committed transaction through
 * callhook.notify(). False, with a warning logged, when they could not be sent.
 */
struct pg_conn;
bool store_notify(struct pg_conn *conn, const char *notices);

/* The SQLSTATE of the last store_ingest()'s last failure, "" when it had none (borrowed). */
const char *store_sqlstate(const struct store *st);

/* Reconnects made since the start, for metrics. */
unsigned long store_reconnects(const struct store *st);

#endif
