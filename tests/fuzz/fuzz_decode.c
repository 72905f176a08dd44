/*
 * Fuzzes one vendor's decoder (VENDOR, set at build time) through the same
 * parse-and-decode path a request takes. The first byte picks the method,
 * content type and URL event; the rest is the body (or the query for GET).
 */
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "ingest/request.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const methods[] = { "POST", "GET", "PUT", "PATCH" };
static const char *const types[] = { "application/json", "application/x-www-form-urlencoded", "text/plain" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = fuzz_config();
	const struct source *src = config_find_source(cfg, STR(VENDOR), strlen(STR(VENDOR))), *found;
	struct raw_delivery raw = { 0 };
	struct decoded d = { 0 };
	uint8_t sel = size > 0 ? data[0] : 0;
	const char *const *ev = src->vendor->path_events;
	size_t nev = 0;
	int kind;

	while (ev != NULL && ev[nev] != NULL)
		nev++;
	raw.source = (char *)src->name;
	raw.method = (char *)methods[sel & 3];
	raw.content_type = (char *)types[(sel >> 2) % 3];
	raw.event = nev > 0 && (sel >> 4) < 15 ? (char *)ev[(sel >> 4) % nev] : NULL;
	raw.body = malloc(size + 1);
	memcpy(raw.body, data + (size > 0), size - (size > 0));
	raw.body_len = size - (size > 0);
	raw.body[raw.body_len] = '\0';
	raw.query = !strcmp(raw.method, "GET") ? raw.body : (char *)"";
	raw.received_usec = 1552122592010000;
	(void)decode_delivery(cfg, &raw, &d, &found, &kind);
	if (d.rows != NULL)
		(void)json_object_to_json_string_ext(d.rows, JSON_OUT);
	decoded_clear(&d);
	free(raw.body);
	return 0;
}
