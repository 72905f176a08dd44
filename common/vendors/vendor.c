/* The vendor list and the helpers decoders share to build row operations. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "vendors/vendor.h"

const struct vendor *const vendors[] = {
	&vendor_callrail,
	&vendor_calltracker,
	&vendor_salpre,
	&vendor_callscaler,
	&vendor_fonedynamics,
	NULL,
};

/* The UTM parameters and ad click ids, which vendors send under the same names as the columns. */
const struct field_map utm_click_fields[] = {
	{ "utm_source", "utm_source", conv_text, 0 },
	{ "utm_medium", "utm_medium", conv_text, 0 },
	{ "utm_campaign", "utm_campaign", conv_text, 0 },
	{ "utm_term", "utm_term", conv_text, 0 },
	{ "utm_content", "utm_content", conv_text, 0 },
	{ "gclid", "gclid", conv_text, 0 },
	{ "fbclid", "fbclid", conv_text, 0 },
	{ "msclkid", "msclkid", conv_text, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct vendor *
vendor_find(const char *name)
{
	size_t i;

	for (i = 0; vendors[i] != NULL; i++)
		if (!strcmp(vendors[i]->name, name))
			return vendors[i];
	return NULL;
}

/* "callrail, calltracker, … or fonedynamics": the names of vendors[], for messages. */
static void
vendor_names(char *buf, size_t size)
{
	size_t i, len = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; vendors[i] != NULL && len < size; i++) {
		n = snprintf(buf + len, size - len, "%s%s",
		    i == 0             ? "" :
			vendors[i + 1] ? ", " :
					 " or ",
		    vendors[i]->name);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

struct config *
vendor_bind_sources(struct config *cfg)
{
	struct source *s;
	char names[256];
	size_t i;

	for (i = 0; cfg != NULL && i < cfg->nsources; i++) {
		s = &cfg->sources[i];
		if (s->vendor_name == NULL)
			continue; /* config_load() said it is missing */
		if ((s->vendor = vendor_find(s->vendor_name)) != NULL)
			continue;
		vendor_names(names, sizeof(names));
		config_problem(cfg, s->vendor_line, "source %s: unknown vendor \"%s\" (expected %s)", s->name,
		    s->vendor_name, names);
	}
	return cfg;
}

bool
vendor_has_event(const struct vendor *v, const char *event)
{
	size_t i;

	if (v->path_events == NULL || event == NULL)
		return false;
	for (i = 0; v->path_events[i] != NULL; i++)
		if (!strcmp(v->path_events[i], event))
			return true;
	return false;
}

const char *
outcome_name(enum outcome o)
{
	switch (o) {
	case OUT_STORED: return "stored";
	case OUT_DUPLICATE: return "duplicate";
	case OUT_IGNORED: return "ignored";
	case OUT_REJECTED: return "rejected";
	case OUT_SPOOLED: return "spooled";
	case OUT_ERROR: return "error";
	}
	return "error";
}

void
decoded_clear(struct decoded *d)
{
	size_t i;

	free(d->event);
	free(d->dedup_key);
	json_object_put(d->rows);
	json_object_put(d->reply);
	for (i = 0; i < 4; i++)
		free(d->route_args[i]);
	memset(d, 0, sizeof(*d));
}

enum ch_err
bad_body(struct decoded *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
	return CH_ERR_BAD_BODY;
}

struct json_object *
json_find(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	char part[128];
	const char *dot;
	size_t n;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (json_object_object_get_ex(obj, key, &v))
		return v;
	while ((dot = strchr(key, '.')) != NULL) {
		n = dot - key;
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, key, n);
		part[n] = '\0';
		if (!json_object_object_get_ex(obj, part, &obj) || !json_object_is_type(obj, json_type_object))
			return NULL;
		key = dot + 1;
	}
	return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

const char *
json_find_text(struct json_object *obj, const char *key)
{
	struct json_object *v = json_find(obj, key);

	if (v == NULL || conv_is_absent(v))
		return NULL;
	if (!json_object_is_type(v, json_type_string) && !json_object_is_type(v, json_type_int))
		return NULL;
	return json_object_get_string(v);
}

void
cols_set_str(struct json_object *cols, const char *column, const char *value)
{
	if (value != NULL)
		json_object_object_add(cols, column, json_object_new_string(value));
}

/* Adds <column>_e164 when the number converts. */
static void
add_e164(struct json_object *cols, const char *column, struct json_object *v, const char *cc)
{
	char name[64], e164[17];

	if (!json_object_is_type(v, json_type_string) ||
	    !conv_e164(json_object_get_string(v), cc ? cc : "1", e164))
		return;
	snprintf(name, sizeof(name), "%s_e164", column);
	if (!json_object_object_get_ex(cols, name, NULL))
		json_object_object_add(cols, name, json_object_new_string(e164));
}

enum ch_err
map_fields(struct json_object *obj, const struct field_map *map, const char *where, const char *default_cc,
    struct json_object *cols, struct decoded *out)
{
	struct json_object *v;
	const char *why = "invalid value";

	for (; map->key != NULL; map++) {
		if (json_object_object_get_ex(cols, map->column, NULL))
			continue;
		switch (map->conv(json_find(obj, map->key), &v, &why)) {
		case CONV_ABSENT: continue;
		case CONV_BAD: return bad_body(out, "field \"%s%s\": %s", where, map->key, why);
		case CONV_OK:
			if (map->flags & F_E164)
				add_e164(cols, map->column, v, default_cc);
			/* absent (checked above), and the map's names live as long as the program: neither looked up nor copied */
			json_object_object_add_ex(cols, map->column, v,
			    JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY);
			break;
		}
	}
	return CH_OK;
}

const char *
event_time(struct json_object *obj, const char *key, const char *where, char buf[32], struct decoded *d,
    enum ch_err *err)
{
	struct json_object *v = NULL;
	const char *why = "expected a timestamp";

	*err = CH_OK;
	switch (conv_time(json_find(obj, key), &v, &why)) {
	case CONV_ABSENT: return NULL;
	case CONV_BAD: *err = bad_body(d, "field \"%s%s\": %s", where, key, why); return NULL;
	case CONV_OK: break;
	}
	snprintf(buf, 32, "%s", json_object_get_string(v));
	json_object_put(v);
	return buf;
}

struct json_object *
row_new(const char *table, const char *external_id, const char *event_time_text, bool is_test,
    struct json_object *data)
{
	/* a new object and literal names: neither looked up nor copied */
	const unsigned flags = JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY;
	struct json_object *row = json_object_new_object();

	if (row == NULL)
		return NULL;
	json_object_object_add_ex(row, "table", json_object_new_string(table), flags);
	json_object_object_add_ex(row, "external_id", json_object_new_string(external_id), flags);
	if (event_time_text != NULL)
		json_object_object_add_ex(row, "event_time", json_object_new_string(event_time_text), flags);
	json_object_object_add_ex(row, "is_test", json_object_new_boolean(is_test), flags);
	json_object_object_add_ex(row, "cols", json_object_new_object(), flags);
	json_object_object_add_ex(row, "data", data ? json_object_get(data) : json_object_new_object(), flags);
	return row;
}

void
row_insert_only(struct json_object *row)
{
	json_object_object_add(row, "op", json_object_new_string("insert"));
}

void
row_set_event_time(struct json_object *row, const char *event_time_text)
{
	json_object_object_add(row, "event_time", json_object_new_string(event_time_text));
}

void
row_set_external_id(struct json_object *row, const char *external_id)
{
	if (external_id != NULL)
		json_object_object_add(row, "external_id", json_object_new_string(external_id));
	else
		json_object_object_del(row, "external_id");
}

struct json_object *
row_final_transcript(struct decoded *d, const char *call_id, const char *event_time_text, bool is_test)
{
	struct json_object *row = row_new("transcript_segments", call_id, event_time_text, is_test, NULL);
	struct json_object *segments = json_object_new_array();

	rows_add(d, row);
	json_object_object_add(row, "op", json_object_new_string("replace_segments"));
	json_object_object_add(row, "call_external_id", json_object_new_string(call_id));
	json_object_object_add(row, "segments", segments);
	return segments;
}

struct json_object *
segment_new(struct json_object *segments, int64_t seq, struct json_object *data)
{
	struct json_object *seg = json_object_new_object();

	json_object_array_add(segments, seg);
	json_object_object_add(seg, "seq", json_object_new_int64(seq));
	if (data != NULL)
		json_object_object_add(seg, "data", json_object_get(data));
	return seg;
}

struct json_object *
row_cols(struct json_object *row)
{
	return json_find(row, "cols");
}

void
rows_add(struct decoded *d, struct json_object *row)
{
	if (d->rows == NULL)
		d->rows = json_object_new_array();
	json_object_array_add(d->rows, row);
}
