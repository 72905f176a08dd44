/*
 * A batch's row operations as the typed arrays callhook.ingest_batch() takes
 * (sql/012_ingest_batch.sql), so that PostgreSQL need not read them out of
 * JSON: one element per operation (a final transcript: one per segment) in
 * each array, op_columns naming the operation's columns as an object
 * {"name": true, …} for PostgreSQL to check against its tables.
 */
#ifndef CALLHOOK_ROWOPS_H
#define CALLHOOK_ROWOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include "core/pgarray.h"

/* The arrays, in the order of ingest_batch()'s arguments. */
enum {
	OPS_DELIVERY,
	OPS_PLACE,
	OPS_SEGMENT,
	OPS_TABLE,
	OPS_KIND,
	OPS_EXTERNAL_ID,
	OPS_EVENT_TIME,
	OPS_IS_TEST,
	OPS_COLS,
	OPS_DATA,
	OPS_COLUMNS,
	OPS_ARRAYS
};

struct row_ops {
	struct pg_array a[OPS_ARRAYS];
	size_t ops; /* elements written */
};

/*
 * Whether a decoder's row operations (a JSON array, see sql/002_ingest.sql)
 * can go typed: each an object whose fields have their JSON types (strings,
 * a boolean is_test, objects cols and data), an upsert or insert on another
 * table than transcript_segments, or a final transcript (replace_segments)
 * of objects with an integer seq; and no column (or segment field but data)
 * empty: null, "", [] or {}. The others go in JSON, where the row-at-a-time
 * code strips empty values and writes live transcript turns.
 */
bool row_ops_typed(struct json_object *rows);

void row_ops_begin(struct row_ops *o);
/* Appends the operations of `rows` (row_ops_typed()) as those of delivery d (1-based). */
void row_ops_add(struct row_ops *o, int d, struct json_object *rows);
/* Ends the arrays; false when memory ran out (row_ops_free() then). */
bool row_ops_end(struct row_ops *o);
void row_ops_free(struct row_ops *o);

/*
 * JSON text as rowops.c writes cols and data (json-c's writer builds each value
 * in a buffer of its own first): v appended to a as text, or as an element of a
 * binary jsonb array (NULL: a NULL element). a->failed when memory ran out.
 */
void row_ops_json_text(struct pg_array *a, struct json_object *v);
void row_ops_json_element(struct pg_array *a, struct json_object *v);

#endif
