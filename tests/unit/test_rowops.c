/* Unit tests for common/ingest/rowops.c: which rows go typed, and the arrays they make. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ingest/rowops.h"
#include "tap.h"

void test_rowops(void);

static bool
typed(const char *json)
{
	struct json_object *rows = json_tokener_parse(json);
	bool t = row_ops_typed(rows);

	json_object_put(rows);
	return t;
}

static uint32_t
get_int(const struct pg_array *a, size_t at)
{
	const unsigned char *p = (const unsigned char *)a->p + at;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The element count of a binary array (pgarray.h). */
static uint32_t
count(const struct pg_array *a)
{
	return get_int(a, 12);
}

/* Element k (0-based) of a binary array as text: "NULL", an int4 in decimal, else its bytes (jsonb without its version). */
static const char *
element(const struct pg_array *a, uint32_t oid, size_t k)
{
	static char out[256];
	size_t at = 20, len;

	for (;;) {
		len = get_int(a, at);
		if (k-- == 0)
			break;
		at += 4 + (len == UINT32_MAX ? 0 : len);
	}
	if (len == UINT32_MAX)
		return "NULL";
	if (oid == PG_OID_INT4)
		snprintf(out, sizeof(out), "%u", get_int(a, at + 4));
	else if (oid == PG_OID_BOOL)
		snprintf(out, sizeof(out), "%s", a->p[at + 4] ? "true" : "false");
	else if (oid == PG_OID_JSONB)
		snprintf(out, sizeof(out), "%.*s", (int)len - 1, a->p + at + 5);
	else
		snprintf(out, sizeof(out), "%.*s", (int)len, a->p + at + 4);
	return out;
}

/* The data of a one-operation delivery whose data is `json`, as written into OPS_DATA. */
static const char *
data_text(struct row_ops *o, const char *json)
{
	char rows[512];
	struct json_object *r;

	snprintf(rows, sizeof(rows), "[{\"table\":\"calls\",\"external_id\":\"C\",\"data\":%s}]", json);
	r = json_tokener_parse(rows);
	row_ops_begin(o);
	row_ops_add(o, 1, r);
	json_object_put(r);
	return row_ops_end(o) ? element(&o->a[OPS_DATA], PG_OID_JSONB, 0) : "(failed)";
}

/* Whether data `json` is written as JSON that reads back as the same value, and as `want` when not NULL. */
static void
check_data(const char *json, const char *want, const char *name)
{
	struct row_ops o;
	struct json_object *in, *back;
	const char *got = data_text(&o, json);
	char full[512];

	snprintf(full, sizeof(full), "{\"d\":%s}", json);
	in = json_tokener_parse(full);
	snprintf(full, sizeof(full), "{\"d\":%s}", got);
	back = json_tokener_parse(full);
	CHECK(in != NULL && back != NULL && json_object_equal(in, back), "%s", name);
	if (want != NULL)
		CHECK_STR(got, want, "%s", name);
	json_object_put(in);
	json_object_put(back);
	row_ops_free(&o);
}

