/* Applies the embedded migrations of sql/ to a database. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "core/db.h"
#include "cli/migrate.h"

/* 0x63616c6c = "call": the advisory lock every migrate takes. */
#define MIGRATE_LOCK "SELECT pg_advisory_xact_lock(1667329132)"

static void
quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *
connect_db(const char *conninfo)
{
	const struct db_params p = { .conninfo = conninfo, .app = "callhook-migrate", .connect_timeout_s = 10 };
	char why[512];
	PGconn *conn = db_connect(&p, why, sizeof(why));

	if (conn == NULL) {
		fprintf(stderr, "callhook: could not connect to the database: %s", why);
		return NULL;
	}
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	return conn;
}

static bool
exec_ok(PGconn *conn, const char *sql, const char *what)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType s = PQresultStatus(r);
	bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "callhook: %s failed: %s", what, PQerrorMessage(conn));
	PQclear(r);
	return ok;
}

static bool
applied(PGconn *conn, int version, bool *yes)
{
	char v[16];
	const char *p[1] = { v };
	PGresult *r;

	snprintf(v, sizeof(v), "%d", version);
	r = PQexecParams(conn, "SELECT 1 FROM callhook.migrations WHERE version = $1", 1, NULL, p, NULL, NULL,
	    0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "callhook: reading callhook.migrations failed: %s", PQerrorMessage(conn));
		PQclear(r);
		return false;
	}
	*yes = PQntuples(r) > 0;
	PQclear(r);
	return true;
}

static bool
record(PGconn *conn, const struct migration *m)
{
	char v[16];
	const char *p[2] = { v, m->name };
	PGresult *r;
	bool ok;

	snprintf(v, sizeof(v), "%d", m->version);
	r = PQexecParams(conn, "INSERT INTO callhook.migrations (version, name) VALUES ($1, $2)", 2, NULL, p,
	    NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "callhook: recording migration failed: %s", PQerrorMessage(conn));
	PQclear(r);
	return ok;
}

static bool
apply_all(PGconn *conn, int *count)
{
	const struct migration *m;
	bool done;

	if (!exec_ok(conn, MIGRATE_LOCK, "taking the migration lock") ||
	    !exec_ok(conn, "CREATE SCHEMA IF NOT EXISTS callhook", "creating schema callhook") ||
	    !exec_ok(conn,
		"CREATE TABLE IF NOT EXISTS callhook.migrations (version int PRIMARY KEY, "
		"name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
		"creating callhook.migrations"))
		return false;
	for (m = migrations; m->name != NULL; m++) {
		if (!applied(conn, m->version, &done))
			return false;
		if (done)
			continue;
		if (!exec_ok(conn, m->sql, m->name) || !record(conn, m))
			return false;
		printf("applied %s\n", m->name);
		(*count)++;
	}
	return true;
}

enum ch_err
migrate_run(const char *conninfo)
{
	PGconn *conn = connect_db(conninfo);
	int count = 0;
	bool ok;

	if (conn == NULL)
		return CH_ERR_DB_DOWN;
	ok = exec_ok(conn, "BEGIN", "BEGIN") && apply_all(conn, &count) && exec_ok(conn, "COMMIT", "COMMIT");
	if (!ok)
		PQclear(PQexec(conn, "ROLLBACK"));
	else if (count == 0)
		printf("schema is up to date\n");
	PQfinish(conn);
	return ok ? CH_OK : CH_ERR_DB;
}

int
migrate_current(const char *conninfo)
{
	PGconn *conn = connect_db(conninfo);
	PGresult *r;
	int v = -1;

	if (conn == NULL)
		return -1;
	r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM callhook.migrations");
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(conn);
	return v;
}
