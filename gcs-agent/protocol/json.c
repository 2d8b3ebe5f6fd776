/* SPDX-License-Identifier: MIT */
#include "json.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

const char *jf_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	case JSON_NULL: return "null";
	}
	return "?";
}

int jf_parse_body(const void *buf, size_t len, json_t **root, struct error *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
	if (!j)
		return error_setx(err, EBADMSG, "invalid JSON at byte %d: %s", jerr.position,
				  jerr.text);
	if (json_is_null(j)) {
		json_decref(j);
		j = json_object();
		if (!j)
			return error_set(err, ENOMEM, "allocate JSON object");
	}
	if (!json_is_object(j)) {
		int r = error_setx(err, EBADMSG, "message body is a JSON %s, not an object",
				   jf_type_name(j));
		json_decref(j);
		return r;
	}
	*root = j;
	return 0;
}

json_t *jf_lookup(const json_t *obj, const char *name)
{
	if (!json_is_object(obj))
		return NULL;
	json_t *v = json_object_get(obj, name);
	if (v)
		return v;
	/* Go falls back to a case-insensitive match; keys are visited in
	 * document order and each match overwrites, so the last one wins. */
	const char *key;
	json_t *val, *found = NULL;
	json_object_foreach((json_t *)obj, key, val)
	{
		if (strcasecmp(key, name) == 0)
			found = val;
	}
	return found;
}

static int wrong_type(const char *name, const char *want, const json_t *v, struct error *err)
{
	return error_setx(err, EBADMSG, "field %s: expected %s, got %s", name, want,
			  jf_type_name(v));
}

int jf_string(const json_t *obj, const char *name, const char **out, struct error *err)
{
	json_t *v = jf_lookup(obj, name);
	*out = "";
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return wrong_type(name, "string", v, err);
	*out = json_string_value(v);
	return 0;
}

int jf_bool(const json_t *obj, const char *name, bool *out, struct error *err)
{
	json_t *v = jf_lookup(obj, name);
	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return wrong_type(name, "bool", v, err);
	*out = json_is_true(v);
	return 0;
}

static int get_int(const json_t *obj, const char *name, const char *tname, long long min,
		   long long max, long long *out, struct error *err)
{
	json_t *v = jf_lookup(obj, name);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return wrong_type(name, tname, v, err);
	long long x = json_integer_value(v);
	if (x < min || x > max)
		return error_setx(err, EBADMSG, "field %s: %lld is out of range for %s", name, x,
				  tname);
	*out = x;
	return 0;
}

int jf_u8(const json_t *obj, const char *name, uint8_t *out, struct error *err)
{
	long long x;
	int r = get_int(obj, name, "uint8", 0, UINT8_MAX, &x, err);
	*out = (uint8_t)x;
	return r;
}

int jf_u16(const json_t *obj, const char *name, uint16_t *out, struct error *err)
{
	long long x;
	int r = get_int(obj, name, "uint16", 0, UINT16_MAX, &x, err);
	*out = (uint16_t)x;
	return r;
}

int jf_u32(const json_t *obj, const char *name, uint32_t *out, struct error *err)
{
	long long x;
	int r = get_int(obj, name, "uint32", 0, UINT32_MAX, &x, err);
	*out = (uint32_t)x;
	return r;
}

int jf_u64(const json_t *obj, const char *name, uint64_t *out, struct error *err)
{
	/* jansson's integers are long long: larger literals already failed
	 * to parse. */
	long long x;
	int r = get_int(obj, name, "uint64", 0, INT64_MAX, &x, err);
	*out = (uint64_t)x;
	return r;
}

int jf_i32(const json_t *obj, const char *name, int32_t *out, struct error *err)
{
	long long x;
	int r = get_int(obj, name, "int32", INT32_MIN, INT32_MAX, &x, err);
	*out = (int32_t)x;
	return r;
}

int jf_object(const json_t *obj, const char *name, json_t **out, struct error *err)
{
	json_t *v = jf_lookup(obj, name);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return wrong_type(name, "object", v, err);
	*out = v;
	return 0;
}

int jf_array(const json_t *obj, const char *name, json_t **out, struct error *err)
{
	json_t *v = jf_lookup(obj, name);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return wrong_type(name, "array", v, err);
	*out = v;
	return 0;
}

int jf_string_array(const json_t *obj, const char *name, json_t **out, struct error *err)
{
	int r = jf_array(obj, name, out, err);
	if (r < 0 || !*out)
		return r;
	size_t i;
	json_t *e;
	json_array_foreach(*out, i, e)
	{
		if (!json_is_string(e) && !json_is_null(e)) {
			*out = NULL;
			return error_setx(err, EBADMSG, "field %s[%zu]: expected string, got %s",
					  name, i, jf_type_name(e));
		}
	}
	return 0;
}

int jf_string_map(const json_t *obj, const char *name, json_t **out, struct error *err)
{
	int r = jf_object(obj, name, out, err);
	if (r < 0 || !*out)
		return r;
	const char *key;
	json_t *val;
	json_object_foreach(*out, key, val)
	{
		if (!json_is_string(val) && !json_is_null(val)) {
			*out = NULL;
			return error_setx(err, EBADMSG, "field %s[\"%s\"]: expected string, got %s",
					  name, key, jf_type_name(val));
		}
	}
	return 0;
}

int jf_embedded(const json_t *obj, const char *name, bool allow_empty, json_t **doc,
		struct error *err)
{
	*doc = NULL;
	json_t *v = jf_lookup(obj, name);
	if (v && !json_is_null(v) && !json_is_string(v))
		return wrong_type(name, "string holding a JSON document", v, err);
	const char *s = v && json_is_string(v) ? json_string_value(v) : "";
	size_t len = v && json_is_string(v) ? json_string_length(v) : 0;
	if (len == 0) {
		if (allow_empty)
			return 0;
		return error_setx(err, EBADMSG, "field %s: empty, expected a JSON document", name);
	}
	json_error_t jerr;
	json_t *j = json_loadb(s, len, JSON_DECODE_ANY, &jerr);
	if (!j)
		return error_setx(err, EBADMSG, "field %s: invalid JSON at byte %d: %s", name,
				  jerr.position, jerr.text);
	if (json_is_null(j)) {
		json_decref(j);
		return 0;
	}
	if (!json_is_object(j)) {
		int r = error_setx(err, EBADMSG,
				   "field %s: the document is a JSON %s, not an object", name,
				   jf_type_name(j));
		json_decref(j);
		return r;
	}
	*doc = j;
	return 0;
}
