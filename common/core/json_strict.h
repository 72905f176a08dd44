/* JSON bodies read as I-JSON (RFC 7493): the checks json-c does not make. */
#ifndef CALLHOOK_JSON_STRICT_H
#define CALLHOOK_JSON_STRICT_H

#include <stddef.h>
#include "core/err.h"

/*
 * Checks the JSON text s[0..len) (already accepted by json-c) for what json-c reads silently but
 * differently from other parsers, or cannot store faithfully:
 *   - a member name that appears twice in one object, names compared after unescaping ("a" and
 *     "\u0061" are the same name; "a" and "A" are not). Objects whose path is listed in
 *     `repeat_ok` (a NULL-terminated list such as { "form_data", NULL }, or NULL) may repeat
 *     their own member names; objects nested in them may not;
 *   - a \u escape that is a UTF-16 surrogate without its partner (a high one not followed by
 *     an escaped low one, a low one not preceded by a high one), in a member name or a value;
 *   - an escaped NUL ("\u0000"), which neither json-c's member names nor PostgreSQL text hold.
 * Paths are written as check_values() in request.c writes them: members joined by '.', array
 * items as "[i]" (e.g. "payload.items[2].id"); a member name that is itself wrong appears as
 * written in the body.
 * Returns CH_OK; CH_ERR_BAD_BODY with `error` set, e.g. "field \"payload.call_id\": duplicate
 * member name"; CH_ERR_NOMEM. Text that is not JSON is never read past len; it may pass, or
 * give CH_ERR_BAD_BODY "body: invalid JSON" where the scan notices. Memory: a table of names sized when it grows to the
 * names of the objects then open (names of closed objects are dropped), plus at most len bytes
 * for unescaped names, all freed before returning.
 */
enum ch_err json_strict_check(const char *s, size_t len, const char *const *repeat_ok, char *error,
    size_t errlen) MUSTCHECK;

/*
 * Path helpers shared with check_values(): json_path_append() appends sep and seg[0..n) to the
 * path (a buffer of pathlen bytes holding `used` of them), truncating, and returns the new length;
 * json_path_index() writes "[i]" into buf and returns it (a pointer into buf).
 */
size_t json_path_append(char *path, size_t pathlen, size_t used, const char *sep, const char *seg, size_t n);
const char *json_path_index(size_t i, char buf[24]);

/*
 * Writes `field "PATH": WHATWHY` into error (`body: WHATWHY` for the empty path). A path too long
 * for errlen is cut and ends in "...", so that the reason is always whole.
 */
void json_field_error(char *error, size_t errlen, const char *path, const char *what, const char *why);

#endif
