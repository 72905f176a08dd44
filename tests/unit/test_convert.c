/* Unit tests for common/core/convert.c: every converter's accept, absent and reject paths. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/convert.h"
#include "tap.h"

void test_convert(void);

static char untouched_mark;
#define UNTOUCHED ((struct json_object *)&untouched_mark)

/*
 * Parses `json` (NULL means a C NULL), runs converter f on it and renders
 * the outcome: "ABSENT", "BAD: <why>" or the output as compact JSON, so a
 * check sees the output's type as well as its value. The result lives in a
 * static buffer until the next call.
 */
static const char *
run(conv_fn f, const char *json)
{
	static char buf[512];
	struct json_object *in = NULL, *out = UNTOUCHED;
	const char *why = NULL;
	enum conv_res r;

	if (json != NULL && (in = json_tokener_parse(json)) == NULL && strcmp(json, "null") != 0)
		return "UNPARSEABLE TEST INPUT";
	r = f(in, &out, &why);
	if (r == CONV_OK) {
		snprintf(buf, sizeof(buf), "%s",
		    json_object_to_json_string_ext(out,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(out);
	} else if (out != UNTOUCHED)
		snprintf(buf, sizeof(buf), "OUT TOUCHED ON %d", (int)r);
	else if (r == CONV_ABSENT)
		snprintf(buf, sizeof(buf), "ABSENT");
	else
		snprintf(buf, sizeof(buf), "BAD: %s", why != NULL ? why : "(no why)");
	json_object_put(in);
	return buf;
}

/* conv_is_absent() on parsed `json`. */
static bool
absent(const char *json)
{
	struct json_object *in = json_tokener_parse(json);
	bool r = conv_is_absent(in);

	json_object_put(in);
	return r;
}

static void
test_absent(void)
{
	CHECK(conv_is_absent(NULL), "absent: C NULL");
	CHECK(absent("null"), "absent: json null");
	CHECK(absent("\"\""), "absent: empty string");
	CHECK(absent("\" \\t\\r\\n \""), "absent: white space only");
	CHECK(!absent("\"\\u0000\""), "absent: a NUL byte is not white space");
	CHECK(!absent("\" x \""), "absent: padded text");
	CHECK(!absent("0"), "absent: 0");
	CHECK(!absent("false"), "absent: false");
	CHECK(!absent("[]"), "absent: empty array is a value");
	CHECK(!absent("{}"), "absent: empty object is a value");
}

/*
 * Every code point up to U+1FFFFF in its shortest form: valid exactly when it is at most
 * U+10FFFF and not a surrogate; and every overlong 2-, 3- and 4-byte form: invalid.
 */
static void
test_utf8_exhaustive(void)
{
	unsigned long wrong = 0, overlong_ok = 0, surrogates = 0;
	uint32_t cp;
	char b[4];
	size_t n;

	for (cp = 0; cp < 0x200000; cp++) {
		n = conv_utf8_put(cp, b);
		if (conv_utf8_valid(b, n) != (cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF)))
			wrong++;
		surrogates += cp >= 0xD800 && cp <= 0xDFFF && !conv_utf8_valid(b, n);
	}
	for (cp = 0; cp < 0x10000; cp++) {
		b[0] = (char)0xC0, b[1] = (char)0x80; /* cp < 0x80 in two bytes */
		b[0] |= (char)(cp >> 6 & 1), b[1] |= (char)(cp & 0x3F);
		overlong_ok += cp < 0x80 && conv_utf8_valid(b, 2);
		b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | (cp >> 6 & 0x3F)),
		b[2] = (char)(0x80 | (cp & 0x3F));
		overlong_ok += cp < 0x800 && conv_utf8_valid(b, 3);
		b[0] = (char)0xF0, b[1] = (char)(0x80 | cp >> 12), b[2] = (char)(0x80 | (cp >> 6 & 0x3F)),
		b[3] = (char)(0x80 | (cp & 0x3F));
		overlong_ok += conv_utf8_valid(b, 4); /* F0 80..8F: below U+10000 */
	}
	CHECK(wrong == 0, "utf8: all 2,097,152 shortest forms up to U+1FFFFF judged right (%lu wrong)", wrong);
	CHECK(surrogates == 2048, "utf8: all 2,048 surrogates ED A0 80..ED BF BF invalid (%lu)", surrogates);
	CHECK(overlong_ok == 0, "utf8: every overlong 2-, 3- and 4-byte form invalid (%lu accepted)",
	    overlong_ok);
}

