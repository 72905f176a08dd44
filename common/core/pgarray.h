/*
 * Array arguments for PostgreSQL, written in one buffer: a text literal
 * ({"…","…",NULL}) or the binary format array_recv() reads (a header, then each
 * element's length and bytes, so bodies and JSON go as they are, with nothing
 * to escape).
 */
#ifndef CALLHOOK_PGARRAY_H
#define CALLHOOK_PGARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_array {
	char *p; /* the bytes written, NUL-terminated (owned: pg_array_free()) */
	size_t len, cap;
	bool failed; /* out of memory: the array is incomplete */
};

/* Element types of the binary format (pg_type.oid, fixed for built-in types). */
enum { PG_OID_BOOL = 16, PG_OID_BYTEA = 17, PG_OID_INT4 = 23, PG_OID_TEXT = 25, PG_OID_JSONB = 3802 };

/* Appends n raw bytes. */
void pg_array_put(struct pg_array *a, const void *s, size_t n);

/* Appends one byte: pg_array_put() without a call while there is room. */
static inline void
pg_array_putc(struct pg_array *a, char c)
{
	if (a->len + 2 <= a->cap) {
		a->p[a->len++] = c;
		a->p[a->len] = '\0';
	} else {
		pg_array_put(a, &c, 1);
	}
}

/* Starts a binary array of n elements of type oid: one dimension, from 1. */
void pg_array_begin(struct pg_array *a, uint32_t oid, size_t n);

/* Appends a binary element: NULL, or v[0..n-1] (for jsonb, the text after its format version). */
void pg_array_bin(struct pg_array *a, uint32_t oid, const char *v, size_t n);

/* Appends a binary int4 element, or a bool one (-1: NULL, else false or true). */
void pg_array_int4(struct pg_array *a, int32_t v);
void pg_array_bool(struct pg_array *a, int v);

/*
 * A binary element written piece by piece: pg_array_elem_begin() returns where
 * its length goes, pg_array_put() appends its bytes, pg_array_elem_end() sets
 * the length.
 */
size_t pg_array_elem_begin(struct pg_array *a);
void pg_array_elem_end(struct pg_array *a, size_t at);

/* Sets the element count of a binary array begun with a count not known then. */
void pg_array_set_count(struct pg_array *a, size_t n);

/* Appends an element of a text literal, quoted ('"' and '\\' escaped), or NULL; pg_array_close() ends it. */
void pg_array_quoted(struct pg_array *a, const char *v);

/* Ends a text literal ("{}" when it has no element). */
void pg_array_close(struct pg_array *a);

void pg_array_free(struct pg_array *a);

#endif
