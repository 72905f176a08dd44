/*
 * Every option of config_options[] against the documentation and the parser:
 * it is in the sample config deploy/callhook.conf and in callhook.conf(5),
 * with its default and range, neither documents an option that does not
 * exist, and a value written in a file is stored or refused as the cases
 * below say, the problem naming the file and the line.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tmpconf.h"
#include "core/conf.h"
#include "vendors/vendor.h"

#define SAMPLE_CONF SRCDIR "/deploy/callhook.conf"
#define CONF_MAN SRCDIR "/deploy/man/callhook.conf.5"

void test_docs(void);

/* Reads the whole file into a new NUL-terminated string (free()); NULL on error. */
static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc(n + 1)) != NULL) {
		if (fread(buf, 1, n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else
			buf[n] = '\0';
	}
	fclose(fp);
	return buf;
}

/* The start of the line after `line`, or NULL at the end. */
static const char *
next_line(const char *line)
{
	const char *nl = strchr(line, '\n');

	return nl != NULL && nl[1] != '\0' ? nl + 1 : NULL;
}

static const struct config_option *
find_option(const char *name, size_t len)
{
	const struct config_option *o;

	for (o = config_options; o->name != NULL; o++)
		if (strlen(o->name) == len && !memcmp(o->name, name, len))
			return o;
	return NULL;
}

static size_t
key_len(const char *s)
{
	size_t n = 0;

	while (isalnum((unsigned char)s[n]) || s[n] == '_')
		n++;
	return n;
}

/*
 * The key of a sample config line, "name = value" or "; name = value": its
 * start, with its length in *len and its value in *value; NULL for other lines.
 */
static const char *
conf_key(const char *line, size_t *len, const char **value)
{
	const char *p = line;

	if (*p == ';')
		for (p++; *p == ' '; p++)
			;
	if ((*len = key_len(p)) == 0)
		return NULL;
	*value = p + *len;
	while (**value == ' ')
		(*value)++;
	if (**value != '=')
		return NULL;
	for ((*value)++; **value == ' '; (*value)++)
		;
	return p;
}

/* True when the sample has "name = want" (want NULL: any value), commented out or not. */
static bool
conf_has(const char *text, const char *name, const char *want)
{
	const char *line, *k, *v;
	size_t len;

	for (line = text; line != NULL; line = next_line(line)) {
		k = conf_key(line, &len, &v);
		if (k == NULL || len != strlen(name) || memcmp(k, name, len))
			continue;
		if (want == NULL ||
		    (!strncmp(v, want, strlen(want)) && (v[strlen(want)] == '\n' || v[strlen(want)] == '\0')))
			return true;
	}
	return false;
}

/* The man page text from ".It Ic name" to the next ".It" or section, or NULL. */
static char *
man_entry(const char *text, const char *name)
{
	const char *p = text, *end;
	size_t n = strlen(name);

	while ((p = strstr(p, "\n.It Ic ")) != NULL) {
		p += 8;
		if (!strncmp(p, name, n) && (p[n] == ' ' || p[n] == '\n'))
			break;
	}
	if (p == NULL)
		return NULL;
	for (end = strchr(p, '\n'); end != NULL; end = strchr(end + 1, '\n'))
		if (!strncmp(end, "\n.It ", 5) || !strncmp(end, "\n.El", 4) || !strncmp(end, "\n.Sh ", 5) ||
		    !strncmp(end, "\n.Ss ", 5))
			break;
	return strndup(p, end ? (size_t)(end - p) : strlen(p));
}

/*
 * True when the entry says "default is" followed by `def`, possibly as the
 * argument of a macro on the next line (".Ql postgresql:///callhook").
 */
static bool
man_default_is(const char *entry, const char *def)
{
	const char *p = strstr(entry, "default is");
	size_t n = strlen(def);

	if (p == NULL)
		return false;
	for (p += 10; *p == ' ' || *p == '\n'; p++)
		;
	if (*p == '.')
		for (p += strcspn(p, " \n"); *p == ' '; p++)
			;
	return !strncmp(p, def, n) && strchr(" .,:;\n", p[n]) != NULL;
}

/* The range of a number or size in the doc line and in the man page's entry, and its unit. */
static void
check_range(const struct config_option *o, const char *entry)
{
	char want[128];

	if (o->type == OPT_INT) {
		snprintf(want, sizeof(want), "(%lld to %lld", o->min, o->max);
		CHECK(strstr(o->doc, want) != NULL, "the doc line of %s says %s)", o->name, want);
		snprintf(want, sizeof(want), "From %lld to %lld", o->min, o->max);
		CHECK(entry != NULL && strstr(entry, want) != NULL, "callhook.conf(5) says %s: %s", o->name,
		    want);
		snprintf(want, sizeof(want), "%s No = Ar %s\n", o->name, o->unit);
		CHECK(entry != NULL && !strncmp(entry, want, strlen(want)),
		    "callhook.conf(5) names the value of %s in %s", o->name, o->unit);
	} else if (o->type == OPT_SIZE) {
		snprintf(want, sizeof(want), "at most %lldM", o->max / (1024 * 1024));
		CHECK(entry != NULL && strstr(entry, want) != NULL, "callhook.conf(5) says %s: %s", o->name,
		    want);
	}
}

static void
check_option(const struct config_option *o, const char *conf, const char *man)
{
	char *entry = man ? man_entry(man, o->name) : NULL;
	bool is_source = !strcmp(o->section, "source");

	CHECK(conf_has(conf, o->name, NULL), "sample config has [%s] %s", o->section, o->name);
	CHECK(strstr(conf, o->doc) != NULL, "sample config documents %s with its doc line", o->name);
	if (o->def != NULL && !is_source)
		CHECK(conf_has(conf, o->name, o->def), "sample config shows %s = %s", o->name, o->def);
	CHECK(entry != NULL, "callhook.conf(5) has .It Ic %s", o->name);
	if (o->def != NULL)
		CHECK(entry != NULL && man_default_is(entry, o->def),
		    "callhook.conf(5) gives the default of %s, %s", o->name, o->def);
	check_range(o, entry);
	free(entry);
}

/* The doc line of vendor names every vendor there is. */
static void
check_vendor_doc(void)
{
	const struct config_option *o = find_option("vendor", 6);
	size_t i;

	for (i = 0; vendors[i] != NULL; i++)
		CHECK(o != NULL && strstr(o->doc, vendors[i]->name) != NULL,
		    "the doc line of vendor names %s", vendors[i]->name);
}

/* Every key of the sample config and every ".It Ic" of the man page is a declared option. */
static void
check_no_stale(const char *conf, const char *man)
{
	const char *line, *k, *v;
	size_t len;
	int stale = 0;

	for (line = conf; line != NULL; line = next_line(line)) {
		if ((k = conf_key(line, &len, &v)) != NULL && find_option(k, len) == NULL) {
			printf("# sample config: unknown key %.*s\n", (int)len, k);
			stale++;
		}
	}
	CHECK(stale == 0, "every key in the sample config is a declared option");
	stale = 0;
	for (line = strstr(man, "\n.It Ic "); line != NULL; line = strstr(line + 1, "\n.It Ic ")) {
		len = key_len(line + 8);
		if (find_option(line + 8, len) == NULL) {
			printf("# callhook.conf(5): unknown option %.*s\n", (int)len, line + 8);
			stale++;
		}
	}
	CHECK(stale == 0, "every .It Ic in callhook.conf(5) is a declared option");
}

/* The sample is installed as /etc/callhook/callhook.conf: it must load without problems. */
static void
check_sample_loads(void)
{
	struct config *cfg = vendor_bind_sources(config_load(SAMPLE_CONF));
	size_t i;

	CHECK(cfg != NULL && cfg->nproblems == 0, "the sample config loads without problems");
	for (i = 0; cfg != NULL && i < cfg->nproblems; i++)
		printf("#   %s\n", cfg->problems[i]);
	CHECK(cfg != NULL && cfg->nsources == 0, "the sample config enables no source");
	config_free(cfg);
}

/* A value of an option in a file, and what callhook makes of it. */
struct parse_case {
	const char *name;
	const char *value;
	const char *stored;  /* accepted: the field, as stored_text() writes it */
	const char *problem; /* refused: the problem after "FILE:LINE: " */
};

#define EXPECTED(lo, hi) "expected " #lo " to " #hi
#define BAD_SIZE(v) "max_body: invalid size \"" v "\" (expected e.g. 1M, 512k)"

static const struct parse_case cases[] = {
	{ "conninfo", "host=/tmp dbname=x", "host=/tmp dbname=x", NULL },
	{ "migrate_conninfo", "dbname=x user=postgres", "dbname=x user=postgres", NULL },
	{ "report_conninfo", "dbname=x user=analyst", "dbname=x user=analyst", NULL },
	{ "connect_timeout", "7", "7", NULL },
	{ "connect_timeout", "7s", NULL, "connect_timeout: " EXPECTED(2, 60) },
	{ "connect_timeout", "61", NULL, "connect_timeout: " EXPECTED(2, 60) },
	{ "lock_timeout", "250", "250", NULL },
	{ "lock_timeout", "250ms", NULL, "lock_timeout: " EXPECTED(10, 60000) },
	{ "lock_timeout", "9", NULL, "lock_timeout: " EXPECTED(10, 60000) },
	{ "statement_timeout", "900", "900", NULL },
	{ "statement_timeout", "9e2", NULL, "statement_timeout: " EXPECTED(100, 600000) },
	{ "statement_timeout", "99999999999999999999", NULL, "statement_timeout: " EXPECTED(100, 600000) },
	{ "delivery_budget_ms", "1500", "1500", NULL },
	{ "delivery_budget_ms", "1500.5", NULL, "delivery_budget_ms: " EXPECTED(100, 60000) },
	{ "delivery_budget_ms", "60001", NULL, "delivery_budget_ms: " EXPECTED(100, 60000) },
	{ "erasure_key", "3f1c0e", "3f1c0e", NULL },
	{ "keep_bodies", "30", "30", NULL },
	{ "keep_bodies", "30d", NULL, "keep_bodies: " EXPECTED(0, 36500) },
	{ "keep_bodies", "36501", NULL, "keep_bodies: " EXPECTED(0, 36500) },
	{ "keep_bodies", "-1", NULL, "keep_bodies: " EXPECTED(0, 36500) },
	{ "keep_deliveries", "400", "400", NULL },
	{ "keep_deliveries", "0x10", NULL, "keep_deliveries: " EXPECTED(0, 36500) },
	{ "keep_deliveries", "36501", NULL, "keep_deliveries: " EXPECTED(0, 36500) },
	{ "max_body", "64k", "65536", NULL },
	{ "max_body", "2MB", "2097152", NULL },
	{ "max_body", "1024M", "1073741824", NULL },
	{ "max_body", "64kx", NULL, BAD_SIZE("64kx") },
	{ "max_body", "0", NULL, BAD_SIZE("0") },
	{ "max_body", "1073741825", NULL, BAD_SIZE("1073741825") },
	{ "max_body", "99999999999999999999", NULL, BAD_SIZE("99999999999999999999") },
	{ "spool_dir", "/tmp/spool", "/tmp/spool", NULL },
	{ "route_timeout_ms", "100", "100", NULL },
	{ "route_timeout_ms", "100abc", NULL, "route_timeout_ms: " EXPECTED(10, 30000) },
	{ "route_timeout_ms", "30001", NULL, "route_timeout_ms: " EXPECTED(10, 30000) },
	{ "requests_in_flight", "64", "64", NULL },
	{ "requests_in_flight", "4 threads", NULL, "requests_in_flight: " EXPECTED(1, 64) },
	{ "requests_in_flight", "0", NULL, "requests_in_flight: " EXPECTED(1, 64) },
	{ "vendor", "callrail", "callrail", NULL },
	{ "vendor", "nosuch", NULL,
	    "source s: unknown vendor \"nosuch\" (expected callrail, calltracker, "
	    "salpre, callscaler or fonedynamics)" },
	{ "signing_key", "072e77e4", "072e77e4", NULL },
	{ "token", "4f9c1d0e", "4f9c1d0e", NULL },
	{ "header", "X-Api-Key: s3cret value", "s3cret value", NULL },
	{ "header", "X-Api-Key", NULL, "source s: header must be \"Name: value\"" },
	{ "header", "X Api: s3cret", NULL, "source s: invalid header name" },
	{ "header", "X-Api-Key:", NULL, "source s: header has no value" },
	{ "basic_auth", "hooks:pa55", "hooks:pa55", NULL },
	{ "basic_auth", "hookspa55", NULL, "source s: basic_auth must be \"user:password\"" },
	{ "allow_unauthenticated", "yes", "yes", NULL },
	{ "allow_unauthenticated", "On", "yes", NULL },
	{ "allow_unauthenticated", "0", "no", NULL },
	{ "allow_unauthenticated", "yes please", NULL, "source s: allow_unauthenticated must be yes or no" },
	{ "allow_unauthenticated", "maybe", NULL, "source s: allow_unauthenticated must be yes or no" },
};

/* The field of option o in cfg (its first source for a source option), numbers in decimal. */
static const char *
stored_text(const struct config *cfg, const struct config_option *o, char *buf, size_t size)
{
	const char *base = strcmp(o->section, "source") ? (const char *)cfg : (const char *)cfg->sources;
	const void *field = base + o->off;

	switch (o->type) {
	case OPT_INT: snprintf(buf, size, "%d", *(const int *)field); return buf;
	case OPT_SIZE: snprintf(buf, size, "%zu", *(const size_t *)field); return buf;
	case OPT_BOOL: return *(const bool *)field ? "yes" : "no";
	default: return *(char *const *)field;
	}
}

static bool
all_digits(const char *s)
{
	return *s != '\0' && strspn(s, "0123456789") == strlen(s);
}

/*
 * Every option has a case it stores; all but free text also one it refuses,
 * and numbers and sizes both one out of range and one with trailing garbage.
 */
static void
check_cases_cover(void)
{
	const struct config_option *o;
	const struct parse_case *c;
	int stored, refused, number, garbage;

	for (o = config_options; o->name != NULL; o++) {
		stored = refused = number = garbage = 0;
		for (c = cases; c < cases + sizeof(cases) / sizeof(cases[0]); c++) {
			if (strcmp(c->name, o->name))
				continue;
			stored += c->problem == NULL;
			refused += c->problem != NULL;
			number += c->problem != NULL && all_digits(c->value);
			garbage += c->problem != NULL && isdigit((unsigned char)c->value[0]) &&
			    !all_digits(c->value);
		}
		CHECK(stored > 0, "%s: a value it stores is tested", o->name);
		if (o->type != OPT_TEXT && o->type != OPT_SECRET)
			CHECK(refused > 0, "%s: a value it refuses is tested", o->name);
		if (o->type == OPT_INT || o->type == OPT_SIZE)
			CHECK(number > 0 && garbage > 0,
			    "%s: a number out of range and one with trailing garbage are tested", o->name);
	}
}

/* Loads the option alone in its section (in a source, after a vendor and a token) and checks it. */
static void
check_case(const struct parse_case *c)
{
	const struct config_option *o = find_option(c->name, strlen(c->name));
	bool source = o != NULL && !strcmp(o->section, "source");
	char text[512], want[512], buf[32], *path;
	struct config *cfg;

	CHECK(o != NULL, "case %s = %s: a declared option", c->name, c->value);
	if (o == NULL)
		return;
	if (source)
		snprintf(text, sizeof(text), "[source s]\nvendor = calltracker\ntoken = t\n%s = %s\n",
		    c->name, c->value);
	else
		snprintf(text, sizeof(text), "[%s]\n%s = %s\n", o->section, c->name, c->value);
	path = write_tmp(text);
	cfg = vendor_bind_sources(config_load(path));
	if (c->problem == NULL) {
		CHECK(cfg->nproblems == 0, "%s = %s is accepted", c->name, c->value);
		CHECK_STR(stored_text(cfg, o, buf, sizeof(buf)), c->stored, "%s = %s is stored as %s",
		    c->name, c->value, c->stored);
		if (o->type == OPT_VENDOR)
			CHECK(cfg->sources[0].vendor != NULL && !strcmp(cfg->sources[0].vendor->name, c->stored),
			    "vendor = %s is bound to that vendor", c->value);
	} else {
		snprintf(want, sizeof(want), "%s:%d: %s", path, source ? 4 : 2, c->problem);
		CHECK(cfg->nproblems == 1, "%s = %s is one problem (got %zu)", c->name, c->value,
		    cfg->nproblems);
		CHECK_STR(cfg->nproblems > 0 ? cfg->problems[0] : NULL, want,
		    "%s = %s is refused with the file, the line and why", c->name, c->value);
		if (o->type == OPT_HEADER || o->type == OPT_USERPASS)
			CHECK(cfg->nproblems > 0 && strstr(cfg->problems[0], c->value) == NULL,
			    "%s = %s: the problem does not show the secret", c->name, c->value);
	}
	config_free(cfg);
	unlink(path);
	free(path);
}

void
test_docs(void)
{
	char *conf = slurp(SAMPLE_CONF), *man = slurp(CONF_MAN);
	const struct config_option *o;
	const struct parse_case *c;

	CHECK(conf != NULL, "read %s", SAMPLE_CONF);
	CHECK(man != NULL, "read %s", CONF_MAN);
	if (conf != NULL && man != NULL) {
		for (o = config_options; o->name != NULL; o++)
			check_option(o, conf, man);
		check_no_stale(conf, man);
	}
	check_vendor_doc();
	check_sample_loads();
	check_cases_cover();
	for (c = cases; c < cases + sizeof(cases) / sizeof(cases[0]); c++)
		check_case(c);
	free(conf);
	free(man);
}
