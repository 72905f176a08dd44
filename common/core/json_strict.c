/*
 * I-JSON (RFC 7493) checks over the raw text of a JSON body, for what json-c accepts silently:
 * repeated member names (json-c keeps the last, other parsers the first) and UTF-16 surrogate
 * escapes without their partner (json-c stores U+FFFD in their place).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/convert.h"
#include "core/json_strict.h"

#define MAX_DEPTH 64 /* json-c stops at 32: deeper text is not what it accepted */
#define PATH_LEN 256
#define SMALL_SLOTS 128 /* name slots on the stack; larger tables move to the heap */
#define BLOCK_MIN 4096  /* smallest block of unescaped names */

static const char UNPAIRED[] = "contains an unpaired UTF-16 surrogate escape";
static const char NUL_BYTE[] = "contains a NUL byte";

/* One open object or array, and the member or item being read in it. */
struct frame {
	bool object;
	uint32_t serial; /* objects: tells its names from other objects' in the table */
	size_t index;    /* arrays: the item being read */
	const char *key; /* objects: the member name being read (unescaped; as written if wrong) */
	size_t keylen;
};

/* A member name seen in an object: its bytes (in the body or a block) and its object. */
struct slot {
	const char *name; /* NULL: a free slot */
	uint32_t len, hash, serial, depth;
};

/* Storage for unescaped member names; blocks never move, so names can point into them. */
struct block {
	struct block *next;
	size_t used, cap;
	char data[];
};

struct scan {
	const char *p, *end;
	const char *const *repeat_ok;
	char *error;
	size_t errlen;
	struct frame frames[MAX_DEPTH];
	size_t depth;
	uint32_t serials;
	struct slot small[SMALL_SLOTS], *slots; /* open addressing, cap a power of two */
	size_t cap, used;
	struct block *blocks;
};

/* See json_strict.h. */
size_t
json_path_append(char *path, size_t pathlen, size_t used, const char *sep, const char *seg, size_t n)
{
	size_t k = strlen(sep);

	if (k > pathlen - 1 - used)
		k = pathlen - 1 - used;
	memcpy(path + used, sep, k);
	used += k;
	if (n > pathlen - 1 - used)
		n = pathlen - 1 - used;
	if (n > 0) /* seg may be NULL when n is 0 (an object before its first name) */
		memcpy(path + used, seg, n);
	used += n;
	path[used] = '\0';
	return used;
}

/* See json_strict.h. */
const char *
json_path_index(size_t i, char buf[24])
{
	char *p = buf + 23;

	*p = '\0';
	*--p = ']';
	do {
		*--p = (char)('0' + i % 10);
		i /= 10;
	} while (i > 0);
	*--p = '[';
	return p;
}

/* The path of what is read at frames[0..n) into out. */
static void
path_text(const struct scan *sc, size_t n, char *out, size_t outlen)
{
	const struct frame *f;
	const char *idx;
	char buf[24];
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		f = &sc->frames[i];
		if (f->object)
			used = json_path_append(out, outlen, used, used ? "." : "", f->key, f->keylen);
		else {
			idx = json_path_index(f->index, buf);
			used = json_path_append(out, outlen, used, "", idx, strlen(idx));
		}
	}
}

/* See json_strict.h. */
void
json_field_error(char *error, size_t errlen, const char *path, const char *what, const char *why)
{
	size_t room, fixed = strlen("field \"\": ") + strlen(what) + strlen(why) + 1;

	room = errlen > fixed + 3 ? errlen - fixed : 3;
	if (path[0] == '\0')
		snprintf(error, errlen, "body: %s%s", what, why);
	else if (strlen(path) > room)
		snprintf(error, errlen, "field \"%.*s...\": %s%s", (int)(room - 3), path, what, why);
	else
		snprintf(error, errlen, "field \"%s\": %s%s", path, what, why);
}

