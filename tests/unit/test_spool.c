/* Unit tests for common/ingest/spool.c: the checks a spool file's start must pass, and what spool_write() writes. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/spool.h"
#include "tap.h"

void test_spool(void);

#define NOW 1700000000000000LL /* 2023-11-14T22:13:20Z */
/* the required fields but received_usec and body_len: 55 bytes */
#define BASE "\"source\":\"ct\",\"method\":\"POST\",\"query\":\"\",\"headers\":\"{}\""
/* and received_usec: 88 bytes */
#define GOOD BASE ",\"received_usec\":1699999999000000"

/* A spool file: the magic line, `meta` and a newline, then `body`. New string (free()); *len its length. */
static char *
file_of(const char *meta, const char *body, size_t *len)
{
	char *s;

	if (asprintf(&s, "%s%s\n%s", SPOOL_MAGIC, meta, body) < 0)
		abort();
	*len = strlen(s);
	return s;
}

/*
 * Runs spool_parse_head() over the whole of s[0..len) and describes the
 * result: "ok source=… method=… event=… type=… body_off=… body_len=…", or
 * "bad: <why>". Static buffer, valid until the next call.
 */
static const char *
describe(const char *s, size_t len)
{
	static char buf[512];
	struct raw_delivery raw = { 0 };
	char why[256] = "";
	size_t off = 0;
	enum ch_err err = spool_parse_head(s, len, len, NOW, &raw, &off, why, sizeof(why));

	if (err == CH_OK)
		snprintf(buf, sizeof(buf), "ok source=%s method=%s event=%s type=%s body_off=%zu body_len=%zu",
		    raw.source, raw.method, raw.event ? raw.event : "-",
		    raw.content_type ? raw.content_type : "-", off, raw.body_len);
	else if (err == CH_ERR_BAD_REQUEST && raw.source == NULL && raw.method == NULL && raw.query == NULL)
		snprintf(buf, sizeof(buf), "bad: %s", why);
	else
		snprintf(buf, sizeof(buf), "error %d, or fields left set", (int)err);
	raw_delivery_clear(&raw);
	return buf;
}

/* describe() for a file made of the metadata printf(fmt, …) and `body`. */
static const char *meta(const char *body, const char *fmt, ...) PRINTF(2, 3);

static const char *
meta(const char *body, const char *fmt, ...)
{
	char *m, *s;
	const char *d;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		abort();
	va_end(ap);
	s = file_of(m, body, &len);
	d = describe(s, len);
	free(m);
	free(s);
	return d;
}

static void
test_good(void)
{
	char *s;
	size_t len;
	struct raw_delivery raw = { 0 };
	char why[256] = "";
	size_t off = 0;

	/* body_off: 17 (magic) + 1 + 88 + 14 (,"body_len":2}) + 1 (newline) */
	CHECK_STR(meta("{}", "{" GOOD ",\"body_len\":2}"),
	    "ok source=ct method=POST event=- type=- body_off=121 body_len=2", "a valid file passes");
	CHECK_STR(meta("",
		      "{" GOOD ",\"body_len\":0,\"event\":\"post_call\",\"content_type\":\"application/json\"}"),
	    "ok source=ct method=POST event=post_call type=application/json body_off=175 body_len=0",
	    "the optional event and content_type are taken; an empty body passes");
	/* body_off: 17 + 1 + 55 + 33 (,"received_usec":1700003600000000) + 14 + 1 */
	CHECK_STR(meta("x", "{" BASE ",\"received_usec\":%lld,\"body_len\":1}", NOW + 3600000000LL),
	    "ok source=ct method=POST event=- type=- body_off=121 body_len=1",
	    "received_usec an hour ahead of the clock passes");

	/* only the head is passed: the body is counted from the file's size */
	s = file_of("{" GOOD ",\"body_len\":5}", "hello", &len);
	CHECK(spool_parse_head(s, len - 5, len, NOW, &raw, &off, why, sizeof(why)) == CH_OK &&
		off == len - 5 && raw.body_len == 5 && raw.body == NULL,
	    "a head without the body: body_len checked against the file's size, the body not read");
	raw_delivery_clear(&raw);
	free(s);
}

