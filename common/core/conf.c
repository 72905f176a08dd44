/* Reads callhook.conf with libinih and records every problem with its file and line. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>

#include "core/conf.h"

const struct option_doc config_options[] = {
	{ "database", "conninfo", "postgresql:///callhook",
	  "libpq connection string or URI used by serve; PG* environment variables also apply" },
	{ "database", "migrate_conninfo", NULL,
	  "connection used by migrate only, typically the schema owner (default: conninfo)" },
	{ "database", "report_conninfo", NULL,
	  "connection used by report and tail, a role granted callhook_reader (default: conninfo)" },
	{ "database", "connect_timeout", "3",
	  "seconds serve waits for a connection to open (2 to 60); past it the request is spooled" },
	{ "database", "lock_timeout", "1000",
	  "milliseconds a statement of serve waits for a table or row lock (10 to 60000)" },
	{ "database", "statement_timeout", "5000",
	  "milliseconds a statement of serve may run (100 to 600000)" },
	{ "database", "delivery_budget_ms", "3000",
	  "milliseconds one delivery may spend on the database, retries included (100 to 60000); "
	  "past it the delivery is spooled" },
	{ "database", "erasure_key", NULL,
	  "secret key of the HMAC-SHA256 of each forgotten number in callhook.erasures; forget needs it" },
	{ "database", "keep_bodies", "0",
	  "days raw delivery bodies are kept (0 to 36500; 0: forever); prune empties older ones" },
	{ "database", "keep_deliveries", "0",
	  "days delivery rows and their dedup keys are kept (0 to 36500; 0: forever); prune drops "
	  "the whole months older than that" },
	{ "server", "max_body", "1M", "largest accepted request body; larger ones get 413 (suffix k, M)" },
	{ "server", "spool_dir", "/var/spool/callhook",
	  "where requests wait while PostgreSQL is unreachable" },
	{ "server", "route_timeout_ms", "2000",
	  "bound on callhook.route_call() for CallScaler in-call hits; {} is answered past it" },
	{ "server", "requests_in_flight", "4",
	  "requests each serve worker answers at once (1 to 64), sharing its one database connection" },
	{ "source", "vendor", NULL, "callrail, calltracker, salpre, callscaler or fonedynamics" },
	{ "source", "signing_key", NULL, "CallRail: HMAC-SHA1 key checked against the Signature header" },
	{ "source", "token", NULL, "required as ?token=... or Authorization: Bearer ..." },
	{ "source", "header", NULL, "a required request header and its exact value, \"Name: value\"" },
	{ "source", "basic_auth", NULL, "required HTTP basic credentials, \"user:password\"" },
	{ "source", "allow_unauthenticated", "no", "yes to accept requests without credentials" },
	{ NULL, NULL, NULL, NULL },
};

/* Parsing state shared by the inih callbacks. */
struct parse {
	struct config *cfg;
	FILE *fp;
	int line;               /* line most recently read */
	struct source *cur;     /* the [source] being read, or NULL */
	char section[128];
	bool section_ok;
};

void
config_problem(struct config *cfg, int line, const char *fmt, ...)
{
	char msg[512], *full;
	va_list ap;
	char **p;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0) {
		if (asprintf(&full, "%s:%d: %s", cfg->path, line, msg) < 0)
			return;
	} else if (asprintf(&full, "%s: %s", cfg->path, msg) < 0)
		return;
	p = realloc(cfg->problems, (cfg->nproblems + 1) * sizeof(*p));
	if (p == NULL) {
		free(full);
		return;
	}
	cfg->problems = p;
	cfg->problems[cfg->nproblems++] = full;
}

long long
config_parse_size(const char *s)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end == s || n < 0 || n > (1LL << 30))
		return -1;      /* bounded before a suffix multiplies it */
	switch (tolower((unsigned char)*end)) {
	case '\0': return n;
	case 'k': n *= 1024; end++; break;
	case 'm': n *= 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || n > (1LL << 30))
		return -1;
	return n;
}

static bool
parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
		*out = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
		*out = false;
	else
		return false;
	return true;
}

/* Replaces *dst with a copy of v; false when out of memory. */
static bool
set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (s == NULL)
		return false;
	free(*dst);
	*dst = s;
	return true;
}

/* "X-Api-Key: value" into the header name, its CGI parameter name and value. */
static bool
parse_header(struct parse *p, struct source *src, const char *v)
{
	const char *colon = strchr(v, ':');
	size_t i, n;

	if (colon == NULL || colon == v) {
		config_problem(p->cfg, p->line, "source %s: header must be \"Name: value\"", src->name);
		return true;
	}
	n = colon - v;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_') {
			config_problem(p->cfg, p->line, "source %s: invalid header name", src->name);
			return true;
		}
	free(src->header_name);
	free(src->header_param);
	src->header_name = strndup(v, n);
	src->header_param = malloc(n + 6);
	if (src->header_name == NULL || src->header_param == NULL)
		return false;
	memcpy(src->header_param, "HTTP_", 5);
	for (i = 0; i < n; i++)
		src->header_param[5 + i] = v[i] == '-' ? '_' : toupper((unsigned char)v[i]);
	src->header_param[5 + n] = '\0';
	for (colon++; *colon == ' ' || *colon == '\t'; colon++)
		;
	if (*colon == '\0')
		config_problem(p->cfg, p->line, "source %s: header has no value", src->name);
	return set_str(&src->header_value, colon);
}

