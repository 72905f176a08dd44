/*
 * Value converters: turn loosely typed vendor JSON into the one type each
 * column wants; also UTF-8 checks, timestamp parsing and E.164 derivation.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/convert.h"

#define USEC_PER_SEC INT64_C(1000000)
#define SEC_PER_DAY INT64_C(86400)
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the only years we format. */
#define TIME_MIN_SEC INT64_C(-62135596800)
#define TIME_MAX_SEC INT64_C(253402300799)
#define TIME_MIN_USEC (TIME_MIN_SEC * USEC_PER_SEC)
#define TIME_MAX_USEC (TIME_MAX_SEC * USEC_PER_SEC + 999999)
#define TIME_TEXT_MAX 64 /* longest time string worth parsing */
#define NUMERIC_MAX 40   /* longest numeric text accepted */

static bool
is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Narrows [*s, *s + *len) to exclude leading and trailing white space. */
static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && is_space((unsigned char)(*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_space((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* ASCII-only, locale-independent: is s[0..len) equal to lower-case `word`? */
static bool
eq_nocase(const char *s, size_t len, const char *word)
{
	size_t i;

	if (strlen(word) != len)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)word[i])
			return false;
	}
	return true;
}

/* Stores a freshly made value in *out; a NULL value means allocation failed. */
static enum conv_res
give(struct json_object *v, struct json_object **out, const char **why)
{
	if (v == NULL) {
		*why = "out of memory";
		return CONV_BAD;
	}
	*out = v;
	return CONV_OK;
}

static enum conv_res
bad(const char **why, const char *phrase)
{
	*why = phrase;
	return CONV_BAD;
}

/*
 * Points *s and *len at the bytes of JSON string `in` (borrowed from `in`,
 * valid while it lives). Rejects embedded NUL bytes and invalid UTF-8.
 */
static enum conv_res
str_bytes(struct json_object *in, const char **s, size_t *len, const char **why)
{
	*s = json_object_get_string(in);
	*len = (size_t)json_object_get_string_len(in);
	if (strlen(*s) != *len)
		return bad(why, "contains a NUL byte");
	if (!conv_utf8_valid(*s, *len))
		return bad(why, "is not valid UTF-8");
	return CONV_OK;
}

/*
 * json-c 0.16 parses integers beyond 64 bits without error (unless the
 * tokener is strict), saturating them to INT64_MIN or UINT64_MAX. Treat
 * those two values as "the sender's number is lost".
 */
static bool
int_saturated(struct json_object *v)
{
	return json_object_get_int64(v) == INT64_MIN || json_object_get_uint64(v) == UINT64_MAX;
}

bool
conv_is_absent(struct json_object *v)
{
	const char *s;
	size_t len;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	trim(&s, &len);
	return len == 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. NUL is valid. */
bool
conv_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end;

	if (s == NULL)
		return len == 0;
	end = p + len;
	while (p < end) {
		uint32_t cp, min;
		size_t n, i;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xC2 && *p <= 0xDF) {
			n = 1;
			cp = *p & 0x1F;
			min = 0x80;
		} else if ((*p & 0xF0) == 0xE0) {
			n = 2;
			cp = *p & 0x0F;
			min = 0x800;
		} else if (*p >= 0xF0 && *p <= 0xF4) {
			n = 3;
			cp = *p & 0x07;
			min = 0x10000;
		} else
			return false;
		if ((size_t)(end - p) <= n)
			return false;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += n + 1;
	}
	return true;
}

