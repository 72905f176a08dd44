/* Row operations as typed arrays: see rowops.h. */
#include <stdint.h>
#include <string.h>

#include "ingest/rowops.h"
#include "vendors/vendor.h"

/* The element type of each array (rowops.h). */
static const uint32_t oids[OPS_ARRAYS] = {
	[OPS_DELIVERY] = PG_OID_INT4,
	[OPS_PLACE] = PG_OID_INT4,
	[OPS_SEGMENT] = PG_OID_INT4,
	[OPS_TABLE] = PG_OID_TEXT,
	[OPS_KIND] = PG_OID_TEXT,
	[OPS_EXTERNAL_ID] = PG_OID_TEXT,
	[OPS_EVENT_TIME] = PG_OID_TEXT,
	[OPS_IS_TEST] = PG_OID_BOOL,
	[OPS_COLS] = PG_OID_JSONB,
	[OPS_DATA] = PG_OID_JSONB,
	[OPS_COLUMNS] = PG_OID_JSONB,
};

/* Member `key` of object o, or NULL when absent or JSON null. */
static struct json_object *
member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

/* Whether member `key` is absent, null, or of type t. */
static bool
absent_or(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v = member(o, key);

	return v == NULL || json_object_is_type(v, t);
}

/* What never erases a value (sql/002_ingest.sql): null, "", [] and {}. */
static bool
empty(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return true;
	case json_type_string: return json_object_get_string_len(v) == 0;
	case json_type_array: return json_object_array_length(v) == 0;
	case json_type_object: return json_object_object_length(v) == 0;
	default: return false;
	}
}

/* Whether no member of object o but `skip` (may be NULL) is empty. */
static bool
none_empty(struct json_object *o, const char *skip)
{
	json_object_object_foreach(o, key, v)
	{
		if ((skip == NULL || strcmp(key, skip)) && empty(v))
			return false;
	}
	return true;
}

static bool
segments_typed(struct json_object *op)
{
	struct json_object *segs = member(op, "segments"), *seg;
	size_t i, n;

	if (!json_object_is_type(member(op, "table"), json_type_string) ||
	    strcmp(json_object_get_string(member(op, "table")), "transcript_segments") ||
	    !json_object_is_type(member(op, "call_external_id"), json_type_string) ||
	    !json_object_is_type(segs, json_type_array) || (n = json_object_array_length(segs)) == 0)
		return false;
	for (i = 0; i < n; i++) {
		seg = json_object_array_get_idx(segs, i);
		if (!json_object_is_type(seg, json_type_object) ||
		    !json_object_is_type(member(seg, "seq"), json_type_int) ||
		    !absent_or(seg, "data", json_type_object) || !none_empty(seg, "data"))
			return false;
	}
	return true;
}

/* One operation (rowops.h): its kind and the types of its fields. */
static bool
op_typed(struct json_object *op)
{
	struct json_object *kind = member(op, "op"), *table = member(op, "table"), *cols = member(op, "cols");
	const char *k =
	    kind != NULL && json_object_is_type(kind, json_type_string) ? json_object_get_string(kind) : NULL;

	if (!json_object_is_type(op, json_type_object) || (kind != NULL && k == NULL) ||
	    !absent_or(op, "event_time", json_type_string) || !absent_or(op, "is_test", json_type_boolean))
		return false;
	if (k != NULL && !strcmp(k, "replace_segments"))
		return segments_typed(op);
	return json_object_is_type(table, json_type_string) &&
	    strcmp(json_object_get_string(table), "transcript_segments") &&
	    absent_or(op, "external_id", json_type_string) && absent_or(op, "data", json_type_object) &&
	    absent_or(op, "cols", json_type_object) && (cols == NULL || none_empty(cols, NULL));
}

bool
row_ops_typed(struct json_object *rows)
{
	size_t i, n;

	if (!json_object_is_type(rows, json_type_array))
		return false;
	for (i = 0, n = json_object_array_length(rows); i < n; i++)
		if (!op_typed(json_object_array_get_idx(rows, i)))
			return false;
	return true;
}

