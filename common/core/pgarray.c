/* Array arguments for PostgreSQL: see pgarray.h. */
#include <stdlib.h>
#include <string.h>

#include "core/pgarray.h"

/* Makes room for n more bytes; false (and a->failed) when out of memory. */
static bool
room(struct pg_array *a, size_t n)
{
	size_t cap;
	char *p;

	if (a->failed)
		return false;
	if (a->len + n + 1 <= a->cap)
		return true;
	cap = a->cap > 0 ? a->cap : 256;
	while (a->len + n + 1 > cap)
		cap *= 2;
	if ((p = realloc(a->p, cap)) == NULL) {
		a->failed = true;
		return false;
	}
	a->p = p;
	a->cap = cap;
	return true;
}

void
pg_array_put(struct pg_array *a, const void *s, size_t n)
{
	if (!room(a, n))
		return;
	memcpy(a->p + a->len, s, n);
	a->len += n;
	a->p[a->len] = '\0';
}

/* Appends a 32-bit integer in network byte order. */
static void
put_int(struct pg_array *a, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };

	pg_array_put(a, b, 4);
}

void
pg_array_begin(struct pg_array *a, uint32_t oid, size_t n)
{
	put_int(a, 1);
	put_int(a, 0);
	put_int(a, oid);
	put_int(a, (uint32_t)n);
	put_int(a, 1);
}

void
pg_array_bin(struct pg_array *a, uint32_t oid, const char *v, size_t n)
{
	if (v == NULL) {
		put_int(a, UINT32_MAX);
		return;
	}
	put_int(a, (uint32_t)(n + (oid == PG_OID_JSONB)));
	if (oid == PG_OID_JSONB)
		pg_array_put(a, "\1", 1);
	pg_array_put(a, v, n);
}

void
pg_array_int4(struct pg_array *a, int32_t v)
{
	put_int(a, 4);
	put_int(a, (uint32_t)v);
}

void
pg_array_bool(struct pg_array *a, int v)
{
	if (v < 0) {
		put_int(a, UINT32_MAX);
		return;
	}
	put_int(a, 1);
	pg_array_put(a, v ? "\1" : "\0", 1);
}

/* Writes v in network byte order at offset `at`, written already. */
static void
set_int(struct pg_array *a, size_t at, uint32_t v)
{
	unsigned char *p = (unsigned char *)a->p + at;

	if (a->failed || a->len < at + 4)
		return;
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

size_t
pg_array_elem_begin(struct pg_array *a)
{
	size_t at = a->len;

	put_int(a, 0);
	return at;
}

void
pg_array_elem_end(struct pg_array *a, size_t at)
{
	set_int(a, at, (uint32_t)(a->len - at - 4));
}

void
pg_array_set_count(struct pg_array *a, size_t n)
{
	set_int(a, 12, (uint32_t)n); /* after ndim, flags and the element type */
}

void
pg_array_quoted(struct pg_array *a, const char *v)
{
	size_t i, n = v != NULL ? strlen(v) : 0, k = a->len;

	if (!room(a, 2 * n + 5))
		return;
	a->p[k++] = a->len == 0 ? '{' : ',';
	if (v == NULL) {
		memcpy(a->p + k, "NULL", 4);
		k += 4;
	} else {
		a->p[k++] = '"';
		for (i = 0; i < n; i++) {
			if (v[i] == '"' || v[i] == '\\')
				a->p[k++] = '\\';
			a->p[k++] = v[i];
		}
		a->p[k++] = '"';
	}
	a->p[k] = '\0';
	a->len = k;
}

void
pg_array_close(struct pg_array *a)
{
	pg_array_put(a, a->len == 0 ? "{}" : "}", a->len == 0 ? 2 : 1);
}

void
pg_array_free(struct pg_array *a)
{
	free(a->p);
	memset(a, 0, sizeof(*a));
}