static void
test_utf8(void)
{
	CHECK(conv_utf8_valid("", 0), "utf8: empty");
	CHECK(conv_utf8_valid(NULL, 0), "utf8: NULL, length 0");
	CHECK(conv_utf8_valid("plain ascii", 11), "utf8: ascii");
	CHECK(conv_utf8_valid("a\0b", 3), "utf8: NUL is valid UTF-8 (checked elsewhere)");
	CHECK(conv_utf8_valid("\xc3\xa9", 2), "utf8: U+00E9");
	CHECK(conv_utf8_valid("\xe2\x82\xac", 3), "utf8: U+20AC");
	CHECK(conv_utf8_valid("\xed\x9f\xbf", 3), "utf8: U+D7FF, last before surrogates");
	CHECK(conv_utf8_valid("\xee\x80\x80", 3), "utf8: U+E000, first after surrogates");
	CHECK(conv_utf8_valid("\xf0\x9f\x98\x80", 4), "utf8: U+1F600");
	CHECK(conv_utf8_valid("\xf4\x8f\xbf\xbf", 4), "utf8: U+10FFFF");
	CHECK(conv_utf8_valid("\xc4\xb0stanbul \xc4\xb1", 12), "utf8: Turkish dotted/dotless i");
	CHECK(!conv_utf8_valid("\xc0\xaf", 2), "utf8: overlong 2-byte");
	CHECK(!conv_utf8_valid("\xc1\xbf", 2), "utf8: overlong C1");
	CHECK(!conv_utf8_valid("\xe0\x80\xaf", 3), "utf8: overlong 3-byte");
	CHECK(!conv_utf8_valid("\xf0\x80\x80\xaf", 4), "utf8: overlong 4-byte");
	CHECK(!conv_utf8_valid("\xed\xa0\x80", 3), "utf8: surrogate U+D800");
	CHECK(!conv_utf8_valid("\xed\xbf\xbf", 3), "utf8: surrogate U+DFFF");
	CHECK(!conv_utf8_valid("\xf4\x90\x80\x80", 4), "utf8: U+110000");
	CHECK(!conv_utf8_valid("\xf5\x80\x80\x80", 4), "utf8: F5 lead byte");
	CHECK(!conv_utf8_valid("\xff", 1), "utf8: FF");
	CHECK(!conv_utf8_valid("\x80", 1), "utf8: lone continuation byte");
	CHECK(!conv_utf8_valid("\xc3", 1), "utf8: truncated 2-byte");
	CHECK(!conv_utf8_valid("\xe2\x82", 2), "utf8: truncated 3-byte");
	CHECK(!conv_utf8_valid("\xc3\xa9", 1), "utf8: length cuts a sequence");
	CHECK(!conv_utf8_valid("\xc3(", 2), "utf8: bad continuation");
	CHECK(!conv_utf8_valid("ok\xe2(\xa1", 5), "utf8: bad continuation in 3-byte");
	test_utf8_exhaustive();
}

static void
test_text(void)
{
	CHECK_STR(run(conv_text, "\"hello\""), "\"hello\"", "text: string");
	CHECK_STR(run(conv_text, "\"  padded  \""), "\"  padded  \"", "text: not trimmed");
	CHECK_STR(run(conv_text, "\"\xc4\xb0stanbul\""), "\"\xc4\xb0stanbul\"", "text: UTF-8 kept");
	CHECK_STR(run(conv_text, "\"\\ud83d\\ude00\""), "\"\xf0\x9f\x98\x80\"", "text: surrogate pair escape");
	CHECK_STR(run(conv_text, "42"), "\"42\"", "text: integer");
	CHECK_STR(run(conv_text, "-7"), "\"-7\"", "text: negative integer");
	CHECK_STR(run(conv_text, "15.0"), "\"15.0\"", "text: double as sent");
	CHECK_STR(run(conv_text, "1e3"), "\"1e3\"", "text: exponent as sent");
	CHECK_STR(run(conv_text, "true"), "\"true\"", "text: true");
	CHECK_STR(run(conv_text, "false"), "\"false\"", "text: false");
	CHECK_STR(run(conv_text, "9223372036854775807"), "\"9223372036854775807\"", "text: INT64_MAX");
	CHECK_STR(run(conv_text, "18446744073709551614"), "\"18446744073709551614\"", "text: big uint64");
	CHECK_STR(run(conv_text, "99999999999999999999999"), "BAD: integer out of range",
	    "text: beyond 64 bits");
	CHECK_STR(run(conv_text, "-99999999999999999999999"), "BAD: integer out of range",
	    "text: below 64 bits");
	CHECK_STR(run(conv_text, NULL), "ABSENT", "text: NULL");
	CHECK_STR(run(conv_text, "null"), "ABSENT", "text: null");
	CHECK_STR(run(conv_text, "\"\""), "ABSENT", "text: empty");
	CHECK_STR(run(conv_text, "\" \\t \""), "ABSENT", "text: blank");
	CHECK_STR(run(conv_text, "{\"a\":1}"), "BAD: expected a string", "text: object");
	CHECK_STR(run(conv_text, "[\"a\"]"), "BAD: expected a string", "text: array");
	CHECK_STR(run(conv_text, "\"a\\u0000b\""), "BAD: contains a NUL byte", "text: \\u0000 inside");
	CHECK_STR(run(conv_text, "\"\\u0000\""), "BAD: contains a NUL byte", "text: only \\u0000");
	CHECK_STR(run(conv_text, "\"\xff\""), "BAD: is not valid UTF-8", "text: FF byte");
	CHECK_STR(run(conv_text, "\"\xc0\xaf\""), "BAD: is not valid UTF-8", "text: overlong");
	CHECK_STR(run(conv_text, "\"\xed\xa0\x80\""), "BAD: is not valid UTF-8", "text: raw surrogate");
}

