/* PostgreSQL connections opened the same way by every command, and failures classified by SQLSTATE. */
#ifndef CALLHOOK_DB_H
#define CALLHOOK_DB_H

#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"

struct pg_conn;
struct pg_result;

/* How to open a connection. Everything is borrowed. */
struct db_params {
	const char *conninfo;        /* libpq conninfo or URI; PG* environment variables apply */
	const char *app;             /* fallback_application_name */
	int connect_timeout_s;       /* 0: libpq's default (wait as long as the network does) */
	const char *client_encoding; /* NULL: the conninfo's or the environment's */
	const char *const *settings; /* NULL, or name, value, name, value, ..., NULL */
};

/*
 * Opens a connection as pgbench's doConnect() does: PQconnectdbParams, PQstatus
 * checked, then search_path pinned to callhook, pg_catalog and p->settings set
 * for the session, in one statement with parameters. Returns a new connection
 * (PQfinish() it), or NULL with libpq's message in why (when why is not NULL).
 */
struct pg_conn *db_connect(const struct db_params *p, char *why, size_t whylen) MUSTCHECK;

/* Pins search_path and sets `settings` (as in db_params) on an open connection, e.g. after PQreset(). */
bool db_session(struct pg_conn *conn, const char *const *settings) MUSTCHECK;

/*
 * Runs `sql`, a statement without parameters or rows (BEGIN, COMMIT, ...);
 * false, with the statement and libpq's message on stderr, when it failed.
 * For the command-line tools, not for serve.
 */
bool db_command(struct pg_conn *conn, const char *sql);

/* What a failed statement calls for, as pgbench's getSQLErrorStatus() decides it. */
enum db_failure {
	DB_RETRY, /* 40001, 40P01, 55P03 lock_not_available, 57014 query_canceled: run it again */
	DB_DOWN,  /* class 08, 57P01-57P03, 53300, or the connection is gone: reconnect or spool */
	DB_ERROR, /* anything else: the statement itself is wrong for this data */
};

/* Classifies the failed result r of conn by SQLSTATE and PQstatus, never by message text. */
enum db_failure db_classify(const struct pg_conn *conn, const struct pg_result *r);

/* True for a SQLSTATE of class 22 (data exception) or 23 (integrity constraint violation). */
bool db_data_error(const char *sqlstate);

#endif
