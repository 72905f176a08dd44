/* Opens PostgreSQL connections for serve, migrate, replay, report and tail, and classifies failures. */
#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>

#include "core/db.h"

#define MAX_SETTINGS 8

/* "SELECT set_config($1, $2, false), …" for n pairs, into sql (the values travel as parameters). */
static void
settings_sql(int n, char *sql, size_t len)
{
	size_t used = snprintf(sql, len, "SELECT");
	int i;

	for (i = 0; i < n && used < len; i++)
		used += snprintf(sql + used, len - used, "%s pg_catalog.set_config($%d, $%d, false)",
		    i ? "," : "", 2 * i + 1, 2 * i + 2);
}

bool
db_session(PGconn *conn, const char *const *settings)
{
	const char *v[2 * MAX_SETTINGS + 2] = { "search_path", "callhook, pg_catalog" };
	char sql[64 * (MAX_SETTINGS + 1)];
	PGresult *r;
	int n = 1;
	bool ok;

	for (; settings != NULL && settings[2 * (n - 1)] != NULL && n <= MAX_SETTINGS; n++) {
		v[2 * n] = settings[2 * (n - 1)];
		v[2 * n + 1] = settings[2 * (n - 1) + 1];
	}
	settings_sql(n, sql, sizeof(sql));
	r = PQexecParams(conn, sql, 2 * n, NULL, v, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
}

PGconn *
db_connect(const struct db_params *p, char *why, size_t whylen)
{
	const char *keys[5], *vals[5];
	char timeout[16];
	PGconn *conn;
	int n = 0;

	snprintf(timeout, sizeof(timeout), "%d", p->connect_timeout_s);
	keys[n] = "dbname", vals[n++] = p->conninfo;
	keys[n] = "fallback_application_name", vals[n++] = p->app;
	if (p->connect_timeout_s > 0)
		keys[n] = "connect_timeout", vals[n++] = timeout;
	if (p->client_encoding != NULL) /* after dbname: it wins over the conninfo's */
		keys[n] = "client_encoding", vals[n++] = p->client_encoding;
	keys[n] = vals[n] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) == CONNECTION_OK && db_session(conn, p->settings))
		return conn;
	if (why != NULL)
		snprintf(why, whylen, "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory\n");
	PQfinish(conn);
	return NULL;
}

bool
db_command(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "callhook: %s failed: %s", sql, PQerrorMessage(conn));
	PQclear(r);
	return ok;
}

enum db_failure
db_classify(const PGconn *conn, const PGresult *r)
{
	static const char *const retry[] = { "40001", "40P01", "55P03", "57014", NULL };
	static const char *const down[] = { "57P01", "57P02", "57P03", "53300", NULL };
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	size_t i;

	if (PQstatus(conn) != CONNECTION_OK || state == NULL || !strncmp(state, "08", 2))
		return DB_DOWN;
	for (i = 0; retry[i] != NULL; i++)
		if (!strcmp(state, retry[i]))
			return DB_RETRY;
	for (i = 0; down[i] != NULL; i++)
		if (!strcmp(state, down[i]))
			return DB_DOWN;
	return DB_ERROR;
}

bool
db_data_error(const char *sqlstate)
{
	return sqlstate != NULL && (!strncmp(sqlstate, "22", 2) || !strncmp(sqlstate, "23", 2));
}