static void
test_bool(void)
{
	CHECK_STR(run(conv_bool, "true"), "true", "bool: true");
	CHECK_STR(run(conv_bool, "false"), "false", "bool: false");
	CHECK_STR(run(conv_bool, "\"true\""), "true", "bool: \"true\"");
	CHECK_STR(run(conv_bool, "\"false\""), "false", "bool: \"false\"");
	CHECK_STR(run(conv_bool, "\"TRUE\""), "true", "bool: \"TRUE\"");
	CHECK_STR(run(conv_bool, "\"False\""), "false", "bool: \"False\"");
	CHECK_STR(run(conv_bool, "\"t\""), "true", "bool: \"t\"");
	CHECK_STR(run(conv_bool, "\"F\""), "false", "bool: \"F\"");
	CHECK_STR(run(conv_bool, "\" Yes \""), "true", "bool: \" Yes \"");
	CHECK_STR(run(conv_bool, "\"no\""), "false", "bool: \"no\"");
	CHECK_STR(run(conv_bool, "\"1\""), "true", "bool: \"1\"");
	CHECK_STR(run(conv_bool, "\"0\""), "false", "bool: \"0\"");
	CHECK_STR(run(conv_bool, "1"), "true", "bool: 1");
	CHECK_STR(run(conv_bool, "0"), "false", "bool: 0");
	CHECK_STR(run(conv_bool, "\"\""), "ABSENT", "bool: empty string");
	CHECK_STR(run(conv_bool, "null"), "ABSENT", "bool: null");
	CHECK_STR(run(conv_bool, "2"), "BAD: expected a boolean", "bool: 2");
	CHECK_STR(run(conv_bool, "-1"), "BAD: expected a boolean", "bool: -1");
	CHECK_STR(run(conv_bool, "1.0"), "BAD: expected a boolean", "bool: 1.0");
	CHECK_STR(run(conv_bool, "\"maybe\""), "BAD: expected a boolean", "bool: \"maybe\"");
	CHECK_STR(run(conv_bool, "\"truex\""), "BAD: expected a boolean", "bool: \"truex\"");
	CHECK_STR(run(conv_bool, "\"tru\""), "BAD: expected a boolean", "bool: \"tru\"");
	CHECK_STR(run(conv_bool, "\"y\""), "BAD: expected a boolean", "bool: \"y\"");
	CHECK_STR(run(conv_bool, "\"2\""), "BAD: expected a boolean", "bool: \"2\"");
	CHECK_STR(run(conv_bool, "\"true\\u0000\""), "BAD: contains a NUL byte", "bool: NUL after true");
	CHECK_STR(run(conv_bool, "[]"), "BAD: expected a boolean", "bool: array");
	CHECK_STR(run(conv_bool, "{}"), "BAD: expected a boolean", "bool: object");
}

static void
test_int_json(void)
{
	CHECK_STR(run(conv_int, "15"), "15", "int: 15");
	CHECK_STR(run(conv_int, "-15"), "-15", "int: -15");
	CHECK_STR(run(conv_int, "0"), "0", "int: 0");
	CHECK_STR(run(conv_int, "2147483647"), "2147483647", "int: INT32_MAX");
	CHECK_STR(run(conv_int, "-2147483648"), "-2147483648", "int: INT32_MIN");
	CHECK_STR(run(conv_int, "2147483648"), "BAD: integer out of range", "int: INT32_MAX + 1");
	CHECK_STR(run(conv_int, "-2147483649"), "BAD: integer out of range", "int: INT32_MIN - 1");
	CHECK_STR(run(conv_int, "9223372036854775807"), "BAD: integer out of range", "int: INT64_MAX");
	CHECK_STR(run(conv_int, "18446744073709551615"), "BAD: integer out of range", "int: UINT64_MAX");
	CHECK_STR(run(conv_int, "99999999999999999999999"), "BAD: integer out of range", "int: beyond 64 bits");
	CHECK_STR(run(conv_int, "-99999999999999999999999"), "BAD: integer out of range", "int: below 64 bits");
	CHECK_STR(run(conv_int, "15.0"), "15", "int: integral double");
	CHECK_STR(run(conv_int, "-0.0"), "0", "int: negative zero");
	CHECK_STR(run(conv_int, "1e3"), "1000", "int: 1e3");
	CHECK_STR(run(conv_int, "15.5"), "BAD: expected an integer", "int: fractional double");
	CHECK_STR(run(conv_int, "2147483648.0"), "BAD: integer out of range", "int: double above range");
	CHECK_STR(run(conv_int, "1.5e300"), "BAD: integer out of range", "int: huge double");
	CHECK_STR(run(conv_int, "1e400"), "BAD: integer out of range", "int: infinite double");
	CHECK_STR(run(conv_int, "true"), "BAD: expected an integer", "int: boolean");
	CHECK_STR(run(conv_int, "[1]"), "BAD: expected an integer", "int: array");
	CHECK_STR(run(conv_int, "{}"), "BAD: expected an integer", "int: object");
	CHECK_STR(run(conv_int, "null"), "ABSENT", "int: null");
}

