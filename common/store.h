/* PostgreSQL: one persistent connection per worker, prepared statements, failures classified by SQLSTATE. */
#ifndef CALLHOOK_STORE_H
#define CALLHOOK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "vendor.h"

/* One delivery and its rows, as callhook.ingest() takes them. All borrowed. */
struct ingest {
	const char *source, *vendor, *event, *method, *content_type, *query;
	const char *headers;        /* JSON text */
	const char *body;
	size_t body_len;
	const char *dedup_key;
	enum outcome outcome;       /* OUT_STORED, OUT_IGNORED or OUT_REJECTED */
	const char *error;          /* for OUT_REJECTED */
	const char *rows;           /* JSON array text, or NULL */
	const char *received_at;    /* timestamp text */
};

struct ingest_result {
	int64_t delivery_id;
	enum outcome outcome;       /* as stored, or OUT_DUPLICATE */
	enum outcome prior;         /* for a duplicate: the first copy's outcome */
};

struct store;

/* A new, not yet connected store (connects on first use); NULL when out of memory. */
struct store *store_new(const char *conninfo);
void store_free(struct store *st);

/* Connects if needed; CH_ERR_DB_DOWN when the server cannot be reached. */
enum ch_err store_connect(struct store *st) MUSTCHECK;

/* Checks that the server answers now (a query, not the connection's last known state). */
enum ch_err store_ping(struct store *st) MUSTCHECK;

/* Runs callhook.ingest() in one transaction; retries serialization failures and one lost connection. */
enum ch_err store_ingest(struct store *st, const struct ingest *in, struct ingest_result *res) MUSTCHECK;

/*
 * Asks callhook.route_call(args[0..3]) for a routing decision within
 * timeout_ms. *reply is a new string (free()) holding JSON, or NULL on error.
 */
enum ch_err store_route(struct store *st, const char *const args[4], int timeout_ms, char **reply) MUSTCHECK;

/*
 * Sends, and waits for, the notifications (a text[] literal, as ingest() and
 * replay_delivery() return them) of a committed transaction through
 * callhook.notify(). False, with a warning logged, when they could not be sent.
 */
struct pg_conn;
bool store_notify(struct pg_conn *conn, const char *notices);

/* The SQLSTATE of the last failed statement (borrowed). */
const char *store_sqlstate(const struct store *st);

/* Reconnects made since the start, for metrics. */
unsigned long store_reconnects(const struct store *st);

#endif
