/* SPDX-License-Identifier: MIT */
/*
 * The one error convention of the project.
 *
 * A function that can fail returns int: >= 0 on success, a negative errno on
 * failure.  Where a message helps, it also fills the `struct error *err`
 * passed as its last argument.  Callers add context on the way up with
 * error_prefix(), so the final text reads outermost-first:
 *   "mount overlay for `/run/c1/rootfs`: mkdir upper: No space left on device"
 * Only main() and the agent's request dispatcher log or exit.
 *
 * err may be NULL everywhere: helpers then just return the errno.
 */
#ifndef LCOW_ERROR_H
#define LCOW_ERROR_H

#include <stddef.h>

#define ERROR_MSG_MAX 1024

struct error {
	int errnum;			/* positive errno of the first failure, 0 = none */
	char msg[ERROR_MSG_MAX];	/* NUL-terminated, "" when unset */
};

/* Set a message and return -errnum.  errnum is a positive errno value; the
 * message is "fmt...: strerror(errnum)" unless errnum is 0 (then "fmt..."
 * and -EINVAL is returned). */
int error_set(struct error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like error_set() but without the strerror suffix (the message is the whole
 * story, e.g. "bad frame size 12").  Returns -errnum. */
int error_setx(struct error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepend "fmt...: " to the message already in err (or to strerror(-r) if
 * none was set) and return r unchanged, so call sites read
 *     return error_prefix(err, r, "mount %s", path);
 */
int error_prefix(struct error *err, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The message, or strerror of errnum when no text was set. */
const char *error_text(const struct error *err);

static inline void error_clear(struct error *err)
{
	if (err) {
		err->errnum = 0;
		err->msg[0] = '\0';
	}
}

#endif