size_t
conv_utf8_put(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Text: strings as sent (no trimming), integers in decimal, doubles as
 * json-c renders them (the token as sent for parsed input), booleans as
 * "true"/"false".
 */
enum conv_res
conv_text(struct json_object *in, struct json_object **out, const char **why)
{
	const char *s;
	size_t len;
	enum conv_res r;

	if (conv_is_absent(in))
		return CONV_ABSENT;
	switch (json_object_get_type(in)) {
	case json_type_string:
		if ((r = str_bytes(in, &s, &len, why)) != CONV_OK)
			return r;
		return give(json_object_new_string_len(s, (int)len), out, why);
	case json_type_int:
		if (int_saturated(in))
			return bad(why, "integer out of range");
		/* FALLTHROUGH */
	case json_type_double:
	case json_type_boolean: return give(json_object_new_string(json_object_get_string(in)), out, why);
	default: return bad(why, "expected a string");
	}
}

/* Booleans, 0/1, and the strings true/false/t/f/yes/no/1/0 in any case. */
enum conv_res
conv_bool(struct json_object *in, struct json_object **out, const char **why)
{
	static const char *const yes[] = { "true", "t", "yes", "1", NULL };
	static const char *const no[] = { "false", "f", "no", "0", NULL };
	const char *s;
	size_t len, i;
	int64_t v;

	if (conv_is_absent(in))
		return CONV_ABSENT;
	switch (json_object_get_type(in)) {
	case json_type_boolean: return give(json_object_new_boolean(json_object_get_boolean(in)), out, why);
	case json_type_int:
		v = json_object_get_int64(in);
		if (v != 0 && v != 1)
			break;
		return give(json_object_new_boolean(v == 1), out, why);
	case json_type_string:
		if (str_bytes(in, &s, &len, why) != CONV_OK)
			return CONV_BAD;
		trim(&s, &len);
		for (i = 0; yes[i] != NULL; i++) {
			if (eq_nocase(s, len, yes[i]))
				return give(json_object_new_boolean(1), out, why);
			if (eq_nocase(s, len, no[i]))
				return give(json_object_new_boolean(0), out, why);
		}
		break;
	default: break;
	}
	return bad(why, "expected a boolean");
}

/*
 * Parses optional sign and decimal digits, s[0..len) exactly, into *v.
 * Returns 0, -1 when not an integer, -2 when outside the int32 range.
 */
static int
parse_int32(const char *s, size_t len, int32_t *v)
{
	int64_t acc = 0;
	bool neg = false;
	size_t i = 0;

	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i++;
	}
	if (i == len)
		return -1;
	for (; i < len; i++) {
		if (!is_digit((unsigned char)s[i]))
			return -1;
		if (acc <= (int64_t)INT32_MAX + 1)
			acc = acc * 10 + (s[i] - '0');
	}
	if (neg)
		acc = -acc;
	if (acc < INT32_MIN || acc > INT32_MAX)
		return -2;
	*v = (int32_t)acc;
	return 0;
}

/* Doubles count only when integral (15.0); the range is that of a PostgreSQL int. */
static enum conv_res
int_from_double(double d, int32_t *v, const char **why)
{
	if (d != d) /* NaN */
		return bad(why, "expected an integer");
	if (d < (double)INT32_MIN || d > (double)INT32_MAX)
		return bad(why, "integer out of range");
	if (d != (double)(int32_t)d)
		return bad(why, "expected an integer");
	*v = (int32_t)d;
	return CONV_OK;
}

enum conv_res
conv_int(struct json_object *in, struct json_object **out, const char **why)
{
	const char *s;
	size_t len;
	int64_t v64;
	int32_t v = 0;
	int rc;

	if (conv_is_absent(in))
		return CONV_ABSENT;
	switch (json_object_get_type(in)) {
	case json_type_int:
		v64 = json_object_get_int64(in);
		if (v64 < INT32_MIN || v64 > INT32_MAX)
			return bad(why, "integer out of range");
		v = (int32_t)v64;
		break;
	case json_type_double:
		if (int_from_double(json_object_get_double(in), &v, why) != CONV_OK)
			return CONV_BAD;
		break;
	case json_type_string:
		if (str_bytes(in, &s, &len, why) != CONV_OK)
			return CONV_BAD;
		trim(&s, &len);
		if ((rc = parse_int32(s, len, &v)) == -2)
			return bad(why, "integer out of range");
		if (rc == -1)
			return bad(why, "expected an integer");
		break;
	default: return bad(why, "expected an integer");
	}
	return give(json_object_new_int(v), out, why);
}

/* Counts the decimal digits at s[*i..len) and advances *i past them. */
static size_t
skip_digits(const char *s, size_t len, size_t *i)
{
	size_t start = *i;

	while (*i < len && is_digit((unsigned char)s[*i]))
		(*i)++;
	return *i - start;
}

/*
 * Is s[0..len) a decimal number: [+-] digits [. digits] with at least one
 * digit, and, when `exp` is set, an optional exponent e[+-]digits?
 */
static bool
is_decimal(const char *s, size_t len, bool exp)
{
	size_t i = 0, n;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	n = skip_digits(s, len, &i);
	if (i < len && s[i] == '.') {
		i++;
		n += skip_digits(s, len, &i);
	}
	if (n == 0)
		return false;
	if (exp && i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (skip_digits(s, len, &i) == 0)
			return false;
	}
	return i == len;
}