/* Sets the error for what is read at frames[0..n) and returns CH_ERR_BAD_BODY. */
static enum ch_err
bad_at(struct scan *sc, size_t n, const char *what, const char *why)
{
	char path[PATH_LEN];

	path_text(sc, n, path, sizeof(path));
	json_field_error(sc->error, sc->errlen, path, what, why);
	return CH_ERR_BAD_BODY;
}

static enum ch_err
invalid(struct scan *sc)
{
	snprintf(sc->error, sc->errlen, "body: invalid JSON");
	return CH_ERR_BAD_BODY;
}

/* The value of the 4 hex digits at p, or -1. */
static long
hex4(const char *p)
{
	long v = 0;
	int i, c;

	for (i = 0; i < 4; i++) {
		c = (unsigned char)p[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v << 4 | c;
	}
	return v;
}

/* The character a one-letter escape stands for, or -1. */
static int
simple_escape(char c)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *p = c != '\0' ? strchr(from, c) : NULL;

	return p != NULL ? to[p - from] : -1;
}

/*
 * Reads the escape at p (at '\\', before end) and returns the byte after it, after both halves
 * of a surrogate pair, with its code point in *cp. Sets *why when the escape is JSON but cannot
 * be stored (reading then goes on after the first half). NULL when it is not a JSON escape.
 */
static const char *
read_escape(const char *p, const char *end, uint32_t *cp, const char **why)
{
	long hi, lo;
	int c;

	if (end - p < 2)
		return NULL;
	if (p[1] != 'u') {
		if ((c = simple_escape(p[1])) < 0)
			return NULL;
		*cp = (uint32_t)c;
		return p + 2;
	}
	if (end - p < 6 || (hi = hex4(p + 2)) < 0)
		return NULL;
	*cp = (uint32_t)hi;
	if (hi == 0)
		*why = NUL_BYTE;
	else if (hi >= 0xDC00 && hi <= 0xDFFF)
		*why = UNPAIRED;
	else if (hi >= 0xD800 && hi <= 0xDBFF) {
		if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || (lo = hex4(p + 8)) < 0xDC00 || lo > 0xDFFF) {
			*why = UNPAIRED;
			return p + 6;
		}
		*cp = 0x10000 + (uint32_t)((hi - 0xD800) << 10) + (uint32_t)(lo - 0xDC00);
		return p + 12;
	}
	return p + 6;
}

/* The first '"' or '\\' in [p, end); NULL when there is no '"' (the string never closes). */
static const char *
string_stop(const char *p, const char *end)
{
	const char *quote, *bs;

	if ((quote = memchr(p, '"', (size_t)(end - p))) == NULL)
		return NULL;
	bs = memchr(p, '\\', (size_t)(quote - p));
	return bs != NULL ? bs : quote;
}

/*
 * Reads the string at sc->p (at '"') and moves past it; returns the closing quote, or NULL when
 * the text is not a JSON string. *why: the first escape that cannot be stored, or NULL.
 * *escaped: whether the string has any escape.
 */
static const char *
read_string(struct scan *sc, const char **why, bool *escaped)
{
	const char *p = sc->p + 1, *q, *w = NULL;
	uint32_t cp;

	*why = NULL;
	*escaped = false;
	for (;;) {
		if ((q = string_stop(p, sc->end)) == NULL)
			return NULL;
		if (*q == '"') {
			sc->p = q + 1;
			return q;
		}
		*escaped = true;
		if ((p = read_escape(q, sc->end, &cp, &w)) == NULL)
			return NULL;
		if (*why == NULL)
			*why = w;
	}
}

/* Room for n bytes in the name blocks (a new block when the last one is full), or NULL. */
static char *
block_room(struct scan *sc, size_t n)
{
	struct block *b = sc->blocks;
	size_t cap = n > BLOCK_MIN ? n : BLOCK_MIN;

	if (b == NULL || b->cap - b->used < n) {
		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		*b = (struct block){ .next = sc->blocks, .cap = cap };
		sc->blocks = b;
	}
	return b->data + b->used;
}