static void
test_int_string(void)
{
	CHECK_STR(run(conv_int, "\"15\""), "15", "int: \"15\"");
	CHECK_STR(run(conv_int, "\" 15 \""), "15", "int: \" 15 \"");
	CHECK_STR(run(conv_int, "\"+15\""), "15", "int: \"+15\"");
	CHECK_STR(run(conv_int, "\"-15\""), "-15", "int: \"-15\"");
	CHECK_STR(run(conv_int, "\"007\""), "7", "int: leading zeros");
	CHECK_STR(run(conv_int, "\"2147483647\""), "2147483647", "int: \"INT32_MAX\"");
	CHECK_STR(run(conv_int, "\"-2147483648\""), "-2147483648", "int: \"INT32_MIN\"");
	CHECK_STR(run(conv_int, "\"2147483648\""), "BAD: integer out of range", "int: \"INT32_MAX + 1\"");
	CHECK_STR(run(conv_int, "\"-2147483649\""), "BAD: integer out of range", "int: \"INT32_MIN - 1\"");
	CHECK_STR(run(conv_int, "\"99999999999999999999999\""), "BAD: integer out of range",
	    "int: huge string");
	CHECK_STR(run(conv_int, "\"18446744073709551631\""), "BAD: integer out of range",
	    "int: 2^64 + 15 does not wrap");
	CHECK_STR(run(conv_int, "\"4294967311\""), "BAD: integer out of range", "int: 2^32 + 15 does not wrap");
	CHECK_STR(run(conv_int, "\"15.0\""), "BAD: expected an integer", "int: \"15.0\"");
	CHECK_STR(run(conv_int, "\"1 5\""), "BAD: expected an integer", "int: inner space");
	CHECK_STR(run(conv_int, "\"abc\""), "BAD: expected an integer", "int: \"abc\"");
	CHECK_STR(run(conv_int, "\"-\""), "BAD: expected an integer", "int: sign only");
	CHECK_STR(run(conv_int, "\"0x10\""), "BAD: expected an integer", "int: hex");
	CHECK_STR(run(conv_int, "\"15\\u0000\""), "BAD: contains a NUL byte", "int: NUL after digits");
	CHECK_STR(run(conv_int, "\"1\xff\""), "BAD: is not valid UTF-8", "int: bad UTF-8");
	CHECK_STR(run(conv_int, "\"\""), "ABSENT", "int: empty string");
	CHECK_STR(run(conv_int, "\"  \""), "ABSENT", "int: blank string");
}

static void
test_numeric(void)
{
	CHECK_STR(run(conv_numeric, "\"150.00\""), "\"150.00\"", "numeric: \"150.00\"");
	CHECK_STR(run(conv_numeric, "\" 150.00 \""), "\"150.00\"", "numeric: trimmed");
	CHECK_STR(run(conv_numeric, "\"-3\""), "\"-3\"", "numeric: \"-3\"");
	CHECK_STR(run(conv_numeric, "\"+3\""), "\"+3\"", "numeric: \"+3\"");
	CHECK_STR(run(conv_numeric, "\".5\""), "\".5\"", "numeric: \".5\"");
	CHECK_STR(run(conv_numeric, "\"5.\""), "\"5.\"", "numeric: \"5.\"");
	CHECK_STR(run(conv_numeric, "\"1234567890123456789012345678901234567890\""),
	    "\"1234567890123456789012345678901234567890\"", "numeric: 40 characters");
	CHECK_STR(run(conv_numeric, "\"12345678901234567890123456789012345678901\""), "BAD: number too long",
	    "numeric: 41 characters");
	CHECK_STR(run(conv_numeric, "\"1e3\""), "BAD: expected a number", "numeric: exponent in a string");
	CHECK_STR(run(conv_numeric, "\"abc\""), "BAD: expected a number", "numeric: \"abc\"");
	CHECK_STR(run(conv_numeric, "\"1.2.3\""), "BAD: expected a number", "numeric: two points");
	CHECK_STR(run(conv_numeric, "\".\""), "BAD: expected a number", "numeric: point only");
	CHECK_STR(run(conv_numeric, "\"-\""), "BAD: expected a number", "numeric: sign only");
	CHECK_STR(run(conv_numeric, "\"NaN\""), "BAD: expected a number", "numeric: NaN");
	CHECK_STR(run(conv_numeric, "\"$5\""), "BAD: expected a number", "numeric: currency sign");
	CHECK_STR(run(conv_numeric, "\"1,000.00\""), "BAD: expected a number", "numeric: thousands separator");
	CHECK_STR(run(conv_numeric, "\"1\\u0000\""), "BAD: contains a NUL byte", "numeric: NUL");
	CHECK_STR(run(conv_numeric, "42"), "\"42\"", "numeric: integer");
	CHECK_STR(run(conv_numeric, "150.5"), "\"150.5\"", "numeric: double");
	CHECK_STR(run(conv_numeric, "150.00"), "\"150.00\"", "numeric: double as sent");
	CHECK_STR(run(conv_numeric, "1e3"), "\"1e3\"", "numeric: JSON exponent kept");
	CHECK_STR(run(conv_numeric, "99999999999999999999999"), "BAD: number out of range",
	    "numeric: beyond 64 bits");
	CHECK_STR(run(conv_numeric, "true"), "BAD: expected a number", "numeric: boolean");
	CHECK_STR(run(conv_numeric, "{}"), "BAD: expected a number", "numeric: object");
	CHECK_STR(run(conv_numeric, "\"\""), "ABSENT", "numeric: empty string");
	CHECK_STR(run(conv_numeric, "null"), "ABSENT", "numeric: null");
}

/* conv_parse_time() result, or INT64_MIN when it fails (and must leave *usec alone). */
static int64_t
pt(const char *s)
{
	int64_t usec = INT64_MIN;

	if (conv_parse_time(s, &usec) == -1)
		return usec == INT64_MIN ? INT64_MIN : INT64_MIN + 1;
	return usec;
}

