/* Unit tests for common/core/json_strict.c: repeated member names and unpaired surrogate escapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_strict.h"
#include "tap.h"
#include "vendors/vendor.h"

void test_json_strict(void);

static const char *const form_data_ok[] = { "form_data", NULL };

/* json_strict_check() on s[0..len) as "OK", "NOMEM" or the error. Static buffer. */
static const char *
check_n(const char *s, size_t len, const char *const *repeat_ok)
{
	static char error[256];
	enum ch_err err;

	error[0] = '\0';
	err = json_strict_check(s, len, repeat_ok, error, sizeof(error));
	if (err == CH_OK)
		return error[0] == '\0' ? "OK" : "OK with an error set";
	return err == CH_ERR_BAD_BODY ? error : "NOMEM";
}

static const char *
check(const char *s)
{
	return check_n(s, strlen(s), NULL);
}

static const char *
check_form(const char *s)
{
	return check_n(s, strlen(s), form_data_ok);
}

static void
test_duplicates(void)
{
	CHECK_STR(check("{\"a\":1,\"b\":2}"), "OK", "dup: distinct names");
	CHECK_STR(check("{\"a\":1,\"a\":2}"), "field \"a\": duplicate member name", "dup: top level");
	CHECK_STR(check("{ \"a\" : 1 ,\n\t\"a\" : 1 }"), "field \"a\": duplicate member name",
	    "dup: equal values, whitespace around");
	CHECK_STR(check("{\"event_type\":\"call_ended\",\"is_test\":true,\"payload\":{},\"is_test\":false}"),
	    "field \"is_test\": duplicate member name",
	    "dup: is_test twice (a test event passed as production)");
	CHECK_STR(check("{\"payload\":{\"call_id\":\"1\",\"x\":{},\"call_id\":\"2\"}}"),
	    "field \"payload.call_id\": duplicate member name", "dup: nested");
	CHECK_STR(check("{\"items\":[{\"id\":1},{\"id\":2,\"id\":3}]}"),
	    "field \"items[1].id\": duplicate member name", "dup: in the second object of an array");
	CHECK_STR(check("{\"a\":{\"b\":[0,1,{\"c\":[{\"d\":1,\"e\":[],\"d\":2}]}]}}"),
	    "field \"a.b[2].c[0].d\": duplicate member name", "dup: path through arrays and objects");
	CHECK_STR(check("[{\"x\":1},[{\"y\":1,\"y\":2}]]"), "field \"[1][0].y\": duplicate member name",
	    "dup: top-level array");
	CHECK_STR(check("{\"a\":{\"x\":1},\"b\":{\"x\":2}}"), "OK", "dup: same name in sibling objects");
	CHECK_STR(check("[{\"id\":1},{\"id\":2},{\"id\":3}]"), "OK", "dup: same name in array items");
	CHECK_STR(check("{\"x\":{\"x\":{\"x\":1}}}"), "OK", "dup: same name at three depths");
	CHECK_STR(check("{\"a\":{\"b\":1},\"b\":2}"), "OK", "dup: a nested name is not the parent's");
	CHECK_STR(check("{\"a\":{\"b\":1},\"a\":2}"), "field \"a\": duplicate member name",
	    "dup: after a nested object closes");
	CHECK_STR(check("{\"a\":\"a\",\"b\":\"a\",\"c\":[\"a\",\"a\"]}"), "OK",
	    "dup: equal values are not names");
	CHECK_STR(check("{\"a\":\"{,\\\"a\\\":1}\",\"b\":\"}\"}"), "OK",
	    "dup: braces and quotes inside a value");
	CHECK_STR(check("{\"\":1,\"\":2}"), "body: duplicate member name",
	    "dup: the empty name twice at top level");
}