/*
 * The member name s[0..n) (its escapes known to be storable) unescaped into the name blocks;
 * *outlen is its length. Unescaping never lengthens text. NULL when out of memory.
 */
static const char *
unescape_name(struct scan *sc, const char *s, size_t n, size_t *outlen)
{
	const char *end = s + n, *why = NULL;
	char *out, *o;
	uint32_t cp;

	if ((out = o = block_room(sc, n)) == NULL)
		return NULL;
	while (s < end) {
		if (*s != '\\')
			*o++ = *s++;
		else if ((s = read_escape(s, end, &cp, &why)) != NULL)
			o += conv_utf8_put(cp, o);
		else
			break;
	}
	*outlen = (size_t)(o - out);
	sc->blocks->used += *outlen;
	return out;
}

/* A hash of name s[0..n) in object `serial`, eight bytes at a time; the high half of the products. */
static uint32_t
name_hash(const char *s, size_t n, uint32_t serial)
{
	uint64_t h = (uint64_t)serial << 32 ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x9E3779B97F4A7C15u;
	}
	for (w = 0; n > 0; n--)
		w = w << 8 | (unsigned char)s[n - 1];
	h = (h ^ w) * 0x9E3779B97F4A7C15u;
	return (uint32_t)(h >> 32);
}

/* Is the slot a name of an object still open? (Names of closed objects are never looked up.) */
static bool
slot_live(const struct scan *sc, const struct slot *s)
{
	return s->name != NULL && s->depth < sc->depth && sc->frames[s->depth].object &&
	    sc->frames[s->depth].serial == s->serial;
}

/* The free slot for hash h in table t of cap slots, or the slot already holding the name. */
static struct slot *
probe(struct slot *t, size_t cap, uint32_t h, const char *name, size_t len, uint32_t serial)
{
	size_t i;

	for (i = h & (cap - 1); t[i].name != NULL; i = (i + 1) & (cap - 1))
		if (t[i].hash == h && t[i].serial == serial && t[i].len == len && !memcmp(t[i].name, name, len))
			break;
	return &t[i];
}

/* Moves the names of open objects into a new table at most half full; -1 when out of memory. */
static int
rehash(struct scan *sc)
{
	struct slot *t, *s;
	size_t i, live = 0, cap = sc->cap;

	for (i = 0; i < sc->cap; i++)
		live += slot_live(sc, &sc->slots[i]);
	while ((live + 1) * 2 > cap)
		cap *= 2;
	if ((t = calloc(cap, sizeof(*t))) == NULL)
		return -1;
	for (i = 0; i < sc->cap; i++) {
		s = &sc->slots[i];
		if (slot_live(sc, s))
			*probe(t, cap, s->hash, s->name, s->len, s->serial) = *s;
	}
	if (sc->slots != sc->small)
		free(sc->slots);
	sc->slots = t;
	sc->cap = cap;
	sc->used = live;
	return 0;
}

/* May the object being read (frames[0..depth-1)) repeat its member names? */
static bool
may_repeat(const struct scan *sc)
{
	const char *const *r;
	char path[PATH_LEN];

	if (sc->repeat_ok == NULL)
		return false;
	path_text(sc, sc->depth - 1, path, sizeof(path));
	for (r = sc->repeat_ok; *r != NULL; r++)
		if (!strcmp(*r, path))
			return true;
	return false;
}

/* Records name[0..len) in the innermost object; CH_ERR_BAD_BODY when it is there already. */
static enum ch_err
add_name(struct scan *sc, const char *name, size_t len)
{
	struct frame *f = &sc->frames[sc->depth - 1];
	uint32_t h = name_hash(name, len, f->serial);
	struct slot *s;

	if ((sc->used + 1) * 4 > sc->cap * 3 && rehash(sc) == -1)
		return CH_ERR_NOMEM;
	s = probe(sc->slots, sc->cap, h, name, len, f->serial);
	if (s->name != NULL)
		return may_repeat(sc) ? CH_OK : bad_at(sc, sc->depth, "duplicate member name", "");
	*s = (struct slot){ .name = name,
		.len = (uint32_t)len,
		.hash = h,
		.serial = f->serial,
		.depth = (uint32_t)(sc->depth - 1) };
	sc->used++;
	return CH_OK;
}

