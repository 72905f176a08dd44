/* Value converters: accept what vendors really send, reject the rest with a reason. */
#ifndef CALLHOOK_CONVERT_H
#define CALLHOOK_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

enum conv_res {
	CONV_ABSENT = 0, /* NULL, JSON null, "" or only white space: nothing to store */
	CONV_OK = 1,     /* *out holds a new reference owned by the caller */
	CONV_BAD = -1,   /* *why points to a static phrase such as "expected an integer" */
};

/*
 * A converter borrows `in` (may be NULL) and, on CONV_OK, stores in *out a new
 * json-c value (caller owns it; json_object_object_add() takes that reference).
 * On CONV_BAD it sets *why to a static, lower-case phrase naming what was
 * expected; the caller adds the field name. *out is untouched unless CONV_OK.
 */
typedef enum conv_res (*conv_fn)(struct json_object *in, struct json_object **out, const char **why);

enum conv_res conv_text(struct json_object *, struct json_object **, const char **);
enum conv_res conv_bool(struct json_object *, struct json_object **, const char **);
enum conv_res conv_int(struct json_object *, struct json_object **, const char **);
enum conv_res conv_numeric(struct json_object *, struct json_object **, const char **);
enum conv_res conv_time(struct json_object *, struct json_object **, const char **);
enum conv_res conv_date(struct json_object *, struct json_object **, const char **);
enum conv_res conv_text_array(struct json_object *, struct json_object **, const char **);
enum conv_res conv_json(struct json_object *, struct json_object **, const char **);

bool conv_is_absent(struct json_object *v);
bool conv_utf8_valid(const char *s, size_t len);
/* Writes code point cp (below 2^21; not checked) as 1-4 bytes of UTF-8 to out; returns the count. */
size_t conv_utf8_put(uint32_t cp, char out[4]);
int conv_parse_time(const char *s, int64_t *usec);
void conv_format_time(int64_t usec, char out[32]);
bool conv_e164(const char *number, const char *default_cc, char out[17]);

#endif
