/* SPDX-License-Identifier: MIT */
#include "jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grow(struct jw *w, size_t extra)
{
	if (w->failed)
		return false;
	if (w->len + extra + 1 <= w->cap)
		return true;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->len + extra + 1) {
		if (cap > SIZE_MAX / 2) {
			w->failed = true;
			return false;
		}
		cap *= 2;
	}
	char *p = realloc(w->p, cap);
	if (!p) {
		w->failed = true;
		return false;
	}
	w->p = p;
	w->cap = cap;
	return true;
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (!grow(w, n))
		return;
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

void jw_lit(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void jw_str(struct jw *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	jw_raw(w, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		char esc[8];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' &&
		    c != '&') {
			jw_raw(w, (const char *)s + i, 1);
			i++;
			continue;
		}
		if (c < 0x80) {
			switch (c) {
			case '"': jw_raw(w, "\\\"", 2); break;
			case '\\': jw_raw(w, "\\\\", 2); break;
			case '\n': jw_raw(w, "\\n", 2); break;
			case '\r': jw_raw(w, "\\r", 2); break;
			case '\t': jw_raw(w, "\\t", 2); break;
			default:
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				jw_raw(w, esc, 6);
			}
			i++;
			continue;
		}
		size_t len = utf8_seq(s + i, n - i);
		if (len == 0) {
			jw_lit(w, "\\ufffd");
			i++;
		} else if (len == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 &&
			   (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			jw_lit(w, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 3;
		} else {
			jw_raw(w, (const char *)s + i, len);
			i += len;
		}
	}
	jw_raw(w, "\"", 1);
}

void jw_i64(struct jw *w, int64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);
	jw_raw(w, b, (size_t)n);
}

void jw_u64(struct jw *w, uint64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%" PRIu64, v);
	jw_raw(w, b, (size_t)n);
}

void jw_bool(struct jw *w, bool v)
{
	jw_lit(w, v ? "true" : "false");
}

void jw_key(struct jw *w, const char *key)
{
	jw_raw(w, "\"", 1);
	jw_lit(w, key);
	jw_raw(w, "\":", 2);
}

char *jw_finish(struct jw *w)
{
	if (!grow(w, 0)) {
		jw_free(w);
		return NULL;
	}
	w->p[w->len] = '\0';
	char *p = w->p;
	w->p = NULL;
	w->len = w->cap = 0;
	return p;
}

void jw_free(struct jw *w)
{
	free(w->p);
	w->p = NULL;
	w->len = w->cap = 0;
	w->failed = false;
}
