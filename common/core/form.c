/*
 * application/x-www-form-urlencoded and query-string parsing. Keys are kept
 * verbatim after decoding: "Call.From.Country" and "a[]" stay single keys.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/convert.h"
#include "core/form.h"

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes s[0..len) ('+' is a space, %XX a byte) into dst, which must hold
 * len + 1 bytes, and NUL-terminates it. Returns the decoded length, or -1
 * with *why set on a bad escape, a NUL byte or invalid UTF-8 (conv_utf8_valid:
 * overlong forms, surrogates U+D800..U+DFFF and code points above U+10FFFF
 * are invalid too).
 */
static long
pct_decode(const char *s, size_t len, char *dst, const char **why)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++, n++) {
		if (s[i] == '+')
			dst[n] = ' ';
		else if (s[i] != '%')
			dst[n] = s[i];
		else if (len - i < 3 || (hi = hex_value((unsigned char)s[i + 1])) < 0 ||
		    (lo = hex_value((unsigned char)s[i + 2])) < 0) {
			*why = "has bad percent-encoding";
			return -1;
		} else {
			dst[n] = (char)(hi << 4 | lo);
			i += 2;
		}
		if (dst[n] == '\0') {
			*why = "contains a NUL byte";
			return -1;
		}
	}
	dst[n] = '\0';
	if (!conv_utf8_valid(dst, n)) {
		*why = "is not valid UTF-8";
		return -1;
	}
	return (long)n;
}

/* One "key=value" (or bare "key") of a query, as spans of the raw text. */
struct pair {
	const char *key, *val;
	size_t keylen, vallen;
};

/*
 * Finds the next non-empty pair of q[*pos..len) and advances *pos past
 * it. The spans point into q. Returns false at the end.
 */
static bool
next_pair(const char *q, size_t len, size_t *pos, struct pair *p)
{
	const char *amp, *eq;
	size_t n;

	while (*pos < len) {
		amp = memchr(q + *pos, '&', len - *pos);
		n = (amp != NULL ? (size_t)(amp - q) : len) - *pos;
		p->key = q + *pos;
		*pos += n + 1;
		if (n == 0)
			continue;
		eq = memchr(p->key, '=', n);
		p->keylen = eq != NULL ? (size_t)(eq - p->key) : n;
		p->val = eq != NULL ? eq + 1 : p->key + n;
		p->vallen = n - p->keylen - (eq != NULL);
		return true;
	}
	return false;
}

/*
 * Adds the string `val` under `key` of obj; a repeated key turns its
 * value into an array of all values in order. Returns -1 when out of memory.
 */
static int
add_value(struct json_object *obj, const char *key, const char *val, size_t vallen)
{
	struct json_object *old, *arr, *v;

	if ((v = json_object_new_string_len(val, (int)vallen)) == NULL)
		return -1;
	if (!json_object_object_get_ex(obj, key, &old)) {
		if (json_object_object_add(obj, key, v) == 0)
			return 0;
	} else if (json_object_is_type(old, json_type_array)) {
		if (json_object_array_add(old, v) == 0)
			return 0;
	} else if ((arr = json_object_new_array()) != NULL) {
		/* arr takes a reference to the first value; obj then drops its own. */
		if (json_object_array_add(arr, json_object_get(old)) != 0)
			json_object_put(old);
		else if (json_object_array_add(arr, v) == 0) {
			if (json_object_object_add(obj, key, arr) == 0)
				return 0;
			json_object_put(arr);
			return -1; /* v went with arr */
		}
		json_object_put(arr);
	}
	json_object_put(v);
	return -1;
}

/*
 * The key of p as sent, for an error message ("%C0%AF" shows as sent): bytes outside printable
 * ASCII, spaces, '"' and '\\' written as %XX; truncated to fit out.
 */