static void
test_escaped_names(void)
{
	CHECK_STR(check("{\"a\":1,\"\\u0061\":2}"), "field \"a\": duplicate member name",
	    "escaped: a and \\u0061");
	CHECK_STR(check("{\"\\u0061\":1,\"a\":2}"), "field \"a\": duplicate member name",
	    "escaped: \\u0061 then a");
	CHECK_STR(check("{\"\\u00e9t\\u00E9\":1,\"\xc3\xa9t\xc3\xa9\":2}"),
	    "field \"\xc3\xa9t\xc3\xa9\": duplicate member name", "escaped: \\u00e9 either case and raw UTF-8");
	CHECK_STR(check("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}"),
	    "field \"\xf0\x9f\x98\x80\": duplicate member name", "escaped: a surrogate pair and the raw emoji");
	CHECK_STR(check("{\"a\\/b\":1,\"a/b\":2}"), "field \"a/b\": duplicate member name",
	    "escaped: \\/ and /");
	CHECK_STR(check("{\"a\\\"b\":1,\"a\\u0022b\":2}"), "field \"a\"b\": duplicate member name",
	    "escaped: \\\" and \\u0022");
	CHECK_STR(check("{\"t\\tn\\n\":1,\"t\\u0009n\\u000a\":2}"), "field \"t\tn\n\": duplicate member name",
	    "escaped: \\t\\n and \\u0009\\u000a");
	CHECK_STR(check("{\"a\":1,\"A\":2}"), "OK", "case: a and A are two names");
	CHECK_STR(check("{\"is_test\":true,\"IS_TEST\":false,\"Is_Test\":false}"), "OK",
	    "case: is_test, IS_TEST, Is_Test are three names");
	CHECK_STR(check("{\"\\u0041\":1,\"a\":2}"), "OK", "case: \\u0041 (A) and a");
	CHECK_STR(check("{\"e\xcc\x81\":1,\"\xc3\xa9\":2}"), "OK",
	    "no normalization: e + combining acute and \xc3\xa9");
	CHECK_STR(check("{\"ab\":1,\"a\\u0062c\":2,\"abc\":3}"), "field \"abc\": duplicate member name",
	    "escaped: the name after the escape counts whole");
}

static void
test_surrogates(void)
{
	static const char want_a[] = "field \"a\": contains an unpaired UTF-16 surrogate escape";

	CHECK_STR(check("{\"a\":\"\\ud800\"}"), want_a, "surrogate: \\ud800 alone");
	CHECK_STR(check("{\"a\":\"\\udc00\"}"), want_a, "surrogate: \\udc00 alone");
	CHECK_STR(check("{\"a\":\"\\uDBFF\"}"), want_a, "surrogate: \\uDBFF alone, upper case");
	CHECK_STR(check("{\"a\":\"\\uDFFF\"}"), want_a, "surrogate: \\uDFFF alone");
	CHECK_STR(check("{\"a\":\"\\udc00\\ud800\"}"), want_a, "surrogate: reversed pair");
	CHECK_STR(check("{\"a\":\"\\ud800\\ud800\"}"), want_a, "surrogate: two high halves");
	CHECK_STR(check("{\"a\":\"\\ud800\\u0041\"}"), want_a, "surrogate: high then a non-surrogate escape");
	CHECK_STR(check("{\"a\":\"\\ud800\\n\"}"), want_a, "surrogate: high then \\n");
	CHECK_STR(check("{\"a\":\"\\ud800x\"}"), want_a, "surrogate: high then plain text");
	CHECK_STR(check("{\"a\":\"\\ud800\\udc00\\udc00\"}"), want_a, "surrogate: a pair, then a low half");
	CHECK_STR(check("{\"a\":\"ok \\ud83d\"}"), want_a, "surrogate: high at the end of the string");
	CHECK_STR(check("{\"a\":\"x\",\"b\":{\"c\":[\"ok\",\"\\udfff\"]}}"),
	    "field \"b.c[1]\": contains an unpaired UTF-16 surrogate escape",
	    "surrogate: path to an array item");
	CHECK_STR(check("\"\\ud800\""), "body: contains an unpaired UTF-16 surrogate escape",
	    "surrogate: a top-level string");
	CHECK_STR(check("{\"\\ud800\":1}"),
	    "field \"\\ud800\": member name contains an unpaired UTF-16 surrogate escape",
	    "surrogate: in a name, shown as written");
	CHECK_STR(check("{\"p\":{\"k\\udc00\\ud800\":1}}"),
	    "field \"p.k\\udc00\\ud800\": member name contains an unpaired UTF-16 surrogate escape",
	    "surrogate: reversed in a nested name");
	CHECK_STR(check("{\"a\":\"\\ud83d\\ude00\"}"), "OK", "pair: \\ud83d\\ude00 (an emoji)");
	CHECK_STR(check("{\"a\":\"\\uD83D\\uDE00\\ud800\\udc00\\udbff\\udfff\"}"), "OK",
	    "pair: upper case, lowest and highest pairs");
	CHECK_STR(check("{\"a\":\"\\ud7ff\\ue000\\uffff\"}"), "OK",
	    "around the surrogates: \\ud7ff \\ue000 \\uffff");
	CHECK_STR(check("{\"a\":\"\\\\ud800\"}"), "OK", "an escaped backslash before ud800 is text");
	CHECK_STR(check("{\"a\":\"\\\\\\ud800\"}"), want_a, "an escaped backslash, then \\ud800");
}