static bool
source_key(struct parse *p, const char *name, const char *v)
{
	struct source *src = p->cur;

	if (!strcmp(name, "vendor")) {
		src->vendor_line = p->line;
		return set_str(&src->vendor_name, v);
	}
	if (!strcmp(name, "signing_key"))
		return set_str(&src->signing_key, v);
	if (!strcmp(name, "token"))
		return set_str(&src->token, v);
	if (!strcmp(name, "basic_auth")) {
		if (strchr(v, ':') == NULL)
			config_problem(p->cfg, p->line, "source %s: basic_auth must be \"user:password\"", src->name);
		return set_str(&src->basic_auth, v);
	}
	if (!strcmp(name, "header"))
		return parse_header(p, src, v);
	if (!strcmp(name, "allow_unauthenticated")) {
		if (!parse_bool(v, &src->allow_unauthenticated))
			config_problem(p->cfg, p->line, "source %s: allow_unauthenticated must be yes or no", src->name);
		return true;
	}
	config_problem(p->cfg, p->line, "unknown key \"%s\" in [source %s]", name, src->name);
	return true;
}

/* Reads a whole decimal number from lo to hi into *out, or records a problem naming the key. */
static void
int_option(struct parse *p, const char *name, const char *v, long lo, long hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		config_problem(p->cfg, p->line, "%s: expected %ld to %ld", name, lo, hi);
	else
		*out = (int)n;
}

static bool
server_key(struct parse *p, const char *name, const char *v)
{
	struct config *cfg = p->cfg;
	long long n;

	if (!strcmp(name, "max_body")) {
		if ((n = config_parse_size(v)) <= 0)
			config_problem(cfg, p->line, "max_body: invalid size \"%s\" (expected e.g. 1M, 512k)", v);
		else
			cfg->max_body = n;
		return true;
	}
	if (!strcmp(name, "spool_dir"))
		return set_str(&cfg->spool_dir, v);
	if (!strcmp(name, "route_timeout_ms")) {
		n = strtol(v, NULL, 10);
		if (n < 10 || n > 30000)
			config_problem(cfg, p->line, "route_timeout_ms: expected 10 to 30000");
		else
			cfg->route_timeout_ms = n;
		return true;
	}
	if (!strcmp(name, "requests_in_flight")) {
		int_option(p, name, v, 1, 64, &cfg->requests_in_flight);
		return true;
	}
	config_problem(cfg, p->line, "unknown key \"%s\" in [server]", name);
	return true;
}

static bool
database_key(struct parse *p, const char *name, const char *v)
{
	static const struct { const char *name; long lo, hi; size_t off; } bounds[] = {
		{ "connect_timeout", 2, 60, offsetof(struct config, connect_timeout_s) },
		{ "lock_timeout", 10, 60000, offsetof(struct config, lock_timeout_ms) },
		{ "statement_timeout", 100, 600000, offsetof(struct config, statement_timeout_ms) },
		{ "delivery_budget_ms", 100, 60000, offsetof(struct config, delivery_budget_ms) },
		{ "keep_bodies", 0, 36500, offsetof(struct config, keep_bodies_days) },
		{ "keep_deliveries", 0, 36500, offsetof(struct config, keep_deliveries_days) },
	};
	size_t i;

	for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
		if (!strcmp(name, bounds[i].name)) {
			int_option(p, name, v, bounds[i].lo, bounds[i].hi,
			    (int *)((char *)p->cfg + bounds[i].off));
			return true;
		}
	if (!strcmp(name, "conninfo"))
		return set_str(&p->cfg->conninfo, v);
	if (!strcmp(name, "migrate_conninfo"))
		return set_str(&p->cfg->migrate_conninfo, v);
	if (!strcmp(name, "report_conninfo"))
		return set_str(&p->cfg->report_conninfo, v);
	if (!strcmp(name, "erasure_key"))
		return set_str(&p->cfg->erasure_key, v);
	config_problem(p->cfg, p->line, "unknown key \"%s\" in [database]", name);
	return true;
}

const struct source *
config_find_source(const struct config *cfg, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < cfg->nsources; i++)
		if (strlen(cfg->sources[i].name) == len && !memcmp(cfg->sources[i].name, name, len))
			return &cfg->sources[i];
	return NULL;
}

