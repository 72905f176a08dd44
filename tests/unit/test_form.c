/* Unit tests for common/core/form.c: form bodies, query lookups and query rewriting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/form.h"
#include "tap.h"

void test_form(void);

/*
 * Runs form_parse() on the first `len` bytes of s and renders the result
 * as compact JSON, or "NULL: <error>". Static buffer, valid until the next call.
 */
static const char *
parse_n(const char *s, size_t len)
{
	static char buf[512];
	struct json_object *obj;
	char error[256] = "(no error)";

	if ((obj = form_parse(s, len, error, sizeof(error))) == NULL) {
		snprintf(buf, sizeof(buf), "NULL: %s", error);
		return buf;
	}
	snprintf(buf, sizeof(buf), "%s",
	    json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return buf;
}

static const char *
parse(const char *s)
{
	return parse_n(s, strlen(s));
}

/* form_get() copied to a static buffer so the check needs no free(); "(null)" for NULL. */
static const char *
get(const char *q, const char *key)
{
	static char buf[256];
	char *v = form_get(q, key);

	if (v == NULL)
		return "(null)";
	snprintf(buf, sizeof(buf), "%s", v);
	free(v);
	return buf;
}

/* form_without() copied to a static buffer. */
static const char *
without(const char *q, const char *const *drop)
{
	static char buf[256];
	char *v = form_without(q, drop);

	if (v == NULL)
		return "(null)";
	snprintf(buf, sizeof(buf), "%s", v);
	free(v);
	return buf;
}

static void
test_parse_ok(void)
{
	CHECK_STR(parse("a=1&b=2"), "{\"a\":\"1\",\"b\":\"2\"}", "parse: two pairs");
	CHECK_STR(parse("From=+13055551212&To=%2B13055550000&CallSid=CA123"),
	    "{\"From\":\" 13055551212\",\"To\":\"+13055550000\",\"CallSid\":\"CA123\"}",
	    "parse: CallScaler in-call body, '+' is a space");
	CHECK_STR(parse("Call.From.Country=AU&Call.Sid=CA9"),
	    "{\"Call.From.Country\":\"AU\",\"Call.Sid\":\"CA9\"}", "parse: dotted keys");
	CHECK_STR(parse("a[]=1&a[]=2"), "{\"a[]\":[\"1\",\"2\"]}", "parse: bracket keys verbatim");
	CHECK_STR(parse("x=1&y=4&x=2&x=3"), "{\"x\":[\"1\",\"2\",\"3\"],\"y\":\"4\"}",
	    "parse: duplicates in order");
	CHECK_STR(parse("x=1&x=1"), "{\"x\":[\"1\",\"1\"]}", "parse: equal duplicates kept");
	CHECK_STR(parse(""), "{}", "parse: empty");
	CHECK_STR(parse("&&"), "{}", "parse: only separators");
	CHECK_STR(parse("a=1&&b=2&"), "{\"a\":\"1\",\"b\":\"2\"}", "parse: empty pairs skipped");
	CHECK_STR(parse("flag&b="), "{\"flag\":\"\",\"b\":\"\"}", "parse: bare key and empty value");
	CHECK_STR(parse("a=b=c"), "{\"a\":\"b=c\"}", "parse: '=' inside a value");
	CHECK_STR(parse("=x&a=1"), "{\"a\":\"1\"}", "parse: empty key ignored");
	CHECK_STR(parse("a;b=1"), "{\"a;b\":\"1\"}", "parse: ';' is not a separator");
	CHECK_STR(parse("name=J%C3%BCrgen+M%c3%bcller"), "{\"name\":\"J\xc3\xbcrgen M\xc3\xbcller\"}",
	    "parse: UTF-8 escapes, either case");
	CHECK_STR(parse("k%2Ey=v"), "{\"k.y\":\"v\"}", "parse: escaped key");
	CHECK_STR(parse("u=http%3A%2F%2Fx%2Fy%3Fz%3D1%26w"), "{\"u\":\"http://x/y?z=1&w\"}",
	    "parse: escaped URL");
	CHECK_STR(parse("t=%C4%B0stanbul"), "{\"t\":\"\xc4\xb0stanbul\"}", "parse: Turkish text");
	CHECK_STR(parse("raw=\xc3\xa9"), "{\"raw\":\"\xc3\xa9\"}", "parse: raw UTF-8 bytes");
	CHECK_STR(parse_n("a=1&b=2", 3), "{\"a\":\"1\"}", "parse: only len bytes are read");
}

static void
test_parse_bad(void)
{
	CHECK_STR(parse("a=%G1"), "NULL: field \"a\": has bad percent-encoding", "parse: %%G1");
	CHECK_STR(parse("a=%4"), "NULL: field \"a\": has bad percent-encoding", "parse: %%4 at the end");
	CHECK_STR(parse("a=%"), "NULL: field \"a\": has bad percent-encoding", "parse: %% at the end");
	CHECK_STR(parse("a=%4&b=1"), "NULL: field \"a\": has bad percent-encoding", "parse: %%4 before &");
	CHECK_STR(parse("%zz=1"), "NULL: field \"%zz\": name has bad percent-encoding",
	    "parse: bad escape in key");
	CHECK_STR(parse_n("a=%41", 4), "NULL: field \"a\": has bad percent-encoding",
	    "parse: escape cut by len");
	CHECK_STR(parse("a=%00"), "NULL: field \"a\": contains a NUL byte", "parse: %%00");
	CHECK_STR(parse("%00=1"), "NULL: field \"%00\": name contains a NUL byte", "parse: %%00 in key");
	CHECK_STR(parse_n("a=x\0y", 5), "NULL: field \"a\": contains a NUL byte", "parse: raw NUL byte");
	CHECK_STR(parse("a=%FF"), "NULL: field \"a\": is not valid UTF-8", "parse: %%FF");
	CHECK_STR(parse("a=%C3"), "NULL: field \"a\": is not valid UTF-8", "parse: truncated sequence");
	CHECK_STR(parse("%C0%AF=1"), "NULL: field \"%C0%AF\": name is not valid UTF-8",
	    "parse: overlong in key");
	CHECK_STR(parse("a=%ED%A0%80"), "NULL: field \"a\": is not valid UTF-8", "parse: surrogate");
	CHECK_STR(parse("a=\xff"), "NULL: field \"a\": is not valid UTF-8", "parse: raw FF byte");
	CHECK_STR(parse("\xff\"k=1"), "NULL: field \"%FF%22k\": name is not valid UTF-8",
	    "parse: raw FF and a quote in a key, shown %%-encoded");
}

/* Percent-encoded bytes that decode to what UTF-8 forbids: 400 naming the field, key or value. */
static void
test_parse_utf8(void)
{
	static const char *const bad[][2] = {
		{ "%ED%A0%80", "U+D800, first high surrogate" },
		{ "%ED%AF%BF", "U+DBFF, last high surrogate" },
		{ "%ED%B0%80", "U+DC00, first low surrogate" },
		{ "%ED%BF%BF", "U+DFFF, last low surrogate" },
		{ "%ED%A0%BD%ED%B8%80", "CESU-8 pair for U+1F600" },
		{ "%C0%80", "overlong NUL" },
		{ "%C1%BF", "overlong U+007F" },
		{ "%E0%80%AF", "overlong 3-byte /" },
		{ "%E0%9F%BF", "overlong U+07FF" },
		{ "%F0%80%80%AF", "overlong 4-byte /" },
		{ "%F0%8F%BF%BF", "overlong U+FFFF" },
		{ "%F4%90%80%80", "U+110000" },
		{ "%F7%BF%BF%BF", "U+1FFFFF" },
		{ "%F8%88%80%80%80", "5-byte form" },
		{ "%80", "lone continuation byte" },
		{ "%E2%82", "truncated 3-byte" },
	};
	char q[64], want[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(q, sizeof(q), "Call.Sid=CA1&Call.From=%s", bad[i][0]);
		CHECK_STR(parse(q), "NULL: field \"Call.From\": is not valid UTF-8", "parse: value %s (%s)",
		    bad[i][0], bad[i][1]);
		snprintf(q, sizeof(q), "Call.Sid=CA1&x%s=1", bad[i][0]);
		snprintf(want, sizeof(want), "NULL: field \"x%s\": name is not valid UTF-8", bad[i][0]);
		CHECK_STR(parse(q), want, "parse: key %s (%s)", bad[i][0], bad[i][1]);
	}
	CHECK_STR(parse("a=%ED%9F%BF%EE%80%80%F4%8F%BF%BF%F0%9F%98%80"),
	    "{\"a\":\"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80\"}",
	    "parse: U+D7FF, U+E000, U+10FFFF, U+1F600 are fine");
}

static void
test_get(void)
{
	CHECK_STR(get("a=1&b=hello+world", "b"), "hello world", "get: '+' decoded");
	CHECK_STR(get("a=1&b=2", "c"), "(null)", "get: absent key");
	CHECK_STR(get("a=1&a=2", "a"), "1", "get: first of duplicates");
	CHECK_STR(get("Call.Sid=CA1&x=2", "Call.Sid"), "CA1", "get: dotted key");
	CHECK_STR(get("token=%2Fx%2B", "token"), "/x+", "get: escapes decoded");
	CHECK_STR(get("my%20key=1", "my key"), "1", "get: key compared decoded");
	CHECK_STR(get("flag&x=1", "flag"), "", "get: bare key is empty");
	CHECK_STR(get("ab=1", "a"), "(null)", "get: no prefix match");
	CHECK_STR(get("a=%G1", "a"), "(null)", "get: bad escape");
	CHECK_STR(get("a=%00", "a"), "(null)", "get: NUL");
	CHECK_STR(get("a=%FF", "a"), "(null)", "get: bad UTF-8");
	CHECK_STR(get("%G1=1&a=2", "a"), "2", "get: badly encoded key skipped");
	CHECK_STR(get("a=1&a=%zz", "a"), "1", "get: later bad duplicate ignored");
	CHECK_STR(get("a=%zz&a=1", "a"), "(null)", "get: bad first occurrence");
	CHECK_STR(get("", "a"), "(null)", "get: empty query");
	CHECK_STR(get(NULL, "a"), "(null)", "get: NULL query");
}

static void
test_without(void)
{
	static const char *const token[] = { "token", NULL };
	static const char *const tk[] = { "t", "k", NULL };
	static const char *const none[] = { NULL };

	CHECK_STR(without("token=abc&a=1&token=x&b=2", token), "a=1&b=2", "without: token twice");
	CHECK_STR(without("a=1&b=2", token), "a=1&b=2", "without: nothing to drop");
	CHECK_STR(without("token=1", token), "", "without: everything dropped");
	CHECK_STR(without("", token), "", "without: empty query");
	CHECK_STR(without(NULL, token), "", "without: NULL query");
	CHECK_STR(without("a=%41&tok%65n=1&b=x+y", token), "a=%41&b=x+y", "without: decoded match, bytes kept");
	CHECK_STR(without("a=1&&b=2&", none), "a=1&b=2", "without: empty pairs dropped");
	CHECK_STR(without("t=1&k=2&x=3", tk), "x=3", "without: several names");
	CHECK_STR(without("token&a=1", token), "a=1", "without: bare key");
	CHECK_STR(without("tokens=1&token2=2", token), "tokens=1&token2=2", "without: exact names only");
	CHECK_STR(without("a=%G1&token=1", token), "a=%G1", "without: bad pairs kept as sent");
	CHECK_STR(without("a=1", NULL), "a=1", "without: NULL list");
}

void
test_form(void)
{
	test_parse_ok();
	test_parse_bad();
	test_parse_utf8();
	test_get();
	test_without();
}