static void
test_nul(void)
{
	CHECK_STR(check("{\"data\":{\"caller_name\":\"Jane\\u0000Doe\"}}"),
	    "field \"data.caller_name\": contains a NUL byte", "NUL: in a value");
	CHECK_STR(check("{\"caller_name\\u0000x\":\"Mallory\",\"caller_name\":\"Jane\"}"),
	    "field \"caller_name\\u0000x\": member name contains a NUL byte",
	    "NUL: in a name, shown as written");
	CHECK_STR(check("{\"a\":\"\\\\u0000\"}"), "OK", "NUL: an escaped backslash before u0000 is text");
}

static void
test_repeat_ok(void)
{
	CHECK_STR(check_form("{\"form_data\":{\"phone_number\":\"1\",\"phone_number\":\"2\"}}"), "OK",
	    "form_data: repeated names allowed where declared");
	CHECK_STR(check("{\"form_data\":{\"phone_number\":\"1\",\"phone_number\":\"2\"}}"),
	    "field \"form_data.phone_number\": duplicate member name",
	    "form_data: not allowed without the declaration");
	CHECK_STR(check_form("{\"form_data\":{\"x\":{\"a\":1,\"a\":2}}}"),
	    "field \"form_data.x.a\": duplicate member name", "form_data: objects inside it are checked");
	CHECK_STR(check_form("{\"form_data\":{},\"form_data\":{}}"),
	    "field \"form_data\": duplicate member name", "form_data: form_data itself twice");
	CHECK_STR(check_form("{\"other\":{\"a\":1,\"a\":2}}"), "field \"other.a\": duplicate member name",
	    "form_data: other objects are checked");
	CHECK_STR(check_form("{\"data\":{\"form_data\":{\"a\":1,\"a\":2}}}"),
	    "field \"data.form_data.a\": duplicate member name",
	    "form_data: only the declared path, not a nested one");
	CHECK_STR(check_form("[{\"form_data\":{\"a\":1,\"a\":2}}]"),
	    "field \"[0].form_data.a\": duplicate member name", "form_data: not inside a top-level array");
	CHECK_STR(check_form("{\"form_\\u0064ata\":{\"a\":1,\"a\":2}}"), "OK",
	    "form_data: the path is compared unescaped");
	CHECK_STR(check_form("{\"form_data\":{\"a\":\"\\ud800\"}}"),
	    "field \"form_data.a\": contains an unpaired UTF-16 surrogate escape",
	    "form_data: surrogates are still checked");
	CHECK(vendor_callrail.repeat_ok != NULL && vendor_callrail.repeat_ok[0] != NULL &&
		!strcmp(vendor_callrail.repeat_ok[0], "form_data") && vendor_callrail.repeat_ok[1] == NULL,
	    "CallRail declares form_data, and only form_data");
	CHECK(vendor_calltracker.repeat_ok == NULL && vendor_salpre.repeat_ok == NULL &&
		vendor_callscaler.repeat_ok == NULL && vendor_fonedynamics.repeat_ok == NULL,
	    "the other vendors declare nothing");
}