static void
key_as_sent(const struct pair *p, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = 0;
	unsigned char c;

	for (i = 0; i < p->keylen && n + 4 <= outlen; i++) {
		c = (unsigned char)p->key[i];
		if (c > 0x20 && c < 0x7F && c != '"' && c != '\\')
			out[n++] = (char)c;
		else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}

/*
 * Decodes pair p into buf (room for keylen + vallen + 2) and adds it to obj. On error writes
 * it, naming the field, to error: 'field "a": is not valid UTF-8', or for a key that does not
 * decode 'field "%C0%AF": name is not valid UTF-8' (the key as sent).
 */
static int
add_pair(struct json_object *obj, const struct pair *p, char *buf, char *error, size_t errlen)
{
	const char *why;
	char name[100];
	long klen, vlen;
	char *val;

	if ((klen = pct_decode(p->key, p->keylen, buf, &why)) < 0) {
		key_as_sent(p, name, sizeof(name));
		snprintf(error, errlen, "field \"%s\": name %s", name, why);
		return -1;
	}
	val = buf + klen + 1;
	if ((vlen = pct_decode(p->val, p->vallen, val, &why)) < 0) {
		snprintf(error, errlen, "field \"%s\": %s", buf, why);
		return -1;
	}
	if (klen == 0)
		return 0; /* "=x" names nothing */
	if (add_value(obj, buf, val, (size_t)vlen) == -1) {
		snprintf(error, errlen, "out of memory");
		return -1;
	}
	return 0;
}

struct json_object *
form_parse(const char *s, size_t len, char *error, size_t errlen)
{
	struct json_object *obj;
	struct pair p;
	size_t pos = 0;
	char *buf;

	if ((obj = json_object_new_object()) == NULL || (buf = malloc(len + 2)) == NULL) {
		json_object_put(obj);
		snprintf(error, errlen, "out of memory");
		return NULL;
	}
	while (next_pair(s, len, &pos, &p)) {
		if (add_pair(obj, &p, buf, error, errlen) == -1) {
			json_object_put(obj);
			obj = NULL;
			break;
		}
	}
	free(buf);
	return obj;
}

/*
 * Does pair p's decoded key equal `key`? buf holds keylen + 1 bytes. A
 * key that does not decode matches nothing.
 */
static bool
key_is(const struct pair *p, char *buf, const char *key)
{
	const char *why;

	return pct_decode(p->key, p->keylen, buf, &why) >= 0 && strcmp(buf, key) == 0;
}

/* Returns the first value of `key`; see form.h. */
char *
form_get(const char *q, const char *key)
{
	struct pair p;
	size_t pos = 0, len;
	const char *why;
	char *buf;

	if (q == NULL || key == NULL)
		return NULL;
	len = strlen(q);
	if ((buf = malloc(len + 1)) == NULL)
		return NULL;
	while (next_pair(q, len, &pos, &p)) {
		if (!key_is(&p, buf, key))
			continue;
		if (pct_decode(p.val, p.vallen, buf, &why) < 0)
			break;
		return buf;
	}
	free(buf);
	return NULL;
}

static bool
in_list(const char *key, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(key, *list) == 0)
			return true;
	return false;
}

/*
 * Copies q without the pairs whose decoded key is in `drop`; see form.h.
 * Kept pairs are copied as sent; empty pairs are dropped too.
 */
char *
form_without(const char *q, const char *const *drop)
{
	struct pair p;
	size_t pos = 0, len = q != NULL ? strlen(q) : 0, n = 0, plen;
	const char *why;
	char *out, *key;

	if ((out = malloc(len + 1)) == NULL || (key = malloc(len + 1)) == NULL) {
		free(out);
		return NULL;
	}
	while (next_pair(q, len, &pos, &p)) {
		if (pct_decode(p.key, p.keylen, key, &why) >= 0 && in_list(key, drop))
			continue;
		plen = (size_t)(p.val + p.vallen - p.key);
		if (n > 0)
			out[n++] = '&';
		memcpy(out + n, p.key, plen);
		n += plen;
	}
	out[n] = '\0';
	free(key);
	return out;
}