/* Numeric: a JSON string holding the decimal text, for a PostgreSQL numeric column. */
enum conv_res
conv_numeric(struct json_object *in, struct json_object **out, const char **why)
{
	const char *s;
	size_t len;
	bool exp = true;

	if (conv_is_absent(in))
		return CONV_ABSENT;
	switch (json_object_get_type(in)) {
	case json_type_int:
		if (int_saturated(in))
			return bad(why, "number out of range");
		/* FALLTHROUGH */
	case json_type_double:
		s = json_object_get_string(in);
		len = strlen(s);
		break;
	case json_type_string:
		if (str_bytes(in, &s, &len, why) != CONV_OK)
			return CONV_BAD;
		trim(&s, &len);
		exp = false;
		break;
	default: return bad(why, "expected a number");
	}
	if (!is_decimal(s, len, exp))
		return bad(why, "expected a number");
	if (len > NUMERIC_MAX)
		return bad(why, "number too long");
	return give(json_object_new_string_len(s, (int)len), out, why);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era;
	int64_t yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil(). */
static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
days_in_month(int y, int m)
{
	static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* Reads exactly n digits at *p into *v and advances *p; -1 if there are fewer. */
static int
fixed_digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

/* Reads "." and 1-9 digits at *p, if present, as microseconds (truncated). */
static int
fraction(const char **p, int64_t *us)
{
	int n = 0;

	*us = 0;
	if (**p != '.')
		return 0;
	for ((*p)++; is_digit((unsigned char)**p); (*p)++, n++) {
		if (n < 6)
			*us = *us * 10 + (**p - '0');
	}
	if (n < 1 || n > 9)
		return -1;
	for (; n < 6; n++)
		*us *= 10;
	return 0;
}

/* Reads "YYYY-MM-DD" at *p into a day number; validates the calendar date. */
static int
parse_ymd(const char **p, int64_t *days)
{
	int y, m, d;

	if (fixed_digits(p, 4, &y) == -1 || *(*p)++ != '-' || fixed_digits(p, 2, &m) == -1 ||
	    *(*p)++ != '-' || fixed_digits(p, 2, &d) == -1)
		return -1;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	*days = days_from_civil(y, m, d);
	return 0;
}

/* Reads "HH:MM:SS" at *p into seconds of the day; 60 seconds is allowed. */
static int
parse_hms(const char **p, int64_t *secs)
{
	int h, mi, s;

	if (fixed_digits(p, 2, &h) == -1 || *(*p)++ != ':' || fixed_digits(p, 2, &mi) == -1 ||
	    *(*p)++ != ':' || fixed_digits(p, 2, &s) == -1)
		return -1;
	if (h > 23 || mi > 59 || s > 60)
		return -1;
	*secs = h * 3600 + mi * 60 + s;
	return 0;
}

/* Reads the rest of the string as a zone: "", Z, ±HH:MM, ±HHMM or ±HH; east is positive. */
static int
parse_zone(const char *p, int64_t *off)
{
	int sign, h, m = 0;

	*off = 0;
	if (*p == '\0')
		return 0;
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0' ? 0 : -1;
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (fixed_digits(&p, 2, &h) == -1)
		return -1;
	if (*p == ':') {
		p++;
		if (fixed_digits(&p, 2, &m) == -1)
			return -1;
	} else if (*p != '\0' && fixed_digits(&p, 2, &m) == -1)
		return -1;
	if (*p != '\0' || h > 23 || m > 59)
		return -1;
	*off = sign * (h * 3600 + m * 60);
	return 0;
}

/* ISO 8601 / RFC 3339 date-time with 'T' or a space; no zone means UTC. */
static int
parse_iso(const char *p, int64_t *usec)
{
	int64_t days, secs, us, off;

	if (parse_ymd(&p, &days) == -1)
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (parse_hms(&p, &secs) == -1 || fraction(&p, &us) == -1 || parse_zone(p, &off) == -1)
		return -1;
	secs += days * SEC_PER_DAY - off;
	if (secs < TIME_MIN_SEC || secs > TIME_MAX_SEC)
		return -1;
	*usec = secs * USEC_PER_SEC + us;
	return 0;
}

/* Unix seconds: 1-12 digits, optionally "." and 1-9 digits. */
static int
parse_unix(const char *p, int64_t *usec)
{
	int64_t secs = 0, us;
	int n = 0;

	for (; is_digit((unsigned char)*p); p++, n++) {
		if (n < 12)
			secs = secs * 10 + (*p - '0');
	}
	if (n < 1 || n > 12 || fraction(&p, &us) == -1 || *p != '\0')
		return -1;
	if (secs > TIME_MAX_SEC)
		return -1;
	*usec = secs * USEC_PER_SEC + us;
	return 0;
}

/*
 * Parses unix seconds or an ISO 8601 date-time (see parse_iso) into
 * microseconds since 1970-01-01T00:00:00Z. Fractions beyond microseconds
 * are truncated; a leap second :60 counts as :00 of the next minute, as in
 * PostgreSQL. The result lies within years 0001..9999. No white space is
 * allowed. Returns 0, or -1 leaving *usec untouched.
 */
int
conv_parse_time(const char *s, int64_t *usec)
{
	if (s == NULL)
		return -1;
	if (is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[1]) && is_digit((unsigned char)s[2]) &&
	    is_digit((unsigned char)s[3]) && s[4] == '-')
		return parse_iso(s, usec);
	return parse_unix(s, usec);
}

/* Floor division, for instants before 1970. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Writes "YYYY-MM-DDTHH:MM:SS.ffffffZ"; values outside years 0001..9999 are clamped. */
/* Writes v as exactly `width` decimal digits (the lowest ones, zero-padded); returns the end. */
static char *
put_digits(char *p, unsigned v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

void
conv_format_time(int64_t usec, char out[32])
{
	int64_t secs, days, sod;
	int y, m, d, us;
	char *p;

	if (usec < TIME_MIN_USEC)
		usec = TIME_MIN_USEC;
	if (usec > TIME_MAX_USEC)
		usec = TIME_MAX_USEC;
	secs = floor_div(usec, USEC_PER_SEC);
	us = (int)(usec - secs * USEC_PER_SEC);
	days = floor_div(secs, SEC_PER_DAY);
	sod = secs - days * SEC_PER_DAY;
	civil_from_days(days, &y, &m, &d);
	/* YYYY-MM-DDTHH:MM:SS.uuuuuuZ; the clamping above keeps every field in its width. */
	p = put_digits(out, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)m, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)d, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)(sod / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(sod / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(sod % 60), 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)us, 6);
	*p++ = 'Z';
	*p = '\0';
}

