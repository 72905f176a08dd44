/* Fuzzes the form/query parser and its helpers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const drop[] = { "token", "a", NULL };
	char *s = malloc(size + 1), *v;
	struct json_object *o;
	char error[256];

	memcpy(s, data, size);
	s[size] = '\0';
	o = form_parse(s, size, error, sizeof(error));
	json_object_put(o);
	free(form_get(s, "token"));
	v = form_without(s, drop);
	free(v);
	free(s);
	return 0;
}