static bool
valid_source_name(const char *s)
{
	if (*s == '\0' || *s == '-' || *s == '.')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* Starts [source NAME] at the current line. */
static bool
begin_source(struct parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct source *s;

	if (!valid_source_name(name)) {
		config_problem(cfg, p->line, "invalid source name \"%s\" (letters, digits, '-', '_', '.')", name);
		p->section_ok = false;
		return true;
	}
	if (config_find_source(cfg, name, strlen(name)) != NULL) {
		config_problem(cfg, p->line, "duplicate [source %s]", name);
		p->section_ok = false;
		return true;
	}
	s = realloc(cfg->sources, (cfg->nsources + 1) * sizeof(*s));
	if (s == NULL)
		return false;
	cfg->sources = s;
	p->cur = &cfg->sources[cfg->nsources++];
	memset(p->cur, 0, sizeof(*p->cur));
	p->cur->line = p->line;
	return (p->cur->name = strdup(name)) != NULL;
}

/* Handles a section heading seen by the line reader, so empty sections count too. */
static bool
begin_section(struct parse *p, const char *line)
{
	const char *end = strchr(line, ']');
	size_t n;

	p->cur = NULL;
	p->section_ok = true;
	if (end == NULL)
		return true;    /* inih reports it */
	n = end - line - 1;
	if (n >= sizeof(p->section))
		n = sizeof(p->section) - 1;
	memcpy(p->section, line + 1, n);
	p->section[n] = '\0';
	if (!strncmp(p->section, "source ", 7)) {
		const char *name = p->section + 7;
		while (*name == ' ')
			name++;
		return begin_source(p, name);
	}
	if (strcmp(p->section, "database") && strcmp(p->section, "server")) {
		config_problem(p->cfg, p->line, "unknown section [%s]", p->section);
		p->section_ok = false;
	}
	return true;
}

/* inih reader: counts lines and notices section headings. */
static char *
read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *s;

	if (fgets(str, num, p->fp) == NULL)
		return NULL;
	p->line++;
	for (s = str; *s == ' ' || *s == '\t'; s++)
		;
	if (*s == '[' && !begin_section(p, s))
		return NULL;
	return str;
}

static int
on_value(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;

	(void)section;
	if (!p->section_ok)
		return 1;
	if (p->cur != NULL)
		return source_key(p, name, value);
	if (!strcmp(p->section, "database"))
		return database_key(p, name, value);
	if (!strcmp(p->section, "server"))
		return server_key(p, name, value);
	config_problem(p->cfg, p->line, "key \"%s\" outside any section", name);
	return 1;
}

static void
check_sources(struct config *cfg)
{
	size_t i;
	const struct source *s;

	for (i = 0; i < cfg->nsources; i++) {
		s = &cfg->sources[i];
		if (s->vendor_name == NULL)
			config_problem(cfg, s->line, "source %s: missing vendor", s->name);
		if (!s->signing_key && !s->token && !s->header_name && !s->basic_auth &&
		    !s->allow_unauthenticated)
			config_problem(cfg, s->line, "source %s: no credentials (set signing_key, token, header or "
			    "basic_auth, or allow_unauthenticated = yes)", s->name);
	}
}

static bool
set_defaults(struct config *cfg)
{
	cfg->max_body = 1024 * 1024;
	cfg->route_timeout_ms = 2000;
	cfg->requests_in_flight = 4;
	cfg->connect_timeout_s = 3;
	cfg->lock_timeout_ms = 1000;
	cfg->statement_timeout_ms = 5000;
	cfg->delivery_budget_ms = 3000;
	return set_str(&cfg->conninfo, "postgresql:///callhook") &&
	    set_str(&cfg->spool_dir, "/var/spool/callhook");
}

struct config *
config_load(const char *path)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct parse p = { .cfg = cfg, .section_ok = true };
	int rc;

	if (cfg == NULL || (cfg->path = strdup(path)) == NULL || !set_defaults(cfg)) {
		config_free(cfg);
		return NULL;
	}
	ini_allow_multiline = false;
	if ((p.fp = fopen(path, "r")) == NULL) {
		config_problem(cfg, 0, "cannot open: %s", strerror(errno));
		return cfg;
	}
	rc = ini_parse_stream(read_line, &p, on_value, &p);
	fclose(p.fp);
	if (rc > 0)
		config_problem(cfg, rc, "syntax error");
	else if (rc < 0)
		config_problem(cfg, 0, "cannot read");
	check_sources(cfg);
	return cfg;
}

static void
source_free(struct source *s)
{
	free(s->name);
	free(s->vendor_name);
	free(s->signing_key);
	free(s->token);
	free(s->header_name);
	free(s->header_param);
	free(s->header_value);
	free(s->basic_auth);
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nsources; i++)
		source_free(&cfg->sources[i]);
	for (i = 0; i < cfg->nproblems; i++)
		free(cfg->problems[i]);
	free(cfg->sources);
	free(cfg->problems);
	free(cfg->path);
	free(cfg->conninfo);
	free(cfg->migrate_conninfo);
	free(cfg->report_conninfo);
	free(cfg->erasure_key);
	free(cfg->spool_dir);
	free(cfg);
}