static void
test_parse_time_ok(void)
{
	CHECK(pt("2019-03-09T04:09:51.733192-05:00") == INT64_C(1552122591733192), "time: -05:00 with micros");
	CHECK(pt("2019-03-09T09:09:51.733192Z") == INT64_C(1552122591733192), "time: Z with micros");
	CHECK(pt("2019-03-09T09:09:52.010") == INT64_C(1552122592010000), "time: no zone is UTC");
	CHECK(pt("2019-03-09 09:09:52") == INT64_C(1552122592000000), "time: space separator, UTC");
	CHECK(pt("2019-03-09T09:09:52z") == INT64_C(1552122592000000), "time: lower-case z");
	CHECK(pt("2019-03-09T14:39:52+05:30") == INT64_C(1552122592000000), "time: +05:30");
	CHECK(pt("2019-03-09T14:39:52+0530") == INT64_C(1552122592000000), "time: +0530");
	CHECK(pt("2019-03-09T10:09:52+01") == INT64_C(1552122592000000), "time: +01");
	CHECK(pt("2019-03-09T09:09:52-09:30") == INT64_C(1552156792000000), "time: -09:30");
	CHECK(pt("2019-03-09T09:09:52+00:00") == INT64_C(1552122592000000), "time: +00:00");
	CHECK(pt("2019-03-09T09:09:52.123456789Z") == INT64_C(1552122592123456), "time: 9 digits truncated");
	CHECK(pt("2019-03-09T09:09:52.5") == INT64_C(1552122592500000), "time: 1 fraction digit");
	CHECK(pt("2020-02-29T12:00:00Z") == INT64_C(1582977600000000), "time: leap day 2020");
	CHECK(pt("2000-02-29T00:00:00Z") == INT64_C(951782400000000), "time: leap day 2000");
	CHECK(pt("2016-12-31T23:59:60Z") == INT64_C(1483228800000000), "time: leap second rolls over");
	CHECK(pt("1970-01-01T00:00:00Z") == 0, "time: epoch");
	CHECK(pt("1969-12-31T23:59:59.5Z") == -500000, "time: before the epoch");
	CHECK(pt("0001-01-01T00:00:00Z") == INT64_C(-62135596800000000), "time: year 1");
	CHECK(pt("9999-12-31T23:59:59.999999Z") == INT64_C(253402300799999999), "time: year 9999");
	CHECK(pt("111111") == INT64_C(111111000000), "time: unix seconds string");
	CHECK(pt("1552122591.733192") == INT64_C(1552122591733192), "time: unix seconds with fraction");
	CHECK(pt("0") == 0, "time: unix 0");
	CHECK(pt("253402300799") == INT64_C(253402300799000000), "time: last unix second of 9999");
}

static void
test_parse_time_bad(void)
{
	CHECK(pt("2019-02-29T00:00:00Z") == INT64_MIN, "time: 2019-02-29");
	CHECK(pt("1900-02-29T00:00:00Z") == INT64_MIN, "time: 1900-02-29");
	CHECK(pt("2019-13-01T00:00:00Z") == INT64_MIN, "time: month 13");
	CHECK(pt("2019-00-01T00:00:00Z") == INT64_MIN, "time: month 0");
	CHECK(pt("2019-04-31T00:00:00Z") == INT64_MIN, "time: April 31");
	CHECK(pt("2019-03-00T00:00:00Z") == INT64_MIN, "time: day 0");
	CHECK(pt("0000-01-01T00:00:00Z") == INT64_MIN, "time: year 0");
	CHECK(pt("2019-03-09T24:00:00Z") == INT64_MIN, "time: hour 24");
	CHECK(pt("2019-03-09T09:60:00Z") == INT64_MIN, "time: minute 60");
	CHECK(pt("2019-03-09T09:09:61Z") == INT64_MIN, "time: second 61");
	CHECK(pt("abc") == INT64_MIN, "time: abc");
	CHECK(pt("") == INT64_MIN, "time: empty");
	CHECK(pt(NULL) == INT64_MIN, "time: NULL");
	CHECK(pt("2019-03-09") == INT64_MIN, "time: date only");
	CHECK(pt("2019-03-09T09:09") == INT64_MIN, "time: no seconds");
	CHECK(pt("2019-3-9T09:09:52Z") == INT64_MIN, "time: short month and day");
	CHECK(pt("2019-03-09X09:09:52Z") == INT64_MIN, "time: bad separator");
	CHECK(pt("2019-03-09T09:09:52.Z") == INT64_MIN, "time: empty fraction");
	CHECK(pt("2019-03-09T09:09:52.1234567890Z") == INT64_MIN, "time: 10 fraction digits");
	CHECK(pt("2019-03-09T09:09:52+05:") == INT64_MIN, "time: truncated offset");
	CHECK(pt("2019-03-09T09:09:52+5") == INT64_MIN, "time: one-digit offset");
	CHECK(pt("2019-03-09T09:09:52+24:00") == INT64_MIN, "time: offset hour 24");
	CHECK(pt("2019-03-09T09:09:52+05:60") == INT64_MIN, "time: offset minute 60");
	CHECK(pt("2019-03-09T09:09:52Zx") == INT64_MIN, "time: trailing garbage");
	CHECK(pt("2019-03-09T09:09:52 ") == INT64_MIN, "time: trailing space");
	CHECK(pt("0001-01-01T00:00:00+01:00") == INT64_MIN, "time: before year 1 after offset");
	CHECK(pt("9999-12-31T23:59:59-01:00") == INT64_MIN, "time: after year 9999 after offset");
	CHECK(pt(" 111111") == INT64_MIN, "time: leading space");
	CHECK(pt("-5") == INT64_MIN, "time: negative unix seconds");
	CHECK(pt("111111.") == INT64_MIN, "time: unix seconds, empty fraction");
	CHECK(pt("253402300800") == INT64_MIN, "time: unix seconds after 9999");
	CHECK(pt("1552122591733") == INT64_MIN, "time: milliseconds are not seconds");
}

