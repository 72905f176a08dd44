/* application/x-www-form-urlencoded and query-string parsing. */
#ifndef CALLHOOK_FORM_H
#define CALLHOOK_FORM_H

#include <stddef.h>
#include <json-c/json.h>

/*
 * Parses `len` bytes of "a=1&b=2" into a new JSON object of strings (caller
 * owns it; json_object_put() it). '+' decodes to a space and %XX to its byte.
 * A key that appears more than once maps to an array of all its values, in
 * order. Returns NULL with *why set to a static phrase on a bad %-escape, a
 * decoded NUL byte, or invalid UTF-8.
 */
struct json_object *form_parse(const char *s, size_t len, const char **why);

/*
 * Decodes the value of `key` in query string `q` into a new string (free with
 * free()), or NULL when the key is absent or badly encoded.
 */
char *form_get(const char *q, const char *key);

/*
 * Returns a new copy of query string `q` without the parameters named in the
 * NULL-terminated list `drop` (free with free()); NULL when out of memory.
 */
char *form_without(const char *q, const char *const *drop);

#endif