/* The JSON text of cols and data: written by rowops.c itself, numbers but integers as json-c writes them. */
static void
check_json_text(void)
{
	check_data("{\"a\":[1,-2,[],{}],\"b\":{\"c\":null,\"d\":true,\"e\":false}}",
	    "{\"a\":[1,-2,[],{}],\"b\":{\"c\":null,\"d\":true,\"e\":false}}",
	    "rowops: objects, arrays, null and booleans");
	check_data("{\"q\":\"say \\\"hi\\\" \\\\ done\"}", "{\"q\":\"say \\\"hi\\\" \\\\ done\"}",
	    "rowops: a quote and a backslash are escaped");
	check_data("{\"c\":\"a\\nb\\tc\\u0001\"}", "{\"c\":\"a\\u000ab\\u0009c\\u0001\"}",
	    "rowops: control characters are escaped");
	check_data("{\"u\":\"caf\\u00e9 \u263a /\"}", "{\"u\":\"caf\u00e9 \u263a /\"}",
	    "rowops: other characters, and the slash, go as they are (UTF-8)");
	check_data("{\"k \\\"x\\\"\":1}", "{\"k \\\"x\\\"\":1}", "rowops: keys are escaped too");
	check_data("[0,7,-1,9223372036854775807,-9223372036854775808]",
	    "[0,7,-1,9223372036854775807,-9223372036854775808]", "rowops: integers, the largest and smallest");
	check_data("[18446744073709551615]", "[18446744073709551615]",
	    "rowops: an unsigned integer past the largest signed one, as json-c writes it");
	check_data("[1.5,-0.25,1e300,2.50]", "[1.5,-0.25,1e300,2.50]", "rowops: other numbers keep their text");
	check_data("\"just a string\"", "\"just a string\"", "rowops: data that is not an object");

	/* each character JSON escapes, at every place in a string of 20 (the scan goes eight bytes at a time) */
	{
		static const char special[] = { '"', '\\', '\n', '\1', '\x1f' };
		char str[21], want[40], json[48];
		size_t c, at, i, k;
		struct json_object *v;
		struct pg_array text;
		int bad = 0;

		for (c = 0; c < sizeof(special); c++)
			for (at = 0; at < 20; at++) {
				memset(str, 'x', 20);
				str[20] = '\0';
				str[at] = special[c];
				for (i = k = 0; i < 20; i++)
					if (str[i] == '"' || str[i] == '\\')
						k += (size_t)snprintf(want + k, sizeof(want) - k, "\\%c",
						    str[i]);
					else if ((unsigned char)str[i] < 0x20)
						k += (size_t)snprintf(want + k, sizeof(want) - k, "\\u%04x",
						    (unsigned char)str[i]);
					else
						want[k++] = str[i];
				want[k] = '\0';
				snprintf(json, sizeof(json), "\"%s\"", want);
				memset(&text, 0, sizeof(text));
				v = json_object_new_string(str);
				row_ops_json_text(&text, v);
				if (text.failed || strcmp(text.p, json) != 0) {
					bad++;
					printf("#   character %u at %zu: %s\n", (unsigned)special[c], at,
					    text.failed ? "(failed)" : text.p);
				}
				pg_array_free(&text);
				json_object_put(v);
			}
		CHECK(bad == 0,
		    "rowops: each escaped character, at each of 20 places in a string, escaped once");
	}

	{
		struct pg_array text = { 0 };
		struct json_object *rows =
		    json_tokener_parse("[{\"table\":\"calls\",\"cols\":{\"a\":\"x\\\"y\"}}, null]");

		row_ops_json_text(&text, rows);
		CHECK_STR(text.failed ? "(failed)" : text.p,
		    "[{\"table\":\"calls\",\"cols\":{\"a\":\"x\\\"y\"}},null]",
		    "rowops: rows as JSON text, for callhook.ingest()");
		pg_array_free(&text);
		json_object_put(rows);
	}
}

