/*
 * Fuzzes the I-JSON scanner (common/core/json_strict.c) on any bytes, not only text json-c accepted:
 * it must never read past the input. When json-c accepts the text, the scanner must accept
 * json-c's own output of it (unique names, only storable escapes; an escaped NUL in a value
 * aside, which json-c writes back as \u0000).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/json_strict.h"

static const char *const repeat_ok[] = { "form_data", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size > 0 ? size : 1), error[256];
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *doc = NULL;
	const char *out;

	if (size > 0)
		memcpy(s, data, size); /* exactly size bytes: ASan sees any read past them */
	(void)json_strict_check(s, size, NULL, error, sizeof(error));
	(void)json_strict_check(s, size, repeat_ok, error, sizeof(error));
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	if (size > 0 && size < INT32_MAX)
		doc = json_tokener_parse_ex(tok, s, (int)size);
	if (doc != NULL && json_tokener_get_error(tok) == json_tokener_success) {
		out = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
		if (json_strict_check(out, strlen(out), NULL, error, sizeof(error)) != CH_OK &&
		    strstr(error, "contains a NUL byte") == NULL)
			abort();
	}
	json_object_put(doc);
	json_tokener_free(tok);
	free(s);
	return 0;
}