static void
test_not_a_spool_file(void)
{
	size_t len;
	char *s;

	CHECK_STR(describe("", 0), "bad: not a spool file: it does not start with \"callhook-spool 1\"",
	    "an empty file");
	CHECK_STR(describe("\x8f\x01garbage\n{}\n", 12),
	    "bad: not a spool file: it does not start with \"callhook-spool 1\"",
	    "random bytes, no magic line");
	CHECK_STR(describe("callhook-spool 2\n{}\n", 20),
	    "bad: not a spool file: it does not start with \"callhook-spool 1\"", "another format version");
	CHECK_STR(describe(SPOOL_MAGIC "{\"source\":\"ct\",\"met", strlen(SPOOL_MAGIC) + 20),
	    "bad: metadata: the file ends inside the metadata line", "a file cut inside its metadata line");
	if ((s = malloc(SPOOL_HEAD_MAX + 16)) == NULL)
		abort();
	memcpy(s, SPOOL_MAGIC, strlen(SPOOL_MAGIC));
	memset(s + strlen(SPOOL_MAGIC), ' ', SPOOL_META_MAX + 1);
	len = strlen(SPOOL_MAGIC) + SPOOL_META_MAX + 1;
	memcpy(s + len, "\n", 1);
	CHECK_STR(describe(s, len + 1), "bad: metadata: line longer than 1048576 bytes",
	    "a metadata line one byte over the bound");
	free(s);
}

static void
test_bad_json(void)
{
	CHECK_STR(meta("", "{source: 1}"),
	    "bad: metadata: invalid JSON: quoted object property name expected", "metadata that is not JSON");
	CHECK_STR(meta("", "[1, 2]"), "bad: metadata: not a JSON object", "metadata that is an array");
	CHECK_STR(meta("", "{" GOOD ",\"body_len\":0} 5"),
	    "bad: metadata: invalid JSON: unexpected character", "data after the metadata object");
	CHECK_STR(meta("", "{" GOOD ",\"body_len\":0,\"event\":\"a\xff\"}"),
	    "bad: metadata: invalid JSON: invalid utf-8 string", "a string that is not UTF-8");
}

static void
test_fields(void)
{
	static const char *const fields[][2] = { { "source", "\"ct\"" }, { "method", "\"POST\"" },
		{ "query", "\"\"" }, { "headers", "\"{}\"" }, { "received_usec", "1699999999000000" },
		{ "body_len", "0" } };
	const size_t n = sizeof(fields) / sizeof(fields[0]);
	char m[512], want[128];
	size_t i, k, used;

	for (i = 0; i < n; i++) {
		/* every required field but fields[i] */
		used = (size_t)snprintf(m, sizeof(m), "{");
		for (k = 0; k < n; k++)
			if (k != i)
				used += (size_t)snprintf(m + used, sizeof(m) - used, "%s\"%s\":%s",
				    used > 1 ? "," : "", fields[k][0], fields[k][1]);
		snprintf(m + used, sizeof(m) - used, "}");
		snprintf(want, sizeof(want), "bad: metadata: field \"%s\" missing", fields[i][0]);
		CHECK_STR(meta("", "%s", m), want, "metadata without %s", fields[i][0]);
	}
	CHECK_STR(meta("", "{" GOOD ",\"body_len\":0,\"vendor\":\"callrail\"}"),
	    "bad: metadata: unknown field \"vendor\"", "an unknown field");
	CHECK_STR(meta("", "{" GOOD ",\"body_len\":\"0\"}"),
	    "bad: metadata: field \"body_len\": expected an integer", "body_len as a string");
	CHECK_STR(meta("", "{" GOOD ",\"body_len\":0.0}"),
	    "bad: metadata: field \"body_len\": expected an integer", "body_len as a fraction");
	CHECK_STR(
	    meta("",
		"{\"source\":5,\"method\":\"POST\",\"query\":\"\",\"headers\":\"{}\",\"received_usec\":1699999999000000,\"body_len\":0}"),
	    "bad: metadata: field \"source\": expected a string", "source as a number");
	CHECK_STR(meta("", "{" GOOD ",\"body_len\":0,\"event\":null}"),
	    "bad: metadata: field \"event\": expected a string", "event null");
	CHECK_STR(meta("", "{" GOOD ",\"body_len\":0,\"content_type\":\"a\\u0000b\"}"),
	    "bad: metadata: field \"content_type\": contains a NUL byte", "a NUL byte in a string");
}