/* Reads a member name of the innermost object: storable, and new in its object. */
static enum ch_err
read_name(struct scan *sc)
{
	struct frame *f = &sc->frames[sc->depth - 1];
	const char *start = sc->p + 1, *close, *why;
	bool escaped;

	if ((close = read_string(sc, &why, &escaped)) == NULL || close - start > (long)UINT32_MAX)
		return invalid(sc);
	f->key = start;
	f->keylen = (size_t)(close - start);
	if (why != NULL)
		return bad_at(sc, sc->depth, "member name ", why);
	if (escaped && (f->key = unescape_name(sc, start, f->keylen, &f->keylen)) == NULL)
		return CH_ERR_NOMEM;
	return add_name(sc, f->key, f->keylen);
}

/* Reads a string value: every escape storable. */
static enum ch_err
read_value(struct scan *sc)
{
	const char *why;
	bool escaped;

	if (read_string(sc, &why, &escaped) == NULL)
		return invalid(sc);
	return why != NULL ? bad_at(sc, sc->depth, "", why) : CH_OK;
}

/* Enters the object or array at sc->p. */
static enum ch_err
open_container(struct scan *sc)
{
	struct frame *f;

	if (sc->depth == MAX_DEPTH)
		return invalid(sc);
	f = &sc->frames[sc->depth++];
	*f = (struct frame){ .object = *sc->p == '{', .serial = sc->serials++ };
	sc->p++;
	return CH_OK;
}

/* Walks the text; only strings and structure matter (numbers and literals hold no quote). */
static enum ch_err
scan(struct scan *sc)
{
	static const bool
	    stop[256] = { ['"'] = true, ['{'] = true, ['}'] = true, ['['] = true, [']'] = true, [','] = true };
	struct frame *top;
	bool want_name = false;
	enum ch_err err = CH_OK;

	while (err == CH_OK && sc->p < sc->end) {
		switch (*sc->p) {
		case '"':
			err = want_name ? read_name(sc) : read_value(sc);
			want_name = false;
			break;
		case '{':
		case '[':
			want_name = *sc->p == '{';
			err = open_container(sc);
			break;
		case '}':
		case ']':
			if (sc->depth == 0)
				return invalid(sc);
			sc->depth--;
			sc->p++;
			want_name = false;
			break;
		case ',':
			top = sc->depth > 0 ? &sc->frames[sc->depth - 1] : NULL;
			if (top != NULL && top->object)
				want_name = true;
			else if (top != NULL)
				top->index++;
			sc->p++;
			break;
		default: /* white space, ':', numbers, literals */
			while (++sc->p < sc->end && !stop[(unsigned char)*sc->p])
				;
		}
	}
	return err;
}

enum ch_err
json_strict_check(const char *s, size_t len, const char *const *repeat_ok, char *error, size_t errlen)
{
	struct scan sc; /* frames are set as they open: only the table starts zeroed */
	struct block *b;
	enum ch_err err;

	sc.p = s;
	sc.end = s != NULL ? s + len : s;
	sc.repeat_ok = repeat_ok;
	sc.error = error;
	sc.errlen = errlen;
	sc.depth = 0;
	sc.serials = 0;
	memset(sc.small, 0, sizeof(sc.small));
	sc.slots = sc.small;
	sc.cap = SMALL_SLOTS;
	sc.used = 0;
	sc.blocks = NULL;
	err = s == NULL && len > 0 ? invalid(&sc) : scan(&sc);
	if (sc.slots != sc.small)
		free(sc.slots);
	while ((b = sc.blocks) != NULL) {
		sc.blocks = b->next;
		free(b);
	}
	return err;
}
