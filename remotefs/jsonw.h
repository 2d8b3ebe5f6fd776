/* SPDX-License-Identifier: MIT */
/*
 * A growing buffer for JSON output, encoded the way Go's encoding/json
 * does it (the host decodes with Go): strings escape <, >, & and U+2028/9,
 * invalid UTF-8 becomes U+FFFD, no spaces.  A failed allocation makes the
 * buffer sticky-failed; jw_finish() reports it.
 */
#ifndef REMOTEFS_JSONW_H
#define REMOTEFS_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jw {
	char *p;
	size_t len, cap;
	bool failed;
};

void jw_raw(struct jw *w, const char *s, size_t n);
void jw_lit(struct jw *w, const char *s);
void jw_str(struct jw *w, const char *s, size_t n);
void jw_i64(struct jw *w, int64_t v);
void jw_u64(struct jw *w, uint64_t v);
void jw_bool(struct jw *w, bool v);
/* `"key":` (key is a C string of plain ASCII). */
void jw_key(struct jw *w, const char *key);
/* NUL-terminates and hands the text over (NULL after a failed allocation,
 * the buffer then freed).  The jw is empty afterwards. */
char *jw_finish(struct jw *w);
void jw_free(struct jw *w);

#endif