/* conv_format_time() into a static buffer. */
static const char *
ft(int64_t usec)
{
	static char buf[32];

	conv_format_time(usec, buf);
	return buf;
}

static void
test_format_time(void)
{
	int64_t day, usec;
	int fails = 0;

	CHECK_STR(ft(0), "1970-01-01T00:00:00.000000Z", "format: epoch");
	CHECK_STR(ft(INT64_C(1552122591733192)), "2019-03-09T09:09:51.733192Z", "format: 2019");
	CHECK_STR(ft(INT64_C(951782400000000)), "2000-02-29T00:00:00.000000Z", "format: leap day");
	CHECK_STR(ft(-1), "1969-12-31T23:59:59.999999Z", "format: one microsecond before the epoch");
	CHECK_STR(ft(-500000), "1969-12-31T23:59:59.500000Z", "format: half a second before the epoch");
	CHECK_STR(ft(INT64_C(253402300799999999)), "9999-12-31T23:59:59.999999Z", "format: last of 9999");
	CHECK_STR(ft(INT64_C(-62135596800000000)), "0001-01-01T00:00:00.000000Z", "format: year 1");
	CHECK_STR(ft(INT64_MAX), "9999-12-31T23:59:59.999999Z", "format: clamped high");
	CHECK_STR(ft(INT64_MIN), "0001-01-01T00:00:00.000000Z", "format: clamped low");
	/* Every day from 1600-03-01 to 2400-03-01 survives format then parse. */
	for (day = -135080; day <= 157114; day++) {
		int64_t back = -1;

		usec = day * INT64_C(86400000000) + INT64_C(45296789012);
		if (conv_parse_time(ft(usec), &back) == -1 || back != usec)
			fails++;
	}
	CHECK(fails == 0, "format: round trip over 800 years (%d failures)", fails);
	CHECK_STR(ft(INT64_C(-135080) * INT64_C(86400000000)), "1600-03-01T00:00:00.000000Z",
	    "format: loop start");
	CHECK_STR(ft(INT64_C(157114) * INT64_C(86400000000)), "2400-03-01T00:00:00.000000Z",
	    "format: loop end");
}

static void
test_time(void)
{
	CHECK_STR(run(conv_time, "1552122591"), "\"2019-03-09T09:09:51.000000Z\"", "conv_time: int");
	CHECK_STR(run(conv_time, "0"), "\"1970-01-01T00:00:00.000000Z\"", "conv_time: 0");
	CHECK_STR(run(conv_time, "1552122591.733192"), "\"2019-03-09T09:09:51.733192Z\"", "conv_time: double");
	CHECK_STR(run(conv_time, "1e9"), "\"2001-09-09T01:46:40.000000Z\"", "conv_time: 1e9");
	CHECK_STR(run(conv_time, "253402300799"), "\"9999-12-31T23:59:59.000000Z\"", "conv_time: last second");
	CHECK_STR(run(conv_time, "253402300800"), "BAD: expected a timestamp", "conv_time: year 10000");
	CHECK_STR(run(conv_time, "-1"), "BAD: expected a timestamp", "conv_time: negative int");
	CHECK_STR(run(conv_time, "-1.5"), "BAD: expected a timestamp", "conv_time: negative double");
	CHECK_STR(run(conv_time, "1e400"), "BAD: expected a timestamp", "conv_time: infinite");
	CHECK_STR(run(conv_time, "99999999999999999999999"), "BAD: expected a timestamp", "conv_time: huge");
	CHECK_STR(run(conv_time, "\"111111\""), "\"1970-01-02T06:51:51.000000Z\"", "conv_time: Salpre string");
	CHECK_STR(run(conv_time, "\"111111.5\""), "\"1970-01-02T06:51:51.500000Z\"",
	    "conv_time: string fraction");
	CHECK_STR(run(conv_time, "\"2019-03-09T04:09:51.733192-05:00\""), "\"2019-03-09T09:09:51.733192Z\"",
	    "conv_time: offset");
	CHECK_STR(run(conv_time, "\"2019-03-09T09:09:52.010\""), "\"2019-03-09T09:09:52.010000Z\"",
	    "conv_time: no zone");
	CHECK_STR(run(conv_time, "\"2019-03-09 09:09:52\""), "\"2019-03-09T09:09:52.000000Z\"",
	    "conv_time: space");
	CHECK_STR(run(conv_time, "\" 2019-03-09T09:09:52Z \""), "\"2019-03-09T09:09:52.000000Z\"",
	    "conv_time: trimmed");
	CHECK_STR(run(conv_time, "\"2019-02-29T00:00:00Z\""), "BAD: expected a timestamp",
	    "conv_time: bad date");
	CHECK_STR(run(conv_time, "\"abc\""), "BAD: expected a timestamp", "conv_time: abc");
	CHECK_STR(run(conv_time, "\"2019-03-09T09:09:52Z\\u0000\""), "BAD: contains a NUL byte",
	    "conv_time: NUL");
	CHECK_STR(run(conv_time, "true"), "BAD: expected a timestamp", "conv_time: boolean");
	CHECK_STR(run(conv_time, "{}"), "BAD: expected a timestamp", "conv_time: object");
	CHECK_STR(run(conv_time, "\"\""), "ABSENT", "conv_time: empty");
	CHECK_STR(run(conv_time, "null"), "ABSENT", "conv_time: null");
}

