/*
 * The benchmark's baseline: the least a FastCGI webhook receiver can do. Preforked workers accept,
 * read the body, parse it with json-c and run one prepared INSERT … ON CONFLICT DO NOTHING (synchronous
 * commit, autocommit) into bench.baseline. No auth, no normalization, no raw-delivery bookkeeping.
 *
 *   baseline SOCKET_PATH CONNINFO WORKERS
 *
 * Built by tests/bench/run.sh with: cc -O2 baseline.c -lfcgi -ljson-c -lpq
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#define MAX_BODY (1 << 20)
#define MAX_WORKERS 64

#define INSERT_SQL \
	"INSERT INTO bench.baseline (dedup_key, event, body) VALUES (md5($1), $2, $1::jsonb) " \
	"ON CONFLICT (dedup_key) DO NOTHING RETURNING id"

static void
respond(FCGX_Request *r, int status, const char *body)
{
	FCGX_FPrintF(r->out, "Status: %d\r\nContent-Type: application/json\r\n\r\n%s\n", status, body);
}

/* The event name from the usual places, or "-": enough to make the parse do something. */
static const char *
event_of(struct json_object *doc)
{
	static const char *const keys[] = { "type", "event_type", "event", "Event" };
	struct json_object *v;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(doc, keys[i], &v) && json_object_is_type(v, json_type_string))
			return json_object_get_string(v);
	return "-";
}

static PGconn *
connect_db(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "baseline: connect: %s", PQerrorMessage(c));
		exit(1);
	}
	r = PQprepare(c, "ins", INSERT_SQL, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "baseline: prepare: %s", PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	return c;
}

static void
handle(FCGX_Request *r, PGconn *db, char *body)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->envp), *params[2];
	struct json_tokener *tok;
	struct json_object *doc;
	PGresult *res;
	char answer[96];
	long len = cl ? strtol(cl, NULL, 10) : 0;
	int n, got = 0;

	if (len <= 0 || len > MAX_BODY) {
		respond(r, 413, "{\"error\":\"body length\"}");
		return;
	}
	while (got < len && (n = FCGX_GetStr(body + got, (int)len - got, r->in)) > 0)
		got += n;
	body[got] = '\0';
	tok = json_tokener_new();
	doc = json_tokener_parse_ex(tok, body, got);
	json_tokener_free(tok);
	if (got != len || doc == NULL || !json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		respond(r, 400, "{\"error\":\"invalid JSON\"}");
		return;
	}
	params[0] = body;
	params[1] = event_of(doc);
	res = PQexecPrepared(db, "ins", 2, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		respond(r, 500, "{\"error\":\"database\"}");
	else if (PQntuples(res) == 1) {
		snprintf(answer, sizeof(answer), "{\"status\":\"stored\",\"id\":%s}", PQgetvalue(res, 0, 0));
		respond(r, 200, answer);
	} else
		respond(r, 200, "{\"status\":\"duplicate\"}");
	PQclear(res);
	json_object_put(doc);
}

static void
worker(int fd, const char *conninfo)
{
	PGconn *db = connect_db(conninfo);
	char *body = malloc(MAX_BODY + 1);
	FCGX_Request r;

	signal(SIGTERM, SIG_DFL);
	if (body == NULL || FCGX_InitRequest(&r, fd, 0) != 0)
		exit(1);
	while (FCGX_Accept_r(&r) >= 0) {
		handle(&r, db, body);
		FCGX_Finish_r(&r);
	}
	exit(0);
}

int
main(int argc, char **argv)
{
	pid_t pids[MAX_WORKERS];
	sigset_t set;
	int fd, i, n, sig;

	if (argc != 4 || (n = atoi(argv[3])) < 1 || n > MAX_WORKERS) {
		fprintf(stderr, "usage: baseline SOCKET_PATH CONNINFO WORKERS\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	unlink(argv[1]);
	if (FCGX_Init() != 0 || (fd = FCGX_OpenSocket(argv[1], 128)) < 0) {
		fprintf(stderr, "baseline: cannot listen on %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	chmod(argv[1], 0666);
	for (i = 0; i < n; i++)
		if ((pids[i] = fork()) == 0) {
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			worker(fd, argv[2]);
		}
	sigwait(&set, &sig);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	unlink(argv[1]);
	return 0;
}