/*
 * Copies trimmed string `in` into buf (NUL-terminated) so that the
 * C-string time parser can read it. Fails on NUL, bad UTF-8 or length.
 */
static int
time_text(struct json_object *in, char buf[TIME_TEXT_MAX], const char **why)
{
	const char *s;
	size_t len;

	if (str_bytes(in, &s, &len, why) != CONV_OK)
		return -1;
	trim(&s, &len);
	if (len >= TIME_TEXT_MAX)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

/* Unix seconds from a JSON double: the token as sent if it parses, else the value. */
static int
time_from_double(struct json_object *in, int64_t *usec)
{
	double d = json_object_get_double(in);

	if (parse_unix(json_object_get_string(in), usec) == 0)
		return 0;
	if (!(d >= 0 && d < (double)(TIME_MAX_SEC + 1)))
		return -1;
	*usec = (int64_t)(d * 1e6 + 0.5); /* rounded; d >= 0 */
	if (*usec > TIME_MAX_USEC)
		*usec = TIME_MAX_USEC;
	return 0;
}

/* Any accepted timestamp as microseconds; strings per conv_parse_time. */
static enum conv_res
time_usec(struct json_object *in, int64_t *usec, const char **why)
{
	char buf[TIME_TEXT_MAX];
	int64_t v;
	const char *phrase = NULL;

	switch (json_object_get_type(in)) {
	case json_type_int:
		v = json_object_get_int64(in);
		if (v < 0 || v > TIME_MAX_SEC)
			break;
		*usec = v * USEC_PER_SEC;
		return CONV_OK;
	case json_type_double:
		if (time_from_double(in, usec) == 0)
			return CONV_OK;
		break;
	case json_type_string:
		if (time_text(in, buf, &phrase) == 0 && conv_parse_time(buf, usec) == 0)
			return CONV_OK;
		break;
	default: break;
	}
	return bad(why, phrase != NULL ? phrase : "expected a timestamp");
}

/* Timestamp: a JSON string "YYYY-MM-DDTHH:MM:SS.ffffffZ" for a timestamptz column. */
enum conv_res
conv_time(struct json_object *in, struct json_object **out, const char **why)
{
	char buf[32];
	int64_t usec;

	if (conv_is_absent(in))
		return CONV_ABSENT;
	if (time_usec(in, &usec, why) != CONV_OK)
		return CONV_BAD;
	conv_format_time(usec, buf);
	return give(json_object_new_string(buf), out, why);
}

/*
 * Date: "YYYY-MM-DD", or an ISO date-time string whose UTC date is taken.
 * Unix seconds (numbers or digit strings) are not accepted as dates.
 */
enum conv_res
conv_date(struct json_object *in, struct json_object **out, const char **why)
{
	char buf[TIME_TEXT_MAX];
	const char *p = buf, *phrase = NULL;
	int64_t days, usec;

	if (conv_is_absent(in))
		return CONV_ABSENT;
	if (!json_object_is_type(in, json_type_string) || time_text(in, buf, &phrase) == -1)
		return bad(why, phrase != NULL ? phrase : "expected a date");
	if (parse_ymd(&p, &days) == -1)
		return bad(why, "expected a date");
	if (*p != '\0') {
		if (parse_iso(buf, &usec) == -1)
			return bad(why, "expected a date");
		conv_format_time(usec, buf);
	}
	buf[10] = '\0';
	return give(json_object_new_string(buf), out, why);
}

/* Appends a new string s[0..len) to array `arr`; -1 when out of memory. */
static int
array_add_str(struct json_object *arr, const char *s, size_t len)
{
	struct json_object *v;

	if ((v = json_object_new_string_len(s, (int)len)) == NULL)
		return -1;
	if (json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* Splits "a, b,,c" on commas into arr, trimming items and dropping empty ones. */
static int
split_commas(struct json_object *arr, const char *s, size_t len)
{
	const char *comma, *end = s + len;
	size_t n;

	for (;;) {
		comma = memchr(s, ',', (size_t)(end - s));
		n = (size_t)((comma != NULL ? comma : end) - s);
		trim(&s, &n);
		if (n > 0 && array_add_str(arr, s, n) == -1)
			return -1;
		if (comma == NULL)
			return 0;
		s = comma + 1;
	}
}

/* Adds each element of JSON array `in`, converted by conv_text, to arr. */
static enum conv_res
text_items(struct json_object *arr, struct json_object *in, const char **why)
{
	struct json_object *v;
	size_t i, n = json_object_array_length(in);
	enum conv_res r;

	for (i = 0; i < n; i++) {
		r = conv_text(json_object_array_get_idx(in, i), &v, why);
		if (r == CONV_ABSENT)
			continue;
		if (r == CONV_BAD) {
			if (strcmp(*why, "expected a string") == 0)
				*why = "expected a list of strings";
			return CONV_BAD;
		}
		if (json_object_array_add(arr, v) != 0) {
			json_object_put(v);
			return bad(why, "out of memory");
		}
	}
	return CONV_OK;
}

/* Adds lone number `in`, as conv_text renders it, to arr. */
static enum conv_res
text_number(struct json_object *arr, struct json_object *in, const char **why)
{
	struct json_object *v;

	if (conv_text(in, &v, why) != CONV_OK)
		return CONV_BAD;
	if (json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return bad(why, "out of memory");
	}
	return CONV_OK;
}

/* Fills arr from `in`: an array, a comma-separated string or a lone number. */
static enum conv_res
text_list(struct json_object *arr, struct json_object *in, const char **why)
{
	const char *s;
	size_t len;

	switch (json_object_get_type(in)) {
	case json_type_array: return text_items(arr, in, why);
	case json_type_string:
		if (str_bytes(in, &s, &len, why) != CONV_OK)
			return CONV_BAD;
		if (split_commas(arr, s, len) == -1)
			return bad(why, "out of memory");
		return CONV_OK;
	case json_type_int:
	case json_type_double: return text_number(arr, in, why);
	default: return bad(why, "expected a list of strings");
	}
}

/*
 * List of text: a JSON array of strings or numbers, "tag1, tag2" split on
 * commas, or a lone number. Nothing left after dropping empty items is
 * ABSENT. On CONV_OK *out is a new array of strings.
 */
enum conv_res
conv_text_array(struct json_object *in, struct json_object **out, const char **why)
{
	struct json_object *arr;
	enum conv_res r;

	if (conv_is_absent(in))
		return CONV_ABSENT;
	if ((arr = json_object_new_array()) == NULL)
		return bad(why, "out of memory");
	r = text_list(arr, in, why);
	if (r == CONV_OK && json_object_array_length(arr) == 0)
		r = CONV_ABSENT;
	if (r != CONV_OK) {
		json_object_put(arr);
		return r;
	}
	*out = arr;
	return CONV_OK;
}

/* JSON: objects and arrays pass through (a new reference to `in`); empty ones are ABSENT. */
enum conv_res
conv_json(struct json_object *in, struct json_object **out, const char **why)
{
	if (conv_is_absent(in))
		return CONV_ABSENT;
	switch (json_object_get_type(in)) {
	case json_type_object:
		if (json_object_object_length(in) == 0)
			return CONV_ABSENT;
		break;
	case json_type_array:
		if (json_object_array_length(in) == 0)
			return CONV_ABSENT;
		break;
	default: return bad(why, "expected an object or array");
	}
	*out = json_object_get(in);
	return CONV_OK;
}

/* Writes "+" and the n digits at d into out when they can be E.164 (8..15, no leading 0). */
static bool
e164_out(const char *d, size_t n, char out[17])
{
	if (n < 8 || n > 15 || d[0] == '0')
		return false;
	out[0] = '+';
	memcpy(out + 1, d, n);
	out[n + 1] = '\0';
	return true;
}

/* Length of the international dialling prefix d starts with: 011 (NANP), 0011 (AU), 00. */
static size_t
idd_len(const char *d, const char *cc)
{
	if (cc != NULL && strcmp(cc, "1") == 0 && strncmp(d, "011", 3) == 0)
		return 3;
	if (cc != NULL && strcmp(cc, "61") == 0 && strncmp(d, "0011", 4) == 0)
		return 4;
	if (strncmp(d, "00", 2) == 0)
		return 2;
	return 0;
}

/* E.164 for a number without an international prefix, in country `cc`. */
static bool
e164_national(const char *d, size_t n, const char *cc, char out[17])
{
	char buf[20];
	size_t ccn;

	if (cc == NULL)
		return false;
	if (strcmp(cc, "1") == 0) {
		if (n == 11 && d[0] == '1')
			return e164_out(d, n, out);
		if (n != 10)
			return false;
		snprintf(buf, sizeof(buf), "1%s", d);
		return e164_out(buf, n + 1, out);
	}
	if (strcmp(cc, "61") == 0) {
		if (n == 11 && strncmp(d, "61", 2) == 0)
			return e164_out(d, n, out);
		if (n == 10 && d[0] == '0')
			d++, n--;
		else if (n != 9 || d[0] == '0')
			return false;
		snprintf(buf, sizeof(buf), "61%s", d);
		return e164_out(buf, n + 2, out);
	}
	ccn = strlen(cc);
	if (ccn < 1 || ccn > 3 || strspn(cc, "0123456789") != ccn)
		return false;
	return strncmp(d, cc, ccn) == 0 && e164_out(d, n, out);
}

/*
 * Derives an E.164 number ("+" and 8..15 digits) from what a vendor sent,
 * after dropping spaces, tabs, '-', '.', '(' and ')'. default_cc ("1", "61",
 * ...) may be NULL. Writes out (17 bytes) and returns true, or returns false
 * for anything else (letters, device URIs, "anonymous", wrong lengths).
 */
bool
conv_e164(const char *number, const char *default_cc, char out[17])
{
	char d[17];
	size_t n = 0, idd;
	bool plus = false;
	const char *p;

	if (number == NULL)
		return false;
	for (p = number; *p != '\0'; p++) {
		if (strchr(" \t-.()", *p) != NULL)
			continue;
		if (*p == '+' && n == 0 && !plus) {
			plus = true;
			continue;
		}
		if (!is_digit((unsigned char)*p) || n == sizeof(d) - 1)
			return false;
		d[n++] = *p;
	}
	d[n] = '\0';
	if (plus)
		return e164_out(d, n, out);
	if ((idd = idd_len(d, default_cc)) > 0)
		return e164_out(d + idd, n - idd, out);
	return e164_national(d, n, default_cc, out);
}