void
row_ops_begin(struct row_ops *o)
{
	int k;

	memset(o, 0, sizeof(*o));
	for (k = 0; k < OPS_ARRAYS; k++)
		pg_array_begin(&o->a[k], oids[k], 0); /* counts set by row_ops_end() */
}

/* A text element: a string member of `from`, or NULL. */
static void
put_text(struct pg_array *a, struct json_object *from, const char *key)
{
	struct json_object *v = member(from, key);

	pg_array_bin(a, PG_OID_TEXT, v ? json_object_get_string(v) : NULL,
	    v ? (size_t)json_object_get_string_len(v) : 0);
}

/*
 * How many bytes s[0..n-1] starts with that JSON takes as they are: none is '"',
 * '\\' or a control character. Eight bytes at a time: a byte below 0x20, or one
 * that is zero once xored with '"' or '\\', leaves its high bit set in
 * (x - 0x01…) & ~x (or (x - 0x20…) & ~x), and only such a byte does.
 */
static size_t
plain_run(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t w, q, b;
	size_t k = 0;

	for (; k + 8 <= n; k += 8) {
		memcpy(&w, s + k, 8);
		q = w ^ ones * '"';
		b = w ^ ones * '\\';
		if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs)
			break;
	}
	while (k < n && (unsigned char)s[k] >= 0x20 && s[k] != '"' && s[k] != '\\')
		k++;
	return k;
}

/* Appends s[0..n-1] as a JSON string. */
static void
put_string_n(struct pg_array *a, const char *s, size_t n)
{
	char esc[8];
	size_t k;

	pg_array_putc(a, '"');
	for (;;) {
		k = plain_run(s, n);
		pg_array_put(a, s, k);
		if (k == n)
			break;
		if (s[k] == '"' || s[k] == '\\') {
			esc[0] = '\\';
			esc[1] = s[k];
			pg_array_put(a, esc, 2);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = "0123456789abcdef"[(unsigned char)s[k] >> 4];
			esc[5] = "0123456789abcdef"[s[k] & 15];
			pg_array_put(a, esc, 6);
		}
		s += k + 1;
		n -= k + 1;
	}
	pg_array_putc(a, '"');
}

static void
put_string(struct pg_array *a, const char *s)
{
	put_string_n(a, s, strlen(s));
}

/*
 * Appends v in JSON. Containers, strings and integers are written here, straight
 * into the array; json-c's writer built each value in a buffer of its own first.
 * Other numbers go as json-c writes them (a parsed one keeps its text).
 */