/* Files whose metadata parses but holds a value out of bounds: body, metadata, the reason, the case. */
static const char *const bad_values[][4] = {
	{ "", "{\"source\":\"\",\"method\":\"POST\",\"query\":\"\",\"headers\":\"{}\",\"received_usec\":1699999999000000,\"body_len\":0}",
	    "field \"source\": empty", "an empty source" },
	{ "", "{\"source\":\"ct\",\"method\":\"DELETE\",\"query\":\"\",\"headers\":\"{}\",\"received_usec\":1699999999000000,\"body_len\":0}",
	    "field \"method\": not GET, POST, PUT or PATCH", "a method callhook never takes" },
	{ "", "{\"source\":\"ct\",\"method\":\"POST\",\"query\":\"\",\"headers\":\"[]\",\"received_usec\":1699999999000000,\"body_len\":0}",
	    "field \"headers\": not a JSON object", "headers that are not a JSON object" },
	{ "", "{\"source\":\"ct\",\"method\":\"POST\",\"query\":\"\",\"headers\":\"{\\\"a\\\":\",\"received_usec\":1699999999000000,\"body_len\":0}",
	    "field \"headers\": invalid JSON: unexpected end", "headers cut short" },
	{ "", "{" BASE ",\"body_len\":0,\"received_usec\":0}",
	    "field \"received_usec\": 0 is before 2000 or more than a day ahead of the clock",
	    "received_usec 0" },
	{ "", "{" BASE ",\"body_len\":0,\"received_usec\":-5}",
	    "field \"received_usec\": -5 is before 2000 or more than a day ahead of the clock",
	    "received_usec negative" },
	{ "", "{" BASE ",\"body_len\":0,\"received_usec\":1700172800000000}",
	    "field \"received_usec\": 1700172800000000 is before 2000 or more than a day ahead of the clock",
	    "received_usec two days ahead of NOW" },
	{ "{}", "{" GOOD ",\"body_len\":-1}", "field \"body_len\": negative (-1)", "body_len negative" },
	{ "{}", "{" GOOD ",\"body_len\":3}", "field \"body_len\": 3 but 2 bytes follow the metadata",
	    "body_len larger than the file" },
	{ "{}", "{" GOOD ",\"body_len\":1}", "field \"body_len\": 1 but 2 bytes follow the metadata",
	    "body_len smaller than the file" },
	{ "{}", "{" GOOD ",\"body_len\":1073741825}",
	    "field \"body_len\": 1073741825 is over the largest body (1073741824)", "body_len over 1 GiB" },
	{ "{}", "{" GOOD ",\"body_len\":99999999999999999999}",
	    "field \"body_len\": 9223372036854775807 is over the largest body (1073741824)",
	    "body_len beyond 64 bits" },
};

static void
test_values(void)
{
	char want[256];
	size_t i;

	for (i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		snprintf(want, sizeof(want), "bad: metadata: %s", bad_values[i][2]);
		CHECK_STR(meta(bad_values[i][0], "%s", bad_values[i][1]), want, "%s", bad_values[i][3]);
	}
}

/* What spool_write() writes passes the checks and reads back as written. */
static void
test_round_trip(void)
{
	char dir[] = "/tmp/callhook-unit-spool.XXXXXX", path[512] = "", why[256] = "", *buf;
	struct raw_delivery in = { .source = "ct",
		.event = "post_call",
		.method = "POST",
		.content_type = "application/json",
		.query = "a=1&b=\"2\"",
		.headers = "{\"user-agent\":\"x\\n\"}",
		.body = "{\"id\":\"\\u00e9\"}\n\x01",
		.body_len = 18,
		.received_usec = NOW };
	struct raw_delivery out = { 0 };
	struct dirent *e;
	size_t len, off = 0;
	FILE *fp;
	DIR *d;

	if (mkdtemp(dir) == NULL || spool_write(dir, &in) != CH_OK || (d = opendir(dir)) == NULL)
		abort();
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
	closedir(d);
	if ((buf = malloc(4096)) == NULL || (fp = fopen(path, "r")) == NULL)
		abort();
	len = fread(buf, 1, 4096, fp);
	fclose(fp);
	CHECK(spool_parse_head(buf, len, len, NOW, &out, &off, why, sizeof(why)) == CH_OK,
	    "a file spool_write() wrote passes the checks (%s)", why);
	CHECK(out.source && !strcmp(out.source, "ct") && out.event && !strcmp(out.event, "post_call") &&
		out.query && !strcmp(out.query, in.query) && out.headers &&
		!strcmp(out.headers, in.headers) && out.received_usec == NOW && out.body_len == 18 &&
		off + 18 == len && !memcmp(buf + off, in.body, 18),
	    "it reads back as written");
	raw_delivery_clear(&out);
	free(buf);
	unlink(path);
	rmdir(dir);
}

void
test_spool(void)
{
	test_good();
	test_not_a_spool_file();
	test_bad_json();
	test_fields();
	test_values();
	test_round_trip();
}