void
test_rowops(void)
{
	struct row_ops o;
	struct json_object *d1 = json_tokener_parse(
	    "[{\"table\":\"calls\",\"external_id\":\"C1\",\"event_time\":\"2026-01-01T10:00:00Z\",\"is_test\":false,"
	    "\"cols\":{\"status\":\"ringing\",\"caller_number\":\"+15555550100\"},\"data\":{\"a\":1}},"
	    "{\"table\":\"call_events\",\"op\":\"insert\",\"cols\":{\"event\":\"ended\"}}]");
	struct json_object *d2 = json_tokener_parse(
	    "[{\"table\":\"transcript_segments\",\"op\":\"replace_segments\",\"call_external_id\":\"C1\","
	    "\"segments\":[{\"seq\":1,\"speaker\":\"agent\",\"data\":{\"x\":1}},{\"seq\":2,\"text\":\"hi \\\"there\\\"\"}]}]");

	CHECK(typed("[]"), "rowops: no operations go typed");
	CHECK(row_ops_typed(d1),
	    "rowops: an upsert with columns and data, and a call event without an id, go typed");
	CHECK(row_ops_typed(d2), "rowops: a final transcript goes typed");
	CHECK(!typed("[{\"table\":\"transcript_segments\",\"external_id\":\"x\",\"cols\":{\"seq\":1}}]"),
	    "rowops: a live transcript turn goes in JSON");
	CHECK(!typed("[{\"table\":\"calls\",\"external_id\":\"C\",\"cols\":{\"note\":\"\"}}]"),
	    "rowops: an empty string goes in JSON");
	CHECK(!typed("[{\"table\":\"calls\",\"external_id\":\"C\",\"cols\":{\"note\":null}}]"),
	    "rowops: a null column goes in JSON");
	CHECK(!typed("[{\"table\":\"calls\",\"external_id\":\"C\",\"cols\":{\"tags\":[]}}]"),
	    "rowops: an empty array goes in JSON");
	CHECK(!typed("[{\"table\":\"calls\",\"external_id\":\"C\",\"cols\":{\"x\":{}}}]"),
	    "rowops: an empty object goes in JSON");
	CHECK(typed("[{\"table\":\"calls\",\"external_id\":\"C\",\"cols\":{\"duration_s\":0,\"x\":false}}]"),
	    "rowops: 0 and false are values, not empty");
	CHECK(!typed("[{\"table\":\"calls\",\"external_id\":\"C\",\"cols\":[1]}]"),
	    "rowops: cols that are not an object go in JSON");
	CHECK(!typed("[{\"table\":\"calls\",\"external_id\":7}]"),
	    "rowops: a numeric external_id goes in JSON");
	CHECK(!typed("[{\"table\":\"calls\",\"external_id\":\"C\",\"event_time\":12}]"),
	    "rowops: a numeric event_time goes in JSON");
	CHECK(!typed("[{\"table\":\"calls\",\"external_id\":\"C\",\"is_test\":\"no\"}]"),
	    "rowops: an is_test that is not a boolean goes in JSON");
	CHECK(!typed("[\"calls\"]"), "rowops: an operation that is not an object goes in JSON");
	CHECK(!typed("{}"), "rowops: rows that are not an array go in JSON");
	CHECK(!typed("[{\"table\":\"transcript_segments\",\"op\":\"replace_segments\",\"call_external_id\":\"C\","
		     "\"segments\":[{\"seq\":\"1\"}]}]"),
	    "rowops: a segment whose seq is not an integer goes in JSON");
	CHECK(!typed("[{\"table\":\"transcript_segments\",\"op\":\"replace_segments\",\"call_external_id\":\"C\","
		     "\"segments\":[]}]"),
	    "rowops: a final transcript without segments goes in JSON");
	CHECK(!typed("[{\"table\":\"transcript_segments\",\"op\":\"replace_segments\",\"call_external_id\":\"C\","
		     "\"segments\":[{\"seq\":1,\"text\":\"\"}]}]"),
	    "rowops: an empty segment field goes in JSON");

	row_ops_begin(&o);
	row_ops_add(&o, 1, d1);
	row_ops_add(&o, 3, d2);
	CHECK(row_ops_end(&o), "rowops: the arrays are complete");
	CHECK(count(&o.a[OPS_DELIVERY]) == 4 && count(&o.a[OPS_COLUMNS]) == 4,
	    "rowops: four elements: two operations, two segments");
	CHECK_STR(element(&o.a[OPS_DELIVERY], PG_OID_INT4, 3), "3", "rowops: a segment names its delivery");
	CHECK_STR(element(&o.a[OPS_PLACE], PG_OID_INT4, 1), "2", "rowops: the second operation's place");
	CHECK_STR(element(&o.a[OPS_SEGMENT], PG_OID_INT4, 0), "0", "rowops: an operation that is no segment");
	CHECK_STR(element(&o.a[OPS_SEGMENT], PG_OID_INT4, 3), "2", "rowops: the second segment's place");
	CHECK_STR(element(&o.a[OPS_KIND], PG_OID_TEXT, 0), "upsert", "rowops: no op is an upsert");
	CHECK_STR(element(&o.a[OPS_KIND], PG_OID_TEXT, 1), "insert", "rowops: the op given");
	CHECK_STR(element(&o.a[OPS_EXTERNAL_ID], PG_OID_TEXT, 1), "NULL", "rowops: no external_id is NULL");
	CHECK_STR(element(&o.a[OPS_EXTERNAL_ID], PG_OID_TEXT, 2), "C1", "rowops: a segment's is its call's");
	CHECK_STR(element(&o.a[OPS_EVENT_TIME], PG_OID_TEXT, 0), "2026-01-01T10:00:00Z",
	    "rowops: the event time");
	CHECK_STR(element(&o.a[OPS_IS_TEST], PG_OID_BOOL, 0), "false", "rowops: is_test given");
	CHECK_STR(element(&o.a[OPS_IS_TEST], PG_OID_BOOL, 1), "NULL", "rowops: is_test not given");
	CHECK_STR(element(&o.a[OPS_COLS], PG_OID_JSONB, 0),
	    "{\"status\":\"ringing\",\"caller_number\":\"+15555550100\"}", "rowops: the columns");
	CHECK_STR(element(&o.a[OPS_DATA], PG_OID_JSONB, 0), "{\"a\":1}", "rowops: the data");
	CHECK_STR(element(&o.a[OPS_DATA], PG_OID_JSONB, 1), "NULL", "rowops: no data");
	CHECK_STR(element(&o.a[OPS_COLS], PG_OID_JSONB, 2),
	    "{\"seq\":1,\"speaker\":\"agent\",\"data\":{\"x\":1}}",
	    "rowops: a segment is its columns, data included");
	CHECK_STR(element(&o.a[OPS_COLUMNS], PG_OID_JSONB, 0), "{\"status\":true,\"caller_number\":true}",
	    "rowops: the names of the columns");
	CHECK_STR(element(&o.a[OPS_COLUMNS], PG_OID_JSONB, 2), "{\"seq\":true,\"speaker\":true}",
	    "rowops: a segment's data is no column");
	CHECK_STR(element(&o.a[OPS_COLUMNS], PG_OID_JSONB, 3), "{\"seq\":true,\"text\":true}",
	    "rowops: the second segment's columns");
	row_ops_free(&o);

	row_ops_begin(&o);
	CHECK(row_ops_end(&o) && count(&o.a[OPS_TABLE]) == 0,
	    "rowops: a batch without typed operations has none");
	row_ops_free(&o);
	json_object_put(d1);
	json_object_put(d2);

	check_json_text();
}