static void
put_value(struct pg_array *a, struct json_object *v)
{
	char digits[24];
	const char *s;
	size_t i, n;
	int64_t x;
	uint64_t u;

	switch (json_object_get_type(v)) {
	case json_type_null: pg_array_put(a, "null", 4); return;
	case json_type_boolean:
		if (json_object_get_boolean(v))
			pg_array_put(a, "true", 4);
		else
			pg_array_put(a, "false", 5);
		return;
	case json_type_string:
		put_string_n(a, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		return;
	case json_type_object:
		n = 0;
		pg_array_putc(a, '{');
		json_object_object_foreach(v, key, member_value)
		{
			if (n++ > 0)
				pg_array_putc(a, ',');
			put_string(a, key);
			pg_array_putc(a, ':');
			put_value(a, member_value);
		}
		pg_array_putc(a, '}');
		return;
	case json_type_array:
		pg_array_putc(a, '[');
		for (i = 0, n = json_object_array_length(v); i < n; i++) {
			if (i > 0)
				pg_array_putc(a, ',');
			put_value(a, json_object_array_get_idx(v, i));
		}
		pg_array_putc(a, ']');
		return;
	case json_type_int:
		/* (INT64_MAX may stand for a larger unsigned value: json-c writes those) */
		if ((x = json_object_get_int64(v)) != INT64_MAX) {
			u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
			i = sizeof(digits);
			do
				digits[--i] = (char)('0' + u % 10);
			while ((u /= 10) > 0);
			if (x < 0)
				digits[--i] = '-';
			pg_array_put(a, digits + i, sizeof(digits) - i);
			return;
		}
		/* FALLTHROUGH */
	default: s = json_object_to_json_string_length(v, JSON_OUT, &n); pg_array_put(a, s, n);
	}
}

void
row_ops_json_text(struct pg_array *a, struct json_object *v)
{
	put_value(a, v);
}

void
row_ops_json_element(struct pg_array *a, struct json_object *v)
{
	size_t at;

	if (v == NULL) {
		pg_array_bin(a, PG_OID_JSONB, NULL, 0);
		return;
	}
	at = pg_array_elem_begin(a);
	pg_array_put(a, "\1", 1); /* jsonb's format version, then the text */
	put_value(a, v);
	pg_array_elem_end(a, at);
}

/* The op_columns element: the names of the members of cols (may be NULL) but `skip`, as {"name": true, …}. */
static void
put_columns(struct pg_array *a, struct json_object *cols, const char *skip)
{
	size_t at = pg_array_elem_begin(a), n = 0;

	pg_array_put(a, "\1{", 2); /* jsonb's format version, then the text */
	if (cols != NULL) {
		json_object_object_foreach(cols, key, v)
		{
			(void)v;
			if (skip != NULL && !strcmp(key, skip))
				continue;
			if (n++ > 0)
				pg_array_putc(a, ',');
			put_string(a, key);
			pg_array_put(a, ":true", 5);
		}
	}
	pg_array_putc(a, '}');
	pg_array_elem_end(a, at);
}

/*
 * One element of every op_ array: operation n (1-based) of delivery d, segment
 * m (0: none), the fields of `op`, its columns `cols` (may be NULL: none) but
 * the member `skip` (may be NULL), its data.
 */
static void
put_op(struct row_ops *o, int d, int n, int m, struct json_object *op, struct json_object *cols,
    const char *skip)
{
	struct json_object *kind = member(op, "op"), *is_test = member(op, "is_test");
	bool segment = m > 0;

	o->ops++;
	pg_array_int4(&o->a[OPS_DELIVERY], d);
	pg_array_int4(&o->a[OPS_PLACE], n);
	pg_array_int4(&o->a[OPS_SEGMENT], m);
	put_text(&o->a[OPS_TABLE], op, "table");
	if (kind != NULL)
		put_text(&o->a[OPS_KIND], op, "op");
	else
		pg_array_bin(&o->a[OPS_KIND], PG_OID_TEXT, "upsert", strlen("upsert"));
	put_text(&o->a[OPS_EXTERNAL_ID], op, segment ? "call_external_id" : "external_id");
	put_text(&o->a[OPS_EVENT_TIME], op, "event_time");
	pg_array_bool(&o->a[OPS_IS_TEST], is_test ? json_object_get_boolean(is_test) : -1);
	if (cols != NULL)
		row_ops_json_element(&o->a[OPS_COLS], cols);
	else
		pg_array_bin(&o->a[OPS_COLS], PG_OID_JSONB, "{}", 2);
	row_ops_json_element(&o->a[OPS_DATA], segment ? NULL : member(op, "data"));
	put_columns(&o->a[OPS_COLUMNS], cols, skip);
}

void
row_ops_add(struct row_ops *o, int d, struct json_object *rows)
{
	struct json_object *op, *segs;
	size_t i, j, n = json_object_array_length(rows);

	for (i = 0; i < n; i++) {
		op = json_object_array_get_idx(rows, i);
		segs = member(op, "segments");
		if (member(op, "op") != NULL &&
		    !strcmp(json_object_get_string(member(op, "op")), "replace_segments"))
			for (j = 0; j < json_object_array_length(segs); j++)
				put_op(o, d, (int)i + 1, (int)j + 1, op, json_object_array_get_idx(segs, j),
				    "data");
		else
			put_op(o, d, (int)i + 1, 0, op, member(op, "cols"), NULL);
	}
}

bool
row_ops_end(struct row_ops *o)
{
	int k;

	for (k = 0; k < OPS_ARRAYS; k++) {
		pg_array_set_count(&o->a[k], o->ops);
		if (o->a[k].failed)
			return false;
	}
	return true;
}

void
row_ops_free(struct row_ops *o)
{
	int k;

	for (k = 0; k < OPS_ARRAYS; k++)
		pg_array_free(&o->a[k]);
}