static void
test_date(void)
{
	CHECK_STR(run(conv_date, "\"2019-03-09\""), "\"2019-03-09\"", "date: plain");
	CHECK_STR(run(conv_date, "\" 2019-03-09 \""), "\"2019-03-09\"", "date: trimmed");
	CHECK_STR(run(conv_date, "\"2020-02-29\""), "\"2020-02-29\"", "date: leap day");
	CHECK_STR(run(conv_date, "\"2019-03-09T23:30:00-05:00\""), "\"2019-03-10\"",
	    "date: UTC date of a timestamp");
	CHECK_STR(run(conv_date, "\"2019-03-09 09:09:52\""), "\"2019-03-09\"", "date: UTC timestamp");
	CHECK_STR(run(conv_date, "\"2019-02-29\""), "BAD: expected a date", "date: 2019-02-29");
	CHECK_STR(run(conv_date, "\"2019-13-01\""), "BAD: expected a date", "date: month 13");
	CHECK_STR(run(conv_date, "\"2019-04-31\""), "BAD: expected a date", "date: April 31");
	CHECK_STR(run(conv_date, "\"0000-01-01\""), "BAD: expected a date", "date: year 0");
	CHECK_STR(run(conv_date, "\"2019-3-9\""), "BAD: expected a date", "date: short fields");
	CHECK_STR(run(conv_date, "\"2019-03-09X\""), "BAD: expected a date", "date: trailing garbage");
	CHECK_STR(run(conv_date, "\"111111\""), "BAD: expected a date", "date: unix seconds string");
	CHECK_STR(run(conv_date, "1552122591"), "BAD: expected a date", "date: number");
	CHECK_STR(run(conv_date, "\"2019-03-09\\u0000\""), "BAD: contains a NUL byte", "date: NUL");
	CHECK_STR(run(conv_date, "\"\""), "ABSENT", "date: empty");
	CHECK_STR(run(conv_date, "null"), "ABSENT", "date: null");
}

static void
test_text_array(void)
{
	CHECK_STR(run(conv_text_array, "[\"a\",\"b\"]"), "[\"a\",\"b\"]", "array: strings");
	CHECK_STR(run(conv_text_array, "[\"a\",null,\"\",\" \",\"b\"]"), "[\"a\",\"b\"]",
	    "array: absent items skipped");
	CHECK_STR(run(conv_text_array, "[1,2.5,\"x\"]"), "[\"1\",\"2.5\",\"x\"]", "array: numbers become text");
	CHECK_STR(run(conv_text_array, "[\" a \"]"), "[\" a \"]", "array: items not trimmed");
	CHECK_STR(run(conv_text_array, "\"tag1, tag2\""), "[\"tag1\",\"tag2\"]", "array: comma string");
	CHECK_STR(run(conv_text_array, "\"solo\""), "[\"solo\"]", "array: one string");
	CHECK_STR(run(conv_text_array, "\" a ,, b ,\""), "[\"a\",\"b\"]", "array: empty pieces dropped");
	CHECK_STR(run(conv_text_array, "42"), "[\"42\"]", "array: lone number");
	CHECK_STR(run(conv_text_array, "[]"), "ABSENT", "array: empty array");
	CHECK_STR(run(conv_text_array, "null"), "ABSENT", "array: null");
	CHECK_STR(run(conv_text_array, "[null,\"\"]"), "ABSENT", "array: only absent items");
	CHECK_STR(run(conv_text_array, "\",,\""), "ABSENT", "array: only commas");
	CHECK_STR(run(conv_text_array, "\"\""), "ABSENT", "array: empty string");
	CHECK_STR(run(conv_text_array, "{}"), "BAD: expected a list of strings", "array: object");
	CHECK_STR(run(conv_text_array, "[{\"a\":1}]"), "BAD: expected a list of strings", "array: object item");
	CHECK_STR(run(conv_text_array, "[[\"a\"]]"), "BAD: expected a list of strings", "array: nested array");
	CHECK_STR(run(conv_text_array, "true"), "BAD: expected a list of strings", "array: boolean");
	CHECK_STR(run(conv_text_array, "[\"a\\u0000\"]"), "BAD: contains a NUL byte", "array: NUL item");
	CHECK_STR(run(conv_text_array, "[\"ok\",\"\xff\"]"), "BAD: is not valid UTF-8",
	    "array: bad UTF-8 item");
	CHECK_STR(run(conv_text_array, "\"a,\\u0000\""), "BAD: contains a NUL byte",
	    "array: NUL in comma string");
}

static void
test_json(void)
{
	struct json_object *in, *out = NULL;
	const char *why = NULL;
	enum conv_res r;
	int freed;

	CHECK_STR(run(conv_json, "{\"a\":1}"), "{\"a\":1}", "json: object");
	CHECK_STR(run(conv_json, "[1,\"b\"]"), "[1,\"b\"]", "json: array");
	CHECK_STR(run(conv_json, "{}"), "ABSENT", "json: empty object");
	CHECK_STR(run(conv_json, "[]"), "ABSENT", "json: empty array");
	CHECK_STR(run(conv_json, "null"), "ABSENT", "json: null");
	CHECK_STR(run(conv_json, "\"\""), "ABSENT", "json: empty string");
	CHECK_STR(run(conv_json, "\"x\""), "BAD: expected an object or array", "json: string");
	CHECK_STR(run(conv_json, "1"), "BAD: expected an object or array", "json: number");
	CHECK_STR(run(conv_json, "true"), "BAD: expected an object or array", "json: boolean");
	/* CHECK evaluates its condition twice: no side effects inside it. */
	in = json_tokener_parse("{\"k\":[1]}");
	r = conv_json(in, &out, &why);
	CHECK(r == CONV_OK && out == in, "json: same value returned");
	freed = json_object_put(in);
	CHECK(freed == 0, "json: caller's reference outlives the input's");
	freed = json_object_put(out);
	CHECK(freed == 1, "json: last reference frees it");
}

