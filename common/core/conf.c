/* Reads callhook.conf with libinih and records every problem with its file and line. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ini.h>

#include "core/conf.h"

#define CFG(field) offsetof(struct config, field)
#define SRC(field) offsetof(struct source, field)
/* An option without a range, and one with (OPT_INT, OPT_SIZE). */
/* clang-format off */
#define OPTION(section, name, type, off, def, doc) \
	{ section, name, type, off, def, 0, 0, NULL, doc }
#define RANGED(section, name, type, off, def, min, max, unit, doc) \
	{ section, name, type, off, def, min, max, unit, doc }
/* clang-format on */

/*
 * Every option, once. Defaults are read like the file (so "1M", "no"), and
 * the docs test compares each doc line with the sample config.
 */
const struct config_option config_options[] = {
	OPTION("database", "conninfo", OPT_TEXT, CFG(conninfo), "postgresql:///callhook",
	    "libpq connection string or URI used by serve; PG* environment variables also apply"),
	OPTION("database", "migrate_conninfo", OPT_TEXT, CFG(migrate_conninfo), NULL,
	    "connection used by migrate only, typically the schema owner (default: conninfo)"),
	OPTION("database", "report_conninfo", OPT_TEXT, CFG(report_conninfo), NULL,
	    "connection used by report and tail, a role granted callhook_reader (default: conninfo)"),
	RANGED("database", "connect_timeout", OPT_INT, CFG(connect_timeout_s), "3", 2, 60, "seconds",
	    "seconds serve waits for a connection to open (2 to 60); past it the request is spooled"),
	RANGED("database", "lock_timeout", OPT_INT, CFG(lock_timeout_ms), "1000", 10, 60000, "milliseconds",
	    "milliseconds a statement of serve waits for a table or row lock (10 to 60000)"),
	RANGED("database", "statement_timeout", OPT_INT, CFG(statement_timeout_ms), "5000", 100, 600000,
	    "milliseconds", "milliseconds a statement of serve may run (100 to 600000)"),
	RANGED("database", "delivery_budget_ms", OPT_INT, CFG(delivery_budget_ms), "3000", 100, 60000,
	    "milliseconds",
	    "milliseconds one delivery may spend on the database, retries included "
	    "(100 to 60000); past it the delivery is spooled"),
	OPTION("database", "erasure_key", OPT_SECRET, CFG(erasure_key), NULL,
	    "secret key of the HMAC-SHA256 of each forgotten number in callhook.erasures; forget needs it"),
	RANGED("database", "keep_bodies", OPT_INT, CFG(keep_bodies_days), "0", 0, 36500, "days",
	    "days raw delivery bodies are kept (0 to 36500; 0: forever); prune empties older ones"),
	RANGED("database", "keep_deliveries", OPT_INT, CFG(keep_deliveries_days), "0", 0, 36500, "days",
	    "days delivery rows and their dedup keys are kept (0 to 36500; 0: forever); prune drops "
	    "the whole months older than that"),
	RANGED("server", "max_body", OPT_SIZE, CFG(max_body), "1M", 1, CONFIG_SIZE_MAX, NULL,
	    "largest accepted request body; larger ones get 413 (suffix k, M)"),
	OPTION("server", "spool_dir", OPT_TEXT, CFG(spool_dir), "/var/spool/callhook",
	    "where requests wait while PostgreSQL is unreachable"),
	RANGED("server", "route_timeout_ms", OPT_INT, CFG(route_timeout_ms), "2000", 10, 30000, "milliseconds",
	    "bound on callhook.route_call() for CallScaler in-call hits; {} is answered past it "
	    "(10 to 30000)"),
	RANGED("server", "requests_in_flight", OPT_INT, CFG(requests_in_flight), "32", 1, 64, "number",
	    "requests each serve worker answers at once (1 to 64), sharing its one database connection"),
	OPTION("source", "vendor", OPT_VENDOR, SRC(vendor_name), NULL,
	    "callrail, calltracker, salpre, callscaler or fonedynamics"),
	OPTION("source", "signing_key", OPT_SECRET, SRC(signing_key), NULL,
	    "CallRail: HMAC-SHA1 key checked against the Signature header"),
	OPTION("source", "token", OPT_SECRET, SRC(token), NULL,
	    "required as ?token=... or Authorization: Bearer ..."),
	OPTION("source", "header", OPT_HEADER, SRC(header_value), NULL,
	    "a required request header and its exact value, \"Name: value\""),
	OPTION("source", "basic_auth", OPT_USERPASS, SRC(basic_auth), NULL,
	    "required HTTP basic credentials, \"user:password\""),
	OPTION("source", "allow_unauthenticated", OPT_BOOL, SRC(allow_unauthenticated), "no",
	    "yes to accept requests without credentials"),
	OPTION(NULL, NULL, OPT_TEXT, 0, NULL, NULL),
};

