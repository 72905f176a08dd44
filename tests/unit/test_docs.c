/*
 * The documentation against config_options[]: every option is in the sample
 * config deploy/callhook.conf and in callhook.conf(5), with its default, and
 * neither documents an option that does not exist.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
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
		if (want == NULL || (!strncmp(v, want, strlen(want)) &&
		    (v[strlen(want)] == '\n' || v[strlen(want)] == '\0')))
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
		if (!strncmp(end, "\n.It ", 5) || !strncmp(end, "\n.El", 4) ||
		    !strncmp(end, "\n.Sh ", 5) || !strncmp(end, "\n.Ss ", 5))
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
	free(entry);
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

void
test_docs(void)
{
	char *conf = slurp(SAMPLE_CONF), *man = slurp(CONF_MAN);
	const struct config_option *o;

	CHECK(conf != NULL, "read %s", SAMPLE_CONF);
	CHECK(man != NULL, "read %s", CONF_MAN);
	if (conf != NULL && man != NULL) {
		for (o = config_options; o->name != NULL; o++)
			check_option(o, conf, man);
		check_no_stale(conf, man);
	}
	check_sample_loads();
	free(conf);
	free(man);
}