/* conv_e164() rendered as the number or "false". */
static const char *
e164(const char *number, const char *cc)
{
	static char buf[17];

	if (!conv_e164(number, cc, buf))
		return "false";
	return buf;
}

static void
test_e164_nanp_intl(void)
{
	CHECK_STR(e164("+17705555555", "1"), "+17705555555", "e164: already E.164");
	CHECK_STR(e164("+1 (770) 555-5555", "1"), "+17705555555", "e164: punctuated +1");
	CHECK_STR(e164("+1\t770 555 5555", NULL), "+17705555555", "e164: tab, no default country");
	CHECK_STR(e164("770-555-5555", "1"), "+17705555555", "e164: CallRail 770-555-5555");
	CHECK_STR(e164("(770) 555.5555", "1"), "+17705555555", "e164: dots and parentheses");
	CHECK_STR(e164("17705555555", "1"), "+17705555555", "e164: 11 digits with 1");
	CHECK_STR(e164("1-770-555-5555", "1"), "+17705555555", "e164: 1-NPA-NXX");
	CHECK_STR(e164("27705555555", "1"), "false", "e164: 11 digits without 1");
	CHECK_STR(e164("555-5555", "1"), "false", "e164: 7 digits");
	CHECK_STR(e164("7705555555", NULL), "false", "e164: national without default country");
	CHECK_STR(e164("+61 412 345 678", "1"), "+61412345678", "e164: foreign + number");
	CHECK_STR(e164("011 44 20 7946 0958", "1"), "+442079460958", "e164: NANP 011 prefix");
	CHECK_STR(e164("0044 20 7946 0958", "1"), "+442079460958", "e164: 00 prefix");
	CHECK_STR(e164("00 1 770 555 5555", NULL), "+17705555555", "e164: 00 prefix, no default");
	CHECK_STR(e164("+12345678", NULL), "+12345678", "e164: 8 digits");
	CHECK_STR(e164("+123456789012345", NULL), "+123456789012345", "e164: 15 digits");
	CHECK_STR(e164("+1234567", NULL), "false", "e164: 7 digits after +");
	CHECK_STR(e164("+1234567890123456", NULL), "false", "e164: 16 digits after +");
	CHECK_STR(e164("+12345678901234567890", NULL), "false", "e164: 20 digits after +");
	CHECK_STR(e164("+0123456789", NULL), "false", "e164: country code 0");
	CHECK_STR(e164("001234567", NULL), "false", "e164: 00 and 7 digits");
}

static void
test_e164_au_other(void)
{
	CHECK_STR(e164("0412 345 678", "61"), "+61412345678", "e164: AU mobile");
	CHECK_STR(e164("(02) 9876 5432", "61"), "+61298765432", "e164: AU landline");
	CHECK_STR(e164("61412345678", "61"), "+61412345678", "e164: AU with 61");
	CHECK_STR(e164("412345678", "61"), "+61412345678", "e164: AU without trunk 0");
	CHECK_STR(e164("0011 61 412 345 678", "61"), "+61412345678", "e164: AU 0011 prefix");
	CHECK_STR(e164("0044 20 7946 0958", "61"), "+442079460958", "e164: AU 00 prefix");
	CHECK_STR(e164("1300 123 456", "61"), "false", "e164: AU 1300 number");
	CHECK_STR(e164("012345678", "61"), "false", "e164: AU 9 digits with 0");
	CHECK_STR(e164("442079460958", "44"), "+442079460958", "e164: other country, cc present");
	CHECK_STR(e164("02079460958", "44"), "false", "e164: other country, trunk 0");
	CHECK_STR(e164("2079460958", "44"), "false", "e164: other country, cc missing");
	CHECK_STR(e164("442079460958", "4x"), "false", "e164: malformed default country");
	CHECK_STR(e164("anonymous", "61"), "false", "e164: anonymous");
	CHECK_STR(e164("salprebox:SALPRE_AABBCCDD", "1"), "false", "e164: Salpre device URI");
	CHECK_STR(e164("", "1"), "false", "e164: empty");
	CHECK_STR(e164(NULL, "1"), "false", "e164: NULL");
	CHECK_STR(e164("+", "1"), "false", "e164: plus only");
	CHECK_STR(e164("++17705555555", "1"), "false", "e164: two pluses");
	CHECK_STR(e164("1+7705555555", "1"), "false", "e164: plus inside");
	CHECK_STR(e164("770-555-5555 x12", "1"), "false", "e164: extension");
}

void
test_convert(void)
{
	test_absent();
	test_utf8();
	test_text();
	test_bool();
	test_int_json();
	test_int_string();
	test_numeric();
	test_parse_time_ok();
	test_parse_time_bad();
	test_format_time();
	test_time();
	test_date();
	test_text_array();
	test_json();
	test_e164_nanp_intl();
	test_e164_au_other();
}
