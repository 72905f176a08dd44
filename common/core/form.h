/* application/x-www-form-urlencoded and query-string parsing. */
#ifndef CALLHOOK_FORM_H
#define CALLHOOK_FORM_H

#include <stddef.h>
#include <json-c/json.h>

/*
 * Parses `len` bytes of "a=1&b=2" into a new JSON object of strings (caller
 * owns it; json_object_put() it). '+' decodes to a space and %XX to its byte.
 * A key that appears more than once maps to an array of all its values, in
 * order. Returns NULL with `error` (errlen bytes) naming the field on a bad
 * %-escape, a decoded NUL byte, or bytes that are not valid UTF-8 once decoded
 * (overlong forms, UTF-16 surrogates and code points above U+10FFFF included):
 * 'field "Call.From": is not valid UTF-8'; a key that does not decode is named
 * as sent: 'field "%C0%AF": name is not valid UTF-8'.
 */
struct json_object *form_parse(const char *s, size_t len, char *error, size_t errlen);

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
