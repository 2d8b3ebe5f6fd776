/* SPDX-License-Identifier: MIT */
/*
 * Typed access to the fields of a bridge JSON document, with the rules of
 * Go's encoding/json (what hcsshim's guest applies to the same bytes):
 *   - a missing field or a JSON null leaves the zero value ("" / 0 / false /
 *     NULL), without error;
 *   - a present field of the wrong JSON type is an error, as is an integer
 *     out of the field's range or a number with a fraction or exponent for
 *     an integer field;
 *   - field names match exactly, or else case-insensitively (the last such
 *     key wins), as Go does;
 *   - unknown fields are ignored.
 * Every error is -EBADMSG with a message naming the field; the dispatcher
 * answers it with HRESULT 0xC037010D (invalid JSON).
 * Returned strings and json_t pointers are borrowed from obj.
 */
#ifndef GCS_PROTOCOL_JSON_H
#define GCS_PROTOCOL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcow/error.h"

/* Parse a whole frame body.  The body must be a JSON object; a bare null
 * reads as an empty object (Go decodes null into a struct as a no-op). */
int jf_parse_body(const void *buf, size_t len, json_t **root, struct error *err);

/* The value for name, or NULL. */
json_t *jf_lookup(const json_t *obj, const char *name);

int jf_string(const json_t *obj, const char *name, const char **out, struct error *err);
int jf_bool(const json_t *obj, const char *name, bool *out, struct error *err);
int jf_u8(const json_t *obj, const char *name, uint8_t *out, struct error *err);
int jf_u16(const json_t *obj, const char *name, uint16_t *out, struct error *err);
int jf_u32(const json_t *obj, const char *name, uint32_t *out, struct error *err);
int jf_u64(const json_t *obj, const char *name, uint64_t *out, struct error *err);
int jf_i32(const json_t *obj, const char *name, int32_t *out, struct error *err);

/* An object / array (NULL when missing or null). */
int jf_object(const json_t *obj, const char *name, json_t **out, struct error *err);
int jf_array(const json_t *obj, const char *name, json_t **out, struct error *err);
/* []string: an array of strings (null elements read as ""). */
int jf_string_array(const json_t *obj, const char *name, json_t **out, struct error *err);
/* map[string]string: an object whose values are strings (or null). */
int jf_string_map(const json_t *obj, const char *name, json_t **out, struct error *err);

/* A JSON document carried in a string field (ContainerConfig,
 * ProcessParameters, Query): the string is parsed and must hold an object
 * (or null).  *doc is a new reference the caller must json_decref(); NULL
 * when the document is null, or when the string is empty and allow_empty
 * is set (an empty string is otherwise invalid JSON, as in Go). */
int jf_embedded(const json_t *obj, const char *name, bool allow_empty, json_t **doc,
		struct error *err);

/* The JSON type name, for messages. */
const char *jf_type_name(const json_t *v);

/* json_decrefp() is jansson's own (2.11+). */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

#endif