/*
 * "{"k0":0,…,"k<n-1>":0}" (n members), or with `dup_at` >= 0 a last member named k<dup_at>.
 * A new string; free().
 */
static char *
wide_object(size_t n, long dup_at)
{
	char *s = malloc(n * 16 + 32), *p = s;
	size_t i;

	*p++ = '{';
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s\"k%zu\":0", i ? "," : "", i);
	if (dup_at >= 0)
		p += sprintf(p, ",\"k%ld\":1", dup_at);
	strcpy(p, "}");
	return s;
}

/* "[{"a":0,"b":0,"c":0},…]" with n objects, the last one repeating "b" when `dup`. New string. */
static char *
many_objects(size_t n, int dup)
{
	char *s = malloc(n * 24 + 32), *p = s;
	size_t i;

	*p++ = '[';
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s{\"a\":0,\"b\":0,\"c\":0%s}", i ? "," : "",
		    dup && i == n - 1 ? ",\"b\":1" : "");
	strcpy(p, "]");
	return s;
}

static void
test_sizes(void)
{
	char *s;

	s = wide_object(100000, -1);
	CHECK_STR(check(s), "OK", "size: 100,000 distinct members");
	free(s);
	s = wide_object(100000, 3);
	CHECK_STR(check(s), "field \"k3\": duplicate member name", "size: member 100,001 repeats k3");
	free(s);
	s = many_objects(20000, 0);
	CHECK_STR(check(s), "OK", "size: 20,000 objects with the same three names");
	free(s);
	s = many_objects(20000, 1);
	CHECK_STR(check(s), "field \"[19999].b\": duplicate member name",
	    "size: the last of 20,000 objects repeats b");
	free(s);
}

static void
test_not_json(void)
{
	CHECK_STR(check_n(NULL, 0, NULL), "OK", "not JSON: nothing");
	CHECK_STR(check("{\"a\":\"unterminated"), "body: invalid JSON", "not JSON: a string runs off the end");
	CHECK_STR(check("{\"a\":\"\\u12\"}"), "body: invalid JSON", "not JSON: a short \\u escape");
	CHECK_STR(check("{\"a\":\"\\x\"}"), "body: invalid JSON", "not JSON: \\x");
	CHECK_STR(check("}"), "body: invalid JSON", "not JSON: a closing brace first");
	CHECK_STR(check("{[\"\\ud800\"]}"), "field \"[0]\": contains an unpaired UTF-16 surrogate escape",
	    "not JSON: an array in an object before any name (fuzz regression)");
	CHECK_STR(check_n("{\"a\":\"\\ud800\\udc00\"}", 12, NULL), "body: invalid JSON",
	    "not JSON: a pair cut by len is not read past len");
}

/* A field path too long for the 256-byte error is cut, never the reason after it. */
static void
test_long_path(void)
{
	char body[400], want[256];

	/* {"<300 x's>":"\u0000"}: the name alone fills the buffer. */
	snprintf(body, sizeof(body), "{\"%0300d\":\"\\u0000\"}", 0);
	memset(body + 2, 'x', 300);
	snprintf(want, sizeof(want), "field \"%.*s...\": contains a NUL byte",
	    (int)(256 - strlen("field \"\": contains a NUL byte") - 1 - 3), body + 2);
	CHECK_STR(check(body), want, "long path: cut with ..., the reason whole");
	CHECK(strlen(check(body)) == 255, "long path: the error fills the buffer and no more");
	snprintf(body, sizeof(body), "{\"%0200d\":{\"a\":1,\"a\":2}}", 0);
	memset(body + 2, 'y', 200);
	snprintf(want, sizeof(want), "field \"%.200s.a\": duplicate member name", body + 2);
	CHECK_STR(check(body), want, "long path: a path that fits is not cut");
}

void
test_json_strict(void)
{
	test_duplicates();
	test_escaped_names();
	test_surrogates();
	test_nul();
	test_repeat_ok();
	test_sizes();
	test_not_json();
	test_long_path();
}
