/* PostgreSQL access for serve: one connection, prepared statements, SQLSTATE-based failure handling. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "log.h"
#include "store.h"

#define INGEST_SQL \
	"SELECT delivery_id, outcome, prior_outcome, notices FROM callhook.ingest($1, $2, $3, $4, $5, $6, " \
	"$7::jsonb, $8::bytea, $9, $10, $11, $12::jsonb, $13::timestamptz)"
#define NOTIFY_SQL "SELECT callhook.notify($1::text[])"

struct store {
	char *conninfo;
	PGconn *conn;
	bool prepared;
	bool notifying;         /* a callhook.notify() sent, its result not read yet */
	unsigned long reconnects;
	bool was_connected;
	char sqlstate[6];       /* of the last failure */
};

struct store *
store_new(const char *conninfo)
{
	struct store *st = calloc(1, sizeof(*st));

	if (st != NULL && (st->conninfo = strdup(conninfo)) == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

void
store_free(struct store *st)
{
	if (st == NULL)
		return;
	PQfinish(st->conn);
	free(st->conninfo);
	free(st);
}

const char *
store_sqlstate(const struct store *st)
{
	return st->sqlstate;
}

unsigned long
store_reconnects(const struct store *st)
{
	return st->reconnects;
}

/* Opens a connection as pgbench's doConnect does: params, status checked, path pinned. */
static PGconn *
open_conn(const char *conninfo)
{
	const char *keys[] = { "connect_timeout", "dbname", "fallback_application_name", NULL };
	const char *vals[] = { "5", conninfo, "callhook", NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	PGresult *r;

	if (conn == NULL)
		return NULL;
	if (PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		return NULL;
	}
	r = PQexec(conn, "SET search_path TO callhook, pg_catalog");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		PQclear(r);
		PQfinish(conn);
		return NULL;
	}
	PQclear(r);
	return conn;
}

/* Warns once when serve connects with more rights than it needs (DESIGN.md: the writer role). */
static void
check_privileges(PGconn *conn)
{
	PGresult *r = PQexec(conn, "SELECT r.rolsuper, EXISTS (SELECT 1 FROM pg_catalog.pg_tables t "
	    "WHERE t.schemaname = 'callhook' AND t.tableowner = current_user) FROM pg_catalog.pg_roles r "
	    "WHERE r.rolname = current_user");

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		if (!strcmp(PQgetvalue(r, 0, 0), "t"))
			log_msg(LOG_WARNING, "the database role is a superuser: connect as a member of "
			    "callhook_writer instead");
		else if (!strcmp(PQgetvalue(r, 0, 1), "t"))
			log_msg(LOG_WARNING, "the database role owns callhook's tables: connect as a member "
			    "of callhook_writer instead");
	}
	PQclear(r);
}

static bool
prepare(struct store *st)
{
	PGresult *r = PQprepare(st->conn, "ingest", INGEST_SQL, 0, NULL);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (ok) {
		PQclear(r);
		r = PQprepare(st->conn, "notify", NOTIFY_SQL, 0, NULL);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	}
	if (!ok)
		log_msg(LOG_ERROR, "could not prepare statements: %s; has \"callhook migrate\" run?",
		    PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "");
	PQclear(r);
	return ok;
}

/* Whether a notices array (text, as ingest() returns it) holds nothing to send. */
static bool
no_notices(const char *notices)
{
	return notices == NULL || !strcmp(notices, "{}");
}

/* Logs a failed callhook.notify(); the rows it announces are stored all the same. */
static void
notify_failed(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	log_msg(LOG_WARNING, "could not send notifications: SQLSTATE %s", state ? state : "08000");
}

/* Reads the result of the notifications sent after the last delivery, if any. */
static void
settle(struct store *st)
{
	PGresult *r;

	if (!st->notifying)
		return;
	st->notifying = false;
	while ((r = PQgetResult(st->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			notify_failed(r);
		PQclear(r);
	}
}

/*
 * Sends the notifications of a committed delivery as a transaction of its
 * own (DESIGN.md: after each commit), without waiting for the answer: the
 * request is answered meanwhile, and settle() reads the result before the
 * connection's next command.
 */
static void
notify_later(struct store *st, const PGresult *r)
{
	const char *v[1];

	v[0] = PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3);
	if (no_notices(v[0]))
		return;
	if (PQsendQueryPrepared(st->conn, "notify", 1, v, NULL, NULL, 0))
		st->notifying = true;
	else
		log_msg(LOG_WARNING, "could not send notifications: %s", PQerrorMessage(st->conn));
}

bool
store_notify(PGconn *conn, const char *notices)
{
	const char *v[1] = { notices };
	PGresult *r;
	bool ok;

	if (no_notices(notices))
		return true;
	r = PQexecParams(conn, NOTIFY_SQL, 1, NULL, v, NULL, NULL, 0);
	if (!(ok = PQresultStatus(r) == PGRES_TUPLES_OK))
		notify_failed(r);
	PQclear(r);
	return ok;
}

enum ch_err
store_connect(struct store *st)
{
	if (st->conn != NULL)
		settle(st);
	if (st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK && st->prepared)
		return CH_OK;
	PQfinish(st->conn);
	st->prepared = false;
	if ((st->conn = open_conn(st->conninfo)) == NULL)
		return CH_ERR_DB_DOWN;
	if (st->was_connected)
		st->reconnects++;
	else
		check_privileges(st->conn);
	st->was_connected = true;
	if (!prepare(st)) {
		PQfinish(st->conn);
		st->conn = NULL;
		return CH_ERR_DB;
	}
	st->prepared = true;
	return CH_OK;
}

enum ch_err
store_ping(struct store *st)
{
	PGresult *r;
	bool ok;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (store_connect(st) != CH_OK)
			return CH_ERR_DB_DOWN;
		r = PQexec(st->conn, "SELECT 1");
		ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
		if (ok)
			return CH_OK;
		st->prepared = false;   /* a stale connection: reconnect once */
	}
	return CH_ERR_DB_DOWN;
}

/* Classifies a failed result: retry, down (reconnect or spool), or a real error. */
enum failure { F_RETRY, F_DOWN, F_ERROR };

static enum failure
classify(struct store *st, const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (PQstatus(st->conn) != CONNECTION_OK || state == NULL)
		return F_DOWN;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01"))
		return F_RETRY;
	if (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
	    !strcmp(state, "57P03") || !strcmp(state, "53300"))
		return F_DOWN;
	return F_ERROR;
}

static enum outcome
outcome_from(const char *s)
{
	static const enum outcome all[] = { OUT_STORED, OUT_DUPLICATE, OUT_IGNORED, OUT_REJECTED,
	    OUT_SPOOLED, OUT_ERROR };
	size_t i;

	for (i = 0; s != NULL && i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(s, outcome_name(all[i])))
			return all[i];
	return OUT_ERROR;
}

static void
read_result(const PGresult *r, struct ingest_result *res)
{
	res->delivery_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	res->outcome = outcome_from(PQgetvalue(r, 0, 1));
	res->prior = PQgetisnull(r, 0, 2) ? OUT_STORED : outcome_from(PQgetvalue(r, 0, 2));
}

static PGresult *
exec_ingest(struct store *st, const struct ingest *in)
{
	const char *v[13] = { in->source, in->vendor, in->event, in->method, in->content_type,
	    in->query, in->headers, in->body ? in->body : "", in->dedup_key, outcome_name(in->outcome),
	    in->error, in->rows, in->received_at };
	int len[13] = { 0 }, fmt[13] = { 0 };

	len[7] = (int)in->body_len;
	fmt[7] = 1;
	return PQexecPrepared(st->conn, "ingest", 13, v, len, fmt, 0);
}

enum ch_err
store_ingest(struct store *st, const struct ingest *in, struct ingest_result *res)
{
	PGresult *r;
	enum ch_err err = CH_ERR_DB;
	int attempt;

	for (attempt = 0; attempt < 4; attempt++) {
		if ((err = store_connect(st)) != CH_OK)
			return err;
		r = exec_ingest(st, in);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			read_result(r, res);
			notify_later(st, r);
			PQclear(r);
			return CH_OK;
		}
		switch (classify(st, r)) {
		case F_RETRY:
			err = CH_ERR_DB;
			break;
		case F_DOWN:
			st->prepared = false;
			err = CH_ERR_DB_DOWN;
			break;
		case F_ERROR:
			snprintf(st->sqlstate, sizeof(st->sqlstate), "%s",
			    PQresultErrorField(r, PG_DIAG_SQLSTATE));
			log_msg(LOG_ERROR, "could not store delivery: SQLSTATE %s", st->sqlstate);
			PQclear(r);
			return CH_ERR_DB;
		}
		PQclear(r);
	}
	return err;
}

enum ch_err
store_route(struct store *st, const char *const args[4], int timeout_ms, char **reply)
{
	char timeout[32];
	const char *set[1] = { timeout };
	PGresult *r;
	enum ch_err err;

	*reply = NULL;
	if ((err = store_connect(st)) != CH_OK)
		return err;
	snprintf(timeout, sizeof(timeout), "%dms", timeout_ms);
	PQclear(PQexec(st->conn, "BEGIN"));
	PQclear(PQexecParams(st->conn, "SELECT set_config('statement_timeout', $1, true)", 1, NULL,
	    set, NULL, NULL, 0));
	r = PQexecParams(st->conn, "SELECT callhook.route_call($1, $2, $3, $4)::text", 4, NULL, args,
	    NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*reply = strdup(PQgetvalue(r, 0, 0));
	else
		err = CH_ERR_DB;
	PQclear(r);
	PQclear(PQexec(st->conn, *reply ? "COMMIT" : "ROLLBACK"));
	return err;
}