/* Parsing state shared by the inih callbacks. */
struct parse {
	struct config *cfg;
	FILE *fp;
	int line;           /* line most recently read */
	struct source *cur; /* the [source] being read, or NULL */
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

/* Records a problem with a value at the current line, naming the source being read; true. */
static bool refuse(struct parse *p, const char *fmt, ...) PRINTF(2, 3);

static bool
refuse(struct parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->cur != NULL)
		config_problem(p->cfg, p->line, "source %s: %s", p->cur->name, msg);
	else
		config_problem(p->cfg, p->line, "%s", msg);
	return true;
}

long long
config_parse_size(const char *s)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end == s || n < 0 || n > CONFIG_SIZE_MAX)
		return -1; /* bounded before a suffix multiplies it */
	switch (tolower((unsigned char)*end)) {
	case '\0': return n;
	case 'k':
		n *= 1024;
		end++;
		break;
	case 'm':
		n *= 1024 * 1024;
		end++;
		break;
	default: return -1;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || n > CONFIG_SIZE_MAX)
		return -1;
	return n;
}

/* The whole of v as a decimal number, optionally negative: no space, no suffix, no overflow. */
static bool
parse_int(const char *v, long long *n)
{
	char *end;

	if (!isdigit((unsigned char)v[*v == '-']))
		return false;
	errno = 0;
	*n = strtoll(v, &end, 10);
	return errno == 0 && *end == '\0';
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

/* The CGI parameter name of the n-byte header name h: "X-Api-Key" is "HTTP_X_API_KEY". */
static char *
cgi_name(const char *h, size_t n)
{
	char *param = malloc(n + 6);
	size_t i;

	if (param == NULL)
		return NULL;
	memcpy(param, "HTTP_", 5);
	for (i = 0; i < n; i++)
		param[5 + i] = h[i] == '-' ? '_' : toupper((unsigned char)h[i]);
	param[5 + n] = '\0';
	return param;
}

/* "X-Api-Key: value": the value into *field, the name and its CGI name into the source. */
static bool
set_header(struct parse *p, const struct config_option *o, char **field, const char *v)
{
	const char *colon = strchr(v, ':'), *value;
	char *name, *param;
	size_t i, n;

	if (colon == NULL || colon == v)
		return refuse(p, "%s must be \"Name: value\"", o->name);
	n = colon - v;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_')
			return refuse(p, "invalid %s name", o->name);
	for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
		;
	if (*value == '\0')
		return refuse(p, "%s has no value", o->name);
	name = strndup(v, n);
	param = cgi_name(v, n);
	if (name == NULL || param == NULL || !set_str(field, value)) {
		free(name);
		free(param);
		return false;
	}
	free(p->cur->header_name);
	free(p->cur->header_param);
	p->cur->header_name = name;
	p->cur->header_param = param;
	return true;
}

static bool
set_int(struct parse *p, const struct config_option *o, int *field, const char *v)
{
	long long n;

	if (!parse_int(v, &n) || n < o->min || n > o->max)
		return refuse(p, "%s: expected %lld to %lld", o->name, o->min, o->max);
	*field = (int)n;
	return true;
}

static bool
set_size(struct parse *p, const struct config_option *o, size_t *field, const char *v)
{
	long long n = config_parse_size(v);

	if (n < 0 || n < o->min || n > o->max)
		return refuse(p, "%s: invalid size \"%s\" (expected e.g. 1M, 512k)", o->name, v);
	*field = (size_t)n;
	return true;
}

static bool
in_source(const struct config_option *o)
{
	return !strcmp(o->section, "source");
}

/*
 * Reads v into option o of the config, or of the source being read. A value
 * that is refused is a problem at the current line, and leaves the field as
 * it was. False only when out of memory.
 */
static bool
set_option(struct parse *p, const struct config_option *o, const char *v)
{
	void *field = (in_source(o) ? (char *)p->cur : (char *)p->cfg) + o->off;

	switch (o->type) {
	case OPT_TEXT:
	case OPT_SECRET: return set_str(field, v);
	case OPT_INT: return set_int(p, o, field, v);
	case OPT_SIZE: return set_size(p, o, field, v);
	case OPT_BOOL: return parse_bool(v, field) || refuse(p, "%s must be yes or no", o->name);
	case OPT_VENDOR: p->cur->vendor_line = p->line; return set_str(field, v);
	case OPT_HEADER: return set_header(p, o, field, v);
	case OPT_USERPASS:
		if (strchr(v, ':') == NULL)
			return refuse(p, "%s must be \"user:password\"", o->name);
		return set_str(field, v);
	}
	return true;
}

/* Gives each option of the source being read, or of the config when none is, its default. */
static bool
set_defaults(struct parse *p)
{
	const struct config_option *o;

	for (o = config_options; o->name != NULL; o++)
		if (o->def != NULL && in_source(o) == (p->cur != NULL) && !set_option(p, o, o->def))
			return false;
	return true;
}

static const struct config_option *
find_option(const char *section, const char *name)
{
	const struct config_option *o;

	for (o = config_options; o->name != NULL; o++)
		if (!strcmp(o->section, section) && !strcmp(o->name, name))
			return o;
	return NULL;
}

/* Frees the strings of the options stored in base: a source's, or the config's. */
static void
free_options(char *base, bool source)
{
	const struct config_option *o;

	for (o = config_options; o->name != NULL; o++)
		if (in_source(o) == source && o->type != OPT_INT && o->type != OPT_SIZE && o->type != OPT_BOOL)
			free(*(char **)(base + o->off));
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
		config_problem(cfg, p->line, "invalid source name \"%s\" (letters, digits, '-', '_', '.')",
		    name);
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
	return (p->cur->name = strdup(name)) != NULL && set_defaults(p);
}

/* [database] and [server]; [source NAME] are handled apart. */
static bool
known_section(const char *section)
{
	return !strcmp(section, "database") || !strcmp(section, "server");
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
		return true; /* inih reports it */
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
	if (!known_section(p->section)) {
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
	const struct config_option *o;

	(void)section;
	if (!p->section_ok)
		return 1;
	if (p->cur == NULL && !known_section(p->section)) {
		config_problem(p->cfg, p->line, "key \"%s\" outside any section", name);
		return 1;
	}
	if ((o = find_option(p->cur != NULL ? "source" : p->section, name)) != NULL)
		return set_option(p, o, value);
	if (p->cur != NULL)
		config_problem(p->cfg, p->line, "unknown key \"%s\" in [source %s]", name, p->cur->name);
	else
		config_problem(p->cfg, p->line, "unknown key \"%s\" in [%s]", name, p->section);
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
			config_problem(cfg, s->line,
			    "source %s: no credentials (set signing_key, token, header or "
			    "basic_auth, or allow_unauthenticated = yes)",
			    s->name);
	}
}

struct config *
config_load(const char *path)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct parse p = { .cfg = cfg, .section_ok = true };
	int rc;

	if (cfg == NULL || (cfg->path = strdup(path)) == NULL || !set_defaults(&p)) {
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
	free(s->header_name);
	free(s->header_param);
	free_options((char *)s, true);
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
	free_options((char *)cfg, false);
	free(cfg);
}
